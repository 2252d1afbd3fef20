import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, errorBody, json } from './support/fake-earn-server.js';
import { product } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  server.on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC')] }));
});

afterEach(async () => {
  await server.close();
});

describe('tokens', () => {
  it('caches the token across calls until shortly before expires_in', async () => {
    const client = new EarnClient(server.config());
    await client.listProducts();
    await client.listProducts();
    await client.listProducts();
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(3);
    expect(client.tokenRequestCount).toBe(1);
  });

  it('100 concurrent calls without a token cause exactly one token request', async () => {
    server.tokenDelayMs = 50;
    const client = new EarnClient(server.config());
    const results = await Promise.all(Array.from({ length: 100 }, () => client.listProducts()));
    expect(results).toHaveLength(100);
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(100);
  });

  it('renews the token when it is within the refresh margin', async () => {
    server.expiresInSeconds = 2;
    // The margin is at most half the lifetime: a 2 s token is renewed after 1 s.
    const client = new EarnClient(server.config({ tokenRefreshMarginMs: 30_000 }));
    await client.listProducts();
    await client.listProducts();
    expect(server.tokenRequests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.listProducts();
    expect(server.tokenRequests).toHaveLength(2);
  });

  it('uses tokenLifetimeMsDefault when the token response has no expires_in', async () => {
    server.expiresInSeconds = undefined;
    const client = new EarnClient(server.config({ tokenLifetimeMsDefault: 60_000 }));
    await client.listProducts();
    await client.listProducts();
    expect(server.tokenRequests).toHaveLength(1);
  });

  it('a 401 triggers one token refresh and one retry', async () => {
    const client = new EarnClient(server.config());
    await client.listProducts();
    // The provider revokes the token: the next call gets 401, refreshes once, and succeeds.
    server.validTokens.clear();
    const products = await client.listProducts();
    expect(products[0]?.id).toBe('btc-fixed');
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(3);
  });

  it('a second 401 after the refresh fails with unauthorized: one refresh, one retry, no more', async () => {
    const client = new EarnClient(server.config());
    server.on('GET', '/v1/products', errorBody(401, 'invalid_token', 'nope'));
    const error = await client.listProducts().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EarnApiError);
    expect((error as EarnApiError).code).toBe('unauthorized');
    expect((error as EarnApiError).status).toBe(401);
    expect((error as EarnApiError).providerCode).toBe('invalid_token');
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(2);
  });

  it('50 concurrent calls that all get 401 share one refresh', async () => {
    const client = new EarnClient(server.config());
    await client.listProducts();
    server.validTokens.clear();
    server.tokenDelayMs = 30;
    await Promise.all(Array.from({ length: 50 }, () => client.listProducts()));
    expect(server.tokenRequests).toHaveLength(2);
  });

  it('refused credentials fail with unauthorized and are not retried', async () => {
    const client = new EarnClient(server.config({ clientSecret: 'wrong-secret-value' }));
    const error = (await client.listProducts().catch((caught: unknown) => caught)) as EarnApiError;
    expect(error.code).toBe('unauthorized');
    expect(error.providerCode).toBe('invalid_client');
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
  });

  it('retries a token endpoint 503 like any other call', async () => {
    let calls = 0;
    server.tokenResponder = (request, response) => {
      calls += 1;
      if (calls === 1) return errorBody(503, 'unavailable', 'later')(request, response);
      server.tokenResponder = undefined;
      return json(200, { access_token: 'tok-after-503', token_type: 'bearer', expires_in: 60 })(request, response);
    };
    server.validTokens.add('tok-after-503');
    const client = new EarnClient(server.config());
    await client.listProducts();
    expect(calls).toBe(2);
  });

  it('sends client_secret_post credentials in the form body when configured', async () => {
    const client = new EarnClient(server.config({ clientAuthMethod: 'client_secret_post', scope: 'earn' }));
    await client.listProducts();
    const form = new URLSearchParams(server.tokenRequests[0]?.body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('client_id')).toBe(server.clientId);
    expect(form.get('client_secret')).toBe(server.clientSecret);
    expect(form.get('scope')).toBe('earn');
    expect(server.tokenRequests[0]?.headers.authorization).toBeUndefined();
  });

  it('sends client_secret_basic credentials by default', async () => {
    const client = new EarnClient(server.config());
    await client.listProducts();
    const request = server.tokenRequests[0];
    expect(request?.headers.authorization).toMatch(/^Basic /);
    expect(new URLSearchParams(request?.body).get('client_secret')).toBeNull();
  });

  it('rejects a token response without token_type as invalid_response', async () => {
    server.tokenResponder = json(200, { access_token: 'leaky-token-value-123' });
    const client = new EarnClient(server.config());
    const error = (await client.listProducts().catch((caught: unknown) => caught)) as EarnApiError;
    expect(error.code).toBe('invalid_response');
  });
});

/**
 * The token's lifetime and the token request against hostile answers (review lead 3): an
 * `expires_in` that is not a plain number of seconds, one so large that the token would be cached
 * forever, an access token that cannot travel in a header unchanged, and a token request that
 * never settles.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import { resolveEntityConfig } from '../src/config.js';
import { TokenProvider } from '../src/token-provider.js';
import { FakeEarnServer, json, text } from './support/fake-earn-server.js';
import { failure } from './support/failure.js';
import { product } from './support/fixtures.js';

const TOKEN = 'access-token-lifecycle-aaaaaaaaaaaa';
const DAY_MS = 86_400_000;

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  server.on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC')] }));
  server.validTokens.add(TOKEN);
});

afterEach(async () => {
  await server.close();
});

function tokenAnswer(body: string): void {
  server.tokenResponder = text(200, body, { 'content-type': 'application/json' });
}

describe('expires_in', () => {
  it.each([['"3600abc"'], ['"0x10"'], ['" 60"'], ['"60 s"'], ['"abc"'], ['-1'], ['"-1"'], ['1e999'], ['true'], ['{}']])('%s is invalid_response naming expires_in, not retried', async (value) => {
    tokenAnswer(`{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":${value}}`);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', status: 200 });
    expect(error.message).toContain('expires_in');
    expect(error.message).not.toContain(TOKEN);
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
  });

  // A review (session 44): oauth4webapi read an array through parseFloat, and refused null or a
  // negative number without naming the key.
  it.each([['["3600abc"]'], ['["0x10"]'], ['[86400,"junk"]'], ['[[" 60"]]'], ['[]'], ['null'], ['-1'], ['1e999'], ['true'], ['{}']])('%s is invalid_response with field expires_in, nothing cached', async (value) => {
    tokenAnswer(`{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":${value}}`);
    const client = new EarnClient(server.config());
    const error = await failure(client.listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', status: 200, field: 'expires_in', path: 'expires_in' });
    expect(error.message).not.toContain(TOKEN);
    await failure(client.listProducts());
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ['no token_type', `{"access_token":"${TOKEN}","expires_in":3600}`, 'token_type'],
    ['token_type mac', `{"access_token":"${TOKEN}","token_type":"mac","expires_in":3600}`, 'token_type'],
    ['token_type null', `{"access_token":"${TOKEN}","token_type":null,"expires_in":3600}`, 'token_type'],
    ['no access_token', '{"token_type":"Bearer","expires_in":3600}', 'access_token'],
    ['a numeric access_token', '{"access_token":12345,"token_type":"Bearer","expires_in":3600}', 'access_token'],
  ])('%s is invalid_response with the field named', async (_name, body, field) => {
    tokenAnswer(body);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', status: 200, field, path: field });
    expect(error.message).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(0);
  });

  it('says what a refused value is without quoting it: a numeric access_token is "a number"', async () => {
    tokenAnswer('{"access_token":12345,"token_type":"Bearer","expires_in":3600}');
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error.message).toContain('access_token must be a string, got a number');
    expect(error.message).not.toContain('12345');
  });

  it.each([['3600'], ['"3600"'], ['0.5'], ['0'], ['3599.999']])('%s is taken', async (value) => {
    tokenAnswer(`{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":${value}}`);
    expect(await new EarnClient(server.config()).listProducts()).toHaveLength(1);
  });

  it('0 (already expired) serves the call it was asked for, and the next call asks again', async () => {
    tokenAnswer(`{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":0}`);
    const client = new EarnClient(server.config());
    await client.listProducts();
    await client.listProducts();
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requests).toHaveLength(2);
  });

  it.each([['1e308'], ['1e20'], ['315360000']])('%s does not keep a token for longer than a day', async (value) => {
    tokenAnswer(`{"access_token":"${TOKEN}","token_type":"Bearer","expires_in":${value}}`);
    let nowMs = Date.now();
    const config = resolveEntityConfig(server.config());
    const tokens = new TokenProvider({ config, clientSecret: server.clientSecret, now: () => nowMs });
    expect(await tokens.getToken()).toBe(TOKEN);
    nowMs += DAY_MS - config.tokenRefreshMarginMs - 1000;
    expect(await tokens.getToken()).toBe(TOKEN);
    expect(tokens.tokenRequestCount).toBe(1);
    nowMs += 2000;
    expect(await tokens.getToken()).toBe(TOKEN);
    expect(tokens.tokenRequestCount).toBe(2);
  });
});

describe('an access token that cannot be sent unchanged in a header', () => {
  it.each([
    ['a line feed', 'access-token-\nline-feed-aaaaaaaaaa'],
    ['a non-ASCII letter', 'access-token-é-aaaaaaaaaaaaaaaaaaa'],
    ['a character beyond U+00FF', 'access-token-€-aaaaaaaaaaaaaaaaaaa'],
    ['a trailing tab', 'access-token-tab-aaaaaaaaaaaaaaaaa\t'],
  ])('(%s) is invalid_response naming access_token, not retried as a network error', async (_name, token) => {
    server.validTokens.add(token);
    tokenAnswer(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', field: 'access_token', status: 200 });
    expect(error.message).not.toContain(token.trim());
    expect(server.tokenRequests).toHaveLength(1);
  });
});

describe('a token request that never settles', () => {
  it('ends within tokenTimeoutMs even when fetch ignores the signal, so later calls get a token', async () => {
    let hang = true;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (hang && String(input).endsWith('/oauth/token')) return new Promise<Response>(() => undefined);
      return globalThis.fetch(input, init);
    };
    const client = new EarnClient(server.config({ fetch, tokenTimeoutMs: 100, timeoutMs: 500, attemptsMax: 1 }));
    const first = await failure(client.listProducts());
    expect(first.code).toBe('timeout');
    hang = false;
    expect(await client.listProducts()).toHaveLength(1);
  });
});

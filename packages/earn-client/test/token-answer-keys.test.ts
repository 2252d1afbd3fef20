/**
 * Every API answer is refused when it writes a key twice or holds a `__proto__` key
 * (`repeated-keys.test.ts`), but the token endpoint's answer went to oauth4webapi, whose
 * `JSON.parse` kept the last of two `access_token`s or `expires_in`s silently. A token answer now
 * follows the same rule (`invalid_response` naming the key, no credential in the error, not
 * retried); an error body with repeated keys, of the token endpoint or of the API, still gives a
 * clean typed error with its status. Found in review (lead 2).
 */
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, json, text } from './support/fake-earn-server.js';
import type { Responder } from './support/fake-earn-server.js';
import { failure } from './support/failure.js';
import { product } from './support/fixtures.js';

const SECRET = 'S3cr3t-never-show-me-0002';
const TOKEN_A = 'access-token-first-aaaaaaaaaaaaaaaa';
const TOKEN_B = 'access-token-second-bbbbbbbbbbbbbbbb';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start({ clientSecret: SECRET });
  server.on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC')] }));
  server.validTokens.add(TOKEN_A).add(TOKEN_B);
});

afterEach(async () => {
  await server.close();
});

/** A token endpoint answer with this raw JSON text. */
function raw(status: number, body: string): Responder {
  return text(status, body, { 'content-type': 'application/json', 'cache-control': 'no-store' });
}

/** Every rendering of an error and of its causes, to search for credentials. */
function rendered(error: unknown): string {
  const texts: string[] = [];
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth += 1) {
    texts.push(current.message, current.stack ?? '', JSON.stringify(current) ?? '', inspect(current, { depth: 20, showHidden: true }));
  }
  return texts.join('\n');
}

function expectClean(error: EarnApiError): void {
  const all = rendered(error);
  for (const secret of [SECRET, TOKEN_A, TOKEN_B]) expect(all, `leak of ${secret}`).not.toContain(secret);
}

describe('a token answer', () => {
  it.each([
    ['access_token', `{"access_token":"${TOKEN_A}","access_token":"${TOKEN_B}","token_type":"Bearer","expires_in":3600}`],
    ['expires_in', `{"access_token":"${TOKEN_A}","token_type":"Bearer","expires_in":3600,"expires_in":1}`],
    ['token_type', `{"access_token":"${TOKEN_A}","token_type":"mac","token_type":"Bearer","expires_in":3600}`],
  ])('writing %s twice is invalid_response naming the key, not retried, no credential shown', async (key, body) => {
    server.tokenResponder = raw(200, body);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', field: key, path: key, status: 200, operation: 'POST token endpoint' });
    expect(error.message).toContain(`"${key}" twice`);
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
    expectClean(error);
  });

  it('holding a __proto__ key is invalid_response naming it', async () => {
    server.tokenResponder = raw(200, `{"access_token":"${TOKEN_A}","token_type":"Bearer","__proto__":{"expires_in":1}}`);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', field: '__proto__', status: 200 });
    expect(server.requests).toHaveLength(0);
    expectClean(error);
  });

  it('whose repeated key is the token or the secret names it redacted', async () => {
    server.tokenResponder = raw(200, `{"access_token":"${TOKEN_A}","token_type":"Bearer","${SECRET}":1,"${SECRET}":2}`);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', status: 200 });
    expectClean(error);
    server.tokenResponder = raw(200, `{"access_token":"${TOKEN_A}","token_type":"Bearer","x":{"${TOKEN_A}":1,"${TOKEN_A}":2}}`);
    const second = await failure(new EarnClient(server.config()).listProducts());
    expect(second).toMatchObject({ code: 'invalid_response', status: 200 });
    expectClean(second);
  });

  it('without repeats, with the same keys in nested objects, is taken as before', async () => {
    server.tokenResponder = raw(200, `{"access_token":"${TOKEN_A}","token_type":"Bearer","expires_in":3600,"x":{"expires_in":1},"y":[{"a":1},{"a":2}]}`);
    const client = new EarnClient(server.config());
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN_A}`);
  });
});

describe('an error body with repeated keys', () => {
  it.each([
    [400, 'http_error', '{"error":"invalid_scope","error":"invalid_request"}'],
    [401, 'unauthorized', `{"error":"invalid_client","error":"${SECRET}","error_description":"${SECRET}"}`],
    [400, 'http_error', '{"error":"invalid_scope","__proto__":{"error":"x"}}'],
  ])('of the token endpoint (%i) is a clean %s, not retried', async (status, code, body) => {
    server.tokenResponder = raw(status, body);
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code, status, operation: 'POST token endpoint' });
    expect(server.tokenRequests).toHaveLength(1);
    expectClean(error);
  });

  it.each([
    [422, '{"error":{"code":"insufficient_balance","code":"not_found","message":"m"}}'],
    [409, `{"error":{"code":"idempotency_conflict","message":"${SECRET}","message":"BEARER"}}`],
    [400, '{"error":{"code":"bad","message":"m"},"error":{"code":"other","message":"n"}}'],
    [400, '{"error":{"code":"bad","message":"m","__proto__":{"code":"x"}}}'],
  ])('of the API (%i) is a clean typed error with the status', async (status, body) => {
    let bearer = '';
    // The bearer token the client sent, echoed where the body says BEARER.
    server.on('GET', '/v1/products', (request, response) => {
      bearer = (request.headers.authorization ?? '').slice('Bearer '.length);
      return text(status, body.replace('BEARER', bearer), { 'content-type': 'application/json' })(request, response);
    });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ status });
    expect(rendered(error)).not.toContain(bearer);
    expect(['http_error', 'insufficient_balance', 'idempotency_conflict']).toContain(error.code);
    expect(server.requests).toHaveLength(1);
    expectClean(error);
  });
});

describe('a refused token answer whose X-Request-Id echoes the token it issues', () => {
  it.each([
    ['a repeated key', `{"access_token":"${TOKEN_A}","token_type":"Bearer","expires_in":3600,"expires_in":1}`],
    ['the first of two tokens', `{"access_token":"${TOKEN_A}","access_token":"${TOKEN_B}","token_type":"Bearer"}`],
    ['a negative expires_in', `{"access_token":"${TOKEN_A}","token_type":"Bearer","expires_in":-1}`],
    ['a malformed expires_in', `{"access_token":"${TOKEN_A}","token_type":"Bearer","expires_in":"1 h"}`],
  ])('(%s) carries no token in its request id', async (_name, body) => {
    server.tokenResponder = text(200, body, { 'content-type': 'application/json', 'x-request-id': TOKEN_A });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', status: 200 });
    expectClean(error);
  });
});

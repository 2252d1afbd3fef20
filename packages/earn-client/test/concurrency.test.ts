import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, errorBody, json } from './support/fake-earn-server.js';
import { user } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What one call ended with: its user id, or its error's code and status. */
async function outcome(promise: Promise<{ readonly id: string }>): Promise<string> {
  return promise.then(
    (value) => `ok ${value.id}`,
    (error: unknown) => (error instanceof EarnApiError ? `${error.code} ${String(error.status)}` : `foreign ${String(error)}`),
  );
}

describe('many calls at once while the token expires and some answers are 429', () => {
  it('share one token request, wait their own Retry-After, and each ends with its own outcome', async () => {
    server.expiresInSeconds = 2;
    const client = new EarnClient(server.config({ tokenRefreshMarginMs: 500, attemptsMax: 3 }));
    server.on('GET', '/v1/users/u-0', json(200, user('u-0')));
    await client.getUser({ userId: 'u-0' });
    // The token is now due for renewal (2 s lifetime, 0.5 s margin); the renewal is slow, so that
    // every call waits on it, and the renewed token outlives the Retry-After waits.
    await sleep(1600);
    server.tokenDelayMs = 100;
    const expected: string[] = [];
    for (let index = 0; index < 30; index += 1) {
      const id = `u-${index}`;
      if (index % 3 === 0) {
        server.on('GET', `/v1/users/${id}`, errorBody(429, 'rate_limited', 'slow down', { 'retry-after': '1' }), json(200, user(id)));
        expected.push(`ok ${id}`);
      } else if (index % 3 === 1) {
        server.on('GET', `/v1/users/${id}`, errorBody(404, 'not_found', 'no such user'));
        expected.push('http_error 404');
      } else {
        server.on('GET', `/v1/users/${id}`, json(200, user(id)));
        expected.push(`ok ${id}`);
      }
    }
    const startedMs = Date.now();
    const outcomes = await Promise.all(expected.map((_expected, index) => outcome(client.getUser({ userId: `u-${index}` }))));
    const elapsedMs = Date.now() - startedMs;
    expect(outcomes).toEqual(expected);
    expect(server.tokenRequests).toHaveLength(2);
    // The 429s waited their second, and no call waited much more.
    expect(elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(elapsedMs).toBeLessThan(2500);
  });

  it('a token endpoint 429 with Retry-After is waited for once, by every caller, and then one token request serves them all', async () => {
    const tokenAtMs: number[] = [];
    server.tokenResponder = (request, response) => {
      tokenAtMs.push(Date.now());
      if (tokenAtMs.length === 1) return errorBody(429, 'rate_limited', 'slow down', { 'retry-after': '1' })(request, response);
      server.tokenResponder = undefined;
      server.validTokens.add('tok-after-429');
      return json(200, { access_token: 'tok-after-429', token_type: 'bearer', expires_in: 60 })(request, response);
    };
    server.on('GET', '/v1/users/u-1', json(200, user('u-1')));
    const client = new EarnClient(server.config({ attemptsMax: 3, retryDelayMsInitial: 5, retryDelayMsMax: 20 }));
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => outcome(client.getUser({ userId: 'u-1' }))));
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => 'ok u-1'));
    expect(tokenAtMs).toHaveLength(2);
    expect((tokenAtMs[1] as number) - (tokenAtMs[0] as number)).toBeGreaterThanOrEqual(900);
  });

  it('a token endpoint Retry-After beyond retryTotalMsMax ends every waiting call at once', async () => {
    server.tokenResponder = errorBody(429, 'rate_limited', 'come back tomorrow', { 'retry-after': '86400' });
    const client = new EarnClient(server.config({ attemptsMax: 5, retryTotalMsMax: 2000 }));
    const startedMs = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => outcome(client.getUser({ userId: 'u-1' }))));
    expect(Date.now() - startedMs).toBeLessThan(500);
    expect(new Set(outcomes)).toEqual(new Set(['retries_exhausted 429']));
    expect(server.tokenRequests).toHaveLength(1);
  });
});

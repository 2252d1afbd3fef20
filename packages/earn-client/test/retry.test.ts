import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, backoffDelayMs, parseRetryAfterMs } from '../src/index.js';
import { FakeEarnServer, delayed, drop, errorBody, json, text } from './support/fake-earn-server.js';
import { booking, product } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

const products = json(200, { items: [product('btc-fixed', 'BTC')] });
const depositPath = '/v1/accounts/account-1/deposits';

describe('retries', () => {
  it('retries 502, 503 and 504 and then succeeds', async () => {
    server.on('GET', '/v1/products', errorBody(502, 'bad_gateway', 'x'), errorBody(503, 'unavailable', 'x'), errorBody(504, 'timeout', 'x'), products);
    const client = new EarnClient(server.config({ attemptsMax: 5 }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(4);
  });

  it('retries a dropped connection', async () => {
    server.on('GET', '/v1/products', drop(), products);
    const client = new EarnClient(server.config());
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(2);
  });

  it('honours Retry-After in seconds on 429', async () => {
    server.on('GET', '/v1/products', errorBody(429, 'rate_limited', 'slow down', { 'retry-after': '1' }), products);
    const client = new EarnClient(server.config({ retryDelayMsMax: 10 }));
    const startedMs = Date.now();
    await client.listProducts();
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(990);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(2);
  });

  it('gives up at once when Retry-After exceeds the remaining time budget', async () => {
    server.on('GET', '/v1/products', errorBody(429, 'rate_limited', 'slow down', { 'retry-after': '120' }));
    const client = new EarnClient(server.config({ retryTotalMsMax: 2000 }));
    const startedMs = Date.now();
    const error = await failure(client.listProducts());
    expect(Date.now() - startedMs).toBeLessThan(1500);
    expect(error.code).toBe('retries_exhausted');
    expect((error.cause as EarnApiError).code).toBe('rate_limited');
    expect(error.status).toBe(429);
    expect(error.providerCode).toBe('rate_limited');
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(1);
  });

  it('stops after attemptsMax attempts', async () => {
    server.on('GET', '/v1/products', errorBody(503, 'unavailable', 'down'));
    const client = new EarnClient(server.config({ attemptsMax: 3 }));
    const error = await failure(client.listProducts());
    expect(error.code).toBe('retries_exhausted');
    expect(error.attempts).toBe(3);
    expect(error.status).toBe(503);
    expect(error.requestId).toBe('req-503');
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(3);
  });

  it('stops within retryTotalMsMax', async () => {
    server.on('GET', '/v1/products', errorBody(503, 'unavailable', 'down'));
    // Unbounded, 20 attempts with 100-200 ms delays would take well over 2 s.
    const client = new EarnClient(server.config({ attemptsMax: 20, retryTotalMsMax: 400, retryDelayMsInitial: 200, retryDelayMsMax: 200 }));
    const startedMs = Date.now();
    const error = await failure(client.listProducts());
    expect(error.code).toBe('retries_exhausted');
    expect(Date.now() - startedMs).toBeLessThan(1500);
    expect(server.requestsTo('GET', '/v1/products').length).toBeLessThan(20);
  });

  it('with attemptsMax 1 the first failure is thrown as it is', async () => {
    server.on('GET', '/v1/products', errorBody(503, 'unavailable', 'down'));
    const client = new EarnClient(server.config({ attemptsMax: 1 }));
    const error = await failure(client.listProducts());
    expect(error.code).toBe('http_error');
    expect(error.status).toBe(503);
  });

  it.each([
    [400, 'bad_request', 'http_error'],
    [403, 'forbidden', 'http_error'],
    [404, 'not_found', 'http_error'],
    [409, 'idempotency_conflict', 'idempotency_conflict'],
    [422, 'insufficient_balance', 'insufficient_balance'],
    [422, 'invalid_amount', 'http_error'],
    [500, 'internal', 'http_error'],
  ])('never retries %i %s', async (status, providerCode, code) => {
    server.on('POST', '/v1/accounts/account-1/withdrawals', errorBody(status, providerCode, 'no'));
    const client = new EarnClient(server.config());
    const error = await failure(client.withdraw({ accountId: 'account-1', amount: '5', idempotencyKey: 'key-9' }));
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.providerCode).toBe(providerCode);
    expect(error.requestId).toBe(`req-${status}`);
    expect(server.requestsTo('POST', '/v1/accounts/account-1/withdrawals')).toHaveLength(1);
  });

  it('takes the request id from the body when the header is missing', async () => {
    server.on('GET', '/v1/products', (request, response) => {
      void request;
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'bad', message: 'm', requestId: 'from-body' } }));
    });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error.requestId).toBe('from-body');
  });

  it('a non-JSON error body still yields a typed error with the status', async () => {
    server.on('GET', '/v1/products', text(400, '<html>bad</html>'));
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error.code).toBe('http_error');
    expect(error.status).toBe(400);
    expect(error.providerCode).toBeUndefined();
  });

  it('an invalid success body fails with invalid_response and is not retried', async () => {
    server.on('GET', '/v1/products', text(200, 'not json'));
    const client = new EarnClient(server.config());
    const error = await failure(client.listProducts());
    expect(error.code).toBe('invalid_response');
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(1);
  });

  it('a slow answer times out and is retried', async () => {
    server.on('GET', '/v1/products', delayed(500, products), products);
    const client = new EarnClient(server.config({ timeoutMs: 100 }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(2);
  });

  it('a call that keeps timing out ends with retries_exhausted wrapping timeout', async () => {
    server.on('GET', '/v1/products', delayed(400, products));
    const client = new EarnClient(server.config({ timeoutMs: 50, attemptsMax: 2 }));
    const error = await failure(client.listProducts());
    expect(error.code).toBe('retries_exhausted');
    expect((error.cause as EarnApiError).code).toBe('timeout');
  });
});

describe('idempotency', () => {
  it('every retry of one deposit carries the same Idempotency-Key, so it is booked once', async () => {
    const booked = new Map<string, unknown>();
    let calls = 0;
    server.on('POST', depositPath, (request, response) => {
      calls += 1;
      const key = String(request.headers['idempotency-key']);
      if (!booked.has(key)) booked.set(key, booking(`booking-${booked.size + 1}`, 'Deposit', '0.5'));
      // The provider books, then the answer is lost twice.
      if (calls <= 2) return void response.socket?.destroy();
      return json(201, booked.get(key))(request, response);
    });
    const client = new EarnClient(server.config());
    const result = await client.deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-10' });
    const keys = server.requestsTo('POST', depositPath).map((request) => request.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(booked.size).toBe(1);
    expect(result.id).toBe('booking-1');
  });

  it('two distinct deposits get distinct keys; a caller key is sent as given', async () => {
    server.on('POST', depositPath, json(201, booking('b', 'Deposit', '1')));
    const client = new EarnClient(server.config());
    await client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-11' });
    await client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-12' });
    await client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'my-booking-7' });
    const keys = server.requestsTo('POST', depositPath).map((request) => request.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('my-booking-7');
    expect(JSON.parse(server.requestsTo('POST', depositPath)[0]?.body ?? '')).toEqual({ amount: '1' });
  });

  it('the same key survives a 401 refresh and a 503 retry', async () => {
    server.on('POST', depositPath, errorBody(401, 'invalid_token', 'x'), errorBody(503, 'unavailable', 'x'), json(201, booking('b', 'Deposit', '1')));
    const client = new EarnClient(server.config());
    await client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-13' });
    const keys = server.requestsTo('POST', depositPath).map((request) => request.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });
});

describe('abort', () => {
  it('an already aborted signal fails with aborted and sends nothing', async () => {
    server.on('GET', '/v1/products', products);
    const client = new EarnClient(server.config());
    const error = await failure(client.listProducts({ signal: AbortSignal.abort() }));
    expect(error.code).toBe('aborted');
    expect(server.requests).toHaveLength(0);
  });

  it('aborting during a slow answer fails with aborted, not timeout, and is not retried', async () => {
    server.on('GET', '/v1/products', delayed(1000, products));
    const client = new EarnClient(server.config());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(client.listProducts({ signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(1);
  });

  it('aborting during a Retry-After wait ends the wait at once', async () => {
    server.on('GET', '/v1/products', errorBody(429, 'rate_limited', 'x', { 'retry-after': '3' }), products);
    const client = new EarnClient(server.config());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const startedMs = Date.now();
    const error = await failure(client.listProducts({ signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(Date.now() - startedMs).toBeLessThan(2000);
  });

  it('aborting one caller does not break the shared token request of others', async () => {
    server.on('GET', '/v1/products', products);
    server.tokenDelayMs = 150;
    const client = new EarnClient(server.config());
    const controller = new AbortController();
    const aborted = client.listProducts({ signal: controller.signal });
    const other = client.listProducts();
    setTimeout(() => controller.abort(), 30);
    expect((await failure(aborted)).code).toBe('aborted');
    expect(await other).toHaveLength(1);
    expect(server.tokenRequests).toHaveLength(1);
  });
});

describe('backoff', () => {
  it('grows exponentially within [cap/2, cap] and never exceeds retryDelayMsMax', () => {
    const config = { retryDelayMsInitial: 100, retryDelayMsMax: 1000 };
    expect(backoffDelayMs(1, config, () => 0)).toBe(50);
    expect(backoffDelayMs(1, config, () => 1)).toBe(100);
    expect(backoffDelayMs(2, config, () => 0)).toBe(100);
    expect(backoffDelayMs(3, config, () => 1)).toBe(400);
    expect(backoffDelayMs(10, config, () => 1)).toBe(1000);
    expect(backoffDelayMs(100, config, () => 0.5)).toBe(750);
  });

  it('parses Retry-After as seconds or an HTTP-date', () => {
    const nowMs = Date.parse('2025-03-19T00:00:00Z');
    expect(parseRetryAfterMs('2', nowMs)).toBe(2000);
    expect(parseRetryAfterMs('Wed, 19 Mar 2025 00:00:05 GMT', nowMs)).toBe(5000);
    expect(parseRetryAfterMs('Wed, 18 Mar 2025 00:00:05 GMT', nowMs)).toBe(0);
    expect(parseRetryAfterMs('soon', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs(null, nowMs)).toBeUndefined();
  });
});

/**
 * `Retry-After` (RFC 9110 §10.2.3) is delay-seconds or an HTTP-date in one of three formats. The
 * client read any text `Date.parse` took as a date: `-5` and `1.5` were dates of 2001 (no wait at
 * all, where backoff was due), an asctime date was read in the machine's zone, and delay-seconds
 * of more than ten digits were ignored (backoff, a retry within milliseconds) while ten digits
 * ended the call. Found in review (lead 3).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import type { EarnRetryEvent } from '../src/index.js';
import { parseRetryAfterMs } from '../src/http.js';
import { FakeEarnServer, errorBody, json } from './support/fake-earn-server.js';
import { failure } from './support/failure.js';
import { product } from './support/fixtures.js';

const NOW_MS = Date.parse('1994-11-06T08:49:30Z');

describe('parseRetryAfterMs', () => {
  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT', 7000],
    ['RFC 850', 'Sunday, 06-Nov-94 08:49:37 GMT', 7000],
    ['asctime, read as GMT whatever the zone', 'Sun Nov  6 08:49:37 1994', 7000],
    ['a date in the past', 'Sun, 06 Nov 1994 08:49:00 GMT', 0],
    ['seconds', '120', 120_000],
    ['seconds with surrounding space', ' 5 ', 5000],
  ])('reads %s', (_name, value, expectedMs) => {
    expect(parseRetryAfterMs(value, NOW_MS)).toBe(expectedMs);
  });

  it.each([['-5'], ['-1'], ['1.5'], ['1e3'], ['0x10'], ['+5'], ['2025-03-19T00:00:00Z'], ['Sun, 06 Nov 1994 08:49:37 +0100'], ['tomorrow'], ['']])('ignores %j (neither delay-seconds nor an HTTP-date): backoff applies', (value) => {
    expect(parseRetryAfterMs(value, NOW_MS)).toBeUndefined();
  });

  it.each([['99999999999'], ['9'.repeat(400)]])('reads delay-seconds %s of any length as a delay beyond any budget, finite', (value) => {
    const delayMs = parseRetryAfterMs(value, NOW_MS);
    expect(delayMs).toBeGreaterThanOrEqual(99_999_999_999_000);
    expect(Number.isFinite(delayMs)).toBe(true);
  });
});

describe('the retry loop', () => {
  let server: FakeEarnServer;
  beforeEach(async () => {
    server = await FakeEarnServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('waits the backoff, not zero, after a 503 whose Retry-After is garbage', async () => {
    const retries: EarnRetryEvent[] = [];
    server.on('GET', '/v1/products', errorBody(503, 'unavailable', 'later', { 'retry-after': '-1' }), json(200, { items: [product('btc-fixed', 'BTC')] }));
    const client = new EarnClient(server.config({ retryDelayMsInitial: 200, retryDelayMsMax: 200, hooks: { onRetry: (event) => retries.push(event) } }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(100);
  });

  it('gives up at once on a 429 asking for more than ten digits of seconds', async () => {
    server.on('GET', '/v1/products', errorBody(429, 'rate_limited', 'later', { 'retry-after': '99999999999' }));
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'retries_exhausted', attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });
});

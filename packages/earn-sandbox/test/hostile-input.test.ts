/**
 * Issue 13, class 10: hostile input to the sandbox. Every clock move is capped and the server keeps
 * answering (the token endpoint included); bad clock input, long and over-encoded path segments
 * answer 400 in the contract's error format, never fastify's own body nor a 500.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateContract } from '@earnbook/earn-client';
import { ADVANCE_DAYS_MAX as CLOCK_MOVE_DAYS_MAX } from '../src/index.js';
import { hostileString } from '../../ledger/test/support/hostile-strings.js';
import { startHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness.finish());

async function raw(method: string, path: string, body?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${harness.sandbox.baseUrl}${path}`, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed };
}

/** A 4xx in the contract's error format (`{ error: { code, message, requestId } }`). */
function expectContractError(answer: { status: number; body: unknown }, status: number): void {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(status);
  expect(() => validateContract('ErrorBody', answer.body)).not.toThrow();
  expect(Object.keys(answer.body as object)).toEqual(['error']);
}

async function tokenAnswers(): Promise<number> {
  const { clientId, clientSecret } = harness.sandbox.credentials['defi']!;
  const started = Date.now();
  const response = await fetch(harness.sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
  });
  expect(response.status).toBe(200);
  await response.text();
  return Date.now() - started;
}

describe('the sandbox clock under hostile input', () => {
  it.each([
    ['{"to":"9999-12-31T00:00:00Z"}', 'to'],
    ['{"ms":1e15}', 'ms'],
    [`{"ms":${(CLOCK_MOVE_DAYS_MAX + 2) * 86_400_000}}`, 'ms'],
    [`{"days":${CLOCK_MOVE_DAYS_MAX + 1}}`, 'days'],
    ['{"days":1.5}', 'days'],
    ['{"days":-1}', 'days'],
    ['{"ms":-5}', 'ms'],
    ['{"to":"not a time"}', 'to'],
    ['{"to":"2000-01-01T00:00:00Z"}', 'to'],
    ['{"to":"2025-03-19T00:00:00\\u0000Z"}', 'to'],
    ['{"to":"\\ud800"}', 'to'],
    ['{"to":5}', 'body'],
    ['[1,2]', 'body'],
    ['"x"', 'body'],
    ['{}', 'body'],
  ])('POST /_sandbox/clock %s answers 400 naming the field, the clock unmoved, the token endpoint answering', async (body, field) => {
    const before = (await raw('GET', '/_sandbox/clock')).body;
    const answer = await raw('POST', '/_sandbox/clock', body);
    expectContractError(answer, 400);
    expect((answer.body as { error: { message: string } }).error.message).toContain(field);
    expect((await raw('GET', '/_sandbox/clock')).body).toEqual(before);
    expect(await tokenAnswers()).toBeLessThan(5_000);
  });

  it('a long but allowed move keeps the server answering while the days close', async () => {
    const move = raw('POST', '/_sandbox/clock', '{"days":60}');
    const latencies: number[] = [];
    for (let index = 0; index < 3; index += 1) latencies.push(await tokenAnswers());
    expect((await move).status).toBe(200);
    expect(Math.max(...latencies)).toBeLessThan(5_000);
  });
});

describe('path segments under hostile input', () => {
  it.each([
    ['/v1/users/%E0%A4%A', 'an invalid percent-encoding'],
    ['/v1/users/%', 'a lone %'],
    ['/v1/users/%00', 'an encoded NUL'],
    ['/v1/users/%ED%A0%80', 'an encoded lone surrogate'],
    [`/v1/users/${'u'.repeat(5000)}`, 'a very long segment'],
    [`/v1/users/${'%41'.repeat(2000)}`, 'an over-encoded long segment'],
    [`/v1/accounts/${'a'.repeat(300)}/transactions`, 'a long account id'],
    [`/downloads/${'%2F'.repeat(100)}`, 'an over-encoded download token'],
  ].map(([path, why]) => ({ path: path as string, why: why as string })))('$why answers 4xx in the contract format, never 500', async ({ path }) => {
    const answer = await raw('GET', path);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(() => validateContract('ErrorBody', answer.body)).not.toThrow();
  });

  it('any path segment: a 4xx in the contract format, never fastify\'s own body nor a 500 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileString(), fc.constantFrom('/v1/users/', '/v1/accounts/', '/v1/reports/', '/downloads/'), async (segment, prefix) => {
        let encoded: string;
        try {
          encoded = encodeURIComponent(segment);
        } catch {
          encoded = segment.replace(/[\ud800-\udfff]/g, '%ED%A0%80');
        }
        const answer = await raw('GET', `${prefix}${encoded}`);
        expect(answer.status, `${prefix}${encoded.slice(0, 60)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(() => validateContract('ErrorBody', answer.body)).not.toThrow();
      }),
      { numRuns: 150 },
    );
  });
});

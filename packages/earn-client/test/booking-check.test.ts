/**
 * A booking answer is the booking that was asked for: a deposit answered as a withdrawal, on
 * another account or for another amount is refused, since the partner would record what it asked
 * while the provider booked something else. Amounts compare as decimals.
 */
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { booking } from './support/fixtures.js';
import { failure } from './support/failure.js';

const depositPath = '/v1/accounts/account-1/deposits';
const withdrawalPath = '/v1/accounts/account-1/withdrawals';
let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

describe('the booking answered', () => {
  it.each([
    ['deposit', depositPath, booking('b-1', 'Withdrawal', '0.5'), 'type', '"Deposit"', '"Withdrawal"'],
    ['deposit', depositPath, booking('b-1', 'Deposit', '0.5', { accountId: 'account-2' }), 'accountId', '"account-1"', '"account-2"'],
    ['deposit', depositPath, booking('b-1', 'Deposit', '0.4'), 'amount', '"0.5"', '"0.4"'],
    ['deposit', depositPath, booking('b-1', 'Deposit', '0.05'), 'amount', '"0.5"', '"0.05"'],
    ['deposit', depositPath, booking('b-1', 'Deposit', '5'), 'amount', '"0.5"', '"5"'],
    ['withdraw', withdrawalPath, booking('b-1', 'Deposit', '0.5'), 'type', '"Withdrawal"', '"Deposit"'],
    ['withdraw', withdrawalPath, booking('b-1', 'Withdrawal', '0.500000000000000001'), 'amount', '"0.5"', '"0.500000000000000001"'],
  ] as const)('%s answered with another %s is invalid_response naming the field, expected and received', async (method, path, answer, field, expected, received) => {
    server.on('POST', path, json(201, answer));
    const client = new EarnClient(server.config());
    const error = await failure(client[method]({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field, path: field });
    expect(error.message).toContain(`${field} expected ${expected}, received ${received}`);
    expect(error.operation).toBe(`POST /v1/accounts/{accountId}/${method === 'deposit' ? 'deposits' : 'withdrawals'}`);
    // Not retried: the provider answered, and a retry would get the same answer.
    expect(server.requestsTo('POST', path)).toHaveLength(1);
  });

  it.each([
    ['0.5', '0.50'],
    ['0.5', '0.500000000000000000'],
    ['0.50', '0.5'],
    ['1', '1.000000000000000000'],
    ['1.0', '1'],
    ['007.5', '7.5'],
    ['10', '10.0'],
    ['100', '0100'],
    ['0.000000000000000001', '0.000000000000000001'],
  ])('a request for %s answered %s is the same amount', async (asked, answered) => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', answered)));
    const result = await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: asked, idempotencyKey: 'key-1' });
    // The provider's text is returned as it came.
    expect(result.amount).toBe(answered);
  });

  it.each([
    ['10', '1'],
    ['1', '10'],
    ['100', '1.00'],
    ['0.1', '0.01'],
    ['1.01', '1.1'],
  ])('a request for %s answered %s is another amount', async (asked, answered) => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', answered)));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: asked, idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'amount' });
    expect(error.message).toContain(`amount expected ${JSON.stringify(asked)}, received ${JSON.stringify(answered)}`);
  });

  it('a reference answered must be the one sent; an answer without one, or a request without one, is not compared', async () => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5', { reference: 'order-8' })));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', reference: 'order-7', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'reference' });
    expect(error.message).toContain('reference expected "order-7", received "order-8"');
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5')));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', reference: 'order-7', idempotencyKey: 'key-2' })).id).toBe('b-1');
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5', { reference: 'theirs' })));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-3' })).reference).toBe('theirs');
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5', { reference: 'order-7' })));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', reference: 'order-7', idempotencyKey: 'key-4' })).reference).toBe('order-7');
  });
});

describe('the currency of the booking answered', () => {
  it('a booking answered in another currency than the one given is invalid_response naming currency, expected and received', async () => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5', { currency: 'ETH' })));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', currency: 'BTC', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'currency', path: 'currency', operation: 'POST /v1/accounts/{accountId}/deposits' });
    expect(error.message).toContain('currency expected "BTC", received "ETH"');
    // The currency is not sent: the request schema has no such field.
    expect(JSON.parse(server.requestsTo('POST', depositPath)[0]?.body ?? '')).toEqual({ amount: '0.5' });
  });

  it('a hostile currency is quoted escaped (bidi override, C1, line separator)', async () => {
    server.on('POST', withdrawalPath, json(201, booking('b-1', 'Withdrawal', '0.5', { currency: 'BTC\u202e\u009b\u2028' })));
    const error = await failure(new EarnClient(server.config()).withdraw({ accountId: 'account-1', amount: '0.5', currency: 'BTC', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'currency' });
    expect(error.message).toContain('currency expected "BTC", received "BTC\\u202e\\u009b\\u2028"');
  });

  it('the same currency, or none given, is accepted', async () => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5')));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', currency: 'BTC', idempotencyKey: 'key-1' })).currency).toBe('BTC');
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '0.5', { currency: 'ETH' })));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-2' })).currency).toBe('ETH');
  });

  it('a currency that is not a non-empty string of at most 32 characters is invalid_input naming currency; nothing is sent', async () => {
    for (const currency of ['', 'x'.repeat(33), 7 as unknown as string, 'BT\u0000C']) {
      const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', currency, idempotencyKey: 'key-1' }));
      expect(error).toMatchObject({ code: 'invalid_input', field: 'currency', path: 'currency' });
    }
    expect(server.requestsTo('POST', depositPath)).toHaveLength(0);
  });
});

describe('the booking answered, quoted in the mismatch error', () => {
  /** A secret shorter than 8 characters: a success body may hold it by chance, an error never. */
  const shortSecret = 'Pw7#xq1';

  /** Every rendering of an error and of each error in its cause chain. */
  function renderings(error: unknown): string[] {
    const texts: string[] = [];
    let current: unknown = error;
    for (let depth = 0; current instanceof Error && depth < 10; depth += 1) {
      texts.push(current.message, current.stack ?? '', String(current), JSON.stringify(current) ?? '', inspect(current, { depth: 20 }));
      current = current.cause;
    }
    return texts;
  }

  it('a short client secret echoed as the reference is redacted, as in every other error', async () => {
    await server.close();
    server = await FakeEarnServer.start({ clientSecret: shortSecret });
    // The same secret in an API error is redacted by the HTTP layer.
    server.on('POST', withdrawalPath, json(422, { error: { code: 'insufficient_balance', message: `secret was ${shortSecret}` } }));
    const control = await failure(new EarnClient(server.config()).withdraw({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-0' }));
    for (const text of renderings(control)) expect(text).not.toContain(shortSecret);
    // The booking check runs after that layer: it redacts what it quotes itself.
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '1', { reference: shortSecret })));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '1', reference: 'order-7', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'reference' });
    expect(error.message).toContain('reference expected "order-7", received "[redacted]"');
    for (const text of renderings(error)) expect(text, `leak in: ${text.slice(0, 200)}`).not.toContain(shortSecret);
  });

  it('a reference of a megabyte is cut, and its control characters escaped', async () => {
    server.on('POST', depositPath, json(201, booking('b-1', 'Deposit', '1', { reference: `x\u2028y\u009bz\u007f${'r'.repeat(1_000_000)}` })));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '1', reference: 'order-7', idempotencyKey: 'key-1' }));
    expect(error).toBeInstanceOf(EarnApiError);
    expect(error).toMatchObject({ code: 'invalid_response', field: 'reference' });
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).toContain('received "x\\u2028y\\u009bz\\u007frrr');
    expect(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(error.message)).toBe(false);
  });
});

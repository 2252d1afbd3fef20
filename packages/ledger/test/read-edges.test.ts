/**
 * The ledger's read APIs under hostile or edge input (session 25): balances at the end of days
 * before any entry, far in the future, on the entity's DST days, and days that do not exist;
 * history and day pages walked to their end and started past it; verify()'s options. A bad input
 * is a typed error naming the field and the value, never a raw TypeError (an option that was not
 * an object, a currency SQLite could not bind) nor a silent answer (`verify({})` checked every
 * entity, `findAccount` of an unknown entity answered "no account", a kind or currency that cannot
 * exist listed nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

async function caught(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
    return undefined;
  } catch (error) {
    return error;
  }
}

async function expectRefused(work: () => Promise<unknown>, expected: { code: string; field: string; value?: string }): Promise<void> {
  const error = await caught(work);
  expect(error, `${expected.field}: ${String(error)}`).toBeInstanceOf(LedgerError);
  expect(error).toMatchObject(expected);
}

describe.each(DIALECTS)('read APIs under edge input, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let accountId: number;

  beforeAll(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'santiago', timeZone: 'America/Santiago' }] });
    ({ ledger, close } = opened);
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] } });
    await books.registerUser({ partnerUserId: 'p', earnUsers: [{ entity: 'defi', earnUserId: 'u' }] });
    accountId = (await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a', earnUserId: 'u', providerProductId: 'btc', currency: 'BTC' })).value.ledgerAccountId;
    // Berlin's 23-hour day (2025-03-30: 00:30Z is 01:30 CET, 22:30Z is 00:30 CEST of the 31st) and
    // 25-hour day (2025-10-26: 00:30Z is 02:30 CEST, 22:30Z is 23:30 CET, both of the 26th).
    const deposits: [string, string][] = [
      ['2025-03-30T00:30:00Z', '1'],
      ['2025-03-30T22:30:00Z', '2'],
      ['2025-10-26T00:30:00Z', '4'],
      ['2025-10-26T22:30:00Z', '8'],
    ];
    for (const [index, [occurredAt, amount]] of deposits.entries()) {
      await books.recordDeposit({ entity: 'defi', earnAccountId: 'a', providerBookingId: `b${index}`, amount, occurredAt, idempotencyKey: `k${index}`, providerData: {} });
    }
  });
  afterAll(async () => close());

  it('answers balances at the end of any real day, and refuses days that do not exist', async () => {
    const at = (day: string) => ledger.balanceAtEndOfDay(accountId, day);
    expect(await at('1970-01-01')).toBe('0.000000000000000000');
    expect(await at('2025-03-29')).toBe('0.000000000000000000');
    expect(await at('2025-03-30')).toBe('1.000000000000000000');
    expect(await at('2025-03-31')).toBe('3.000000000000000000');
    expect(await at('2025-10-25')).toBe('3.000000000000000000');
    expect(await at('2025-10-26')).toBe('15.000000000000000000');
    expect(await at('2025-10-27')).toBe('15.000000000000000000');
    expect(await at('9999-12-31')).toBe('15.000000000000000000');
    for (const day of ['2025-02-30', '2025-02-29', '2025-13-01', '1969-12-31', '10000-01-01', '2025-3-30', ' 2025-03-30', '']) {
      await expectRefused(() => at(day), { code: 'invalid_day', field: 'day', value: JSON.stringify(day) });
    }
    await expectRefused(() => ledger.balanceAtEndOfDay(accountId, null as never), { code: 'invalid_day', field: 'day' });
    for (const id of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER, '1', {}]) {
      await expectRefused(() => ledger.balanceAtEndOfDay(id as number, '2025-03-30'), { code: 'unknown_account', field: 'accountId' });
      await expectRefused(() => ledger.balance(id as number), { code: 'unknown_account', field: 'accountId' });
    }
  });

  it('walks history to its end in either order, each entry once, and answers an empty page past it', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await ledger.history(accountId, { limit: 1, order, cursor });
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toHaveLength(4);
      expect([...seen].sort((a, b) => (order === 'asc' ? a - b : b - a))).toEqual(seen);
      expect(new Set(seen).size).toBe(4);
    }
    const cursorAt = (id: number) => Buffer.from(`e:${id}`, 'utf8').toString('base64url');
    expect(await ledger.history(accountId, { order: 'asc', cursor: cursorAt(999_999_999_999_999) })).toEqual({ items: [], nextCursor: null });
    expect(await ledger.history(accountId, { order: 'desc', cursor: cursorAt(0) })).toEqual({ items: [], nextCursor: null });
    for (const limit of [0, -1, 501, 1.5, Number.NaN, '10']) await expectRefused(() => ledger.history(accountId, { limit: limit as number }), { code: 'invalid_input', field: 'limit' });
    for (const cursor of ['', 'xyz', cursorAt(-1), Buffer.from('e:1234567890123456').toString('base64url'), 5]) {
      await expectRefused(() => ledger.history(accountId, { cursor: cursor as string }), { code: 'invalid_input', field: 'cursor' });
    }
  });

  it('pages the transactions of a day by afterId, and refuses a bad page or input', async () => {
    const all = await ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26' });
    expect(all.map((transaction) => transaction.idempotencyKey)).toEqual(['k2', 'k3']);
    const [first, second] = all;
    if (first === undefined || second === undefined) throw new Error('no transactions');
    expect((await ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', limit: 1 })).map((transaction) => transaction.id)).toEqual([first.id]);
    expect((await ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', afterId: first.id, limit: 1 })).map((transaction) => transaction.id)).toEqual([second.id]);
    expect(await ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', afterId: second.id })).toEqual([]);
    expect(await ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', afterId: Number.MAX_SAFE_INTEGER })).toEqual([]);
    expect(await ledger.transactionsOfDay({ entity: 'santiago', day: '2025-10-26' })).toEqual([]);
    for (const afterId of [-1, 1.5, '1', null]) await expectRefused(() => ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', afterId: afterId as number }), { code: 'invalid_input', field: 'afterId' });
    for (const limit of [0, 10_001]) await expectRefused(() => ledger.transactionsOfDay({ entity: 'defi', day: '2025-10-26', limit }), { code: 'invalid_input', field: 'limit' });
    await expectRefused(() => ledger.transactionsOfDay({ entity: 'defi', day: '2025-02-30' }), { code: 'invalid_day', field: 'day' });
    for (const input of [null, undefined, 'defi', []]) await expectRefused(() => ledger.transactionsOfDay(input as never), { code: 'invalid_input', field: 'input' });
  });

  it('verifies one entity or all, and refuses options that say neither', async () => {
    expect(await ledger.verify({ entity: 'defi' })).toMatchObject({ transactions: 4 });
    expect(await ledger.verify({ entity: 'santiago' })).toMatchObject({ transactions: 0 });
    expect(await ledger.verify({ allEntities: true })).toMatchObject({ transactions: 4 });
    await expectRefused(() => ledger.verify({ entity: 'nope' }), { code: 'unknown_entity', field: 'entity' });
    for (const options of [undefined, null, 'defi', [], {}, { allEntities: false }, { allEntities: 'yes' }]) {
      await expectRefused(() => ledger.verify(options as never), { code: 'invalid_input', field: 'options' });
    }
  });

  it('refuses account lookups and listings that could never match, instead of answering none', async () => {
    expect((await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: 'settlement' }))?.kind).toBe('settlement');
    expect(await ledger.findAccount({ entity: 'defi', currency: 'ETH', code: 'settlement' })).toBeUndefined();
    await expectRefused(() => ledger.findAccount({ entity: 'nope', currency: 'BTC', code: 'settlement' }), { code: 'unknown_entity', field: 'entity' });
    await expectRefused(() => ledger.findAccount({ entity: 'defi', currency: {} as never, code: 'settlement' }), { code: 'invalid_input', field: 'currency' });
    await expectRefused(() => ledger.findAccount({ entity: 'defi', currency: 'btc', code: 'settlement' }), { code: 'invalid_input', field: 'currency' });
    await expectRefused(() => ledger.findAccount(null as never), { code: 'invalid_input', field: 'input' });
    expect((await ledger.listAccounts({ entity: 'defi', currency: 'BTC', kind: 'user' })).map((account) => account.id)).toEqual([accountId]);
    await expectRefused(() => ledger.listAccounts(null as never), { code: 'invalid_input', field: 'input' });
    await expectRefused(() => ledger.listAccounts({ entity: 'defi', currency: {} as never }), { code: 'invalid_input', field: 'currency' });
    await expectRefused(() => ledger.listAccounts({ entity: 'defi', currency: 'btc' }), { code: 'invalid_input', field: 'currency' });
    await expectRefused(() => ledger.listAccounts({ entity: 'defi', kind: 'bogus' as never }), { code: 'invalid_input', field: 'kind', value: '"bogus"' });
    expect((await books.earnAccounts({ entity: 'defi', currency: 'BTC' })).map((account) => account.earnAccountId)).toEqual(['a']);
    await expectRefused(() => books.earnAccounts({ entity: 'defi', currency: {} as never }), { code: 'invalid_input', field: 'currency' });
    await expectRefused(() => books.earnAccounts({ entity: 'defi', currency: 'btc' }), { code: 'invalid_input', field: 'currency' });
    expect(await books.booking({ entity: 'defi', providerBookingId: 'b0' })).toMatchObject({ amount: '1.000000000000000000' });
    await expectRefused(() => books.booking({ entity: 'nope', providerBookingId: 'b0' }), { code: 'unknown_entity', field: 'entity' });
    for (const input of [null, 'defi']) {
      await expectRefused(() => books.booking(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.earnAccounts(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.productsInForce(input as never), { code: 'invalid_input', field: 'input' });
    }
  });

  it("refuses EarnBooks' single lookups given no object, naming input", async () => {
    for (const input of [null, undefined, 'defi', 7, []]) {
      await expectRefused(() => books.productInForce(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.earnAccount(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.outstandingBalance(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.processedReports(input as never), { code: 'invalid_input', field: 'input' });
      await expectRefused(() => books.transactionOf(input as never), { code: 'invalid_input', field: 'input' });
    }
  });
});

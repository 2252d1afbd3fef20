/**
 * The ledger's write APIs under input of the wrong shape (session 25, the write half of
 * `read-edges.test.ts`): every public write of `Ledger`, `EarnBooks` and `runAccountingCycle`
 * given `null`, `undefined`, a string or an array instead of its input object, or a nested field
 * of the wrong type, answers a typed `LedgerError` naming the field, and the whole database is
 * unchanged (a snapshot before and after). Found: `recordProduct(null)` and the other `EarnBooks`
 * writes, `openAccount(null)`, `registerUser` with `earnUsers: [null]` and `runAccountingCycle`
 * of a non-object threw raw TypeErrors; a cycle whose `now` was not a clock failed after booking
 * the day's interest.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, runAccountingCycle } from '../src/index.js';
import type { Ledger, LedgerAccount } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T09:00:00Z';
const NOT_OBJECTS: readonly unknown[] = [null, undefined, 'defi', [], 7];

describe.each(DIALECTS)('write APIs under input of the wrong shape, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let user: LedgerAccount;
  let funds: LedgerAccount;

  beforeAll(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] }));
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] } });
    await books.registerUser({ partnerUserId: 'p', earnUsers: [{ entity: 'defi', earnUserId: 'u' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a', earnUserId: 'u', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a', providerBookingId: 'b0', amount: '1', occurredAt: AT, idempotencyKey: 'k0', providerData: {} });
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
  });
  afterAll(async () => close());

  /** `work` is refused with a LedgerError matching `expected`, and the database is unchanged. */
  async function refused(work: () => Promise<unknown>, expected: { code?: string; field?: string }): Promise<void> {
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const error = await Promise.resolve()
      .then(work)
      .then(() => undefined, (caught: unknown) => caught);
    expect(error, `${JSON.stringify(expected)}: ${String(error)}`).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject(expected);
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  }

  const deposit = (entries: unknown, extra: Record<string, unknown> = {}) => ({ entity: 'defi', kind: 'deposit', idempotencyKey: 'd1', occurredAt: AT, entries, ...extra }) as never;
  const pair = (amount: unknown = '1') => [{ accountId: funds.id, side: 'debit', amount }, { accountId: user.id, side: 'credit', amount }];
  const booking = (extra: Record<string, unknown>) => ({ entity: 'defi', earnAccountId: 'a', providerBookingId: 'b1', amount: '1', occurredAt: AT, idempotencyKey: 'k1', providerData: {}, ...extra }) as never;

  it('Ledger: openAccount, systemAccount, transact and postWithSystemAccounts of the wrong shape', async () => {
    for (const input of NOT_OBJECTS) await refused(() => ledger.openAccount(input as never), { code: 'invalid_input', field: 'input' });
    await refused(() => ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 5 as never, kind: 'user' }), { code: 'invalid_input', field: 'code' });
    await refused(() => ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'c', kind: 'bogus' as never }), { code: 'invalid_input', field: 'kind' });
    await refused(() => ledger.systemAccount('defi', 'BTC', 'user' as never), { code: 'invalid_input', field: 'kind' });
    for (const work of [null, undefined, 'work']) await refused(() => ledger.transact(work as never), { code: 'invalid_input', field: 'work' });
    await refused(() => ledger.postWithSystemAccounts({ entity: 'defi', currency: 'ETH' }, 'build' as never), { code: 'invalid_input', field: 'build' });
    await refused(() => ledger.postWithSystemAccounts(null as never, () => deposit(pair())), { code: 'unknown_entity' });
  });

  it('Ledger: post, postMany, postLines and reverse with nested fields of the wrong type', async () => {
    await refused(() => ledger.post(null as never), {});
    await refused(() => ledger.post(deposit(null)), { code: 'invalid_input', field: 'entries' });
    await refused(() => ledger.post(deposit([null, null])), { code: 'invalid_input', field: 'entries[0]' });
    await refused(() => ledger.post(deposit(pair(1))), { code: 'invalid_amount', field: 'entries[0].amount' });
    await refused(() => ledger.post(deposit(pair(1n))), { code: 'invalid_amount', field: 'entries[0].amount' });
    await refused(() => ledger.post(deposit(pair(), { occurredAt: new Date(Number.NaN) })), { code: 'invalid_instant', field: 'occurredAt' });
    await refused(() => ledger.post(deposit(pair(), { occurredAt: 1_742_288_400_000 })), { code: 'invalid_instant', field: 'occurredAt' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    for (const [metadata, field] of [[{ f: () => 'x' }, 'metadata.f'], [{ b: 1n }, 'metadata.b'], [cyclic, 'metadata.self'], [['x'], 'metadata'], ['x', 'metadata']] as const) {
      await refused(() => ledger.post(deposit(pair(), { metadata })), { code: 'invalid_input', field });
    }
    await refused(() => ledger.postMany([null] as never), {});
    await refused(() => ledger.postMany('inputs' as never), { code: 'invalid_input', field: 'inputs' });
    const lines = (value: unknown) => ({ entity: 'defi', kind: 'interest', occurredAt: AT, side: 'credit', contraAccountId: funds.id, lines: value }) as never;
    await refused(() => ledger.postLines(null as never), {});
    await refused(() => ledger.postLines(lines(null)), { code: 'invalid_input', field: 'lines' });
    await refused(() => ledger.postLines(lines([null])), { code: 'invalid_input', field: 'lines[0]' });
    await refused(() => ledger.postLines(lines([{ accountId: user.id, amount: 1, providerId: 'p1' }])), { code: 'invalid_amount', field: 'lines[0].amount' });
    await refused(() => ledger.reverse({ entity: 'defi', transactionId: '1' as never, idempotencyKey: 'r', occurredAt: AT }), { code: 'unknown_transaction', field: 'transactionId' });
  });

  it('EarnBooks: every write of a non-object is invalid_input naming input', async () => {
    const writes: [string, (input: never) => Promise<unknown>][] = [
      ['recordProduct', (input) => books.recordProduct(input)],
      ['registerUser', (input) => books.registerUser(input)],
      ['openEarnAccount', (input) => books.openEarnAccount(input)],
      ['recordDeposit', (input) => books.recordDeposit(input)],
      ['recordWithdrawal', (input) => books.recordWithdrawal(input)],
      ['recordInterest', (input) => books.recordInterest(input)],
      ['recordPartnerMargin', (input) => books.recordPartnerMargin(input)],
      ['recordFee', (input) => books.recordFee(input)],
      ['recordSettlement', (input) => books.recordSettlement(input)],
      ['recordProcessedReport', (input) => books.recordProcessedReport(input)],
    ];
    for (const [name, write] of writes) {
      for (const input of NOT_OBJECTS) {
        await expect(refused(() => write(input as never), { code: 'invalid_input', field: 'input' }), `${name}(${String(input)})`).resolves.toBeUndefined();
      }
    }
  });

  it('EarnBooks: nested fields of the wrong type', async () => {
    await refused(() => books.registerUser({ partnerUserId: 'p2', earnUsers: [null] as never }), { code: 'invalid_input', field: 'earnUsers[0]' });
    await refused(() => books.registerUser({ partnerUserId: 'p2', earnUsers: null as never }), { code: 'invalid_input', field: 'earnUsers' });
    await refused(() => books.recordProduct({ entity: 'defi', providerProductId: 'eth', currency: 'ETH', name: 'ETH', effectiveDay: '2025-01-01', terms: null }), { code: 'invalid_input', field: 'terms' });
    await refused(() => books.recordDeposit(booking({ amount: 1 })), { code: 'invalid_amount', field: 'amount' });
    await refused(() => books.recordDeposit(booking({ occurredAt: new Date(Number.NaN) })), { code: 'invalid_instant', field: 'occurredAt' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    for (const providerData of [cyclic, { n: 1n }, () => ({}), null, 'text', undefined]) {
      await refused(() => books.recordDeposit(booking({ providerData })), { code: 'invalid_input', field: 'providerData' });
    }
    await refused(() => books.recordDeposit(booking({ providerData: { blob: 'x'.repeat(64 * 1024) } })), { code: 'limit_exceeded', field: 'providerData' });
    await refused(() => books.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 5 as never, amount: '1', occurredAt: AT, idempotencyKey: 's1' }), { code: 'invalid_input', field: 'direction' });
    await refused(() => books.recordInterest({ entity: 'defi', earnAccountId: 'a', providerEntryId: 'i1', amount: '1', occurredAt: AT, interestDay: 5 as never }), { code: 'invalid_day', field: 'interestDay' });
  });

  it('runAccountingCycle: options of the wrong shape, and a clock that is none, are refused before anything is written', async () => {
    for (const options of NOT_OBJECTS) await refused(() => runAccountingCycle(options as never), { code: 'invalid_input', field: 'options' });
    const cycle = (extra: Record<string, unknown>) => runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', ...extra } as never);
    await refused(() => cycle({ books: null }), { code: 'invalid_input', field: 'books' });
    await refused(() => cycle({ onLines: 'publish' }), { code: 'invalid_input', field: 'onLines' });
    await refused(() => cycle({ now: () => new Date(Number.NaN) }), { field: 'now' });
    await refused(() => cycle({ now: 'now' }), { code: 'invalid_input', field: 'now' });
    await refused(() => cycle({ now: () => '2025-03-19T00:00:00Z' }), { field: 'now' });
    await refused(() => cycle({ commitLines: '10' }), { code: 'invalid_input', field: 'commitLines' });
  });
});

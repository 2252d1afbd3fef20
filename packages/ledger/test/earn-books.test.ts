import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, parseInterestTerms } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';
import type { Kysely } from 'kysely';

async function expectCode(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
  if (field !== undefined) expect((error as LedgerError).field).toBe(field);
}

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('Earn mirror on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-1' }, { entity: 'lending', earnUserId: 'eu-l-1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-d-1', providerProductId: 'btc-fixed', currency: 'BTC' });
  });
  afterEach(async () => close());

  const deposit = (amount: string, id: string, at = '2025-03-18T10:00:00Z') => ({
    entity: 'defi',
    earnAccountId: 'acc-1',
    providerBookingId: id,
    amount,
    occurredAt: at,
    idempotencyKey: `key-${id}`,
    providerData: { id, amount, status: 'Booked' },
  });

  it('versions products by the day they take effect', async () => {
    const raised = { ...terms, tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }] };
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-01', terms: raised });
    // Terms are stored canonical, every default filled in.
    const canonical = (value: unknown) => JSON.parse(JSON.stringify(parseInterestTerms(value))) as unknown;
    expect((await books.productInForce({ entity: 'defi', providerProductId: 'btc-fixed', day: '2025-02-28' }))?.terms).toEqual(canonical(terms));
    expect((await books.productInForce({ entity: 'defi', providerProductId: 'btc-fixed', day: '2025-03-01' }))?.terms).toEqual(canonical(raised));
    expect(await books.productInForce({ entity: 'defi', providerProductId: 'btc-fixed', day: '2024-12-31' })).toBeUndefined();
    expect((await books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-01', terms: raised })).status).toBe('exists');
    await expectCode(books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-01', terms }), 'idempotency_conflict');
    await expectCode(books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'ETH', name: 'x', effectiveDay: '2025-04-01', terms }), 'idempotency_conflict', 'currency');
    await expectCode(books.recordProduct({ entity: 'defi', providerProductId: 'p', currency: 'btc', name: 'x', effectiveDay: '2025-04-01', terms }), 'invalid_input', 'currency');
    await expectCode(books.recordProduct({ entity: 'defi', providerProductId: 'p', currency: 'BTC', name: 'x', effectiveDay: '2025-04-01', terms: { ...terms, tiers: [] } }), 'invalid_input', 'terms.tiers');
    await expectCode(books.recordProduct({ entity: 'defi', providerProductId: 'p', currency: 'BTC', name: 'x', effectiveDay: '2025-04-31', terms }), 'invalid_day', 'effectiveDay');
    expect((await books.productsInForce({ entity: 'defi', day: '2025-06-01' })).length).toBe(1);
    expect(await books.productsInForce({ entity: 'lending', day: '2025-06-01' })).toEqual([]);
  });

  it('links a partner user to one Earn user per entity', async () => {
    expect((await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-1' }] })).status).toBe('exists');
    expect(await books.earnUsersOf('alice')).toEqual([
      { entity: 'defi', earnUserId: 'eu-d-1' },
      { entity: 'lending', earnUserId: 'eu-l-1' },
    ]);
    await expectCode(books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-2' }] }), 'idempotency_conflict', 'earnUserId');
    await expectCode(books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-1' }] }), 'idempotency_conflict', 'earnUserId');
    await expectCode(books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'cefi', earnUserId: 'x' }] }), 'unknown_entity', 'earnUsers[0].entity');
    expect(await books.earnUsersOf('bob')).toEqual([]);
  });

  it('opens Earn accounts idempotently and refuses a second account in the same product', async () => {
    expect((await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-d-1', providerProductId: 'btc-fixed', currency: 'BTC' })).status).toBe('exists');
    await expectCode(books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'eu-d-1', providerProductId: 'btc-fixed', currency: 'BTC' }), 'idempotency_conflict');
    await expectCode(books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-3', earnUserId: 'nobody', providerProductId: 'btc-fixed', currency: 'BTC' }), 'invalid_input', 'earnUserId');
    await expectCode(books.openEarnAccount({ entity: 'lending', earnAccountId: 'acc-4', earnUserId: 'eu-l-1', providerProductId: 'btc-fixed', currency: 'BTC' }), 'invalid_input', 'providerProductId');
  });

  it('records bookings with the provider data, once, and serves balances from its own books', async () => {
    const first = await books.recordDeposit(deposit('1', 'b-1'));
    expect(first.status).toBe('created');
    expect((await books.recordDeposit(deposit('1', 'b-1'))).status).toBe('exists');
    await expectCode(books.recordDeposit({ ...deposit('1', 'b-1'), idempotencyKey: 'other' }), 'duplicate_provider_id', 'providerBookingId');
    const stored = await books.booking({ entity: 'defi', providerBookingId: 'b-1' });
    expect(stored?.providerData).toEqual({ id: 'b-1', amount: '1', status: 'Booked' });
    expect(stored?.transactionId).toBe(first.transaction.id);
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-1' });
    await books.recordWithdrawal({ ...deposit('0.25', 'b-2', '2025-03-18T12:00:00Z') });
    expect(await ledger.balance(account.ledgerAccountId)).toBe('0.750000000000000000');
    await expectCode(books.recordWithdrawal(deposit('0.750000000000000001', 'b-3')), 'insufficient_balance');
    expect(await books.booking({ entity: 'defi', providerBookingId: 'b-3' })).toBeUndefined();
    await expectCode(books.recordDeposit({ ...deposit('1', 'b-4'), earnAccountId: 'missing' }), 'unknown_account', 'earnAccountId');
    await expectCode(books.recordDeposit({ ...deposit('-1', 'b-4') }), 'invalid_amount', 'amount');
    await expectCode(books.recordDeposit({ ...deposit('1', 'b-4'), providerData: 'text' }), 'invalid_input', 'providerData');
    await ledger.verify({ entity: 'defi' });
  });

  it('names the field a product version recorded again differs in (name, terms), writing nothing', async () => {
    const version = { entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms };
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    await expectCode(books.recordProduct({ ...version, name: 'BTC renamed' }), 'idempotency_conflict', 'name');
    await expectCode(books.recordProduct({ ...version, terms: { ...terms, tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }] } }), 'idempotency_conflict', 'terms');
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    expect((await books.recordProduct(version)).status).toBe('exists');
  });

  // A review (session 44): a deposit's id given to a withdrawal was posted, then its booking row
  // refused with a raw driver error (committed half inside a caller's transact that caught it);
  // another providerData under the same id was answered exists and dropped.
  it('refuses a booking id stored as another booking before posting, naming the caller\'s field, writing nothing', async () => {
    await books.recordDeposit(deposit('1', 'b-1'));
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    await expectCode(books.recordWithdrawal({ ...deposit('0.4', 'b-1'), idempotencyKey: 'wd-1' }), 'duplicate_provider_id', 'providerBookingId');
    let caught: unknown;
    await ledger.transact(async (scope) => {
      caught = await books.recordWithdrawal({ ...deposit('0.4', 'b-1'), idempotencyKey: 'wd-2' }, scope).catch((error: unknown) => error);
    });
    expect(caught).toMatchObject({ code: 'duplicate_provider_id', field: 'providerBookingId' });
    const cases: [Record<string, unknown>, string][] = [
      [{ providerData: { id: 'b-1', amount: '999', status: 'Reversed' } }, 'providerData'],
      [{ amount: '2' }, 'amount'],
      [{ occurredAt: '2025-03-18T11:00:00Z' }, 'occurredAt'],
    ];
    for (const [change, field] of cases) {
      await expectCode(books.recordDeposit({ ...deposit('1', 'b-1'), ...change }), 'idempotency_conflict', field);
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    await books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-2' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'eu-d-2', providerProductId: 'btc-fixed', currency: 'BTC' });
    const afterOpen = await snapshotDatabase(ledger.db as Kysely<unknown>);
    await expectCode(books.recordDeposit({ ...deposit('1', 'b-1'), earnAccountId: 'acc-2' }), 'idempotency_conflict', 'earnAccountId');
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(afterOpen);
    // The same booking again, its provider data's keys in another order: exists.
    expect((await books.recordDeposit({ ...deposit('1', 'b-1'), providerData: { status: 'Booked', amount: '1', id: 'b-1' } })).status).toBe('exists');
    await ledger.verify({ entity: 'defi' });
  });

  // Session 45: these named the posting's fields (providerId, entries[1].accountId,
  // entries[0].amount, and duplicate_provider_id's providerId), not the ones the booking's caller gave.
  it('names the booking\'s own fields when its key was used for another posting, writing nothing', async () => {
    await books.recordDeposit(deposit('1', 'b-1'));
    await books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-2' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'eu-d-2', providerProductId: 'btc-fixed', currency: 'BTC' });
    // Postings made without the booking helper, in a booking's shape (b-1's entries, another user
    // account or amount), under keys a booking then reuses.
    const other = (await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-2' })).ledgerAccountId;
    const mine = (await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-1' })).ledgerAccountId;
    const shape = (await ledger.transactionByKey('defi', 'key-b-1'))?.entries ?? [];
    const raw = (key: string, account: number, amount: string) => ({
      entity: 'defi',
      kind: 'deposit' as const,
      idempotencyKey: key,
      occurredAt: '2025-03-18T10:00:00Z',
      providerId: key,
      entries: shape.map((entry) => ({ accountId: entry.accountId === mine ? account : entry.accountId, side: entry.side, amount })),
    });
    await ledger.post(raw('k-other-account', other, '1'));
    await ledger.post(raw('k-other-amount', mine, '2'));
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const conflicts: [Record<string, unknown>, string][] = [
      [{ providerBookingId: 'b-2' }, 'providerBookingId'],
      [{ providerBookingId: 'b-2', occurredAt: '2025-03-18T11:00:00Z' }, 'occurredAt'],
      [{ providerBookingId: 'k-other-account', idempotencyKey: 'k-other-account' }, 'earnAccountId'],
      [{ providerBookingId: 'k-other-amount', idempotencyKey: 'k-other-amount' }, 'amount'],
    ];
    for (const [change, differing] of conflicts) {
      const asked = { ...deposit('1', 'b-1'), ...change };
      const error = await books.recordDeposit(asked).then(() => undefined, (caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'idempotency_conflict', field: 'idempotencyKey', value: asked.idempotencyKey, context: { differingField: differing } });
      expect((error as Error).message).toMatch(new RegExp(`with a different ${differing}$`));
    }
    // A booking id booked under another key (the posting's duplicate_provider_id).
    const duplicate = await books.recordDeposit({ ...deposit('1', 'k-other-account'), earnAccountId: 'acc-2', idempotencyKey: 'k-new' }).then(() => undefined, (caught: unknown) => caught);
    expect(duplicate).toMatchObject({ code: 'duplicate_provider_id', field: 'providerBookingId', value: 'k-other-account' });
    expect((duplicate as Error).message).toMatch(/^providerBookingId k-other-account /);
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });

  it('nets the outstanding balance like the provider: receivables − payables', async () => {
    await books.recordDeposit(deposit('2', 'b-1'));
    await books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'i-1', amount: '0.000188509', occurredAt: '2025-03-19T00:01:55.703Z', interestDay: '2025-03-18' });
    await books.recordPartnerMargin({ entity: 'defi', currency: 'BTC', providerEntryId: 'm-1', amount: '0.00001', occurredAt: '2025-03-19T00:01:55.703Z' });
    await books.recordFee({ entity: 'defi', currency: 'BTC', providerEntryId: 'f-1', amount: '0.0001', occurredAt: '2025-03-19T00:02:00Z' });
    await books.recordWithdrawal(deposit('0.5', 'b-2', '2025-03-19T09:00:00Z'));
    // receivables (0.5 withdrawn + 0.00001 margin) − payables (2 deposited + 0.0001 fee)
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC' })).toBe('-1.500090000000000000');
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC', day: '2025-03-18' })).toBe('-2.000000000000000000');
    await books.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 'to_provider', amount: '1.50009', occurredAt: '2025-03-20T00:10:00Z', idempotencyKey: 'settle-2025-03-19', reference: '0xabc' });
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC' })).toBe('0.000000000000000000');
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-1' });
    expect(await ledger.balance(account.ledgerAccountId)).toBe('1.500188509000000000');
    const interest = await books.transactionOf({ entity: 'defi', kind: 'interest', providerId: 'i-1' });
    expect(interest?.metadata).toEqual({ interestDay: '2025-03-18' });
    expect(interest?.accountingDay).toBe('2025-03-19');
    await ledger.verify({ entity: 'defi' });
  });

  it('versions processed reports: same content exists, a restatement is the next version', async () => {
    expect((await books.recordProcessedReport({ entity: 'defi', reportId: 'r-1', contentHash: 'h1', accountingDay: '2025-03-18' })).value.version).toBe(1);
    const again = await books.recordProcessedReport({ entity: 'defi', reportId: 'r-1', contentHash: 'h1', accountingDay: '2025-03-18' });
    expect(again).toEqual({ status: 'exists', value: { version: 1 } });
    expect((await books.recordProcessedReport({ entity: 'defi', reportId: 'r-1', contentHash: 'h2', accountingDay: '2025-03-18' })).value.version).toBe(2);
    expect((await books.recordProcessedReport({ entity: 'lending', reportId: 'r-9', contentHash: 'h1', accountingDay: '2025-03-18' })).value.version).toBe(1);
    await expectCode(books.recordProcessedReport({ entity: 'defi', reportId: 'r-1', contentHash: 'h1', accountingDay: '2025-03-19' }), 'idempotency_conflict', 'reportId');
    expect((await books.processedReports({ entity: 'defi', accountingDay: '2025-03-18' })).map((r) => r.version)).toEqual([1, 2]);
  });
});

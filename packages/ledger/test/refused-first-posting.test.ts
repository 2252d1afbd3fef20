/**
 * The first posting of a currency for an entity, refused, leaves the database as it was: the
 * currency's system accounts are opened with the posting, in its transaction, not before it in
 * a write of their own (review h4). Every public path that opens system accounts for a posting
 * is refused here on fresh books (bad input caught late, a withdrawal beyond the balance, an
 * idempotency conflict, a caller's scope that catches the refusal and commits), the whole
 * database compared before and after; then the same currency books, and the books verify.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError } from '../src/index.js';
import type { Kysely } from 'kysely';
import type { Ledger } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

async function refusal(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

describe.each(DIALECTS)('a refused first posting of a currency on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    for (const currency of ['BTC', 'ETH']) {
      await books.recordProduct({ entity: 'defi', providerProductId: currency.toLowerCase(), currency, name: currency, effectiveDay: '2025-01-01', terms });
    }
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'btc-1', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'eth-1', earnUserId: 'eu-1', providerProductId: 'eth', currency: 'ETH' });
  });
  afterEach(async () => close());

  const snapshot = () => snapshotDatabase(ledger.db as Kysely<unknown>);

  const booking = (account: string, id: string, amount = '1', occurredAt: string = '2025-03-18T10:00:00Z') => ({
    entity: 'defi',
    earnAccountId: account,
    providerBookingId: id,
    amount,
    occurredAt,
    idempotencyKey: `key-${id}`,
    providerData: { id },
  });

  /** Runs `refused`, expects its typed error, and that the database is exactly as before. */
  async function expectNothingWritten(refused: () => Promise<unknown>, expected: { code: string; field: string }): Promise<void> {
    const before = await snapshot();
    const error = await refusal(refused());
    expect({ code: error.code, field: error.field }).toEqual(expected);
    expect(await snapshot()).toBe(before);
    expect(await ledger.listAccounts({ entity: 'defi', currency: 'ETH', kind: 'settlement' })).toEqual([]);
  }

  /** The currency books afterwards (no rolled-back account id is answered from the cache). */
  async function expectEthBooks(): Promise<void> {
    expect((await books.recordDeposit(booking('eth-1', 'eth-ok', '2'))).status).toBe('created');
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('-2.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  }

  it('a withdrawal beyond the balance', async () => {
    await expectNothingWritten(() => books.recordWithdrawal(booking('eth-1', 'w1')), { code: 'insufficient_balance', field: 'entries' });
    await expectEthBooks();
  });

  it('a deposit whose key is taken by another currency (idempotency conflict)', async () => {
    await books.recordDeposit(booking('btc-1', 'shared'));
    // The stored booking under that id names the caller's field that differs (session 44; the
    // posting's conflict named its idempotencyKey).
    await expectNothingWritten(() => books.recordDeposit(booking('eth-1', 'shared')), { code: 'idempotency_conflict', field: 'earnAccountId' });
    await expectEthBooks();
  });

  it('a booking refused in a caller scope that catches the refusal and commits', async () => {
    const before = await snapshot();
    const caught = await ledger.transact(async (scope) => refusal(books.recordWithdrawal(booking('eth-1', 'w2'), scope)));
    expect(caught.code).toBe('insufficient_balance');
    expect(await snapshot()).toBe(before);
    await expectEthBooks();
  });

  it('a booking refused in a caller scope whose transaction goes on to book', async () => {
    await ledger.transact(async (scope) => {
      await refusal(books.recordWithdrawal(booking('eth-1', 'w3'), scope));
      await books.recordDeposit(booking('btc-1', 'btc-in-scope'), scope);
    });
    expect(await ledger.listAccounts({ entity: 'defi', currency: 'ETH', kind: 'settlement' })).toEqual([]);
    await expectEthBooks();
    await ledger.verify({ entity: 'defi' });
  });

  it('interest with an occurredAt that is not an instant, or a bad interestDay', async () => {
    const interest = { entity: 'defi', earnAccountId: 'eth-1', providerEntryId: 'i-1', amount: '0.1', occurredAt: '2025-03-19T00:00:00Z' };
    await expectNothingWritten(() => books.recordInterest({ ...interest, occurredAt: 'yesterday' }), { code: 'invalid_instant', field: 'occurredAt' });
    await expectNothingWritten(() => books.recordInterest({ ...interest, interestDay: '2025-02-30' }), { code: 'invalid_day', field: 'interestDay' });
    await expectNothingWritten(() => books.recordInterest({ ...interest, idempotencyKey: 'lines:mine' }), { code: 'invalid_input', field: 'idempotencyKey' });
    await expectEthBooks();
  });

  it('partner margin and fees with bad input caught late, or an idempotency conflict', async () => {
    const entry = { entity: 'defi', currency: 'ETH', providerEntryId: 'm-1', amount: '0.1', occurredAt: '2025-03-19T00:00:00Z' };
    await expectNothingWritten(() => books.recordPartnerMargin({ ...entry, occurredAt: '2025-03-19T25:00:00Z' }), { code: 'invalid_instant', field: 'occurredAt' });
    await expectNothingWritten(() => books.recordFee({ ...entry, interestDay: '18.03.2025' }), { code: 'invalid_day', field: 'interestDay' });
    await books.recordFee({ ...entry, currency: 'BTC', providerEntryId: 'f-btc', idempotencyKey: 'fee-key' });
    await expectNothingWritten(() => books.recordFee({ ...entry, providerEntryId: 'f-eth', idempotencyKey: 'fee-key' }), { code: 'idempotency_conflict', field: 'idempotencyKey' });
    await expectEthBooks();
  });

  it('a settlement with a bad reference, occurredAt or key', async () => {
    const settlement = { entity: 'defi', currency: 'ETH', direction: 'to_provider' as const, amount: '1', occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: 'settle-1' };
    await expectNothingWritten(() => books.recordSettlement({ ...settlement, reference: '' }), { code: 'invalid_input', field: 'reference' });
    await expectNothingWritten(() => books.recordSettlement({ ...settlement, occurredAt: 'soon' }), { code: 'invalid_instant', field: 'occurredAt' });
    await expectNothingWritten(() => books.recordSettlement({ ...settlement, idempotencyKey: ' ' }), { code: 'invalid_input', field: 'idempotencyKey' });
    await expectEthBooks();
  });

  it('the outstanding balance of a currency never booked: zero, read without writing; a bad day writes nothing', async () => {
    await expectNothingWritten(() => books.outstandingBalance({ entity: 'defi', currency: 'ETH', day: '2025-13-01' }), { code: 'invalid_day', field: 'day' });
    const before = await snapshot();
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('0.000000000000000000');
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH', day: '2025-03-18' })).toBe('0.000000000000000000');
    expect(await snapshot()).toBe(before);
    await expectEthBooks();
  });

  it('the currency already open keeps its accounts and books through group commit', async () => {
    await books.recordDeposit(booking('eth-1', 'first'));
    const accounts = await ledger.listAccounts({ entity: 'defi', currency: 'ETH' });
    const results = await Promise.all([1, 2, 3].map((n) => books.recordInterest({ entity: 'defi', earnAccountId: 'eth-1', providerEntryId: `i-${n}`, amount: '0.01', occurredAt: '2025-03-19T00:00:00Z' })));
    expect(results.map((result) => result.status)).toEqual(['created', 'created', 'created']);
    expect(await ledger.listAccounts({ entity: 'defi', currency: 'ETH' })).toEqual(accounts);
    await ledger.verify({ entity: 'defi' });
  });

  it('concurrent first postings of a currency open its accounts once, and a refused one among them opens nothing of its own', async () => {
    await books.recordDeposit(booking('btc-1', 'taken'));
    const interest = (n: number) => books.recordInterest({ entity: 'defi', earnAccountId: 'eth-1', providerEntryId: `c-${n}`, amount: '0.01', occurredAt: '2025-03-19T00:00:00Z' });
    const outcomes = await Promise.allSettled([interest(1), books.recordDeposit(booking('eth-1', 'taken')), interest(2), interest(3)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((await ledger.listAccounts({ entity: 'defi', currency: 'ETH' })).map((account) => account.kind).sort()).toEqual(['customer_funds', 'earn_assets', 'fee_expense', 'partner_margin_income', 'settlement', 'treasury', 'user', 'adjustment'].sort());
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('0.000000000000000000');
    await expectEthBooks();
  });
});

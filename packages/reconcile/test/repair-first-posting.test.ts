/**
 * A refused repair of a missing booking in a currency the entity never booked leaves the
 * database as it was, on every dialect: the currency's system accounts are opened with the
 * booking, in the repair's transaction, not before it in a write of their own (review h4). The
 * books hold an ETH Earn account (its user account open) but no ETH posting, so the ETH system
 * accounts do not exist; each refusal (a withdrawal beyond the balance, a key another currency
 * took, an amount finer than the currency's scale, another currency than the account's, a break
 * update that fails after the booking) is compared with a snapshot of the whole database taken
 * before it. Then the repair books, and the books verify.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { EarnBooks, LedgerError } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import type { Break } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('a refused repair in a currency never booked on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  const snapshot = () => snapshotDatabase(ledger.db as never);
  const ethSystemAccounts = async () => (await ledger.listAccounts({ entity: 'defi', currency: 'ETH' })).filter((account) => account.kind !== 'user');

  beforeEach(async () => {
    // ETH counts 8 decimals here, so that a reported amount can be finer than the books take.
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }], currencyScales: { ETH: 8 } });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner-wallet' } } });
    for (const currency of ['BTC', 'ETH']) {
      await books.recordProduct({ entity: 'defi', providerProductId: currency.toLowerCase(), currency, name: currency, effectiveDay: '2025-01-01', terms });
    }
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'btc-0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'eth-0', earnUserId: 'u0', providerProductId: 'eth', currency: 'ETH' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'btc-0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k-btc', providerData: { id: 'b0' } });
  });
  afterEach(async () => close());

  /** Reconciles the day with the books' report plus `entry`, and answers its missing_in_ledger break. */
  async function missingBreak(entry: Record<string, unknown>): Promise<Break> {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', createdAt: '2025-03-18T11:00:00Z', accountId: 'eth-0', bookingId: 'b-eth', idempotencyKey: 'k-eth', ...entry });
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const missing = result.breaks.find((item) => item.kind === 'missing_in_ledger');
    if (missing === undefined) throw new Error(`no missing_in_ledger break: ${JSON.stringify(result.breaks)}`);
    // The case under test: the ETH system accounts were never opened.
    expect(await ethSystemAccounts()).toEqual([]);
    return missing;
  }

  /** Repairs `missing`, expects the refusal, and that the database is exactly as before. */
  async function expectRefusedWritingNothing(missing: Break, type: typeof LedgerError | typeof ReconcileError, expected: { code: string; field?: string; value?: string }): Promise<void> {
    const before = await snapshot();
    const error = await reconciler.repairMissingBooking({ breakId: missing.id }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject(expected);
    expect(await snapshot()).toBe(before);
    expect(await ethSystemAccounts()).toEqual([]);
    expect(await reconciler.breaks({ entity: 'defi', status: 'open' })).toContainEqual(expect.objectContaining({ id: missing.id }));
  }

  /** ETH books afterwards (no rolled-back account is answered from the ledger's cache). */
  async function expectEthBooks(): Promise<void> {
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'eth-0', providerBookingId: 'b-eth-ok', amount: '2', occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: 'k-eth-ok', providerData: {} });
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('-2.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  }

  it('a withdrawal beyond the balance (insufficient_balance)', async () => {
    const missing = await missingBreak({ type: 'Withdrawal', currency: 'ETH', amount: '0.25' });
    await expectRefusedWritingNothing(missing, LedgerError, { code: 'insufficient_balance' });
    await expectEthBooks();
  });

  it('a deposit whose key a booking in another currency took (idempotency_conflict)', async () => {
    const missing = await missingBreak({ type: 'Deposit', currency: 'ETH', amount: '0.25', idempotencyKey: 'k-btc' });
    await expectRefusedWritingNothing(missing, LedgerError, { code: 'idempotency_conflict', field: 'idempotencyKey' });
    await expectEthBooks();
  });

  it('a deposit finer than the currency scale (invalid_amount, field amount)', async () => {
    const missing = await missingBreak({ type: 'Deposit', currency: 'ETH', amount: '0.123456789' });
    await expectRefusedWritingNothing(missing, LedgerError, { code: 'invalid_amount', field: 'amount', value: '0.123456789000000000' });
    await expectEthBooks();
  });

  it('a deposit reported in another currency than the Earn account (invalid_transition, field currency)', async () => {
    const missing = await missingBreak({ type: 'Deposit', currency: 'BTC', amount: '0.25' });
    await expectRefusedWritingNothing(missing, ReconcileError, { code: 'invalid_transition', field: 'currency', value: 'BTC' });
    await expectEthBooks();
  });

  it('a break update that fails after the booking (a crash between the two)', async () => {
    const missing = await missingBreak({ type: 'Deposit', currency: 'ETH', amount: '0.25' });
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER refuse_break_update BEFORE UPDATE ON reconcile_breaks BEGIN SELECT RAISE(ABORT, 'simulated crash'); END`.execute(ledger.db);
    } else {
      await sql`CREATE FUNCTION refuse_break_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$`.execute(ledger.db);
      await sql`CREATE TRIGGER refuse_break_update BEFORE UPDATE ON reconcile_breaks FOR EACH ROW EXECUTE FUNCTION refuse_break_update()`.execute(ledger.db);
    }
    const before = await snapshot();
    await expect(reconciler.repairMissingBooking({ breakId: missing.id })).rejects.toThrow(/simulated crash/);
    expect(await snapshot()).toBe(before);
    expect(await ethSystemAccounts()).toEqual([]);
    await sql`DROP TRIGGER refuse_break_update${sql.raw(dialect === 'sqlite' ? '' : ' ON reconcile_breaks')}`.execute(ledger.db);
    // The retry books the deposit, opening the ETH system accounts with it, and resolves the break.
    const repaired = await reconciler.repairMissingBooking({ breakId: missing.id });
    const booked = await books.booking({ entity: 'defi', providerBookingId: 'b-eth' });
    expect(repaired).toMatchObject({ status: 'resolved', resolutionTransactionId: booked?.transactionId });
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('-0.250000000000000000');
    expect((await ethSystemAccounts()).length).toBeGreaterThan(0);
    await ledger.verify({ entity: 'defi' });
  });

  it('the repair of a currency never booked books and resolves, opening its system accounts once', async () => {
    const missing = await missingBreak({ type: 'Deposit', currency: 'ETH', amount: '0.25' });
    const repaired = await reconciler.repairMissingBooking({ breakId: missing.id });
    expect(repaired.status).toBe('resolved');
    expect((await ethSystemAccounts()).map((account) => account.kind).sort()).toEqual(['adjustment', 'customer_funds', 'earn_assets', 'fee_expense', 'partner_margin_income', 'settlement', 'treasury']);
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('-0.250000000000000000');
    await ledger.verify({ entity: 'defi' });
  });
});

/**
 * The two paths that open a currency's system accounts inside a caller's transaction with
 * `systemAccountsFor` (the day's sync, and confirming a settlement instruction) never catch a
 * refusal and commit: a refusal that comes after the accounts were opened rolls the whole
 * transaction back, so a currency the entity never booked keeps no system account (review h4).
 * Each case is compared with a snapshot of the whole database taken before it, on every dialect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };
/** The largest amount a report carries (24 integer digits): two of them overflow what an account stores. */
const LARGEST = '999999999999999999999999';

describe.each(DIALECTS)('a currency never booked, refused inside a caller transaction on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  const snapshot = () => snapshotDatabase(ledger.db as never);
  const ethSystemAccounts = async () => (await ledger.listAccounts({ entity: 'defi', currency: 'ETH' })).filter((account) => account.kind !== 'user');

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner-wallet', ETH: '0xpartner' } } });
    for (const currency of ['BTC', 'ETH']) {
      await books.recordProduct({ entity: 'defi', providerProductId: currency.toLowerCase(), currency, name: currency, effectiveDay: '2025-01-01', terms });
    }
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'btc-0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'eth-0', earnUserId: 'u0', providerProductId: 'eth', currency: 'ETH' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'btc-0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k-btc', providerData: { id: 'b0' } });
    expect(await ethSystemAccounts()).toEqual([]);
  });
  afterEach(async () => close());

  it('the sync: fees of a currency never booked that the ledger refuses after opening its accounts reject the report, writing nothing', async () => {
    const report = await buildReport(books, 'defi', DAY);
    for (const id of ['00000000-0000-4000-8000-00000000fee1', '00000000-0000-4000-8000-00000000fee2']) {
      report.transactions.push({ id, type: 'Fee', currency: 'ETH', amount: LARGEST, createdAt: '2025-03-18T11:00:00Z' });
    }
    const before = await snapshot();
    const error = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_report' });
    expect((error as Error).message).toContain('cannot be booked');
    expect(await snapshot()).toBe(before);
    expect(await ethSystemAccounts()).toEqual([]);
    // The same day books once the report is right: the fee opens the ETH accounts with it.
    const fixed = await buildReport(books, 'defi', DAY);
    fixed.transactions.push({ id: '00000000-0000-4000-8000-00000000fee1', type: 'Fee', currency: 'ETH', amount: '0.1', createdAt: '2025-03-18T11:00:00Z' });
    expect((await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(fixed) })).synced.fee).toBe(1);
    expect((await ethSystemAccounts()).length).toBeGreaterThan(0);
    await ledger.verify({ entity: 'defi' });
  });

  it('confirming an instruction whose settlement key holds another booking: refused after opening the accounts, writing nothing', async () => {
    // No run issues an instruction for a currency without bookings (positions come from the
    // books' flows), so the row is written by hand: the refusal below comes after confirm opened
    // the ETH accounts in its transaction, and must take them back with it.
    const now = '2025-03-19T06:00:00.000Z';
    await reconciler.db
      .insertInto('settlement_instructions')
      .values({ entity: 'defi', currency: 'ETH', accounting_day: DAY, direction: 'from_provider', amount: '0.5', wallet: '0xpartner', status: 'pending', status_reason: null, transaction_hash: null, ledger_transaction_id: null, created_at: now, updated_at: now })
      .execute();
    const instruction = (await reconciler.instructions({ entity: 'defi' })).find((item) => item.currency === 'ETH');
    expect(instruction).toMatchObject({ currency: 'ETH', status: 'pending' });
    // A BTC transfer booked under the ETH instruction's settlement key.
    await books.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 'from_provider', amount: '0.5', occurredAt: '2025-03-19T08:00:00Z', idempotencyKey: `settlement:defi:ETH:${DAY}` });
    const before = await snapshot();
    const error = await reconciler.confirm({ instructionId: instruction?.id ?? 0, occurredAt: '2025-03-19T08:00:00Z', transactionHash: '0xfeedbeef01' }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'idempotency_conflict', field: 'currency', value: 'BTC' });
    expect(await snapshot()).toBe(before);
    expect(await ethSystemAccounts()).toEqual([]);
    await ledger.verify({ entity: 'defi' });
  });
});

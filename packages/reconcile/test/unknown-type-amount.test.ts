/**
 * A report entry of a type the reconciler does not know becomes an `unknown_entry_type` break
 * whose `actual` is the entry's amount, canonical at 18 decimals like every other break's amount
 * (the report's own text, `"0001.50"`, stays in the break's details).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { ReconcileDatabase } from '../src/db/schema.js';
import { exportBreaksCsv } from '../src/export/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { memoryOutput } from './export-books.js';
import { buildReport } from './report-builder.js';

const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('unknown entry type amounts on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner' } } });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
  });
  afterEach(async () => close());

  it('stores and exports the amount at 18 decimals, and keeps the report\'s text in the details', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000003', type: 'Airdrop', currency: 'BTC', amount: '0001.50', createdAt: '2025-03-18T20:00:00.000Z' });
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000004', type: 'Bonus', currency: 'BTC', amount: '7', createdAt: '2025-03-18T20:00:00.000Z' });
    await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const db = ledger.db as unknown as Kysely<ReconcileDatabase>;
    const stored = await db.selectFrom('reconcile_breaks').select(['provider_id', 'actual', 'details']).where('kind', '=', 'unknown_entry_type').orderBy('provider_id').execute();
    expect(stored.map((row) => [row.provider_id, row.actual])).toEqual([
      ['00000000-0000-4000-8000-000000000003', '1.500000000000000000'],
      ['00000000-0000-4000-8000-000000000004', '7.000000000000000000'],
    ]);
    expect((JSON.parse(stored[0]?.details ?? '{}') as { entry?: { amount?: string } }).entry?.amount).toBe('0001.50');

    const sink = memoryOutput();
    await exportBreaksCsv({ db, entity: 'defi', fromDay: DAY, toDay: DAY, output: sink.output });
    const lines = sink.bytes().toString('utf8').split('\r\n').filter((line) => line.includes('"unknown_entry_type"'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(',"1.500000000000000000",');
    expect(lines[1]).toContain(',"7.000000000000000000",');
  });

  it('runs the same day again without a new break: the figure is the same', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000003', type: 'Airdrop', currency: 'BTC', amount: '0001.50', createdAt: '2025-03-18T20:00:00.000Z' });
    await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    report.transactions[report.transactions.length - 1] = { ...(report.transactions[report.transactions.length - 1] as (typeof report.transactions)[number]), amount: '1.5' };
    await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const db = ledger.db as unknown as Kysely<ReconcileDatabase>;
    const stored = await db.selectFrom('reconcile_breaks').select(['actual', 'status']).where('kind', '=', 'unknown_entry_type').execute();
    // "0001.50" and "1.5" are one amount: one break, one figure.
    expect(stored).toEqual([{ actual: '1.500000000000000000', status: 'open' }]);
  });
});

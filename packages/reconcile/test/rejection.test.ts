import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject, openReportFile } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
const TABLES = ['ledger_accounts', 'journal_transactions', 'journal_entries', 'account_day_balances', 'earn_bookings', 'processed_reports', 'reconcile_breaks', 'settlement_positions', 'settlement_instructions'];

/** Every row of the books and of reconcile's tables, in a stable order. */
async function snapshot(ledger: Ledger): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(ledger.db);
    tables[table] = rows.rows.map((row) => JSON.stringify(row)).sort();
  }
  return tables;
}

describe.each(DIALECTS)('rejected reports write nothing on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  let directory: string;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }], currencyScales: { ETH: 8 } });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    directory = mkdtempSync(join(tmpdir(), 'earnbook-rejection-'));
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 3; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: `${i + 1}`, occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: `k${i}`, providerData: {} });
    }
  });
  afterEach(async () => {
    rmSync(directory, { recursive: true, force: true });
    await close();
  });

  async function expectRejected(report: ReportJson | (() => Promise<unknown>), match: Partial<ReconcileError>): Promise<void> {
    const before = await snapshot(ledger);
    // loadReportObject may already refuse the report (the contract refuses ill-formed text): the
    // async wrapper turns that throw into the same rejection.
    const run = typeof report === 'function' ? report() : (async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }))();
    const error = await run.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject(match);
    expect(await snapshot(ledger)).toEqual(before);
  }

  const withEntry = async (entry: Record<string, unknown>, at: 'first' | 'last' = 'last') => {
    const report = await buildReport(books, 'defi', DAY);
    if (at === 'first') report.transactions.unshift(entry);
    else report.transactions.push(entry);
    return report;
  };

  it('refuses a report id with surrounding white space before booking anything', async () => {
    const report = await buildReport(books, 'defi', DAY);
    await expectRejected({ ...report, id: ` ${report.id}` }, { code: 'invalid_report', field: 'id' });
    await expectRejected({ ...report, id: `${report.id}\n` }, { code: 'invalid_report' });
  });

  it('refuses NUL, control characters and lone surrogates in any entry text', async () => {
    const interest = { id: '00000000-0000-4000-8000-00000000000a', type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T23:00:00Z' };
    await expectRejected(await withEntry({ ...interest, accountId: 'a\u0000' }), { code: 'invalid_report', path: expect.stringContaining('accountId') });
    await expectRejected(await withEntry({ ...interest, accountId: 'a\u0007' }), { code: 'invalid_report' });
    await expectRejected(await withEntry({ ...interest, type: 'Deposit', bookingId: 'b\ud800' }), { code: 'invalid_report', path: expect.stringContaining('bookingId') });
  });

  it('refuses a currency the ledger does not accept, even after a valid one, with no account left behind', async () => {
    const margin = (currency: string, id: string) => ({ id, type: 'PartnerMargin', currency, amount: '0.1', createdAt: '2025-03-18T23:00:00Z' });
    const report = await withEntry(margin('XYZ', '00000000-0000-4000-8000-00000000000b'));
    report.transactions.push(margin('xyz', '00000000-0000-4000-8000-00000000000c'));
    await expectRejected(report, { code: 'invalid_report', field: 'currency' });
  });

  it('refuses two balance rows for one currency', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.balances.push({ currency: 'BTC', outstandingBalance: '0' });
    await expectRejected(report, { code: 'invalid_report', path: 'balances[1].currency' });
  });

  it('rolls the whole day back when the ledger refuses an entry after the first writes', async () => {
    // ETH has 8 decimals here: a margin with more is refused by the ledger inside the day's transaction.
    const report = await withEntry({ id: '00000000-0000-4000-8000-00000000000d', type: 'PartnerMargin', currency: 'ETH', amount: '0.000000000000000001', createdAt: '2025-03-18T23:00:00Z' });
    await expectRejected(report, { code: 'invalid_report' });
    expect(await books.processedReports({ entity: 'defi', accountingDay: DAY })).toEqual([]);
  });

  it('rejects a file truncated mid-stream, or with one bad entry at the end, whole', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const text = JSON.stringify(report);
    const truncated = join(directory, 'truncated.json');
    writeFileSync(truncated, text.slice(0, text.length - 40));
    await expectRejected(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(truncated) }), { code: 'invalid_report', field: 'report' });
    const last = structuredClone(report);
    (last.transactions[last.transactions.length - 1] as Record<string, unknown>)['amount'] = 12;
    const bad = join(directory, 'bad.json');
    writeFileSync(bad, JSON.stringify(last));
    await expectRejected(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(bad) }), { code: 'invalid_report', path: `transactions[${last.transactions.length - 1}].amount` });
    const ndjson = join(directory, 'truncated.ndjson');
    const { transactions, ...header } = report;
    writeFileSync(ndjson, [JSON.stringify(header), ...transactions.map((entry) => JSON.stringify(entry))].join('\n').slice(0, -10));
    await expectRejected(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(ndjson) }), { code: 'invalid_report' });
    await expectRejected(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(join(directory, 'none.json')) }), { code: 'no_report' });
  });

  it('refuses a report file whose transactions array is missing, misspelt, not an array or given twice', async () => {
    const { transactions, ...header } = await buildReport(books, 'defi', DAY);
    const whole = JSON.stringify({ ...header, transactions });
    const texts = [
      JSON.stringify(header),
      JSON.stringify({ ...header, Transactions: transactions }),
      JSON.stringify({ ...header, transactions: null }),
      JSON.stringify({ ...header, transactions: {} }),
      `${whole.slice(0, -1)},"transactions":[]}`,
    ];
    for (const [index, text] of texts.entries()) {
      const path = join(directory, `shape-${index}.json`);
      writeFileSync(path, text);
      await expectRejected(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(path) }), { code: 'invalid_report', field: 'transactions' });
    }
  });

  it('reconciles the same day from a JSON file, an NDJSON file and memory alike', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const file = join(directory, 'report.json');
    writeFileSync(file, JSON.stringify(report));
    const fromFile = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(file) });
    expect(fromFile).toMatchObject({ clean: true, reportStatus: 'created', reportEntries: report.transactions.length });
    expect(fromFile.synced.interest).toBe(3);
    const again = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(again).toMatchObject({ clean: true, reportStatus: 'exists', reportVersion: 1, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    const { transactions, ...header } = report;
    const ndjson = join(directory, 'report.ndjson');
    writeFileSync(ndjson, `${[JSON.stringify(header), ...transactions.map((entry) => JSON.stringify(entry))].join('\n')}\n`);
    const fromLines = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(ndjson) });
    expect(fromLines).toMatchObject({ clean: true, reportVersion: 2 });
    expect(fromLines.positions).toEqual(fromFile.positions);
  });
});

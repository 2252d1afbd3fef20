/**
 * Issue 13, class 7: anything over a limit of a report is a typed `ReconcileError` naming the
 * field, and writes nothing (the whole database compared before and after), on both dialects:
 * a file over `REPORT_BYTES_MAX` (a sparse file) or over a configured `bytesMax` (also when the
 * file grows after it was opened), more entries than the contract's 2,000,000, a string over its
 * field limit, a value over `REPORT_VALUE_BYTES_MAX`. The 2M-entry report itself is in
 * `large-report.slow.ts`; the streamed count at the real limit (2,000,001 entries) is in
 * `report-count.slow.ts`. Both run with `pnpm test:slow`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX, CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { REPORT_BYTES_MAX, REPORT_TEXT_LENGTHS_MAX, REPORT_VALUE_BYTES_MAX, ReconcileError, Reconciler, loadReportObject, openReportFile, readReportFile } from '../src/index.js';
import type { LoadedReport, ReportInput } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
const settlementEntry = { id: '00000000-0000-4000-8000-0000000000ff', type: 'Settlement', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T12:00:00Z' };

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A sparse file of `bytes` bytes: no disk space, no time. */
function sparseFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

describe('limits of a report are typed errors (issue 13, class 7)', () => {
  it('refuses a file over REPORT_BYTES_MAX at open and on the whole-file path, without reading it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-limits-'));
    try {
      const path = join(directory, 'huge.json');
      sparseFile(path, REPORT_BYTES_MAX + 1);
      for (const open of [() => openReportFile(path), () => readReportFile(path)]) {
        const error = await caught(open);
        expect(error).toBeInstanceOf(ReconcileError);
        expect(error).toMatchObject({ code: 'invalid_report', field: 'reportFile', value: path });
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a bytesMax that is not a positive integer up to REPORT_BYTES_MAX', async () => {
    for (const bytesMax of [0, -1, 1.5, REPORT_BYTES_MAX + 1, Number.NaN, '10' as unknown as number]) {
      const error = await caught(() => openReportFile('unused.json', { bytesMax }));
      expect(error).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code: 'invalid_input', field: 'bytesMax' });
    }
  });
});

describe.each(DIALECTS)('a report over a limit writes nothing on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  let directory: string;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    directory = mkdtempSync(join(tmpdir(), 'earnbook-limits-'));
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
  });
  afterEach(async () => {
    rmSync(directory, { recursive: true, force: true });
    await close();
  });

  async function expectRefused(report: () => ReportInput | Promise<ReportInput>, match: Record<string, unknown>): Promise<void> {
    const before = await snapshotDatabase(ledger.db as never);
    const error = await caught(async () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await report() }));
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject(match);
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  }

  const writeReport = (name: string, report: ReportJson | string) => {
    const path = join(directory, name);
    writeFileSync(path, typeof report === 'string' ? report : JSON.stringify(report));
    return path;
  };

  it('refuses a file over its bytesMax at open, and one that grew past it after opening', async () => {
    const path = writeReport('report.json', await buildReport(books, 'defi', DAY));
    const size = statSync(path).size;
    await expectRefused(() => openReportFile(path, { bytesMax: size - 1 }), { code: 'invalid_report', field: 'reportFile', value: path });
    const opened = await openReportFile(path, { bytesMax: size + 10 });
    appendFileSync(path, ' '.repeat(100)); // still valid JSON, now past the limit
    await expectRefused(() => opened, { code: 'invalid_report', field: 'reportFile', value: path });
    // A hand-made ReportFile cannot lift the ceiling.
    const sparse = join(directory, 'sparse.json');
    sparseFile(sparse, REPORT_BYTES_MAX + 1);
    await expectRefused(() => ({ kind: 'file', path: sparse, format: 'json', source: sparse, bytesMax: REPORT_BYTES_MAX * 2 }), { code: 'invalid_report' });
    // Within the limit, the same report reconciles.
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(writeReport('ok.json', await buildReport(books, 'defi', DAY)), { bytesMax: size + 10 }) });
    expect(result.clean).toBe(true);
  });

  it('refuses more entries than the contract allows, also in a hand-made loaded report', async () => {
    const report = await buildReport(books, 'defi', DAY);
    // One object 2,000,001 times: the count is what is checked, at no memory cost.
    const many = { ...report, transactions: new Array<Record<string, unknown>>(CONTRACT_REPORT_TRANSACTIONS_MAX + 1).fill(settlementEntry) };
    await expectRefused(() => loadReportObject(many), { code: 'invalid_report', field: 'transactions' });
    const handMade: LoadedReport = { report: many as unknown as LoadedReport['report'], contentHash: 'x'.repeat(64), source: 'memory' };
    await expectRefused(() => handMade, { code: 'invalid_report', field: 'transactions' });
  });

  it('refuses an entry or header string over its field limit, naming the field', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const withEntry = (entry: Record<string, unknown>): ReportJson => ({ ...report, transactions: [...report.transactions, entry] });
    const last = report.transactions.length;
    const cases: [ReportJson, Record<string, unknown>][] = [
      [withEntry({ ...settlementEntry, accountId: 'a'.repeat(129) }), { field: 'accountId', path: `transactions[${last}].accountId` }],
      [withEntry({ ...settlementEntry, bookingId: 'b'.repeat(129) }), { field: 'bookingId', path: `transactions[${last}].bookingId` }],
      [withEntry({ ...settlementEntry, currency: 'C'.repeat(33) }), { field: 'currency', path: `transactions[${last}].currency` }],
      [withEntry({ ...settlementEntry, idempotencyKey: 'k'.repeat(REPORT_TEXT_LENGTHS_MAX.idempotencyKey + 1) }), { field: 'idempotencyKey', path: `transactions[${last}].idempotencyKey` }],
      [withEntry({ ...settlementEntry, type: 'T'.repeat(REPORT_TEXT_LENGTHS_MAX.type + 1) }), { field: 'type', path: `transactions[${last}].type` }],
      [{ ...report, entity: 'e'.repeat(REPORT_TEXT_LENGTHS_MAX.entity + 1) }, { field: 'entity', path: 'entity' }],
      [{ ...report, timeZone: `Europe/${'z'.repeat(REPORT_TEXT_LENGTHS_MAX.timeZone)}` }, { field: 'timeZone', path: 'timeZone' }],
      [{ ...report, id: 'r'.repeat(129) }, { field: 'id' }],
    ];
    for (const [bad, match] of cases) {
      await expectRefused(() => loadReportObject(bad), { code: 'invalid_report', ...match });
      const path = writeReport('bad.json', bad);
      await expectRefused(() => openReportFile(path), { code: 'invalid_report', ...match });
    }
  });

  // Session 45: the limit was the ledger's id length (200), under the 255 characters the Earn API
  // (and its client) take: a booking made with a longer key refused the whole day's report.
  it('reconciles a booking whose idempotency key is as long as the Earn API takes (255 characters)', async () => {
    const key = 'k'.repeat(255);
    expect(REPORT_TEXT_LENGTHS_MAX.idempotencyKey).toBe(CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX);
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b1', amount: '2', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: key, providerData: {} });
    const report = await buildReport(books, 'defi', DAY);
    expect(report.transactions.some((entry) => entry['idempotencyKey'] === key)).toBe(true);
    const streamed = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(writeReport('long-key.json', report)) });
    expect({ clean: streamed.clean, entries: streamed.reportEntries }).toEqual({ clean: true, entries: report.transactions.length });
    const inMemory = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await loadReportObject(report) });
    expect(inMemory.clean).toBe(true);
  });

  it('refuses a value over REPORT_VALUE_BYTES_MAX in a streamed file before holding it whole', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const huge = 'x'.repeat(REPORT_VALUE_BYTES_MAX + 1024 * 1024);
    // An unknown field is tolerated by the contract, but not without bound.
    const json = writeReport('huge.json', { ...report, transactions: [...report.transactions, { ...settlementEntry, memo: huge }] });
    await expectRefused(() => openReportFile(json), { code: 'invalid_report', field: 'report' });
    const { transactions, ...header } = report;
    const ndjson = writeReport('huge.ndjson', [JSON.stringify(header), ...transactions.map((entry) => JSON.stringify(entry)), JSON.stringify({ ...settlementEntry, memo: huge })].join('\n'));
    await expectRefused(() => openReportFile(ndjson), { code: 'invalid_report', field: 'report' });
  });
});

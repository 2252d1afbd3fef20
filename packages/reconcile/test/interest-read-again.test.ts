/**
 * The day's interest is recomputed before the write transaction (beside the report's read, on a
 * worker thread where the books are a SQLite file). A posting on an Earn account committed
 * between that read and the transaction is seen by the diff, in the transaction: the interest
 * check must see the same books, or the run stores a break no consistent view of the books gives
 * (a spurious interest_mismatch), or misses one (a real interest_mismatch hidden).
 *
 * The interleaving is made exact by a wrapper on `EarnBooks.processedReports`, which the run calls
 * right before its write transaction, after the projection and its comparison (in this thread);
 * on a worker the run does not wait for the projection, so there the wrapper waits until the
 * worker has posted it (`reconcile.interest_projected`, debug). The wrapper then commits the
 * deposit, as a concurrent writer (a repair, a late booking answer) could.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, cycleLinesMark, sameCycleLinesMark } from '@earnbook/ledger';
import type { LedgerLogger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { ReconcileResult } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const DAY = '2025-03-18';
const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
const LATE = { entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b-late', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-late', providerData: {} };

async function seed(books: EarnBooks): Promise<void> {
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: TERMS });
  await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
  await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
  await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '2', occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
}

/** A logger that keeps the events logged at info; `projected` settles once the worker's projection is in. */
function recordingLogger(): LedgerLogger & { events: unknown[]; projected: Promise<void> } {
  const events: unknown[] = [];
  let settle: () => void = () => undefined;
  const projected = new Promise<void>((resolve) => (settle = resolve));
  const debug = (object: Record<string, unknown>) => void (object['event'] === 'reconcile.interest_projected' && settle());
  return { events, projected, info: (object: Record<string, unknown>) => void events.push(object['event']), debug, warn() {}, error() {} };
}

/** Commits the late deposit once, right before the run's write transaction, after `projected` (see the module comment). */
function depositBeforeTheWrite(books: EarnBooks, projected: Promise<void> = Promise.resolve()): { fired: () => boolean } {
  let armed = true;
  const processedReports = books.processedReports.bind(books);
  books.processedReports = async (input) => {
    if (armed) {
      armed = false;
      await projected;
      await books.recordDeposit(LATE);
    }
    return processedReports(input);
  };
  return { fired: () => !armed };
}

/** The provider's report of the day, made from books that hold the late deposit or not. */
async function providerReport(dialect: (typeof DIALECTS)[number], withLate: boolean): Promise<ReportJson> {
  const provider = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
  try {
    const books = new EarnBooks(provider.ledger);
    await seed(books);
    if (withLate) await books.recordDeposit(LATE);
    return await buildReport(books, 'defi', DAY);
  } finally {
    await provider.close();
  }
}

describe.each(DIALECTS)('a deposit committed between the interest recomputation and the write (%s)', (dialect) => {
  let books: EarnBooks;
  let close: () => Promise<void>;
  let logger: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    logger = recordingLogger();
    const partner = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }], logger });
    close = partner.close;
    books = new EarnBooks(partner.ledger);
    await seed(books);
  });
  afterEach(async () => close());

  it('control: booked before the run, the day is clean and the interest is read once', async () => {
    const report = await providerReport(dialect, true);
    await books.recordDeposit(LATE);
    const reconciler = await Reconciler.open({ books, logger });
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(result.breaks.map((b) => b.kind)).toEqual([]);
    expect(logger.events).not.toContain('reconcile.interest_read_again');
  });

  it('stores no interest or margin break that the books the run reconciled do not give', async () => {
    const report = await providerReport(dialect, true);
    const reconciler = await Reconciler.open({ books, logger });
    const hook = depositBeforeTheWrite(books);
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(hook.fired()).toBe(true);
    expect(logger.events).toContain('reconcile.interest_read_again');
    // The write transaction saw the deposit (no missing_in_ledger): the reported interest is right.
    expect(result.breaks.map((b) => b.kind)).toEqual([]);
    expect(await reconciler.breaks({ entity: 'defi', day: DAY, status: 'open' })).toEqual([]);
  });

  it('does not hide the interest_mismatch of a deposit the provider never booked', async () => {
    const report = await providerReport(dialect, false);
    const reconciler = await Reconciler.open({ books, logger });
    const hook = depositBeforeTheWrite(books);
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(hook.fired()).toBe(true);
    const kinds = result.breaks.map((b) => b.kind);
    expect(kinds).toContain('missing_in_report');
    // The books hold 3 BTC at the end of the day; the report pays interest on 2.
    expect(kinds).toContain('interest_mismatch');
    expect(kinds).toContain('margin_mismatch');
  });
});

describe('the same on a worker thread (SQLite file, workerThreads always)', () => {
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-read-again-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  /**
   * Reconciles the provider's report (with the late deposit or not) on seeded books in a SQLite
   * file, on a worker; `late`: the late deposit committed before the write (see the module comment).
   */
  async function runOnWorker(input: { withLate: boolean; late: boolean }): Promise<{ report: ReportJson; result: ReconcileResult; events: unknown[]; fired: boolean }> {
    const report = await providerReport('sqlite', input.withLate);
    const logger = recordingLogger();
    const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: join(directory, 'books.sqlite') }), entities: [{ id: 'defi', timeZone: 'UTC' }], logger });
    try {
      const books = new EarnBooks(ledger);
      await seed(books);
      const reconciler = await Reconciler.open({ books, logger, workerThreads: 'always', sortDirectory: directory });
      const hook = input.late ? depositBeforeTheWrite(books, logger.projected) : undefined;
      const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
      return { report, result, events: logger.events, fired: hook?.fired() ?? false };
    } finally {
      await ledger.close();
    }
  }

  it('control: nothing booked meanwhile, the mark is checked before the sync posts, and the interest is read once', async () => {
    const { report, result, events } = await runOnWorker({ withLate: false, late: false });
    expect(report.transactions.some((entry) => entry['type'] === 'Interest')).toBe(true);
    // The sync booked the day's interest: a mark taken after that would have moved.
    expect(result.synced.interest).toBeGreaterThan(0);
    expect(events).not.toContain('reconcile.interest_read_again');
    expect(result.breaks.map((b) => b.kind)).toEqual([]);
  });

  it('reads the interest again in the transaction and stores no spurious break', async () => {
    const { result, events, fired } = await runOnWorker({ withLate: true, late: true });
    expect(fired).toBe(true);
    expect(events).toContain('reconcile.interest_read_again');
    expect(result.breaks.map((b) => b.kind)).toEqual([]);
  });
});

describe.each(DIALECTS)('cycleLinesMark (%s)', (dialect) => {
  it('moves with a posting on an Earn account, an Earn account or a product version, not with a system posting', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(opened.ledger);
      await seed(books);
      const mark = () => cycleLinesMark(opened.ledger, { entity: 'defi' });
      const first = await mark();
      expect(first).toEqual({ earnAccounts: 1, entries: '1', productVersions: 1 });
      // A margin posting touches system accounts only.
      await books.recordPartnerMargin({ entity: 'defi', currency: 'BTC', providerEntryId: 'm1', amount: '0.1', occurredAt: '2025-03-19T00:00:00Z', interestDay: DAY, idempotencyKey: 'km1' });
      expect(sameCycleLinesMark(await mark(), first)).toBe(true);
      await books.recordDeposit(LATE);
      const second = await mark();
      expect(second.entries).toBe('2');
      await books.registerUser({ partnerUserId: 'p1', earnUsers: [{ entity: 'defi', earnUserId: 'u1' }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a1', earnUserId: 'u1', providerProductId: 'btc', currency: 'BTC' });
      expect((await mark()).earnAccounts).toBe(2);
      await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-03-01', terms: TERMS });
      expect((await mark()).productVersions).toBe(2);
      await expect(cycleLinesMark(opened.ledger, { entity: 'nope' })).rejects.toMatchObject({ code: 'unknown_entity' });
    } finally {
      await opened.close();
    }
  });
});

/**
 * The day's interest recomputed on a worker thread (books in a SQLite file): the run finds what
 * a run in the calling thread finds, a failure in the read phase stops the worker and leaves no
 * file, and a worker that cannot work gives way to the calling thread (logged).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import type { CycleLinesMark, LedgerLogger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { ReconcileError, Reconciler, openReportFile } from '../src/index.js';
import type { BreakDraft, ReconcileResult } from '../src/index.js';
import { Worker } from 'node:worker_threads';
import { compareProjected, interestLineKey, projectInterest, reportedInterestKey } from '../src/day-streams.js';
import type { InterestLineTuple, ReportedInterestTuple } from '../src/day-streams.js';
import { ExternalSorter } from '../src/external-sort.js';
import { projectInThisThread, projectInterestInWorker } from '../src/interest-projection.js';
import type { InterestWorkerInput } from '../src/interest-worker.js';
import { startWorkerModule } from '../src/worker-start.js';
import { buildReport } from './report-builder.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { DAY, NOW, ZONE, bookTheDay, outcome, recordingLogger, terms } from './interest-worker-fixtures.js';

const ACCOUNTS = 24;

/** A sorter's items in order. */
async function sortedDrafts(sorter: ExternalSorter<BreakDraft>): Promise<BreakDraft[]> {
  const items: BreakDraft[] = [];
  for await (const batch of sorter.sortedBatches()) items.push(...batch);
  return items;
}

async function openBooks(filename: string, logger?: LedgerLogger): Promise<Ledger> {
  return Ledger.open({ storage: openSqliteDatabase({ filename }), entities: [{ id: 'defi', timeZone: ZONE }], ...(logger === undefined ? {} : { logger }) });
}

describe('interest recomputed on a worker thread (SQLite file)', () => {
  let directory: string;
  let sortDirectory: string;
  let booksFile: string;
  let reportFile: string;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-worker-test-'));
    sortDirectory = join(directory, 'sort');
    mkdirSync(sortDirectory);
    booksFile = join(directory, 'books.sqlite');
    reportFile = join(directory, 'report.json');
    const ledger = await openBooks(booksFile);
    const books = new EarnBooks(ledger);
    await bookTheDay(books, ACCOUNTS);
    const report = await buildReport(books, 'defi', DAY);
    // Two interest breaks the recomputation must find: one amount off, one account left out.
    const interest = report.transactions.filter((entry) => entry.type === 'Interest');
    const changed = interest[3];
    if (changed === undefined || interest[5] === undefined) throw new Error('the report has too few interest entries');
    changed['amount'] = '0.000100000000000000';
    report.transactions = report.transactions.filter((entry) => entry !== interest[5]);
    writeFileSync(reportFile, JSON.stringify(report));
    await ledger.close();
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  async function reconcile(file: string, options: { workerThreads: 'always' | 'never'; logger?: LedgerLogger; report?: string; workerWaitMs?: number }): Promise<ReconcileResult> {
    const ledger = await openBooks(file, options.logger);
    try {
      const wait = options.workerWaitMs === undefined ? {} : { workerWaitMs: options.workerWaitMs };
      const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), now: () => NOW, sortDirectory, workerThreads: options.workerThreads, ...wait });
      return await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(options.report ?? reportFile) });
    } finally {
      await ledger.close();
    }
  }

  it('finds what a run in the calling thread finds, and leaves no file behind', async () => {
    const inThread = join(directory, 'in-thread.sqlite');
    copyFileSync(booksFile, inThread);
    const logger = recordingLogger();
    const withWorker = await reconcile(booksFile, { workerThreads: 'always', logger });
    expect(logger.warnings).toEqual([]);
    const withoutWorker = await reconcile(inThread, { workerThreads: 'never' });
    expect(outcome(withWorker)).toEqual(outcome(withoutWorker));
    const kinds = withWorker.breaks.map((item) => item.kind);
    expect(kinds).toContain('interest_mismatch');
    expect(kinds).toContain('missing_interest');
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('workers that do not answer within workerWaitMs are stopped, and the run finds in this thread what a run without workers finds', async () => {
    const inThread = join(directory, 'in-thread.sqlite');
    copyFileSync(booksFile, inThread);
    const logger = recordingLogger();
    // No worker starts and answers within 1 ms: both give way once the run needs them.
    const late = await reconcile(booksFile, { workerThreads: 'always', logger, workerWaitMs: 1 });
    expect(logger.warnings).toMatchObject([
      { event: 'reconcile.interest_worker_failed', entity: 'defi', day: DAY, reason: 'the worker did not answer within 1 ms' },
      { event: 'reconcile.books_worker_failed', entity: 'defi', days: [DAY, '2025-03-19'], reason: 'the worker did not answer within 1 ms' },
    ]);
    expect(outcome(late)).toEqual(outcome(await reconcile(inThread, { workerThreads: 'never' })));
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a report that breaks off mid-stream stops the worker, writes nothing and leaves no file', async () => {
    const truncated = join(directory, 'truncated.json');
    const text = readFileSync(reportFile, 'utf8');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length * 0.6)));
    const ledger = await openBooks(booksFile);
    const before = await ledger.verify({ entity: 'defi' });
    await ledger.close();
    await expect(reconcile(booksFile, { workerThreads: 'always', report: truncated })).rejects.toBeInstanceOf(ReconcileError);
    const again = await openBooks(booksFile);
    expect(await again.verify({ entity: 'defi' })).toEqual(before);
    await again.close();
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a sort folder that went away after the reconciler was made: the run goes on in this thread, as without workers, and says so', async () => {
    const logger = recordingLogger();
    const ledger = await openBooks(booksFile, logger);
    try {
      // A folder missing already is refused by Reconciler.open (sort-failures.test.ts).
      const gone = join(directory, 'gone');
      mkdirSync(gone);
      const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), now: () => NOW, sortDirectory: gone, workerThreads: 'always' });
      rmSync(gone, { recursive: true });
      const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile) });
      expect(result.breaks.map((item) => item.kind)).toContain('missing_interest');
      // Both worker threads give way: the interest's and the books' (books-prefetch.test.ts).
      expect(logger.warnings).toMatchObject([
        { event: 'reconcile.interest_worker_failed', entity: 'defi', day: DAY },
        { event: 'reconcile.books_worker_failed', entity: 'defi', days: [DAY, '2025-03-19'] },
      ]);
    } finally {
      await ledger.close();
    }
  });

  it('auto with a hand-made report in memory whose entries are no list: the read refuses it (typed), not the worker choice', async () => {
    const ledger = await openBooks(booksFile);
    try {
      const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), sortDirectory });
      const before = await ledger.verify({ entity: 'defi' });
      const report = { report: { ...JSON.parse(readFileSync(reportFile, 'utf8')), transactions: 'many' }, contentHash: 'x'.repeat(64), source: 'memory' };
      await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: report as never })).rejects.toBeInstanceOf(ReconcileError);
      expect(await ledger.verify({ entity: 'defi' })).toEqual(before);
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  it('workerThreads must be auto, always or never, workerWaitMs a whole number of milliseconds from 1 to a day: a typed error naming the field, nothing written', async () => {
    const ledger = await openBooks(booksFile);
    try {
      const books = new EarnBooks(ledger);
      const before = await ledger.verify({ entity: 'defi' });
      // The whole database, the reconciler's migrations included: a refused option opens nothing.
      const snapshot = await snapshotDatabase(ledger.db as never);
      await expect(Reconciler.open({ books, workerThreads: 'yes' as unknown as 'auto' })).rejects.toMatchObject({ name: 'ReconcileError', code: 'invalid_input', field: 'workerThreads', value: 'yes' });
      for (const waitMs of [0, -5, 1.5, Number.NaN, 86_400_001, '100' as unknown as number]) {
        await expect(Reconciler.open({ books, workerWaitMs: waitMs })).rejects.toMatchObject({ name: 'ReconcileError', code: 'invalid_input', field: 'workerWaitMs', value: String(waitMs) });
      }
      expect(await ledger.verify({ entity: 'defi' })).toEqual(before);
      expect(await snapshotDatabase(ledger.db as never)).toBe(snapshot);
    } finally {
      await ledger.close();
    }
  });

  it.each([
    ['cannot open the books', { databaseFile: () => join(directory, 'no-such-folder', 'books.sqlite') }, undefined],
    // It never posts: the wait ends it (a worker that hangs must not hold the run, nor its write transaction).
    ['never posts its projection', { databaseFile: () => booksFile, waitMs: 200, start: () => new Worker('setInterval(() => {}, 1000)', { eval: true }) }, 'the worker did not answer within 200 ms'],
    // V8 ends a worker at its heap's ceiling (WORKER_OLD_GENERATION_MIB; 4 MiB here, which loading it passes): the process goes on.
    ['runs out of its heap', { databaseFile: () => booksFile, start: (input: InterestWorkerInput) => startWorkerModule('interest-worker', input, { maxOldGenerationSizeMb: 4 }) }, 'Worker terminated due to reaching memory limit: JS heap out of memory'],
  ])('a worker that %s gives way to the calling thread, and says so', async (_how, worker, reason) => {
    const logger = recordingLogger();
    const ledger = await openBooks(booksFile, logger);
    try {
      const books = new EarnBooks(ledger);
      const input = { books, databaseFile: worker.databaseFile(), entity: 'defi', timeZone: ZONE, day: DAY, sortDirectory, keepForComparison: () => true, ...('waitMs' in worker ? { waitMs: worker.waitMs } : {}) };
      const pending = await projectInterestInWorker(input, 'start' in worker ? worker.start : undefined);
      const local = await projectInterest({ books, entity: 'defi', day: DAY, sortDirectory });
      try {
        const projection = await pending.result();
        expect(projection.lines.count).toBe(local.lines.count);
        expect(projection.recomputedMargin).toEqual(local.recomputedMargin);
        const read = async (lines: typeof local.lines) => {
          const all: unknown[] = [];
          for await (const batch of lines.sortedBatches()) all.push(...batch);
          return all;
        };
        expect(await read(projection.lines)).toEqual(await read(local.lines));
      } finally {
        await pending.close();
        await local.lines.close();
      }
      expect(logger.warnings).toMatchObject([{ event: 'reconcile.interest_worker_failed', entity: 'defi', day: DAY, ...(reason === undefined ? {} : { reason }) }]);
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await ledger.close();
    }
  });
});

describe('the comparison in this thread', () => {
  it('writes its breaks\' runs under the sortDirectory it is given, and removes them on close', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-compare-here-'));
    const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: ':memory:' }), entities: [{ id: 'defi', timeZone: ZONE }] });
    try {
      // 6,000 accounts with reported interest and no line: an unexpected_interest each, past a draft sorter's run of 5,000.
      const reported = new ExternalSorter<ReportedInterestTuple>({ key: reportedInterestKey, directory });
      await reported.addAll(Array.from({ length: 6_000 }, (_, index): ReportedInterestTuple => [`a${String(index).padStart(5, '0')}`, `i${index}`, 'BTC', '0.000000000000000100']));
      const pending = projectInThisThread({ books: new EarnBooks(ledger), entity: 'defi', day: DAY, sortDirectory: directory });
      const projection = { lines: new ExternalSorter<InterestLineTuple>({ key: interestLineKey, directory }), recomputedMargin: new Map<string, bigint>(), mark: { earnAccounts: 0, entries: '0', productVersions: 0 } satisfies CycleLinesMark };
      const comparison = await pending.compare(projection, { reported, toleranceUnits: () => 1n, tolerances: new Map(), sortDirectory: directory });
      const outcome = await comparison.outcome();
      expect(outcome.breaks.count).toBe(6_000);
      // The reported interest's sorter holds no run (6,000 < 25,000): the folder under it is the breaks'.
      expect(readdirSync(directory).filter((name) => name.startsWith('earnbook-sort-'))).toHaveLength(1);
      expect((await sortedDrafts(outcome.breaks)).map((draft) => draft.kind)).toEqual(Array.from({ length: 6_000 }, () => 'unexpected_interest'));
      await comparison.close();
      await reported.close();
      await projection.lines.close();
      expect(readdirSync(directory)).toEqual([]);
    } finally {
      await ledger.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('the comparison on the worker thread', () => {
  /** Reported interest by Earn account: two accounts, one of them twice. */
  const reportedTuples: ReportedInterestTuple[] = [
    ['a1', 'i1', 'BTC', '0.000000000000000100'],
    ['a2', 'i2', 'BTC', '0.000000000000000200'],
    ['a2', 'i3', 'BTC', '0.000000000000000300'],
  ];

  async function reportedSorter(directory: string): Promise<ExternalSorter<ReportedInterestTuple>> {
    const sorter = new ExternalSorter<ReportedInterestTuple>({ key: reportedInterestKey, directory, runSize: 2 });
    for (const tuple of reportedTuples) await sorter.add(tuple);
    return sorter;
  }

  it.each([
    ['dies when asked to compare', 'process.exit(3)', 'the worker exited with code 3'],
    ['answers that it failed', "parentPort.postMessage({ ok: false, message: 'disk gone' })", 'disk gone'],
    // Asked, it never answers: the wait ends it, and the comparison is made here.
    ['never answers when asked to compare', 'setInterval(() => {}, 1000)', 'the worker did not answer within 1000 ms'],
  ])('a worker that %s after its projection: the comparison is made in this thread, finds the same, says so, and no file is left', async (_how, onRequest, reason) => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-compare-test-'));
    const logger = recordingLogger();
    const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: ':memory:' }), entities: [{ id: 'defi', timeZone: ZONE }], logger });
    try {
      // It posts an empty projection (no run), then fails the comparison its way.
      const dying = () =>
        new Worker(
          `const { parentPort } = require('node:worker_threads');
           parentPort.once('message', () => ${onRequest});
           parentPort.postMessage({ ok: true, runs: { directory: undefined, runs: [], count: 0 }, margin: [] });`,
          { eval: true },
        );
      const pending = await projectInterestInWorker({ books: new EarnBooks(ledger), databaseFile: join(directory, 'unused.sqlite'), entity: 'defi', timeZone: ZONE, day: DAY, sortDirectory: directory, keepForComparison: () => true, waitMs: 1_000 }, dying);
      const reported = await reportedSorter(directory);
      const here = await reportedSorter(directory);
      try {
        const projection = await pending.result();
        const comparison = await pending.compare(projection, { reported, toleranceUnits: () => 1n, tolerances: new Map(), sortDirectory: directory });
        const outcome = await comparison.outcome();
        const expected = await compareProjected({ lines: new ExternalSorter({ key: interestLineKey }), recomputedMargin: new Map() }, { reported: here, toleranceUnits: () => 1n });
        const drafts = await sortedDrafts(outcome.breaks);
        expect(drafts).toEqual(await sortedDrafts(expected.breaks));
        expect(drafts.map((item) => [item.kind, item.earnAccountId])).toEqual([
          ['unexpected_interest', 'a1'],
          ['unexpected_interest', 'a2'],
        ]);
        await outcome.breaks.close();
        await expected.breaks.close();
        expect(logger.warnings).toMatchObject([{ event: 'reconcile.interest_worker_failed', entity: 'defi', day: DAY, reason }]);
        await comparison.close();
      } finally {
        await pending.close();
        await reported.close();
        await here.close();
      }
      expect(readdirSync(directory)).toEqual([]);
    } finally {
      await ledger.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe.each(DIALECTS)('a report that breaks off while the interest may be recomputed, on %s', (dialect) => {
  it('a report that breaks off while the interest is recomputed: a typed error, nothing written, no file left', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-beside-test-'));
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    try {
      const books = new EarnBooks(opened.ledger);
      await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
      for (let i = 0; i < 6; i++) {
        await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
        await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
        await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: '1.5', occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: `k${i}`, providerData: { id: `b${i}` } });
      }
      const text = JSON.stringify(await buildReport(books, 'defi', DAY));
      const truncated = join(directory, 'truncated.json');
      writeFileSync(truncated, text.slice(0, Math.floor(text.length * 0.7)));
      const sortDirectory = join(directory, 'sort');
      mkdirSync(sortDirectory);
      const reconciler = await Reconciler.open({ books, sortDirectory, workerThreads: 'always' });
      const before = await opened.ledger.verify({ entity: 'defi' });
      await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(truncated) })).rejects.toMatchObject({ name: 'ReconcileError', code: 'invalid_report' });
      expect(await opened.ledger.verify({ entity: 'defi' })).toEqual(before);
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await opened.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

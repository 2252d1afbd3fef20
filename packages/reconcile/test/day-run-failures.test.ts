/**
 * How a day's run fails and cleans up: the error a caller gets is the one that failed the run
 * (not a later failure to remove a temporary folder), the books are left as they were, the sort
 * runs (financial data) are private to the process's user and removed, and two runs of one day
 * at once on a SQLite file leave one day written once.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, openReportFile } from '../src/index.js';
import type { ReconcileProgress } from '../src/index.js';
import { Worker } from 'node:worker_threads';
import { ExternalSorter } from '../src/external-sort.js';
import { projectInterestInWorker } from '../src/interest-projection.js';
import { prefetchBooksInWorker } from '../src/books-prefetch.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';

const DAY = '2025-03-18';
const NOW = new Date('2025-03-19T06:00:00Z');

async function openBooks(filename: string): Promise<Ledger> {
  return Ledger.open({ storage: openSqliteDatabase({ filename }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
}

describe('a day run on a SQLite file with worker threads, failing', () => {
  let directory: string;
  let sortDirectory: string;
  let booksFile: string;
  let reportFile: string;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-day-failures-'));
    sortDirectory = join(directory, 'sort');
    mkdirSync(sortDirectory);
    booksFile = join(directory, 'books.sqlite');
    reportFile = join(directory, 'report.json');
    const ledger = await openBooks(booksFile);
    const books = new EarnBooks(ledger);
    await seedOneAccount(books);
    writeFileSync(reportFile, JSON.stringify(await buildReport(books, 'defi', DAY)));
    await ledger.close();
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('a progress listener that throws while the temporary folders cannot be removed: the listener’s error, not the removal’s, and nothing written', async () => {
    const ledger = await openBooks(booksFile);
    try {
      const warnings: Record<string, unknown>[] = [];
      const logger = { info() {}, debug() {}, error() {}, warn: (object: Record<string, unknown>) => void warnings.push(object) };
      const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), now: () => NOW, sortDirectory, workerThreads: 'always', logger });
      const before = await snapshotDatabase(ledger.db as never);
      const refused = new Error('the progress display went away');
      const onProgress = (progress: ReconcileProgress) => {
        if (progress.phase !== 'read') return;
        // The workers' folders are in the sort folder: a file where that folder was makes their
        // removal fail (ENOTDIR), as a disk that went away would.
        renameSync(sortDirectory, `${sortDirectory}-moved`);
        writeFileSync(sortDirectory, '');
        throw refused;
      };
      await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile), onProgress })).rejects.toBe(refused);
      expect(await snapshotDatabase(ledger.db as never)).toBe(before);
      // The removal's failure is told, not thrown in the run's error's place.
      expect(warnings.filter((warning) => warning['event'] === 'reconcile.close_failed')).toMatchObject([{ entity: 'defi', day: DAY, reason: expect.stringContaining('ENOTDIR') }]);
    } finally {
      await ledger.close();
    }
  });

  it.each([
    ['null', 'throw null', 'null'],
    ['a string', "throw 'disk gone'", 'disk gone'],
  ])('a worker that throws %s (not an Error): the run goes on in this thread and says why, no file is left', async (_what, code, reason) => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn: (object: Record<string, unknown>) => void warnings.push(object) };
    const ledger = await openBooks(booksFile);
    try {
      const books = new EarnBooks(ledger);
      const throwing = () => new Worker(code, { eval: true });
      const input = { books, logger, databaseFile: booksFile, entity: 'defi', timeZone: 'UTC', day: DAY, sortDirectory, keepForComparison: () => true, waitMs: 5_000 };
      const pending = await projectInterestInWorker(input, throwing);
      const prefetched = await prefetchBooksInWorker({ ledger, logger, entity: 'defi', timeZone: 'UTC', days: [DAY, '2025-03-19'], databaseFile: booksFile, sortDirectory, waitMs: 5_000 }, throwing);
      try {
        const projection = await pending.result();
        expect(projection.lines.count).toBe(1);
        expect(await prefetched.current(ledger.db)).toEqual(new Map());
      } finally {
        await pending.close();
        await prefetched.close();
      }
      expect(warnings).toMatchObject([
        { event: 'reconcile.interest_worker_failed', reason },
        { event: 'reconcile.books_worker_failed', reason },
      ]);
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  // A worker that never posts (the run's close is what stops it: no failure of the worker to
  // tell), and one that failed on its own before the close (read after it: still told).
  it.each([
    ['still works', 'setInterval(() => {}, 1000);', []],
    ['failed on its own', "throw new Error('disk gone');", [{ event: 'reconcile.interest_worker_failed', reason: 'disk gone' }]],
  ])('a projection closed while its worker %s: the close stops it, nothing is projected here, and only a failure of its own is told', async (what, code, told) => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn: (object: Record<string, unknown>) => void warnings.push(object) };
    const ledger = await openBooks(booksFile);
    try {
      const input = { books: new EarnBooks(ledger), logger, databaseFile: booksFile, entity: 'defi', timeZone: 'UTC', day: DAY, sortDirectory, keepForComparison: () => true, waitMs: 60_000 };
      const pending = await projectInterestInWorker(input, () => new Worker(code, { eval: true }));
      if (what === 'failed on its own') await pending.posted;
      const awaited = pending.fromWorker();
      await pending.close();
      expect(await awaited).toBeUndefined();
      expect(warnings).toMatchObject(told);
      expect(warnings).toHaveLength(told.length);
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  it('two runs of the day at once (two calls on one ledger): one books the day, the other answers it as processed; no file is left', async () => {
    // Two ledgers on one file in one process cannot show two processes: better-sqlite3 waits for
    // a lock synchronously, so the second would hold the thread the first needs to commit.
    const ledger = await openBooks(booksFile);
    try {
      const open = () => Reconciler.open({ books: new EarnBooks(ledger), now: () => NOW, sortDirectory, workerThreads: 'always' });
      const reconcilers = [await open(), await open()];
      const results = await Promise.all(reconcilers.map(async (reconciler) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile) })));
      expect(results.map((result) => result.reportStatus).sort()).toEqual(['created', 'exists']);
      expect(results.map((result) => result.synced.interest).sort()).toEqual([0, 1]);
      expect(results.every((result) => result.clean)).toBe(true);
      await ledger.verify({ entity: 'defi' });
      expect(readdirSync(sortDirectory)).toEqual([]);
    } finally {
      await ledger.close();
    }
  }, 60_000);
});

describe.each(DIALECTS)('a day run that fails in its write transaction, on %s', (dialect) => {
  it('a progress listener that throws during the sync: its own error, the books unchanged, no file left', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-day-failures-'));
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(opened.ledger);
      await seedOneAccount(books);
      const reportFile = join(directory, 'report.json');
      writeFileSync(reportFile, JSON.stringify(await buildReport(books, 'defi', DAY)));
      const warnings: Record<string, unknown>[] = [];
      const logger = { info() {}, debug() {}, error() {}, warn: (object: Record<string, unknown>) => void warnings.push(object) };
      const reconciler = await Reconciler.open({ books, now: () => NOW, sortDirectory: directory, workerThreads: 'always', logger });
      const before = await snapshotDatabase(opened.ledger.db as never);
      const refused = new Error('the progress display went away');
      const onProgress = (progress: ReconcileProgress) => {
        if (progress.phase === 'sync') throw refused;
      };
      await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile), onProgress })).rejects.toBe(refused);
      expect(await snapshotDatabase(opened.ledger.db as never)).toBe(before);
      expect(readdirSync(directory)).toEqual(['report.json']);
      // On PostgreSQL the interest worker may still project when the run fails: the run stops it,
      // which is no failure of the worker to tell (the SQLite books here are in memory: no worker).
      expect(warnings).toEqual([]);
    } finally {
      await opened.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('sort run files', () => {
  it('are readable by the process’s user alone (0600, in a 0700 folder), and removed on close', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-sort-modes-'));
    const previous = process.umask(0o022);
    try {
      const sorter = new ExternalSorter<string>({ key: (item) => item, runSize: 2, directory });
      await sorter.addAll(['c', 'b', 'a', 'd', 'e']);
      const released = await sorter.release();
      expect(released.runs.length).toBe(3);
      const folder = released.directory ?? '';
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      for (const run of released.runs) expect(statSync(run).mode & 0o777, run).toBe(0o600);
      await ExternalSorter.adopt<string>({ key: (item) => item, released }).close();
      expect(readdirSync(directory)).toEqual([]);
    } finally {
      process.umask(previous);
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

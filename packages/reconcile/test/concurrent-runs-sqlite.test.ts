/**
 * Two runs of the same day at once on one SQLite file (review of session 25): two ledgers on the
 * file in one process, each with its own reconciler, with and without the worker threads (which
 * read the file beside the run). better-sqlite3 waits for a lock synchronously, so the later
 * run's `BEGIN IMMEDIATE` holds this thread for the whole busy timeout while the first run, on the
 * same thread, cannot finish: the later one fails with the ledger's typed `storage_busy`, nothing
 * of it written, the first commits whole, and running the later one again answers the day as
 * processed. Nothing is booked twice and the day has one plan. (In two processes the later run
 * waits and answers `exists`, as on PostgreSQL: `concurrent-runs.test.ts`.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, nextAccountingDay } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { WorkerThreads } from '../src/index.js';
import { openSqliteDatabase } from '../../ledger/src/db/sqlite/index.js';
import { DIALECTS } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

describe.runIf(DIALECTS.includes('sqlite'))('two runs of one day at once (one SQLite file, two ledgers)', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-concurrent-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it.each(['never', 'always'] satisfies WorkerThreads[])('workerThreads %s: the later run answers the day as processed; nothing is booked twice', async (workerThreads) => {
    const filename = join(directory, 'books.sqlite');
    const open = async () => Ledger.open({ storage: openSqliteDatabase({ filename, busyTimeoutMs: 200 }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const first = await open();
    const second = await open();
    try {
      const books = new EarnBooks(first);
      await seedOneAccount(books);
      const reconcilers = [await Reconciler.open({ books, workerThreads }), await Reconciler.open({ books: new EarnBooks(second), workerThreads })];
      let day = '2025-03-18';
      for (let round = 0; round < 2; round++, day = nextAccountingDay(day)) {
        const report = loadReportObject(await buildReport(books, 'defi', day));
        const settled = await Promise.allSettled(reconcilers.map((reconciler) => reconciler.reconcileDay({ entity: 'defi', day, report })));
        const results = [];
        for (const [index, outcome] of settled.entries()) {
          if (outcome.status === 'fulfilled') results.push(outcome.value);
          else {
            expect(outcome.reason, day).toMatchObject({ name: 'LedgerError', code: 'storage_busy' });
            results.push(await reconcilers[index]!.reconcileDay({ entity: 'defi', day, report }));
          }
        }
        expect(results.map((result) => result.reportStatus).sort(), day).toEqual(['created', 'exists']);
        expect(results.map((result) => result.breaks.map((found) => found.kind)), day).toEqual([[], []]);
        expect(results.map((result) => result.synced.interest).sort(), day).toEqual([0, 1]);
        expect(results[0]?.instructions).toEqual(results[1]?.instructions);
        expect(results[0]?.positions).toEqual(results[1]?.positions);
      }
      await first.verify({ entity: 'defi' });
      expect(await reconcilers[0]?.breaks({ entity: 'defi' })).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  }, 120_000);
});

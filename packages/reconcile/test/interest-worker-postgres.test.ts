/**
 * The day's interest recomputed on a worker thread over PostgreSQL books (the worker opens them
 * on a connection of its own, from the storage's `readerConnection`): it projects what the
 * calling thread projects, a run with it finds what a run without it finds, and a worker that
 * cannot open the books gives way to the calling thread (logged), with the same outcome.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger, LedgerLogger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { ReconcileResult } from '../src/index.js';
import { projectInterest } from '../src/day-streams.js';
import type { InterestLineTuple, InterestProjection } from '../src/day-streams.js';
import { projectInterestInWorker } from '../src/interest-projection.js';
import { buildReport } from './report-builder.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { DAY, NOW, ZONE, bookTheDay, outcome, recordingLogger } from './interest-worker-fixtures.js';

const ACCOUNTS = 12;

/** Opens fresh PostgreSQL books holding {@link ACCOUNTS} Earn accounts with a deposit each, and one of the day. */
async function openDay(logger?: LedgerLogger): Promise<{ ledger: Ledger; books: EarnBooks; close: () => Promise<void> }> {
  const opened = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: ZONE }], ...(logger === undefined ? {} : { logger }) });
  const books = new EarnBooks(opened.ledger);
  await bookTheDay(books, ACCOUNTS);
  return { ledger: opened.ledger, books, close: opened.close };
}

async function linesOf(projection: InterestProjection): Promise<InterestLineTuple[]> {
  const lines: InterestLineTuple[] = [];
  for await (const batch of projection.lines.sortedBatches()) lines.push(...batch);
  return lines;
}

describe.runIf(DIALECTS.includes('postgres'))('interest recomputed on a worker thread (PostgreSQL)', () => {
  let sortDirectory: string;
  const closes: (() => Promise<void>)[] = [];

  beforeEach(() => {
    sortDirectory = mkdtempSync(join(tmpdir(), 'earnbook-pg-worker-test-'));
  });
  afterEach(async () => {
    for (const close of closes.splice(0)) await close();
    rmSync(sortDirectory, { recursive: true, force: true });
  });

  /** The worker's projection (or its fallback's) and the calling thread's, with what was warned. */
  async function projectBoth(reader: (ledger: Ledger) => { connectionString: string; schema: string }) {
    const logger = recordingLogger();
    const day = await openDay();
    closes.push(day.close);
    const input = { books: day.books, entity: 'defi', day: DAY, sortDirectory, logger };
    const pending = await projectInterestInWorker({ ...input, postgres: reader(day.ledger), timeZone: ZONE, keepForComparison: () => true, waitMs: 30_000 });
    try {
      const fromWorker = await pending.result();
      const here = await projectInterest(input);
      try {
        return { worker: { lines: await linesOf(fromWorker), margin: fromWorker.recomputedMargin, mark: fromWorker.mark }, here: { lines: await linesOf(here), margin: here.recomputedMargin, mark: here.mark }, warnings: logger.warnings };
      } finally {
        await here.lines.close();
      }
    } finally {
      await pending.close();
    }
  }

  it('the worker opens the books from readerConnection and projects what this thread projects', async () => {
    const { worker, here, warnings } = await projectBoth((ledger) => {
      const reader = ledger.dialect.readerConnection;
      if (reader === undefined) throw new Error('PostgreSQL storage has no readerConnection');
      return reader();
    });
    expect(warnings).toEqual([]);
    expect(worker).toEqual(here);
    expect(worker.lines).toHaveLength(ACCOUNTS);
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a worker that cannot open the books (a schema with none) gives way to this thread, logged, with the same projection', async () => {
    const { worker, here, warnings } = await projectBoth((ledger) => ({ ...(ledger.dialect.readerConnection?.() ?? { connectionString: '' }), schema: 'no_books_here' }));
    expect(warnings).toMatchObject([{ event: 'reconcile.interest_worker_failed', entity: 'defi', day: DAY }]);
    expect(String(warnings[0]?.['reason'])).not.toContain('postgres://');
    expect(worker).toEqual(here);
  });

  it('a day reconciled with the worker finds what a day reconciled without it finds', async () => {
    const logger = recordingLogger();
    const runs: ReconcileResult[] = [];
    for (const workerThreads of ['always', 'never'] as const) {
      const day = await openDay(logger);
      closes.push(day.close);
      const report = await buildReport(day.books, 'defi', DAY);
      // Two interest breaks the recomputation must find: one amount off, one account left out.
      const interest = report.transactions.filter((entry) => entry.type === 'Interest');
      const changed = interest[3];
      if (changed === undefined || interest[5] === undefined) throw new Error('the report has too few interest entries');
      changed['amount'] = '0.000100000000000000';
      report.transactions = report.transactions.filter((entry) => entry !== interest[5]);
      const reconciler = await Reconciler.open({ books: day.books, now: () => NOW, sortDirectory, workerThreads });
      runs.push(await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }));
    }
    expect(logger.warnings).toEqual([]);
    const [withWorker, withoutWorker] = runs;
    if (withWorker === undefined || withoutWorker === undefined) throw new Error('a run is missing');
    expect(outcome(withWorker)).toEqual(outcome(withoutWorker));
    expect(withWorker.breaks.map((item) => item.kind)).toEqual(expect.arrayContaining(['interest_mismatch', 'missing_interest']));
    expect(readdirSync(sortDirectory)).toEqual([]);
  });
});

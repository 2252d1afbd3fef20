/**
 * The books' days read on a worker thread while the report is read (`books-prefetch.ts`): the
 * worker's days equal the days read in this thread; a day booked on after the worker read it is
 * not taken (its mark moved) while the other day is; a worker that cannot work leaves every day
 * to this thread, says so, and leaves no file.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import type { LedgerLogger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, WORKER_REPORT_BYTES_MIN, openReportFile } from '../src/index.js';
import type { ReconcileResult } from '../src/index.js';
import { prefetchBooksInWorker } from '../src/books-prefetch.js';
import { buildReport } from './report-builder.js';
import type { BooksWorkerInput } from '../src/books-worker.js';
import { localPagesOfDay, sortedLocalEntries } from '../src/day-streams.js';
import type { LocalTuple } from '../src/day-streams.js';
import type { ExternalSorter } from '../src/external-sort.js';
import { WORKER_OLD_GENERATION_MIB, startWorkerModule } from '../src/worker-start.js';

const ZONE = 'UTC';
const DAY = '2025-03-18';
const NEXT = '2025-03-19';
/** A deposit's id in a report whose books lack it. */
const UNBOOKED = '00000000-0000-4000-8000-00000000b00c';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

function recordingLogger(): LedgerLogger & { warnings: Record<string, unknown>[]; prefetched: Record<string, unknown>[]; skipped: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const prefetched: Record<string, unknown>[] = [];
  const skipped: Record<string, unknown>[] = [];
  return {
    warnings,
    prefetched,
    skipped,
    info() {},
    debug: (object: Record<string, unknown>) => {
      if (object['event'] === 'reconcile.books_prefetched') prefetched.push(object);
      if (object['event'] === 'reconcile.books_prefetch_skipped') skipped.push(object);
    },
    error() {},
    warn: (object: Record<string, unknown>) => void warnings.push(object),
  };
}

async function readAll<T>(batches: AsyncIterable<readonly T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const batch of batches) all.push(...batch);
  return all;
}

describe('the books read on a worker thread (SQLite file)', () => {
  let directory: string;
  let sortDirectory: string;
  let booksFile: string;
  let ledger: Ledger;
  let books: EarnBooks;
  let logger: ReturnType<typeof recordingLogger>;

  const deposit = (id: string, occurredAt: string, account = 'a0') =>
    books.recordDeposit({ entity: 'defi', earnAccountId: account, providerBookingId: id, amount: '1.25', occurredAt, idempotencyKey: `k-${id}`, providerData: { id } });

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-books-worker-test-'));
    sortDirectory = join(directory, 'sort');
    mkdirSync(sortDirectory);
    booksFile = join(directory, 'books.sqlite');
    logger = recordingLogger();
    ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: booksFile }), entities: [{ id: 'defi', timeZone: ZONE }], logger });
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 4; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    // Provider ids out of book order, on both days the plan reads.
    for (const [index, id] of ['m', 'c', 'x', 'a', 'q'].entries()) await deposit(id, `2025-03-18T0${index}:00:00Z`, `a${index % 4}`);
    for (const [index, id] of ['n2', 'n1'].entries()) await deposit(id, `2025-03-19T0${index}:00:00Z`);
  });
  afterEach(async () => {
    await ledger.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** A day read in this thread, in provider id order. */
  const inThread = (day: string) => readAll(localPagesOfDay(ledger, { entity: 'defi', day, sortDirectory }, ledger.db));
  const read = (sorter: ExternalSorter<LocalTuple> | undefined) => (sorter === undefined ? Promise.resolve(undefined) : readAll(sortedLocalEntries(sorter)));

  /** Starts the real worker; `posted` settles once it has posted the books. */
  function watchedStart(): { start: (input: BooksWorkerInput) => Worker; posted: Promise<void> } {
    let resolve: () => void = () => undefined;
    const posted = new Promise<void>((settle) => (resolve = settle));
    return {
      posted,
      start: (input) => {
        const worker = startWorkerModule('books-worker', input);
        worker.once('message', () => resolve());
        return worker;
      },
    };
  }

  const prefetch = (start?: (input: BooksWorkerInput) => Worker, after?: Promise<void>, file = booksFile) =>
    prefetchBooksInWorker({ ledger, entity: 'defi', timeZone: ZONE, days: [DAY, NEXT], databaseFile: file, sortDirectory, ...(after === undefined ? {} : { after }) }, start);

  it('reads both days as this thread would, and hands them over while nothing was booked on them', async () => {
    const pending = await prefetch();
    try {
      const current = await pending.current(ledger.db);
      expect([...current.keys()]).toEqual([DAY, NEXT]);
      const day = await read(current.get(DAY));
      expect(day?.map((entry) => entry.providerId)).toEqual(['a', 'c', 'm', 'q', 'x']);
      expect(day).toEqual(await inThread(DAY));
      expect(await read(current.get(NEXT))).toEqual(await inThread(NEXT));
      expect(logger.warnings).toEqual([]);
      expect(logger.prefetched).toMatchObject([{ entity: 'defi', taken: [DAY, NEXT], reread: [] }]);
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a day booked on after the worker read it is read again; the other day is still taken', async () => {
    const { start, posted } = watchedStart();
    const pending = await prefetch(start);
    try {
      await posted;
      await deposit('late', '2025-03-18T22:00:00Z');
      const current = await pending.current(ledger.db);
      expect([...current.keys()]).toEqual([NEXT]);
      expect(logger.prefetched).toMatchObject([{ taken: [NEXT], reread: [DAY] }]);
      expect(await read(current.get(NEXT))).toEqual(await inThread(NEXT));
      // An Earn account opened moves every day's mark (a user line's account is joined in).
      const watched = watchedStart();
      const again = await prefetch(watched.start);
      try {
        await watched.posted;
        await books.registerUser({ partnerUserId: 'p9', earnUsers: [{ entity: 'defi', earnUserId: 'u9' }] });
        await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a9', earnUserId: 'u9', providerProductId: 'btc', currency: 'BTC' });
        expect((await again.current(ledger.db)).size).toBe(0);
        expect(logger.warnings).toEqual([]);
      } finally {
        await again.close();
      }
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('both workers start under the heap ceiling (V8 sizes an old generation from it: a worker grows its heap far less ahead of what it holds)', async () => {
    expect(WORKER_OLD_GENERATION_MIB).toBe(1024);
    for (const module of ['books-worker', 'interest-worker'] as const) {
      // Input it refuses at once: only the limits are looked at.
      const worker = startWorkerModule(module, null);
      // Whatever it makes of null before it is stopped is not what is tested.
      worker.on('error', () => undefined);
      try {
        expect(worker.resourceLimits).toMatchObject({ maxOldGenerationSizeMb: WORKER_OLD_GENERATION_MIB });
      } finally {
        await worker.terminate();
      }
    }
  });

  it.each([
    ['cannot start', () => () => { throw new Error('no threads here'); }, 'no threads here'],
    ['exits before it posts', () => () => new Worker('process.exit(3)', { eval: true }), 'the worker exited with code 3 before it posted the books'],
    ['answers that it failed', () => () => new Worker("require('node:worker_threads').parentPort.postMessage({ ok: false, message: 'disk gone' })", { eval: true }), 'disk gone'],
    // V8 ends a worker at its heap's ceiling (WORKER_OLD_GENERATION_MIB; 4 MiB here, which loading it passes).
    ['runs out of its heap', () => (input: BooksWorkerInput) => startWorkerModule('books-worker', input, { maxOldGenerationSizeMb: 4 }), 'Worker terminated due to reaching memory limit: JS heap out of memory'],
  ])('a worker that %s: no day is handed over, the run is told why, no file is left', async (_how, make, reason) => {
    const pending = await prefetch(make());
    try {
      expect((await pending.current(ledger.db)).size).toBe(0);
      expect(logger.warnings).toMatchObject([{ event: 'reconcile.books_worker_failed', entity: 'defi', days: [DAY, NEXT], reason }]);
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a worker that never answers: it is stopped after the wait, no day is handed over, the run is told why, no file is left', async () => {
    let worker: Worker | undefined;
    const pending = await prefetchBooksInWorker({ ledger, entity: 'defi', timeZone: ZONE, days: [DAY, NEXT], databaseFile: booksFile, sortDirectory, waitMs: 200 }, () => (worker = new Worker('setInterval(() => {}, 1000)', { eval: true })));
    try {
      expect((await pending.current(ledger.db)).size).toBe(0);
      expect(logger.warnings).toMatchObject([{ event: 'reconcile.books_worker_failed', entity: 'defi', days: [DAY, NEXT], reason: 'the worker did not answer within 200 ms' }]);
      // Its thread is gone (-1 once a worker no longer runs), not left to hold the process.
      expect(worker?.threadId).toBe(-1);
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('books that the worker cannot open: no day is handed over, and it says so', async () => {
    const pending = await prefetch(undefined, undefined, join(directory, 'no-such-folder', 'books.sqlite'));
    try {
      expect((await pending.current(ledger.db)).size).toBe(0);
      expect(logger.warnings).toMatchObject([{ event: 'reconcile.books_worker_failed', entity: 'defi' }]);
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a worker no longer wanted when it is due to start (the report showed entries the sync may book): none starts, no day is handed over, nothing is warned', async () => {
    let started = false;
    const debug: Record<string, unknown>[] = [];
    const quiet: LedgerLogger = { ...logger, debug: (object: Record<string, unknown>) => void debug.push(object) };
    const pending = await prefetchBooksInWorker(
      { ledger, logger: quiet, entity: 'defi', timeZone: ZONE, days: [DAY, NEXT], databaseFile: booksFile, sortDirectory, wanted: () => false },
      () => {
        started = true;
        throw new Error('must not start');
      },
    );
    try {
      expect((await pending.current(ledger.db)).size).toBe(0);
      expect(started).toBe(false);
      expect(logger.warnings).toEqual([]);
      expect(debug.map((object) => object['event'])).toEqual(['reconcile.books_prefetch_skipped', 'reconcile.books_prefetched']);
    } finally {
      await pending.close();
    }
    expect(readdirSync(sortDirectory)).toEqual([]);
  });

  it('a run closed before the worker was due to start: it never starts, and no file is left', async () => {
    let started = false;
    const pending = await prefetch(() => {
      started = true;
      throw new Error('must not start');
    }, new Promise<void>(() => undefined));
    await pending.close();
    expect(started).toBe(false);
    expect(readdirSync(sortDirectory)).toEqual([]);
  });
});

describe('a day reconciled with the books read on a worker thread', () => {
  let directory: string;
  let sortDirectory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-books-run-test-'));
    sortDirectory = join(directory, 'sort');
    mkdirSync(sortDirectory);
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  /**
   * Books with a day of deposits, and their report (with or without the interest the sync books on
   * the next day); `padBytes` of whitespace after the report's JSON make its file as large as
   * `workerThreads: 'auto'` asks, with the entries first.
   */
  async function setUp(withInterest: boolean, padBytes = 0): Promise<{ booksFile: string; reportFile: string }> {
    const booksFile = join(directory, 'books.sqlite');
    const reportFile = join(directory, 'report.json');
    const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: booksFile }), entities: [{ id: 'defi', timeZone: ZONE }] });
    const books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 6; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: `${i + 1}.5`, occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: `k${i}`, providerData: {} });
      await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `d${i}`, amount: '0.25', occurredAt: `2025-03-18T1${i}:00:00Z`, idempotencyKey: `kd${i}`, providerData: {} });
    }
    const report = await buildReport(books, 'defi', DAY);
    if (!withInterest) report.transactions = report.transactions.filter((entry) => entry['type'] === 'Deposit' || entry['type'] === 'Withdrawal');
    // One deposit the books lack: a break both runs must find.
    report.transactions.push({ ...(report.transactions.find((entry) => entry['type'] === 'Deposit') ?? {}), id: UNBOOKED, bookingId: 'unbooked', idempotencyKey: 'unbooked' });
    writeFileSync(reportFile, JSON.stringify(report) + ' '.repeat(padBytes));
    await ledger.close();
    return { booksFile, reportFile };
  }

  async function reconcile(booksFile: string, reportFile: string, workerThreads: 'always' | 'auto' | 'never', logger: LedgerLogger): Promise<ReconcileResult> {
    const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: booksFile }), entities: [{ id: 'defi', timeZone: ZONE }] });
    try {
      // The reconciler's own logger (not the ledger's) hears about the workers.
      const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), now: () => new Date('2025-03-19T06:00:00Z'), sortDirectory, workerThreads, logger });
      return await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile) });
    } finally {
      await ledger.close();
    }
  }

  const outcome = (result: ReconcileResult) => ({ breaks: result.breaks, positions: result.positions, synced: result.synced, instructions: result.instructions, clean: result.clean });

  it.each([
    ['always, deposits only: the sync books nothing, both days are taken from the worker', 'always', false, 0, { skipped: 0, prefetched: [{ taken: [DAY, NEXT], reread: [] }] }],
    ['always, with interest to sync: the next day, booked on by the sync, is read again', 'always', true, 0, { skipped: 0, prefetched: [{ taken: [DAY], reread: [NEXT] }] }],
    ['auto, a report file of 4 MiB, deposits only: the worker starts, both days are taken from it', 'auto', false, WORKER_REPORT_BYTES_MIN, { skipped: 0, prefetched: [{ taken: [DAY, NEXT], reread: [] }] }],
    ['auto, a report file of 4 MiB, with interest to sync: the worker is not started (the report showed an entry the sync may book), both days are read in this thread', 'auto', true, WORKER_REPORT_BYTES_MIN, { skipped: 1, prefetched: [{ taken: [], reread: [] }] }],
    ['auto, a small report: no worker is considered', 'auto', false, 0, { skipped: 0, prefetched: [] }],
  ] as const)('workerThreads %s; the run finds what a run without workers finds', async (_what, workerThreads, withInterest, padBytes, expected) => {
    const { booksFile, reportFile } = await setUp(withInterest, padBytes);
    const copy = join(directory, 'copy.sqlite');
    copyFileSync(booksFile, copy);
    const logger = recordingLogger();
    const withWorkers = await reconcile(booksFile, reportFile, workerThreads, logger);
    expect(logger.warnings).toEqual([]);
    expect(logger.skipped).toHaveLength(expected.skipped);
    expect(logger.prefetched).toMatchObject(expected.prefetched);
    const withoutWorkers = await reconcile(copy, reportFile, 'never', recordingLogger());
    expect(outcome(withWorkers)).toEqual(outcome(withoutWorkers));
    expect(withWorkers.breaks.map((item) => [item.kind, item.providerId])).toContainEqual(['missing_in_ledger', 'unbooked']);
    if (withInterest) expect(withWorkers.synced.interest).toBeGreaterThan(0);
    expect(readdirSync(sortDirectory)).toEqual([]);
  });
});

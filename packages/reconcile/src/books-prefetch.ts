/**
 * The books' side of the day's diff read on a worker thread while this one reads the report. The
 * plan merges the report with the books' provider entries of the day and the next, each sorted
 * by provider id; read and sorted in this thread, inside the write transaction, they came after
 * the report's read (a day of 1M deposits: ~5 s of this thread's ~20 s, the other core idle).
 *
 * The worker reads each day in one snapshot with the day's mark (`providerEntriesDayMark`: the
 * journal lines of the day and the entity's Earn accounts, counted). Inside the write
 * transaction, after the sync, the plan takes a day from the worker only if its mark is still the
 * same: nothing was booked on the day since (by the sync, or by another process), so the day
 * would read the same entries. A day whose mark moved is read again in the transaction, as
 * without a worker. The worker is only a faster way to the same plan: if it cannot start or
 * fails, every day is read in the transaction (logged).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { providerEntriesDayMark, sameProviderDayMark } from '@earnbook/ledger';
import type { Ledger, LedgerDatabase, LedgerLogger } from '@earnbook/ledger';
import { ExternalSorter } from './external-sort.js';
import { localTupleKey } from './day-streams.js';
import type { LocalTuple } from './day-streams.js';
import type { BooksWorkerInput, BooksWorkerOutput } from './books-worker.js';
import { WORKER_WAIT_MS_DEFAULT, answerWithin, failureMessage, startWorkerModule } from './worker-start.js';

/** The days a worker read, to be taken once inside the write transaction; then {@link close}. */
export interface PrefetchedBooks {
  /**
   * The days the worker read whose mark in `db` (the write transaction) is the one it read them
   * with, as sorters by provider id, which {@link close} removes. Waits for the worker. Empty
   * when there was none or it failed.
   */
  current(db: Kysely<LedgerDatabase>): Promise<Map<string, ExternalSorter<LocalTuple>>>;
  /** Stops the worker if it still runs and removes its files. */
  close(): Promise<void>;
}

/** No worker: every day is read in the transaction. */
export const NO_PREFETCHED_BOOKS: PrefetchedBooks = Object.freeze({ current: async () => new Map(), close: async () => undefined });

function startBooksWorker(input: BooksWorkerInput): Worker {
  return startWorkerModule('books-worker', input);
}

/** A worker started once `after` settles: its one message, or its failure (an error, an exit before it posted, a start that threw). */
class BooksWorker {
  readonly output: Promise<BooksWorkerOutput>;
  #worker: Worker | undefined;
  #stopped = false;

  /** `start` returns undefined when the worker is no longer wanted: then no day is handed over. */
  constructor(after: Promise<void>, start: () => Worker | undefined) {
    this.output = after.then(
      () =>
        new Promise<BooksWorkerOutput>((resolve) => {
          if (this.#stopped) return resolve({ ok: false, message: 'the run ended before the worker started' });
          let worker: Worker | undefined;
          try {
            worker = start();
          } catch (error) {
            return resolve({ ok: false, message: error instanceof Error ? error.message : String(error) });
          }
          if (worker === undefined) return resolve({ ok: true, days: [] });
          this.#worker = worker;
          // Stopped as soon as it has posted: its runs are files, and an idle worker would hold
          // its heap into the sync, when the run's memory peaks.
          worker.once('message', (output: BooksWorkerOutput) => {
            resolve(output);
            void worker.terminate().catch(() => undefined);
          });
          worker.once('error', (error: unknown) => resolve({ ok: false, message: failureMessage(error) }));
          worker.once('exit', (code) => resolve({ ok: false, message: `the worker exited with code ${code} before it posted the books` }));
        }),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#worker?.terminate();
  }
}

/**
 * Starts reading `days` of the entity's books on a worker thread over the SQLite file
 * `databaseFile` once `after` settles; see the module comment. `start`: how the worker is started
 * (tests give one that fails on purpose).
 */
export async function prefetchBooksInWorker(
  input: {
    ledger: Ledger;
    logger?: LedgerLogger;
    entity: string;
    timeZone: string;
    days: readonly string[];
    databaseFile: string;
    sortDirectory: string | undefined;
    after?: Promise<void>;
    /** Asked once `after` settles: whether the worker is still worth starting (else no day is read there; logged at debug). */
    wanted?: () => boolean;
    /** How long {@link PrefetchedBooks.current} waits for the worker; default {@link WORKER_WAIT_MS_DEFAULT}. Past it the worker is stopped and every day is read in this thread (logged). */
    waitMs?: number;
  },
  start: (input: BooksWorkerInput) => Worker = startBooksWorker,
): Promise<PrefetchedBooks> {
  const logger = input.logger ?? input.ledger.logger;
  const warn = (reason: string) =>
    logger.warn({ event: 'reconcile.books_worker_failed', entity: input.entity, days: input.days, reason }, `the books' worker thread failed (${reason}); the day's books are read in this thread`);
  let directory: string;
  try {
    directory = await mkdtemp(join(input.sortDirectory ?? tmpdir(), 'earnbook-books-'));
  } catch (error) {
    warn(error instanceof Error ? error.message : String(error));
    return NO_PREFETCHED_BOOKS;
  }
  const worker = new BooksWorker(input.after ?? Promise.resolve(), () => {
    if (input.wanted?.() === false) {
      logger.debug({ event: 'reconcile.books_prefetch_skipped', entity: input.entity, days: input.days }, "the books' worker thread was not started: the day's books are read in this thread");
      return undefined;
    }
    return start({ databaseFile: input.databaseFile, entity: input.entity, timeZone: input.timeZone, days: input.days, directory });
  });
  const adopted: ExternalSorter<LocalTuple>[] = [];
  return {
    async current(db) {
      const result = await answerWithin(worker.output, input.waitMs ?? WORKER_WAIT_MS_DEFAULT);
      await worker.stop();
      const current = new Map<string, ExternalSorter<LocalTuple>>();
      if (!result.ok) {
        warn(result.message);
        return current;
      }
      const reread: string[] = [];
      for (const read of result.days) {
        const sorter = ExternalSorter.adopt<LocalTuple>({ key: localTupleKey, released: read.runs });
        adopted.push(sorter);
        if (sameProviderDayMark(read.mark, await providerEntriesDayMark(input.ledger, { entity: input.entity, day: read.day }, db))) current.set(read.day, sorter);
        else reread.push(read.day);
      }
      logger.debug(
        { event: 'reconcile.books_prefetched', entity: input.entity, taken: [...current.keys()], reread },
        `books read on the worker thread: ${current.size} day(s) taken, ${reread.length} booked on since and read again`,
      );
      return current;
    },
    async close() {
      await worker.stop();
      for (const sorter of adopted) await sorter.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

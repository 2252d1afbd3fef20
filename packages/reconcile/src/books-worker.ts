/**
 * The worker thread of {@link prefetchBooksInWorker} (`books-prefetch.ts`): opens the SQLite
 * books on its own connection (no migration, nothing written) and, in one read snapshot, reads
 * each given day's provider entries into a sorter by provider id together with the day's mark
 * (`providerEntriesDayMark`); then releases the run files and posts them. The thread that started
 * it adopts the runs of each day whose mark is still the same inside its write transaction. Any
 * failure is posted as such; that thread then reads the days itself, as a run without a worker does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { providerEntriesDayMark } from '@earnbook/ledger';
import type { Ledger, ProviderDayMark } from '@earnbook/ledger';
import { localSorter, sortDayEntries } from './day-streams.js';
import type { ReleasedRuns } from './external-sort.js';
import { openWorkerBooks } from './worker-start.js';

/** What the worker is given. */
export interface BooksWorkerInput {
  readonly databaseFile: string;
  readonly entity: string;
  readonly timeZone: string;
  readonly days: readonly string[];
  /** Where its sorters write their runs (a directory the starting thread removes). */
  readonly directory: string;
}

/** One day as the worker read it: its mark and its entries' runs, sorted by provider id. */
export interface PrefetchedDayRuns {
  readonly day: string;
  readonly mark: ProviderDayMark;
  readonly runs: ReleasedRuns;
}

/** What the worker posts, once. */
export type BooksWorkerOutput = { readonly ok: true; readonly days: readonly PrefetchedDayRuns[] } | { readonly ok: false; readonly message: string };

/** Reads every day in one snapshot: each day's runs agree with its mark. */
async function readDays(ledger: Ledger, input: BooksWorkerInput): Promise<PrefetchedDayRuns[]> {
  return ledger.readSnapshot(async (db) => {
    const days: PrefetchedDayRuns[] = [];
    for (const day of input.days) {
      const sorter = localSorter(input.directory);
      try {
        const mark = await providerEntriesDayMark(ledger, { entity: input.entity, day }, db);
        await sortDayEntries(ledger, { entity: input.entity, day }, db, sorter);
        days.push({ day, mark, runs: await sorter.release() });
      } finally {
        await sorter.close();
      }
    }
    return days;
  });
}

async function run(port: NonNullable<typeof parentPort>, input: BooksWorkerInput): Promise<void> {
  let output: BooksWorkerOutput;
  let ledger: Ledger | undefined;
  try {
    ledger = await openWorkerBooks(input);
    output = { ok: true, days: await readDays(ledger, input) };
  } catch (error) {
    output = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  try {
    await ledger?.close();
  } catch {
    // The runs are read; a connection that fails to close changes nothing of them.
  }
  port.postMessage(output);
}

const port = parentPort;
if (port !== null) void run(port, workerData as BooksWorkerInput);

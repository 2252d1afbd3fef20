/**
 * The worker thread of {@link projectInterestInWorker} (`interest-projection.ts`): opens the
 * SQLite books on its own connection (no migration, nothing written), recomputes the day's
 * interest into a sorter, releases its run files and posts them with the margin per currency.
 * The thread that started it adopts the runs. Any failure is posted as such; that thread then
 * recomputes in its own thread, which raises the same error a run without a worker would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { projectInterest } from './day-streams.js';
import type { ReleasedRuns } from './external-sort.js';

/** The worker connection's SQLite page cache, in KiB. */
const WORKER_PAGE_CACHE_KIB = 8 * 1024;

/** What the worker is given. */
export interface InterestWorkerInput {
  readonly databaseFile: string;
  readonly entity: string;
  readonly timeZone: string;
  readonly day: string;
  /** Where its sorter writes its runs (a directory the starting thread removes). */
  readonly directory: string;
}

/** What the worker posts back, once. */
export type InterestWorkerOutput =
  | { readonly ok: true; readonly runs: ReleasedRuns; readonly margin: readonly (readonly [currency: string, units: string])[] }
  | { readonly ok: false; readonly message: string };

async function project(input: InterestWorkerInput): Promise<InterestWorkerOutput> {
  const storage = openSqliteDatabase({ filename: input.databaseFile });
  // It reads the accounts once, in order: a small page cache does (the default 64 MiB would come
  // on top of the other connection's in the same process's peak RSS).
  storage.native.pragma(`cache_size = -${WORKER_PAGE_CACHE_KIB}`);
  const ledger = await Ledger.open({ storage, entities: [{ id: input.entity, timeZone: input.timeZone }], migrate: false });
  try {
    const projection = await projectInterest({ books: new EarnBooks(ledger), entity: input.entity, day: input.day, sortDirectory: input.directory });
    try {
      const runs = await projection.lines.release();
      return { ok: true, runs, margin: [...projection.recomputedMargin].map(([currency, units]) => [currency, units.toString()] as const) };
    } finally {
      await projection.lines.close();
    }
  } finally {
    await ledger.close();
  }
}

const port = parentPort;
if (port !== null) {
  project(workerData as InterestWorkerInput).then(
    (output) => port.postMessage(output),
    (error: unknown) => port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) } satisfies InterestWorkerOutput),
  );
}

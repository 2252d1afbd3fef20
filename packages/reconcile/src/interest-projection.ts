/**
 * The day's interest recomputed on a worker thread while this one reads the report: on books in
 * a SQLite file, the two are the run's largest phases before its write transaction and each
 * takes one core (1M accounts: reading the report ~10-14 s, recomputing ~20 s). The worker reads
 * the books on its own connection, as the recomputation in this thread would (outside the write
 * transaction, in batches of accounts), and hands over its sorted runs as files.
 *
 * The worker is only a faster way to the same projection: if it cannot start or fails, the
 * projection is made in this thread instead, which also raises the error such a run raises.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EarnBooks } from '@earnbook/ledger';
import { ExternalSorter } from './external-sort.js';
import { interestLineKey, projectInterest } from './day-streams.js';
import type { InterestLineTuple, InterestProjection } from './day-streams.js';
import type { InterestWorkerInput, InterestWorkerOutput } from './interest-worker.js';

/** A projection under way: {@link result} once, then {@link close} (also after a failure elsewhere). */
export interface PendingProjection {
  /** The projection, from the worker or, if it failed, made in this thread. */
  result(): Promise<InterestProjection>;
  /** Stops the worker if it still runs and removes its files (the adopted runs included). */
  close(): Promise<void>;
}

/**
 * The worker: the compiled `interest-worker.js` beside this module; from the TypeScript sources
 * (the workspace's tests and benchmarks), `interest-worker.ts` imported after tsx's loader is
 * registered in the worker (a loader given by `--import` does not reach a worker's entry module).
 */
function startWorker(input: InterestWorkerInput): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./interest-worker.js', import.meta.url), { workerData: input });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./interest-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: input });
}

function runWorker(input: InterestWorkerInput): { output: Promise<InterestWorkerOutput>; stop: () => Promise<void> } {
  let worker: Worker;
  try {
    worker = startWorker(input);
  } catch (error) {
    return { output: Promise.resolve({ ok: false, message: error instanceof Error ? error.message : String(error) }), stop: async () => undefined };
  }
  const output = new Promise<InterestWorkerOutput>((resolve) => {
    worker.once('message', (message: InterestWorkerOutput) => resolve(message));
    worker.once('error', (error) => resolve({ ok: false, message: error.message }));
    worker.once('exit', (code) => resolve({ ok: false, message: `the worker exited with code ${code} before it answered` }));
  });
  return { output, stop: async () => void (await worker.terminate()) };
}

/** What the day's projection needs, wherever it is made. */
export interface ProjectionInput {
  readonly books: EarnBooks;
  readonly entity: string;
  readonly day: string;
  readonly sortDirectory: string | undefined;
}

/** The day's projection made in this thread, when {@link PendingProjection.result} asks for it. */
export function projectInThisThread(input: ProjectionInput): PendingProjection {
  let projection: InterestProjection | undefined;
  return {
    result: async () => (projection = await projectInterest(input)),
    close: async () => projection?.lines.close(),
  };
}

function warnFallback(input: ProjectionInput, reason: string): void {
  input.books.ledger.logger.warn({ event: 'reconcile.interest_worker_failed', entity: input.entity, day: input.day, reason }, `the interest recomputation's worker thread failed (${reason}); recomputing in this thread`);
}

/**
 * Starts the day's projection on a worker thread over the SQLite file `databaseFile`; see the
 * module comment. Without a folder for the worker's runs it is made in this thread (logged).
 */
export async function projectInterestInWorker(input: ProjectionInput & { databaseFile: string; timeZone: string }): Promise<PendingProjection> {
  let directory: string;
  try {
    directory = await mkdtemp(join(input.sortDirectory ?? tmpdir(), 'earnbook-interest-'));
  } catch (error) {
    warnFallback(input, error instanceof Error ? error.message : String(error));
    return projectInThisThread(input);
  }
  const worker = runWorker({ databaseFile: input.databaseFile, entity: input.entity, timeZone: input.timeZone, day: input.day, directory });
  let fallback: PendingProjection | undefined;
  let adopted: ExternalSorter<InterestLineTuple> | undefined;
  return {
    async result(): Promise<InterestProjection> {
      const output = await worker.output;
      await worker.stop();
      if (!output.ok) {
        warnFallback(input, output.message);
        fallback = projectInThisThread(input);
        return fallback.result();
      }
      adopted = ExternalSorter.adopt({ key: interestLineKey, released: output.runs });
      return { lines: adopted, recomputedMargin: new Map(output.margin.map(([currency, units]) => [currency, BigInt(units)])) };
    },
    async close(): Promise<void> {
      await worker.stop();
      await adopted?.close();
      await fallback?.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

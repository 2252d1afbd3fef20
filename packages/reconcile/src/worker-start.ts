/**
 * What the reconciler's worker threads (`interest-worker`, `books-worker`, `lookup-worker`) share: how one is
 * started (the compiled module beside this one; from the TypeScript sources, as the workspace's
 * tests and benchmarks run, the `.ts` module imported after tsx's loader is registered in the
 * worker: a loader given by `--import` does not reach a worker's entry module), and how it opens
 * the books to read them (a SQLite file; PostgreSQL for the interest worker).
 */
import { Worker } from 'node:worker_threads';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { Ledger } from '@earnbook/ledger';
import type { LedgerDialect } from '@earnbook/ledger';

/** A worker connection's SQLite page cache, in KiB. */
const WORKER_PAGE_CACHE_KIB = 8 * 1024;

/** The reconciler's worker modules. */
export type WorkerModule = 'interest-worker' | 'books-worker' | 'lookup-worker';

/**
 * The ceiling of a worker's old generation, in MiB. A worker streams (sorted runs, pages of
 * rows, batches), so its live heap stays near 30 MiB at 1M accounts; but V8 sizes an isolate's
 * old generation from its ceiling, and under the default (a quarter of the machine's memory,
 * 4 GiB here) it lets the heap grow to up to four times what is live before it collects: the
 * interest worker's held 70-93 MiB on a 1M-break night, and the night peaked at 515-547 MiB. With
 * this ceiling V8 grows it by at most 1.6 times (35-47 MiB; the night 474-508 MiB). A worker that
 * would pass it ends with `ERR_WORKER_OUT_OF_MEMORY`, which the run treats as any failed worker:
 * the work is done in the starting thread (logged), whose heap has the host's own ceiling.
 */
export const WORKER_OLD_GENERATION_MIB = 1024;

/** The limit of a worker's heap: see {@link WORKER_OLD_GENERATION_MIB}. */
export type WorkerHeapLimits = Pick<ResourceLimits, 'maxOldGenerationSizeMb'>;

/**
 * Starts `module` on a worker thread with `workerData` (see the module comment for the two ways
 * it is loaded), its heap limited by `heapLimits` (tests give smaller ones); `transferList`: the
 * ports `workerData` holds.
 */
export function startWorkerModule(module: WorkerModule, workerData: unknown, heapLimits: WorkerHeapLimits = { maxOldGenerationSizeMb: WORKER_OLD_GENERATION_MIB }, transferList: readonly MessagePort[] = []): Worker {
  const options = { workerData, resourceLimits: heapLimits, transferList: [...transferList] };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${module}.js`, import.meta.url), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${module}.ts`, import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, ...options });
}

/**
 * What a worker's failure says, whatever was thrown: a worker's uncaught `throw null` or
 * `throw 'text'` reaches its `error` event as that value, not an Error, and reading `.message`
 * of null in the listener threw in this thread (an uncaught exception) instead of the fallback.
 */
export function failureMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How long a run waits by default for a worker thread's answer once it needs it (10 minutes). */
export const WORKER_WAIT_MS_DEFAULT = 10 * 60_000;
/** The longest wait a configuration may set (a day). */
export const WORKER_WAIT_MS_MAX = 24 * 60 * 60_000;

/**
 * A worker's answer, or a failure like the ones workers answer if it has not come `waitMs` after
 * this call. A worker thread is only a faster way to what the run can do itself, and the run may
 * hold the books' write transaction while it waits: a worker that never answers (a bug, a read
 * that hangs) must not hold the run forever. The caller stops the worker and does the work in
 * its own thread.
 */
export function answerWithin<T>(answer: Promise<T>, waitMs: number): Promise<T | { readonly ok: false; readonly message: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<{ readonly ok: false; readonly message: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, message: `the worker did not answer within ${waitMs} ms` }), waitMs);
  });
  return Promise.race([answer, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The books a worker thread opens on a connection of its own: a SQLite file, or PostgreSQL books
 * (the connection string and schema the run's storage was opened with, its dialect's
 * `readerConnection`).
 */
export type WorkerBooks = { readonly databaseFile: string } | { readonly postgres: ReturnType<NonNullable<LedgerDialect['readerConnection']>> };

/** Connections of a worker's PostgreSQL pool: it reads on one at a time. */
const WORKER_POSTGRES_POOL_SIZE = 1;

/**
 * Opens the books on a worker's own connection, to read only: no migration (nor, on PostgreSQL,
 * a schema made). Each driver's subpath is imported here, not with this module: the reconciler
 * is imported on installs with one of the two drivers only (both optional peers of the ledger).
 */
export async function openWorkerBooks(input: WorkerBooks & { readonly entity: string; readonly timeZone: string }): Promise<Ledger> {
  const entities = [{ id: input.entity, timeZone: input.timeZone }];
  if ('postgres' in input) {
    const { openPostgresDatabase } = await import('@earnbook/ledger/postgres');
    const storage = await openPostgresDatabase({ ...input.postgres, createSchema: false, poolSizeMax: WORKER_POSTGRES_POOL_SIZE });
    try {
      return await Ledger.open({ storage, entities, migrate: false });
    } catch (error) {
      await storage.db.destroy();
      throw error;
    }
  }
  const { openSqliteDatabase } = await import('@earnbook/ledger/sqlite');
  const storage = openSqliteDatabase({ filename: input.databaseFile });
  try {
    storage.native.pragma(`cache_size = -${WORKER_PAGE_CACHE_KIB}`);
    return await Ledger.open({ storage, entities, migrate: false });
  } catch (error) {
    storage.native.close();
    throw error;
  }
}

/**
 * `EARNBOOK_BENCH_WORKER_THREADS` (auto, always or never; default auto, the reconciler's own
 * default): the reconciler's `workerThreads` in the nightly and report benches, to compare a run
 * with and without the interest worker on the same machine. `Reconciler.open` refuses any other
 * value (a typed `invalid_input` naming `workerThreads`).
 */
import type { WorkerThreads } from '../src/index.js';

export function benchWorkerThreads(): WorkerThreads {
  return (process.env['EARNBOOK_BENCH_WORKER_THREADS'] ?? 'auto') as WorkerThreads;
}

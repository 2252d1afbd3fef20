/**
 * `EARNBOOK_BENCH_WORKER_THREADS` (auto, always or never; default auto, the reconciler's own
 * default): the reconciler's `workerThreads` in the nightly and report benches, to compare a run
 * with and without the interest worker on the same machine.
 */
import type { ReconcilerOptions } from '../src/index.js';

export function benchWorkerThreads(): NonNullable<ReconcilerOptions['workerThreads']> {
  const value = process.env['EARNBOOK_BENCH_WORKER_THREADS'] ?? 'auto';
  if (value !== 'auto' && value !== 'always' && value !== 'never') throw new Error(`EARNBOOK_BENCH_WORKER_THREADS must be auto, always or never, got ${value}`);
  return value;
}

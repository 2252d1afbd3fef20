/** A reconciliation's progress as it reports it: the phases and the row counts (split from `day-run.ts`). */

/**
 * How far a run is, for a progress display: the phase and the rows it has handled so far
 * (report entries read; report entries the sync examined, those it may book; entries diffed). Reported at batch
 * boundaries, not per row.
 */
export interface ReconcileProgress {
  readonly phase: 'read' | 'sync' | 'diff';
  readonly rows: number;
}

/** Called with each {@link ReconcileProgress}; a callback that throws aborts the run (nothing written). */
export type ReconcileProgressListener = (progress: ReconcileProgress) => void;

/** Rows between two progress reports of the sync and the diff. */
const PROGRESS_EVERY = 10_000;

/** Counts a phase's rows and tells the listener each time the count crosses a multiple of {@link PROGRESS_EVERY}. */
export function rowCounter(listener: ReconcileProgressListener, phase: ReconcileProgress['phase']): { add(rows: number): void; done(): void } {
  let rows = 0;
  return {
    add(more: number) {
      const before = rows;
      rows += more;
      if (Math.floor(before / PROGRESS_EVERY) !== Math.floor(rows / PROGRESS_EVERY)) listener({ phase, rows });
    },
    done() {
      listener({ phase, rows });
    },
  };
}

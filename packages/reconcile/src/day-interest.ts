/**
 * The day's interest check as the run hands it from its read to its write transaction (split
 * from `day-run.ts`). The projection (the day's interest recomputed) is read before the
 * transaction, beside the report's read, on a worker where there is one; the comparison with the
 * report's interest follows it. The transaction takes the comparison only if the books have not
 * moved since the projection was read (its mark), checked before the sync's first write.
 *
 * With a worker, this thread does not wait for the projection: at 1M accounts the worker took
 * ~10.5 s to project and the report's read ~8.4 s, and this thread sat idle ~2.2 s before it
 * could start the transaction. The comparison is asked of the worker as soon as its projection
 * arrives, while this thread starts the transaction and gathers what the sync books (reads
 * only); the mark is checked after that gather, before the sync writes. A worker that fails
 * before it posts its projection leaves the projection to the transaction, as when the books moved.
 */
import { cycleLinesMark, sameCycleLinesMark } from '@earnbook/ledger';
import type { CycleLinesMark, EarnBooks, LedgerLogger, PostingScope } from '@earnbook/ledger';
import { compareProjected, projectInterest } from './day-streams.js';
import type { InterestOutcome, InterestProjection } from './day-streams.js';
import type { PendingComparison, PendingProjection } from './interest-projection.js';

/** What the comparison reads besides the projection. */
export type CompareInput = Parameters<PendingProjection['compare']>[1];

/** A comparison under way, and the mark of the books its projection was read under. */
interface StartedComparison {
  readonly comparison: PendingComparison;
  readonly mark: CycleLinesMark;
}

/** The day's interest comparison between the run's read and its write transaction. */
export interface DayInterest {
  /**
   * The comparison, once its projection is in; undefined when the worker failed before posting
   * it (the transaction then projects itself). Rejects only when the comparison could not be
   * started, which fails the run.
   */
  readonly started: Promise<StartedComparison | undefined>;
  /** Settles once the comparison takes no thread of its own; never rejects (`PendingComparison.asideDone`). */
  readonly asideDone: Promise<void>;
  /** Compares another projection of the day (read in the transaction) with the same reported interest. */
  again(projection: InterestProjection): Promise<InterestOutcome>;
  /** Closes the comparison, once started; after the projection is closed (which settles {@link started}). */
  close(): Promise<void>;
}

/**
 * Starts the day's comparison once the report is read. Without a worker the projection is made
 * and compared here, before this returns; with one, the comparison is started when its
 * projection arrives (see the module comment).
 */
export async function startComparison(projection: PendingProjection, input: CompareInput): Promise<DayInterest> {
  let started: Promise<StartedComparison | undefined>;
  if (projection.onWorker) {
    started = projection.fromWorker().then(async (projected) => (projected === undefined ? undefined : { comparison: await projection.compare(projected, input), mark: projected.mark }));
    // Awaited by the transaction, or by close: until then its failure must not go unhandled.
    started.catch(() => undefined);
  } else {
    const projected = await projection.result();
    started = Promise.resolve({ comparison: await projection.compare(projected, input), mark: projected.mark });
  }
  return {
    started,
    asideDone: started.then(
      (comparison) => comparison?.comparison.asideDone,
      () => undefined,
    ),
    again: async (again) => {
      const comparison = await started;
      return comparison === undefined ? compareProjected(again, input) : comparison.comparison.recompare(again);
    },
    close: async () => {
      const comparison = await started.catch(() => undefined);
      await comparison?.comparison.close();
    },
  };
}

/**
 * The day's interest comparison for the books as the write transaction sees them, taken before
 * the transaction's first posting. If no posting on an Earn account, no Earn account and no
 * product version came in since the projection was read (the books' mark is the one it was read
 * under), its comparison stands. Else the day's interest is read again here and compared in this
 * thread: a deposit of the day booked meanwhile (a repair, a late answer) would otherwise give
 * the diff one view of the books and the interest check another, and a break no consistent view
 * gives. Any posting on an Earn account moves the mark (a deposit of the next day too): then the
 * run reads twice, and the outcome is the same. Read here too when the worker failed before it
 * posted its projection.
 */
export async function currentInterest(
  settings: { readonly books: EarnBooks; readonly sortDirectory: string | undefined; readonly logger: LedgerLogger },
  work: { readonly entity: string; readonly day: string; readonly interest: DayInterest; readonly scope: PostingScope },
): Promise<() => Promise<InterestOutcome>> {
  const { entity, day, scope } = work;
  const started = await work.interest.started;
  const mark = await cycleLinesMark(settings.books.ledger, { entity }, scope.db);
  if (started !== undefined && sameCycleLinesMark(mark, started.mark)) return () => started.comparison.outcome();
  if (started !== undefined) {
    settings.logger.info(
      { event: 'reconcile.interest_read_again', entity, day, before: started.mark, now: mark },
      `the books of ${entity} moved while ${day}'s interest was recomputed: recomputed again in the write transaction`,
    );
  }
  const again = await projectInterest({ books: settings.books, entity, day, sortDirectory: settings.sortDirectory, db: scope.db });
  try {
    const outcome = await work.interest.again(again);
    return async () => outcome;
  } finally {
    await again.lines.close();
  }
}

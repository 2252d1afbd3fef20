/**
 * The day's interest recomputed on a worker thread while this one reads the report: on books in
 * a SQLite file, the two are the run's largest phases before its write transaction and each
 * takes one core (1M accounts: reading the report ~10-14 s, recomputing ~20 s). The worker reads
 * the books on its own connection, as the recomputation in this thread would (outside the write
 * transaction, in batches of accounts), and hands over its sorted runs as files.
 *
 * It then compares them with the report's interest (files this thread lends it) while this
 * thread starts the write transaction and syncs, and is stopped once it answers: the comparison
 * took 3.5-6.6 s of this thread at 1M accounts, while the other core sat idle.
 *
 * The worker is only a faster way to the same outcome: if it cannot start or fails, the
 * projection (or the comparison) is made in this thread instead, which also raises the error
 * such a run raises. The comparison reads only files, so it may fall back inside the transaction.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { EarnBooks, LedgerLogger } from '@earnbook/ledger';
import { ExternalSorter } from './external-sort.js';
import { breakDraftKey } from './break-order.js';
import type { BreakDraft } from './diff.js';
import type { ReleasedRuns } from './external-sort.js';
import { compareProjected, interestLineKey, projectInterest, reportedInterestKey } from './day-streams.js';
import type { InterestLineTuple, InterestOutcome, InterestProjection, ReportedInterestTuple } from './day-streams.js';
import type { InterestWorkerInput, InterestWorkerOutput, InterestWorkerReply, InterestWorkerRequest } from './interest-worker.js';
import { WORKER_WAIT_MS_DEFAULT, answerWithin, failureMessage, startWorkerModule } from './worker-start.js';
import type { WorkerBooks } from './worker-start.js';

/**
 * The day's interest comparison under way ({@link PendingProjection.compare}): its outcome, once,
 * then {@link close}. Its outcome never rejects before it is asked for.
 */
export interface PendingComparison {
  outcome(): Promise<InterestOutcome>;
  /**
   * The comparison made again in this thread with another projection of the day (one made in the
   * write transaction, when the books moved since the first was read), against the same reported
   * interest; a worker still comparing is stopped first. Instead of {@link outcome}.
   */
  recompare(projection: InterestProjection): Promise<InterestOutcome>;
  /** Removes the report's runs it was given (the projection's are the projection's). */
  close(): Promise<void>;
  /**
   * Settles once the comparison takes no thread of its own: the worker has answered or failed
   * (at once when it was made in this thread). Never rejects. The sync's lookup worker starts then.
   */
  readonly asideDone: Promise<void>;
}

/** A projection under way: {@link result} once, then {@link close} (also after a failure elsewhere). */
export interface PendingProjection {
  /** The projection, from the worker or, if it failed, made in this thread. */
  result(): Promise<InterestProjection>;
  /**
   * Instead of {@link result}: the worker's projection once it has posted it, or undefined when
   * there is no worker or it failed or did not answer within `waitMs` (logged; it is stopped).
   * Never rejects, and never projects in this thread: for a caller that does that itself, in its
   * write transaction, when there is none.
   */
  fromWorker(): Promise<InterestProjection | undefined>;
  /** Whether a worker makes the projection (else {@link fromWorker} answers undefined). */
  readonly onWorker: boolean;
  /**
   * Settles once the worker has posted its projection or failed (at once without a worker): when
   * the worker's core is free for other work (the run's other worker thread starts then).
   */
  readonly posted: Promise<void>;
  /**
   * Compares the projection (from {@link result}) with the report's interest. With a worker, on
   * the worker while this thread goes on (the report's sorter gives its runs up for it); else in
   * this thread, before it returns.
   */
  compare(
    projection: InterestProjection,
    input: { reported: ExternalSorter<ReportedInterestTuple>; toleranceUnits: (currency: string) => bigint; tolerances: ReadonlyMap<string, bigint>; sortDirectory: string | undefined },
  ): Promise<PendingComparison>;
  /** Stops the worker if it still runs and removes its files (the adopted runs included). */
  close(): Promise<void>;
}

function startWorker(input: InterestWorkerInput): Worker {
  return startWorkerModule('interest-worker', input);
}

/**
 * Interest entries of a report (with an Earn account) from which the worker makes the comparison:
 * below it, the round trip costs more than comparing in this thread.
 */
export const COMPARE_ASIDE_INTEREST_ENTRIES_MIN = 20_000;

type Answer<T> = (reply: T | { readonly ok: false; readonly message: string }) => void;

/** How a worker stopped on purpose answers what is still awaited. */
const WORKER_STOPPED = 'the worker was stopped';

/**
 * The worker and its messages: the projection first, then the comparison's answer. A worker that
 * fails or exits answers what is still awaited with its failure: no promise here rejects.
 */
class ProjectionWorker {
  readonly output: Promise<InterestWorkerOutput>;
  readonly #worker: Worker | undefined;
  #failure: string | undefined;
  #answerOutput: Answer<InterestWorkerOutput> = () => undefined;
  #answerCompare: Answer<InterestWorkerReply> | undefined;

  /** Whether the worker was kept, after its projection, for the comparison. */
  #kept = false;

  /**
   * `keep`: asked when the projection arrives; false stops the worker at once (an idle worker
   * holds its heap, garbage of the projection included, while this thread still reads).
   */
  constructor(input: InterestWorkerInput, start: (input: InterestWorkerInput) => Worker, keep: () => boolean) {
    this.output = new Promise((resolve) => (this.#answerOutput = resolve));
    try {
      this.#worker = start(input);
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
      return;
    }
    let first = true;
    this.#worker.on('message', (message: InterestWorkerOutput | InterestWorkerReply) => {
      if (first) {
        first = false;
        const output = message as InterestWorkerOutput;
        this.#kept = output.ok && keep();
        if (!this.#kept) void this.stop().catch(() => undefined);
        this.#answerOutput(output);
        return;
      }
      this.#answerCompare?.(message as InterestWorkerReply);
      this.#answerCompare = undefined;
    });
    this.#worker.once('error', (error: unknown) => this.#fail(failureMessage(error)));
    this.#worker.once('exit', (code) => this.#fail(`the worker exited with code ${code}`));
  }

  #fail(message: string): void {
    this.#failure ??= message;
    const failed = { ok: false, message: this.#failure } as const;
    this.#answerOutput(failed);
    this.#answerCompare?.(failed);
    this.#answerCompare = undefined;
  }

  compare(request: InterestWorkerRequest): Promise<InterestWorkerReply> {
    return new Promise((resolve) => {
      if (this.#failure !== undefined || this.#worker === undefined) return resolve({ ok: false, message: this.#failure ?? 'no worker' });
      this.#answerCompare = resolve;
      try {
        this.#worker.postMessage(request);
      } catch (error) {
        this.#answerCompare = undefined;
        resolve({ ok: false, message: error instanceof Error ? error.message : String(error) });
      }
    });
  }

  /** Whether the worker waits for the comparison (see the constructor's `keep`). */
  get kept(): boolean {
    return this.#kept;
  }

  async stop(): Promise<void> {
    // Stopped on purpose: whatever is still awaited is answered as failed (the run is over).
    this.#failure ??= WORKER_STOPPED;
    await this.#worker?.terminate();
  }
}

/** What the day's projection needs, wherever it is made. */
export interface ProjectionInput {
  readonly books: EarnBooks;
  readonly entity: string;
  readonly day: string;
  readonly sortDirectory: string | undefined;
  /** Where a fallback is logged; default the ledger's logger. */
  readonly logger?: LedgerLogger;
}

/** Compares in this thread, before it returns (the reported runs stay the caller's sorter's). */
async function compareHere(projection: InterestProjection, input: Parameters<PendingProjection['compare']>[1]): Promise<PendingComparison> {
  const outcome = await compareProjected(projection, input);
  // Its breaks' files are the caller's once it takes the outcome; removed here too (again: nothing) in case it did not.
  return { outcome: async () => outcome, recompare: (again) => compareProjected(again, input), close: async () => outcome.breaks.close(), asideDone: Promise.resolve() };
}

/** The day's projection made in this thread, when {@link PendingProjection.result} asks for it. */
export function projectInThisThread(input: ProjectionInput): PendingProjection {
  let projection: InterestProjection | undefined;
  return {
    result: async () => (projection = await projectInterest(input)),
    fromWorker: async () => undefined,
    onWorker: false,
    posted: Promise.resolve(),
    compare: compareHere,
    close: async () => projection?.lines.close(),
  };
}

function warnFallback(input: ProjectionInput, reason: string, what = 'recomputation'): void {
  (input.logger ?? input.books.ledger.logger).warn({ event: 'reconcile.interest_worker_failed', entity: input.entity, day: input.day, reason }, `the interest ${what}'s worker thread failed (${reason}); going on in this thread`);
}

/**
 * Starts the day's projection on a worker thread that opens the books on its own connection (a
 * SQLite file, or PostgreSQL: `WorkerBooks`); see the module comment. Without a folder for the
 * worker's runs it is made in this thread (logged).
 * `keepForComparison`: asked when the worker posts its projection, whether it stays to make the
 * comparison too; when not, it is stopped at once and the comparison is made in this thread.
 * The day's run keeps it once the report has shown {@link COMPARE_ASIDE_INTEREST_ENTRIES_MIN}
 * interest entries (a report read to the end by then shows no more; any with `workerThreads:
 * 'always'`): a smaller comparison costs less here than the worker's round trip, and an idle
 * worker holds its heap while this thread reads (a 2M-deposit day: +44-68 MiB of peak RSS).
 * `waitMs`: how long the projection and the comparison are each waited for once asked for
 * (default {@link WORKER_WAIT_MS_DEFAULT}); past it the worker is stopped and the work is done in
 * this thread (logged). `start`: how the worker is started (tests give one that fails on purpose).
 */
export async function projectInterestInWorker(
  input: ProjectionInput & WorkerBooks & { timeZone: string; keepForComparison: () => boolean; waitMs?: number },
  start: (input: InterestWorkerInput) => Worker = startWorker,
): Promise<PendingProjection> {
  let directory: string;
  try {
    directory = await mkdtemp(join(input.sortDirectory ?? tmpdir(), 'earnbook-interest-'));
  } catch (error) {
    warnFallback(input, error instanceof Error ? error.message : String(error));
    return projectInThisThread(input);
  }
  const source: WorkerBooks = 'postgres' in input ? { postgres: input.postgres } : { databaseFile: input.databaseFile };
  const worker = new ProjectionWorker({ ...source, entity: input.entity, timeZone: input.timeZone, day: input.day, directory }, start, input.keepForComparison);
  const waitMs = input.waitMs ?? WORKER_WAIT_MS_DEFAULT;
  let fallback: PendingProjection | undefined;
  let adopted: ExternalSorter<InterestLineTuple> | undefined;
  let adoptedRuns: ReleasedRuns | undefined;
  // Set once the run closes the projection: a worker stopped then (the run failed, or ended
  // before the projection was wanted) did not fail, and nothing is told of it; a failure of its
  // own before that still is.
  let closed = false;
  const fromWorker = async (): Promise<InterestProjection | undefined> => {
    const output = await answerWithin(worker.output, waitMs);
    if (!output.ok) {
      await worker.stop().catch(() => undefined);
      if (!closed || output.message !== WORKER_STOPPED) warnFallback(input, output.message);
      return undefined;
    }
    adoptedRuns = output.runs;
    adopted = ExternalSorter.adopt({ key: interestLineKey, released: output.runs });
    (input.logger ?? input.books.ledger.logger).debug({ event: 'reconcile.interest_projected', entity: input.entity, day: input.day }, `the interest of ${input.entity} ${input.day} recomputed on the worker thread`);
    return { lines: adopted, recomputedMargin: new Map(output.margin.map(([currency, units]) => [currency, BigInt(units)])), mark: output.mark };
  };
  return {
    posted: worker.output.then(() => undefined),
    async result(): Promise<InterestProjection> {
      const projection = await fromWorker();
      if (projection !== undefined) return projection;
      fallback = projectInThisThread(input);
      return fallback.result();
    },
    fromWorker,
    onWorker: true,
    async compare(projection, compared): Promise<PendingComparison> {
      if (adoptedRuns === undefined || projection.lines !== adopted) return compareHere(projection, compared);
      // A worker not kept for the comparison (see `keepForComparison`) was stopped already.
      if (!worker.kept) {
        await worker.stop();
        return compareHere(projection, compared);
      }
      // Both sets of runs are lent to the worker (without their directory: it removes nothing);
      // this thread keeps them, and reads them itself if the worker fails.
      const tolerances = [...compared.tolerances].map(([currency, units]) => [currency, units.toString()] as const);
      const released = await compared.reported.release();
      const reported = ExternalSorter.adopt<ReportedInterestTuple>({ key: reportedInterestKey, released });
      const lent = (runs: ReleasedRuns): ReleasedRuns => ({ ...runs, directory: undefined });
      // The worker's last task: it is stopped once it answers (it holds its memory until then).
      // A failed stop is the close's to retry: the answer stands, and this promise never rejects.
      const answer = worker.compare({ projected: lent(adoptedRuns), reported: lent(released), tolerances }).then(async (reply) => {
        await worker.stop().catch(() => undefined);
        return reply;
      });
      return {
        asideDone: answer.then(() => undefined),
        async outcome(): Promise<InterestOutcome> {
          const reply = await answerWithin(answer, waitMs);
          if (reply.ok) return { breaks: ExternalSorter.adopt<BreakDraft>({ key: breakDraftKey, released: reply.breaks }), recomputedMargin: projection.recomputedMargin };
          // A worker that did not answer still reads the runs: it is stopped first.
          await worker.stop().catch(() => undefined);
          warnFallback(input, reply.message, 'comparison');
          return compareProjected(projection, { reported, toleranceUnits: compared.toleranceUnits, sortDirectory: compared.sortDirectory });
        },
        async recompare(again): Promise<InterestOutcome> {
          // The worker may still read the runs; its answer is of the first projection: not wanted.
          await worker.stop().catch(() => undefined);
          return compareProjected(again, { reported, toleranceUnits: compared.toleranceUnits, sortDirectory: compared.sortDirectory });
        },
        // The worker is stopped before the runs it may still read are removed.
        close: async () => {
          await worker.stop();
          await reported.close();
        },
      };
    },
    async close(): Promise<void> {
      closed = true;
      await worker.stop();
      await adopted?.close();
      await fallback?.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

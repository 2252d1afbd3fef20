/**
 * The worker thread of {@link projectInterestInWorker} (`interest-projection.ts`): opens the
 * books (a SQLite file, or PostgreSQL) on its own connection (no migration, nothing written),
 * recomputes the day's interest into a sorter, releases its run files and posts them with the
 * margin per currency. The thread that started it adopts the runs. Any failure is posted as such;
 * that thread then recomputes in its own thread, which raises the same error a run without a
 * worker would.
 *
 * Then it compares the recomputed lines with the report's interest (`compareProjected`) when
 * asked, while the starting thread runs the day's write transaction: over run files that thread
 * owns and lends (read here, never removed here), with no database. It is stopped once it answers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EarnBooks } from '@earnbook/ledger';
import type { CycleLinesMark, Ledger } from '@earnbook/ledger';
import { compareProjected, interestLineKey, projectInterest, reportedInterestKey } from './day-streams.js';
import type { InterestLineTuple, ReportedInterestTuple } from './day-streams.js';
import { ExternalSorter } from './external-sort.js';
import type { ReleasedRuns } from './external-sort.js';
import { toleranceLookup } from './reconciler-options.js';
import { openWorkerBooks } from './worker-start.js';
import type { WorkerBooks } from './worker-start.js';

/** What the worker is given. */
export type InterestWorkerInput = WorkerBooks & {
  readonly entity: string;
  readonly timeZone: string;
  readonly day: string;
  /** Where its sorter writes its runs (a directory the starting thread removes). */
  readonly directory: string;
};

/** What the worker posts first, once. */
export type InterestWorkerOutput =
  | { readonly ok: true; readonly runs: ReleasedRuns; readonly margin: readonly (readonly [currency: string, units: string])[]; readonly mark: CycleLinesMark }
  | { readonly ok: false; readonly message: string };

/** The comparison the worker is asked for once it has posted its projection. */
export interface InterestWorkerRequest {
  /** The runs of the projection and of the report's interest by Earn account, lent (not removed here). */
  readonly projected: ReleasedRuns;
  readonly reported: ReleasedRuns;
  /** Tolerance per currency in units (integer text); the default for the rest ({@link toleranceLookup}). */
  readonly tolerances: readonly (readonly [currency: string, units: string])[];
}

/** The worker's answer to the comparison. */
/** The comparison's breaks are posted as the run files of a sorter by `breakDraftKey` (a day may have a break per account), in the worker's directory. */
export type InterestWorkerReply = { readonly ok: true; readonly breaks: ReleasedRuns } | { readonly ok: false; readonly message: string };

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Compares over lent runs (given without their directory: these sorters remove nothing). */
async function compare(request: InterestWorkerRequest, directory: string): Promise<InterestWorkerReply> {
  try {
    const tolerances = new Map(request.tolerances.map(([currency, units]) => [currency, BigInt(units)]));
    const lines = ExternalSorter.adopt<InterestLineTuple>({ key: interestLineKey, released: request.projected });
    const reported = ExternalSorter.adopt<ReportedInterestTuple>({ key: reportedInterestKey, released: request.reported });
    const outcome = await compareProjected({ lines, recomputedMargin: new Map() }, { reported, toleranceUnits: toleranceLookup(tolerances), sortDirectory: directory });
    // Released, not closed: the thread that asked adopts the files (the directory is removed with the worker's).
    return { ok: true, breaks: await outcome.breaks.release() };
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
}

async function run(port: NonNullable<typeof parentPort>, input: InterestWorkerInput): Promise<void> {
  let ledger: Ledger;
  try {
    ledger = await openWorkerBooks(input);
  } catch (error) {
    port.postMessage({ ok: false, message: messageOf(error) } satisfies InterestWorkerOutput);
    return;
  }
  let output: InterestWorkerOutput;
  try {
    const projection = await projectInterest({ books: new EarnBooks(ledger), entity: input.entity, day: input.day, sortDirectory: input.directory });
    try {
      const runs = await projection.lines.release();
      output = { ok: true, runs, margin: [...projection.recomputedMargin].map(([currency, units]) => [currency, units.toString()] as const), mark: projection.mark };
    } finally {
      await projection.lines.close();
    }
  } catch (error) {
    output = { ok: false, message: messageOf(error) };
  } finally {
    // The comparison reads files only.
    await ledger.close();
  }
  // Listening before the projection is posted: the request can only follow it.
  if (output.ok) port.once('message', (request: InterestWorkerRequest) => void compare(request, input.directory).then((reply) => port.postMessage(reply)));
  port.postMessage(output);
}

const port = parentPort;
if (port !== null) void run(port, workerData as InterestWorkerInput);

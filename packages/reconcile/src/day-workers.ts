/**
 * What a day's run hands to worker threads, and when: the interest recomputation (and its
 * comparison) and the read of the books' days the plan merges (`interest-projection.ts`,
 * `books-prefetch.ts`), each started while the report is read when the books can be opened on a
 * second connection and `workerThreads` allows it for this report; otherwise the run does the
 * work itself.
 */
import { nextAccountingDay } from '@earnbook/ledger';
import type { EarnBooks, Ledger, LedgerLogger } from '@earnbook/ledger';
import type { ReportInput } from './report-source.js';
import { COMPARE_ASIDE_INTEREST_ENTRIES_MIN, projectInThisThread, projectInterestInWorker } from './interest-projection.js';
import type { PendingProjection } from './interest-projection.js';
import { NO_PREFETCHED_BOOKS, prefetchBooksInWorker } from './books-prefetch.js';
import type { PrefetchedBooks } from './books-prefetch.js';
import { WORKER_REPORT_BYTES_MIN, WORKER_REPORT_ENTRIES_MIN } from './reconciler-options.js';
import type { ReconcilerSettings } from './reconciler-options.js';
import type { WorkerBooks } from './worker-start.js';

/** The reconciler's configuration, as one run needs it. */
export interface DaySettings extends ReconcilerSettings {
  readonly ledger: Ledger;
  readonly books: EarnBooks;
  /** The reconciler's logger (its option, or the ledger's). */
  readonly logger: LedgerLogger;
}

/**
 * Starts recomputing the day's interest: on a worker thread while the report is read, when the
 * books can be opened on a second connection (a SQLite file, or PostgreSQL books opened with a
 * connection string: the dialect's `readerConnection`) and workers are allowed
 * (`interest-projection.ts`); otherwise in this thread once the report is read. On PostgreSQL its
 * time is the client's more than the server's (converting rows, computing, sorting): started
 * beside the read in this thread it saved ~2 s of 43 s at 1M accounts, on a thread of its own
 * it takes another core. An in-memory database has no second connection.
 */
export async function startProjection(
  settings: DaySettings,
  input: { entity: string; day: string; timeZone: string; reportedInterest: () => number },
  report: ReportInput,
): Promise<PendingProjection> {
  const projection = { books: settings.books, entity: input.entity, day: input.day, sortDirectory: settings.sortDirectory, logger: settings.logger };
  const source = workerBooks(settings, report);
  const keepForComparison = () => settings.workerThreads === 'always' || input.reportedInterest() >= COMPARE_ASIDE_INTEREST_ENTRIES_MIN;
  return source !== undefined ? projectInterestInWorker({ ...projection, ...source, timeZone: input.timeZone, keepForComparison, waitMs: settings.workerWaitMs }) : projectInThisThread(projection);
}

/**
 * Starts reading the books' provider entries of the day and the next (what the plan merges with
 * the report) on a worker thread while the report is read, when the interest is recomputed on one
 * (`books-prefetch.ts`); otherwise the plan reads them in the write transaction.
 */
export async function startBooksPrefetch(
  settings: DaySettings,
  input: { entity: string; day: string; timeZone: string; after: Promise<void>; syncMayBook: () => boolean },
  report: ReportInput,
): Promise<PrefetchedBooks> {
  const databaseFile = workerDatabaseFile(settings, report);
  if (databaseFile === undefined) return NO_PREFETCHED_BOOKS;
  const { ledger, sortDirectory, logger } = settings;
  // Not when the report has shown an entry the sync may book by then: the sync books on the next
  // day, which is then read again anyway, and the worker's thread cost more than it saved (a
  // 1M-account nightly: +7 s of CPU and +100 MiB of peak RSS, no faster).
  const wanted = () => settings.workerThreads === 'always' || !input.syncMayBook();
  const days = [input.day, nextAccountingDay(input.day)];
  return prefetchBooksInWorker({ ledger, logger, entity: input.entity, timeZone: input.timeZone, days, databaseFile, sortDirectory, after: input.after, wanted, waitMs: settings.workerWaitMs });
}

/** Whether this report's run starts worker threads (`workerThreads`). */
function workersWanted(settings: DaySettings, report: ReportInput): boolean {
  return settings.workerThreads === 'always' || (settings.workerThreads === 'auto' && isLargeReport(report));
}

/** The SQLite file the books' worker (and the sync's lookup worker) opens, when the books are one and workers are wanted for this report. */
export function workerDatabaseFile(settings: DaySettings, report: ReportInput): string | undefined {
  return workersWanted(settings, report) ? settings.ledger.dialect.databaseFile : undefined;
}

/** The books the interest worker opens (a SQLite file, or PostgreSQL), when they can be and workers are wanted for this report. */
function workerBooks(settings: DaySettings, report: ReportInput): WorkerBooks | undefined {
  if (!workersWanted(settings, report)) return undefined;
  const { databaseFile, readerConnection } = settings.ledger.dialect;
  if (databaseFile !== undefined) return { databaseFile };
  return readerConnection === undefined ? undefined : { postgres: readerConnection() };
}

/**
 * Whether a report is large enough for `workerThreads: 'auto'`. A report in memory is checked by
 * the read, not here: only its size counts, whatever its shape.
 */
function isLargeReport(report: ReportInput): boolean {
  if ('kind' in report) return (report.bytes ?? 0) >= WORKER_REPORT_BYTES_MIN;
  try {
    const entries: unknown = (report.report as { transactions?: unknown } | undefined)?.transactions;
    return Array.isArray(entries) && entries.length >= WORKER_REPORT_ENTRIES_MIN;
  } catch {
    // A report that cannot be read (a revoked proxy) is refused by the read, naming the part.
    return false;
  }
}

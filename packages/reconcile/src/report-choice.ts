/**
 * The one rule for which report of an accounting day to reconcile, used by the CLI's `--fetch`
 * and by the nightly job alike: the newest version of the day is the provider's statement of
 * record. The provider lists a restated day again under a new report id with a later
 * `createdAt`; the versions of the day are ordered by `createdAt` (list order on a tie).
 *
 * - The newest version is reconciled. When the books have not processed it, the reconciler
 *   records it as the next version of the day (a restatement when an earlier one was processed:
 *   its changed entries are `restated_entry` breaks); when they have, reconciling it again is a
 *   no-op that answers the day's result.
 * - Older versions the books never processed are superseded: never downloaded nor reconciled,
 *   only listed in {@link DayReportsPlan.superseded} for the audit trail. Two versions published
 *   before the job ran are therefore one version of the day, the newest.
 */
import type { ReportSummary } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';

/** Report list items looked at, at most, when searching for a day's reports. */
export const REPORT_SUMMARIES_MAX = 100_000;

/** The report of a day to reconcile, the versions it supersedes, and how many were listed. */
export interface DayReportsPlan {
  /** What to download and reconcile: the newest version alone; empty when the provider lists none for the day. */
  readonly toReconcile: readonly ReportSummary[];
  /** The newest version of the day (the one `toReconcile` holds); `undefined` when none is listed. */
  readonly newest: ReportSummary | undefined;
  /** Versions older than the newest that the books never processed, oldest first: never reconciled. */
  readonly superseded: readonly ReportSummary[];
  /** Reports listed for the day (more than 1 when the provider restated it). */
  readonly candidates: number;
  /** Items of the whole list looked at. */
  readonly listed: number;
}

/** Input of {@link planDayReports}. */
export interface PlanDayReportsInput {
  readonly summaries: Iterable<ReportSummary>;
  readonly day: string;
  /** Ids of the day's reports the books already processed (`EarnBooks.processedReports`); default none. */
  readonly processedReportIds?: Iterable<string>;
}

function createdAtMs(summary: ReportSummary): number {
  const ms = Date.parse(summary.createdAt);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

function isOfDay(summary: ReportSummary, day: string): boolean {
  return summary.type === 'Report' && summary.accountingDay === day;
}

/** The day's versions in `createdAt` order, the later-listed last on a tie, and the rule applied. */
function plan(versions: readonly ReportSummary[], listed: number, processedReportIds: Iterable<string>): DayReportsPlan {
  const ordered = versions.map((summary, index) => ({ summary, index, ms: createdAtMs(summary) })).sort((a, b) => a.ms - b.ms || a.index - b.index).map((item) => item.summary);
  const processed = new Set(processedReportIds);
  const newest = ordered[ordered.length - 1];
  const superseded = ordered.slice(0, -1).filter((summary) => !processed.has(summary.id));
  return { toReconcile: newest === undefined ? [] : [newest], newest, superseded, candidates: ordered.length, listed };
}

/**
 * Applies the rule to listed report summaries (pure).
 *
 * @example planDayReports({ summaries, day: '2025-03-18', processedReportIds: ['r-1'] }).toReconcile // [the newest]
 */
export function planDayReports(input: PlanDayReportsInput): DayReportsPlan {
  const versions: ReportSummary[] = [];
  let listed = 0;
  for (const summary of input.summaries) {
    listed++;
    if (isOfDay(summary, input.day)) versions.push(summary);
  }
  return plan(versions, listed, input.processedReportIds ?? []);
}

/** Options of {@link findDayReports}. */
export interface FindDayReportsOptions {
  /** The provider's report list, e.g. `EarnClient.reports()`: any iterable of summaries. */
  readonly summaries: AsyncIterable<ReportSummary> | Iterable<ReportSummary>;
  readonly day: string;
  /** Ids of the day's reports the books already processed; default none. */
  readonly processedReportIds?: Iterable<string>;
  /** Who lists them, for the error message (e.g. the entity). */
  readonly source: string;
  /** Default {@link REPORT_SUMMARIES_MAX}. */
  readonly summariesMax?: number;
}

/**
 * Walks the provider's report list once, bounded, keeping only the day's summaries, and applies
 * {@link planDayReports}'s rule. A list longer than `summariesMax` is a `ReconcileError`
 * `no_report` (give the report id instead).
 */
export async function findDayReports(options: FindDayReportsOptions): Promise<DayReportsPlan> {
  const summariesMax = options.summariesMax ?? REPORT_SUMMARIES_MAX;
  const versions: ReportSummary[] = [];
  let listed = 0;
  for await (const summary of options.summaries) {
    if (++listed > summariesMax) {
      throw new ReconcileError('no_report', `the ${options.source} report list has more than ${summariesMax} reports; give the report id instead`, { field: 'reports', value: options.source });
    }
    if (isOfDay(summary, options.day)) versions.push(summary);
  }
  return plan(versions, listed, options.processedReportIds ?? []);
}

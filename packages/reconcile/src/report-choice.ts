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
import { parseInstant } from '@earnbook/ledger';
import type { ReportSummary } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';
import { invalid, iterableInput, readFields, unreadable, valueText } from './input-guards.js';

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

/**
 * A version's `createdAt` as an instant, read by the contract's rule (`parseInstant`, as the
 * ledger reads every instant): `Date.parse` read the contract's `±hh` offsets (`…T10:00:00+01`)
 * as no instant, which sorted that version oldest, so a restatement written so was superseded,
 * never reconciled (a review, session 44). A text that is no instant still sorts oldest.
 */
function createdAtMs(createdAt: unknown): number {
  try {
    return parseInstant(createdAt, 'createdAt').getTime();
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

/** A summary of the day, with the fields the rule reads, each read once. */
interface DayVersion {
  readonly summary: ReportSummary;
  readonly id: string;
  readonly ms: number;
}

/**
 * The summary as a version of `day`, or undefined when it is of another day or not a report. Its
 * fields are read once (a summary that cannot be read is `invalid_input` naming it,
 * `summaries[3]`); the summary itself is kept as given, for the caller to download.
 */
function dayVersion(summary: ReportSummary, day: string, field: string): DayVersion | undefined {
  const { type, accountingDay } = readFields(summary, ['type', 'accountingDay'], { field, nested: true });
  if (type !== 'Report' || accountingDay !== day) return undefined;
  const { id, createdAt } = readFields(summary, ['id', 'createdAt'], { field, nested: true });
  return { summary, id, ms: createdAtMs(createdAt) };
}

/** The ids of the reports the books processed, read once. */
function processedIds(ids: Iterable<string> | undefined): ReadonlySet<string> {
  try {
    return new Set(ids ?? []);
  } catch (cause) {
    throw unreadable('processedReportIds', cause);
  }
}

/** The day's versions in `createdAt` order, the later-listed last on a tie, and the rule applied. */
function plan(versions: readonly DayVersion[], listed: number, processed: ReadonlySet<string>): DayReportsPlan {
  const ordered = versions.map((version, index) => ({ version, index })).sort((a, b) => a.version.ms - b.version.ms || a.index - b.index).map((item) => item.version);
  const newest = ordered[ordered.length - 1]?.summary;
  const superseded = ordered.slice(0, -1).filter((version) => !processed.has(version.id)).map((version) => version.summary);
  return { toReconcile: newest === undefined ? [] : [newest], newest, superseded, candidates: ordered.length, listed };
}

/**
 * Applies the rule to listed report summaries (pure).
 *
 * @example planDayReports({ summaries, day: '2025-03-18', processedReportIds: ['r-1'] }).toReconcile // [the newest]
 */
export function planDayReports(given: PlanDayReportsInput): DayReportsPlan {
  const input = readFields(given, ['summaries', 'day', 'processedReportIds']);
  const processed = processedIds(input.processedReportIds);
  const versions: DayVersion[] = [];
  let listed = 0;
  for (const summary of iterableInput(input.summaries, 'summaries') as Iterable<ReportSummary>) {
    const version = dayVersion(summary, input.day, `summaries[${listed}]`);
    listed++;
    if (version !== undefined) versions.push(version);
  }
  return plan(versions, listed, processed);
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
  /** A whole number of at least 1; default {@link REPORT_SUMMARIES_MAX}. */
  readonly summariesMax?: number;
}

/**
 * Walks the provider's report list once, bounded, keeping only the day's summaries, and applies
 * {@link planDayReports}'s rule. A list longer than `summariesMax` is a `ReconcileError`
 * `no_report` (give the report id instead).
 */
export async function findDayReports(given: FindDayReportsOptions): Promise<DayReportsPlan> {
  const options = readFields(given, ['summaries', 'day', 'processedReportIds', 'source', 'summariesMax'], { field: 'options' });
  const summariesMax = options.summariesMax ?? REPORT_SUMMARIES_MAX;
  // Compared with the count for every summary: a value that is no number would throw there, raw.
  // A bound, so a whole number of at least one: Infinity (no bound), 0, negatives and fractions are refused.
  if (typeof summariesMax !== 'number' || !Number.isSafeInteger(summariesMax) || summariesMax < 1) invalid('summariesMax', summariesMax, 'must be a whole number of reports, at least 1');
  // For the refusal of a list too long: text that the refusal cannot fail to make.
  const source = valueText(options.source);
  const processed = processedIds(options.processedReportIds);
  const versions: DayVersion[] = [];
  let listed = 0;
  const take = (summary: ReportSummary): void => {
    if (++listed > summariesMax) {
      throw new ReconcileError('no_report', `the ${source} report list has more than ${summariesMax} reports; give the report id instead`, { field: 'reports', value: source });
    }
    const version = dayVersion(summary, options.day, `summaries[${listed - 1}]`);
    if (version !== undefined) versions.push(version);
  };
  const summaries = iterableInput(options.summaries, 'summaries');
  // A list in memory is walked as it is: `for await` would await each summary, reading its
  // `then` before `dayVersion` could refuse one that cannot be read.
  if (Symbol.asyncIterator in summaries) for await (const summary of summaries) take(summary);
  else for (const summary of summaries) take(summary);
  return plan(versions, listed, processed);
}

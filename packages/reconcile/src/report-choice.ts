/**
 * The one rule for which report of an accounting day to reconcile, used by the CLI's `--fetch`
 * and by the nightly job alike: of the reports the provider lists for the day, the newest by
 * `createdAt` (the later-listed on a tie). A restated day is listed again with a later
 * `createdAt`; the newest is the provider's current statement of the day, and the reconciler
 * records it as the next version of the day, so earlier versions need not be downloaded or
 * processed first. Reconciling the same newest version again is a no-op that answers the day's
 * result.
 */
import type { ReportSummary } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';

/** Report list items looked at, at most, when searching for a day's report. */
export const REPORT_SUMMARIES_MAX = 100_000;

/** The report chosen for a day, and how many were listed. */
export interface DayReportChoice {
  /** The report to reconcile; `undefined` when the provider lists none for the day. */
  readonly chosen: ReportSummary | undefined;
  /** Reports listed for the day (more than 1 when the provider restated it). */
  readonly candidates: number;
  /** Items of the whole list looked at. */
  readonly listed: number;
}

function createdAtMs(summary: ReportSummary): number {
  const ms = Date.parse(summary.createdAt);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** Folds a report list into the day's choice, one summary at a time. */
class DayReportPicker {
  readonly #day: string;
  #chosen: ReportSummary | undefined;
  #candidates = 0;
  #listed = 0;

  constructor(day: string) {
    this.#day = day;
  }

  /** Looks at one more summary; answers how many were looked at. */
  add(summary: ReportSummary): number {
    this.#listed++;
    if (summary.type !== 'Report' || summary.accountingDay !== this.#day) return this.#listed;
    this.#candidates++;
    if (this.#chosen === undefined || createdAtMs(summary) >= createdAtMs(this.#chosen)) this.#chosen = summary;
    return this.#listed;
  }

  choice(): DayReportChoice {
    return { chosen: this.#chosen, candidates: this.#candidates, listed: this.#listed };
  }
}

/**
 * Chooses the report of `day` among listed report summaries (pure).
 *
 * @example chooseDayReport(summaries, '2025-03-18').chosen?.id
 */
export function chooseDayReport(summaries: Iterable<ReportSummary>, day: string): DayReportChoice {
  const picker = new DayReportPicker(day);
  for (const summary of summaries) picker.add(summary);
  return picker.choice();
}

/** Options of {@link findDayReport}. */
export interface FindDayReportOptions {
  /** The provider's report list, e.g. `EarnClient.reports()`: any iterable of summaries. */
  readonly summaries: AsyncIterable<ReportSummary> | Iterable<ReportSummary>;
  readonly day: string;
  /** Who lists them, for the error message (e.g. the entity). */
  readonly source: string;
  /** Default {@link REPORT_SUMMARIES_MAX}. */
  readonly summariesMax?: number;
}

/**
 * Walks the provider's report list once, bounded, and chooses the day's report by
 * {@link chooseDayReport}'s rule. A list longer than `summariesMax` is a `ReconcileError`
 * `no_report` (pass the report id instead). No report for the day is `chosen: undefined`.
 */
export async function findDayReport(options: FindDayReportOptions): Promise<DayReportChoice> {
  const summariesMax = options.summariesMax ?? REPORT_SUMMARIES_MAX;
  const picker = new DayReportPicker(options.day);
  for await (const summary of options.summaries) {
    if (picker.add(summary) > summariesMax) {
      throw new ReconcileError('no_report', `the ${options.source} report list has more than ${summariesMax} reports; give the report id instead`, { field: 'reports', value: options.source });
    }
  }
  return picker.choice();
}

/**
 * One line of a posting, below both the chart (whose posting rules produce entries) and the
 * posting validation (which checks them against the chart's account rules), so that the
 * imports between those two run one way: `posting.ts` → `chart.ts` → `entry-input.ts`.
 */

/** One line of a posting: an amount on one side of one account. */
export interface EntryInput {
  readonly accountId: number;
  readonly side: 'debit' | 'credit';
  /** Positive decimal string. */
  readonly amount: string;
}

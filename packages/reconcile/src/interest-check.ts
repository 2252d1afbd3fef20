/**
 * The comparison of the reported interest with the local recomputation, one Earn account at a
 * time (pure). The streaming reconciler feeds it the recomputation and the report's interest
 * entries merged by Earn account id, so memory does not grow with the number of accounts.
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { CycleLine } from '@earnbook/ledger';
import { breakDraft } from './diff.js';
import type { BreakDraft } from './diff.js';
import type { ReportEntry } from './report-entry.js';

/** The report's interest for one Earn account: the sum of its entries (each id counted once). */
export interface ReportedInterest {
  readonly accountId: string;
  readonly currency: string;
  readonly units: bigint;
  readonly ids: readonly string[];
}

/** What {@link sumReportedInterest} reads of a report entry. */
export type ReportedInterestEntry = Pick<ReportEntry, 'id' | 'amount' | 'accountId' | 'currency'>;

/** Sums the interest entries of one account (all with that `accountId`); a repeated id counts once. */
export function sumReportedInterest(entries: readonly ReportedInterestEntry[]): ReportedInterest {
  const ids: string[] = [];
  let units = 0n;
  for (const entry of entries) {
    if (ids.includes(entry.id)) continue;
    ids.push(entry.id);
    units += toUnits(entry.amount);
  }
  const first = entries[0];
  return { accountId: first?.accountId ?? '', currency: first?.currency ?? '', units, ids };
}

/** What {@link diffInterest} reads of a recomputed line (the rest of a `CycleLine` need not be kept). */
export type InterestLine = Pick<CycleLine, 'earnAccountId' | 'currency' | 'balance' | 'userInterest'>;

function absolute(value: bigint): bigint {
  return value < 0n ? -value : value;
}

/**
 * One account: interest missing on a positive balance (`missing_interest`), interest on a zero
 * balance or on an account the books do not have (`unexpected_interest`), or a difference beyond
 * the currency's tolerance (`interest_mismatch`).
 */
export function diffInterest(line: InterestLine | undefined, reported: ReportedInterest | undefined, toleranceUnits: (currency: string) => bigint): BreakDraft[] {
  if (line === undefined) {
    if (reported === undefined) return [];
    return [
      breakDraft('unexpected_interest', {
        earnAccountId: reported.accountId,
        currency: reported.currency,
        expected: formatUnits(0n),
        actual: formatUnits(reported.units),
        details: { reason: 'no local Earn account with a balance', entryIds: reported.ids },
      }),
    ];
  }
  const expectedUnits = toUnits(line.userInterest);
  const tolerance = toleranceUnits(line.currency);
  if (reported === undefined) {
    if (expectedUnits <= tolerance) return [];
    return [breakDraft('missing_interest', { earnAccountId: line.earnAccountId, currency: line.currency, expected: line.userInterest, details: { balance: line.balance } })];
  }
  if (toUnits(line.balance) === 0n && reported.units > 0n) {
    return [
      breakDraft('unexpected_interest', {
        earnAccountId: line.earnAccountId,
        currency: line.currency,
        expected: line.userInterest,
        actual: formatUnits(reported.units),
        details: { balance: line.balance, entryIds: reported.ids },
      }),
    ];
  }
  if (absolute(reported.units - expectedUnits) <= tolerance) return [];
  return [
    breakDraft('interest_mismatch', {
      earnAccountId: line.earnAccountId,
      currency: line.currency,
      expected: line.userInterest,
      actual: formatUnits(reported.units),
      details: { balance: line.balance, differenceUnits: String(reported.units - expectedUnits), toleranceUnits: String(tolerance), entryIds: reported.ids },
    }),
  ];
}

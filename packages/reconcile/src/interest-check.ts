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
  /** The currency of the account's first entry; `units` and `ids` are its entries in that currency. */
  readonly currency: string;
  readonly units: bigint;
  readonly ids: readonly string[];
  /** The account's entries in other currencies, per currency (absent or empty: none). */
  readonly others?: readonly { readonly currency: string; readonly units: bigint; readonly ids: readonly string[] }[];
}

/** What {@link sumReportedInterest} reads of a report entry. */
export type ReportedInterestEntry = Pick<ReportEntry, 'id' | 'amount' | 'accountId' | 'currency'>;

/** Sums the interest entries of one account (all with that `accountId`); a repeated id counts once. */
export function sumReportedInterest(entries: readonly ReportedInterestEntry[]): ReportedInterest {
  const seen = new Set<string>();
  // Per currency in order of first appearance: an account's interest is in its own currency, and
  // an entry in another is a break of its own, not part of the sum.
  const parts = new Map<string, { currency: string; units: bigint; ids: string[] }>();
  for (const entry of entries) {
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    const part = parts.get(entry.currency) ?? { currency: entry.currency, units: 0n, ids: [] };
    part.units += toUnits(entry.amount);
    part.ids.push(entry.id);
    parts.set(entry.currency, part);
  }
  const [main, ...others] = [...parts.values()];
  const accountId = entries[0]?.accountId ?? '';
  if (main === undefined) return { accountId, currency: '', units: 0n, ids: [] };
  return others.length === 0 ? { accountId, ...main } : { accountId, ...main, others };
}

/** The reported parts of an account's interest, one per currency. */
function partsOf(reported: ReportedInterest): { currency: string; units: bigint; ids: readonly string[] }[] {
  return [{ currency: reported.currency, units: reported.units, ids: reported.ids }, ...(reported.others ?? [])];
}

/** What {@link diffInterest} reads of a recomputed line (the rest of a `CycleLine` need not be kept). */
export type InterestLine = Pick<CycleLine, 'earnAccountId' | 'currency' | 'balance' | 'userInterest'>;

function absolute(value: bigint): bigint {
  return value < 0n ? -value : value;
}

/**
 * One account: interest missing on a positive balance (`missing_interest`), interest on a zero
 * balance or on an account the books do not have (`unexpected_interest`), a difference beyond
 * the currency's tolerance (`interest_mismatch`), or interest reported in another currency than
 * the account's (`currency_mismatch`, one per such currency; only the account's own currency is
 * compared with the recomputation, so interest reported in no other shows as missing).
 */
export function diffInterest(line: InterestLine | undefined, reported: ReportedInterest | undefined, toleranceUnits: (currency: string) => bigint): BreakDraft[] {
  const parts = line === undefined || reported === undefined ? [] : partsOf(reported);
  if (line !== undefined && reported !== undefined && parts.some((part) => part.currency !== line.currency)) {
    const breaks = parts
      .filter((part) => part.currency !== line.currency)
      .map((part) =>
        breakDraft('currency_mismatch', {
          earnAccountId: line.earnAccountId,
          currency: part.currency,
          expected: line.currency,
          actual: part.currency,
          details: { reason: `interest reported in ${part.currency} for an Earn account in ${line.currency}`, reported: formatUnits(part.units), entryIds: part.ids },
        }),
      );
    // The account's own currency alone is compared with the recomputation.
    const own = parts.find((part) => part.currency === line.currency);
    return [...breaks, ...diffInterest(line, own === undefined ? undefined : { accountId: reported.accountId, ...own }, toleranceUnits)];
  }
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

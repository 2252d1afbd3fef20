/**
 * The day-level checks (pure), once every entry has been seen: the partner margin per currency
 * against the recomputation, the fees against their approval limit, and the outstanding balance
 * per currency against the report's.
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { DailyReport } from '@earnbook/earn-client/contract';
import { breakDraft } from './diff.js';
import type { BreakDraft } from './diff.js';
import { compareKeys } from './keys.js';

function absolute(value: bigint): bigint {
  return value < 0n ? -value : value;
}

function currenciesOf(...maps: readonly ReadonlyMap<string, unknown>[]): string[] {
  return [...new Set(maps.flatMap((map) => [...map.keys()]))].sort(compareKeys);
}

/** `margin_mismatch` where the reported margin of a currency differs from the recomputed beyond tolerance. */
export function marginBreaks(recomputed: ReadonlyMap<string, bigint>, reported: ReadonlyMap<string, bigint>, toleranceUnits: (currency: string) => bigint): BreakDraft[] {
  return currenciesOf(recomputed, reported).flatMap((currency) => {
    const expected = recomputed.get(currency) ?? 0n;
    const actual = reported.get(currency) ?? 0n;
    if (absolute(expected - actual) <= toleranceUnits(currency)) return [];
    return [breakDraft('margin_mismatch', { currency, expected: formatUnits(expected), actual: formatUnits(actual), details: { differenceUnits: String(actual - expected) } })];
  });
}

/**
 * `approval_required` where the day's fees of a currency exceed its approval limit: a fee is an
 * amount only the provider knows, so above the limit no settlement instruction is issued until a
 * person resolves the break.
 */
export function approvalBreaks(fees: ReadonlyMap<string, bigint>, limitUnits: (currency: string) => bigint): BreakDraft[] {
  return currenciesOf(fees).flatMap((currency) => {
    const total = fees.get(currency) ?? 0n;
    const limit = limitUnits(currency);
    if (total <= limit) return [];
    return [breakDraft('approval_required', { currency, expected: formatUnits(limit), actual: formatUnits(total), details: { reason: 'the day\'s fees exceed the approval limit; resolve the break to approve them' } })];
  });
}

/** `outstanding_balance_mismatch` where the local outstanding balance differs from the report's. */
export function outstandingBreaks(outstanding: ReadonlyMap<string, bigint>, balances: DailyReport['balances'], toleranceUnits: (currency: string) => bigint): BreakDraft[] {
  const reported = new Map(balances.map((balance) => [balance.currency, toUnits(balance.outstandingBalance)]));
  return currenciesOf(outstanding, reported).flatMap((currency) => {
    const expected = outstanding.get(currency) ?? 0n;
    const actual = reported.get(currency);
    if (actual === undefined ? expected === 0n : absolute(expected - actual) <= toleranceUnits(currency)) return [];
    return [
      breakDraft('outstanding_balance_mismatch', {
        currency,
        expected: formatUnits(expected),
        actual: actual === undefined ? null : formatUnits(actual),
        details: actual === undefined ? { reason: 'the report has no balance for the currency' } : { differenceUnits: String(actual - expected) },
      }),
    ];
  });
}

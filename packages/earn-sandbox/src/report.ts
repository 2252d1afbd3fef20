/**
 * The daily report as the sandbox publishes it, and the report faults applied to a copy of it
 * (the books are never changed by a report fault).
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { ReportFaults } from './faults.js';
import type { SettlementFigures } from './settlement.js';

/** One journal entry of a report, in the contract's shape. */
export interface ReportEntryJson {
  readonly id: string;
  readonly type: string;
  readonly currency: string;
  readonly amount: string;
  readonly createdAt: string;
  readonly accountId?: string;
  readonly userId?: string;
  readonly productId?: string;
  readonly bookingId?: string;
  readonly idempotencyKey?: string;
}

/** The settlement figures of one currency, in the contract's shape. */
export interface ReportBalanceJson {
  readonly currency: string;
  readonly outstandingBalance: string;
  readonly deposits: string;
  readonly withdrawals: string;
  readonly fees: string;
  readonly partnerMargin: string;
  readonly settled: string;
  readonly carried: string;
}

/** A daily report, in the contract's shape. */
export interface DailyReportJson {
  readonly id: string;
  readonly type: 'Report';
  readonly entity: string;
  readonly accountingDay: string;
  readonly timeZone: string;
  readonly generatedAt: string;
  readonly transactions: readonly ReportEntryJson[];
  readonly balances: readonly ReportBalanceJson[];
}

/** The report balance of one currency's settlement figures. */
export function reportBalanceOf(figures: SettlementFigures): ReportBalanceJson {
  return {
    currency: figures.currency,
    outstandingBalance: figures.outstanding,
    deposits: figures.deposits,
    withdrawals: figures.withdrawals,
    fees: figures.fees,
    partnerMargin: figures.partnerMargin,
    settled: figures.settled,
    carried: figures.carriedOut,
  };
}

/** Adds `units` to the amount of the first Interest entry (never below zero). */
function shiftFirstInterest(entries: readonly ReportEntryJson[], units: bigint): ReportEntryJson[] {
  const index = entries.findIndex((entry) => entry.type === 'Interest');
  return entries.map((entry, position) => {
    if (position !== index) return entry;
    const shifted = toUnits(entry.amount) + units;
    return { ...entry, amount: formatUnits(shifted < 0n ? 0n : shifted) };
  });
}

/**
 * Applies the report faults to a true report: what is published as version 1, and, for a
 * restatement, a second version (a new id, the same day) whose first interest entry differs.
 */
export function applyReportFaults(report: DailyReportJson, faults: ReportFaults, restatedId: string): { readonly published: DailyReportJson; readonly restated: DailyReportJson | undefined } {
  let transactions: ReportEntryJson[] = [...report.transactions];
  if (faults.interestOffUnits !== undefined) transactions = shiftFirstInterest(transactions, faults.interestOffUnits);
  if (faults.duplicateEntry && transactions[0] !== undefined) transactions.push({ ...transactions[0] });
  const published: DailyReportJson = { ...report, transactions };
  const restated: DailyReportJson | undefined =
    faults.restateDeltaUnits === undefined ? undefined : { ...report, id: restatedId, transactions: shiftFirstInterest(report.transactions, faults.restateDeltaUnits) };
  return { published, restated };
}

/**
 * A restatement of a published report: the same day under `id`, its first interest entry changed
 * by `deltaUnits` (never below zero); `undefined` when the report has no interest entry to change.
 */
export function restatedReport(report: DailyReportJson, input: { readonly id: string; readonly deltaUnits: bigint }): DailyReportJson | undefined {
  if (!report.transactions.some((entry) => entry.type === 'Interest')) return undefined;
  return { ...report, id: input.id, transactions: shiftFirstInterest(report.transactions, input.deltaUnits) };
}

/**
 * The provider's settlement netting of one currency and day, as a pure function on units of the
 * 18th decimal: payables (partner → provider) = deposits + fees; receivables (provider → partner)
 * = withdrawals + partner margin; net = receivables − payables; the outstanding balance is the
 * net plus what the previous day carried. When its magnitude is below the currency's minimum
 * settlement threshold it is carried to the next day; otherwise it is settled in full.
 *
 * The sandbox keeps its own implementation (the reconciler has another) so that the two can
 * catch each other's mistakes.
 */
import { formatUnits } from '@earnbook/ledger';
import type { Amount } from '@earnbook/ledger';

/** The day's sums of one currency, in units of the 18th decimal. */
export interface CurrencyFlowsUnits {
  readonly depositsUnits: bigint;
  readonly withdrawalsUnits: bigint;
  readonly feesUnits: bigint;
  readonly partnerMarginUnits: bigint;
}

/** The settlement figures of one currency and day, signed like the report's `outstandingBalance`. */
export interface SettlementFigures {
  readonly currency: string;
  readonly deposits: Amount;
  readonly withdrawals: Amount;
  readonly fees: Amount;
  readonly partnerMargin: Amount;
  /** receivables − payables of the day. */
  readonly net: Amount;
  readonly carriedIn: Amount;
  /** net + carriedIn: negative means the partner must send that amount. */
  readonly outstanding: Amount;
  /** What the transfer at the day boundary settles (0 when carried). */
  readonly settled: Amount;
  /** What is carried to the next day (0 when settled). */
  readonly carriedOut: Amount;
}

/**
 * Nets one currency's day.
 *
 * @example
 * const figures = settleCurrencyDay({ currency: 'BTC', flows: { depositsUnits: 10n ** 18n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n }, carriedInUnits: 0n, thresholdUnits: 0n });
 * figures.outstanding; // '-1.000000000000000000': the partner sends 1 BTC
 */
export function settleCurrencyDay(input: { readonly currency: string; readonly flows: CurrencyFlowsUnits; readonly carriedInUnits: bigint; readonly thresholdUnits: bigint }): SettlementFigures {
  const { flows } = input;
  const net = flows.withdrawalsUnits + flows.partnerMarginUnits - (flows.depositsUnits + flows.feesUnits);
  const outstanding = net + input.carriedInUnits;
  const magnitude = outstanding < 0n ? -outstanding : outstanding;
  const settle = magnitude !== 0n && magnitude >= input.thresholdUnits;
  return Object.freeze({
    currency: input.currency,
    deposits: formatUnits(flows.depositsUnits),
    withdrawals: formatUnits(flows.withdrawalsUnits),
    fees: formatUnits(flows.feesUnits),
    partnerMargin: formatUnits(flows.partnerMarginUnits),
    net: formatUnits(net),
    carriedIn: formatUnits(input.carriedInUnits),
    outstanding: formatUnits(outstanding),
    settled: formatUnits(settle ? outstanding : 0n),
    carriedOut: formatUnits(settle ? 0n : outstanding),
  });
}

/**
 * The provider's settlement netting, per entity, currency and accounting day, as a pure
 * function: payables (partner → provider) = deposits + fees; receivables (provider → partner) =
 * withdrawals + partner margin; net = receivables − payables. The outstanding balance is the net
 * plus what was carried in; when its magnitude is below the currency's minimum settlement
 * threshold it is carried to the next day instead of being settled.
 */
import { formatUnits } from '@earnbook/ledger';
import type { Amount } from '@earnbook/ledger';
import type { LocalEntry } from './diff.js';
import { invalid, readFields } from './input-guards.js';

/** The day's sums of one currency, in minor units (18 decimals). */
export interface DayFlows {
  readonly depositsUnits: bigint;
  readonly withdrawalsUnits: bigint;
  readonly feesUnits: bigint;
  readonly partnerMarginUnits: bigint;
}

/** The settlement position of one currency for one day. */
export interface SettlementPosition {
  readonly currency: string;
  readonly payables: Amount;
  readonly receivables: Amount;
  readonly net: Amount;
  readonly carriedIn: Amount;
  /** net + carriedIn, signed like the report: negative = the partner must send. */
  readonly outstanding: Amount;
  readonly settled: Amount;
  readonly carriedOut: Amount;
}

/** Input of {@link computeSettlement}: named, so that two amounts cannot be swapped unnoticed. */
export interface ComputeSettlementInput {
  readonly currency: string;
  readonly flows: DayFlows;
  /** The outstanding balance carried in from the previous day, in minor units. */
  readonly carriedInUnits: bigint;
  /** The minimum settlement in minor units (0 = always settle). */
  readonly thresholdUnits: bigint;
}

/** A figure of the input in minor units: a bigint (a number would lose units, and mixing the two throws a TypeError). */
function unitsOf(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint') invalid(field, value, 'must be an amount in minor units (a bigint)');
  return value;
}

/**
 * Nets one currency's day. Its fields are read once; one that is not a bigint, or that cannot be
 * read (a revoked proxy, a getter that throws), is `invalid_input` naming it.
 *
 * @example
 * const flows = { depositsUnits: 2n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
 * computeSettlement({ currency: 'BTC', flows, carriedInUnits: 0n, thresholdUnits: 0n }).outstanding // '-0.000000000000000002'
 */
export function computeSettlement(given: ComputeSettlementInput): SettlementPosition {
  const input = readFields(given, ['currency', 'flows', 'carriedInUnits', 'thresholdUnits']);
  const flowFields = readFields(input.flows, ['depositsUnits', 'withdrawalsUnits', 'feesUnits', 'partnerMarginUnits'], { field: 'flows', nested: true });
  const flows: DayFlows = {
    depositsUnits: unitsOf(flowFields.depositsUnits, 'flows.depositsUnits'),
    withdrawalsUnits: unitsOf(flowFields.withdrawalsUnits, 'flows.withdrawalsUnits'),
    feesUnits: unitsOf(flowFields.feesUnits, 'flows.feesUnits'),
    partnerMarginUnits: unitsOf(flowFields.partnerMarginUnits, 'flows.partnerMarginUnits'),
  };
  const { currency } = input;
  const carriedInUnits = unitsOf(input.carriedInUnits, 'carriedInUnits');
  const thresholdUnits = unitsOf(input.thresholdUnits, 'thresholdUnits');
  const payables = flows.depositsUnits + flows.feesUnits;
  const receivables = flows.withdrawalsUnits + flows.partnerMarginUnits;
  const net = receivables - payables;
  const outstanding = net + carriedInUnits;
  const magnitude = outstanding < 0n ? -outstanding : outstanding;
  const settle = magnitude !== 0n && magnitude >= thresholdUnits;
  return {
    currency,
    payables: formatUnits(payables),
    receivables: formatUnits(receivables),
    net: formatUnits(net),
    carriedIn: formatUnits(carriedInUnits),
    outstanding: formatUnits(outstanding),
    settled: formatUnits(settle ? outstanding : 0n),
    carriedOut: formatUnits(settle ? 0n : outstanding),
  };
}

/** The flow each counted kind of local entry adds to (a Map: no kind of the prototype counts). */
const FLOW_OF_KIND: ReadonlyMap<string, keyof DayFlows> = new Map([
  ['deposit', 'depositsUnits'],
  ['withdrawal', 'withdrawalsUnits'],
  ['fee', 'feesUnits'],
  ['partner_margin', 'partnerMarginUnits'],
]);

/** A currency code given to {@link DayFlowTotals}: non-empty text. */
function currencyOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) invalid(field, value, 'must be a currency code (non-empty text)');
  return value;
}

/**
 * The day's flows of every currency, summed as local entries of the day pass. Exported: an entry
 * given is read once and checked before anything is added, so a refused one leaves the totals as
 * they were.
 */
export class DayFlowTotals {
  readonly #flows = new Map<string, { depositsUnits: bigint; withdrawalsUnits: bigint; feesUnits: bigint; partnerMarginUnits: bigint }>();

  #of(currency: string) {
    let value = this.#flows.get(currency);
    if (value === undefined) {
      value = { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
      this.#flows.set(currency, value);
    }
    return value;
  }

  /**
   * Adds a local entry of the day (a deposit, withdrawal, fee or partner margin; other kinds are
   * ignored). `invalid_input` naming the part when the entry is not an object or cannot be read,
   * its kind is not text, or (for a counted kind) its currency is not a currency code or its
   * `amountUnits` not a bigint.
   */
  add(entry: LocalEntry): void {
    // The kind first: the night's interest entries (most of them) are ignored after one read.
    const { kind } = readFields(entry, ['kind'], { field: 'entry', nested: true });
    if (typeof kind !== 'string') invalid('entry.kind', kind, 'must be the kind of a local entry (text)');
    const flow = FLOW_OF_KIND.get(kind);
    if (flow === undefined) return;
    const { currency, amountUnits } = readFields(entry, ['currency', 'amountUnits'], { field: 'entry', nested: true });
    const code = currencyOf(currency, 'entry.currency');
    const units = unitsOf(amountUnits, 'entry.amountUnits');
    this.#of(code)[flow] += units;
  }

  /** Makes sure a currency has a position (e.g. one with an amount carried in). */
  touch(currency: string): void {
    this.#of(currencyOf(currency, 'currency'));
  }

  /** The currencies seen, sorted, with their flows. */
  entries(): [string, DayFlows][] {
    return [...this.#flows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

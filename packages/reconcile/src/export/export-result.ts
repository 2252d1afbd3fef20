/**
 * What an export function answers: the rows it wrote, the bytes and their SHA-256, and exact
 * totals per currency.
 */
import type { WrittenBytes } from './hashing-stream.js';

/** Debit and credit totals of one currency, canonical at 18 decimals. */
export interface DebitCreditTotals {
  readonly debit: string;
  readonly credit: string;
}

/** The result of a CSV or journal export. */
export interface ExportResult<Totals> extends WrittenBytes {
  /** Data rows written (the header line not counted; for the hledger journal: transactions). */
  readonly rows: number;
  /** Totals per currency, sorted by currency code. */
  readonly totals: ReadonlyMap<string, Totals>;
}

/** Accumulates debit and credit minor units per currency. */
export class DebitCreditAccumulator {
  readonly #debit = new Map<string, bigint>();
  readonly #credit = new Map<string, bigint>();

  /** Adds a signed amount in minor units: positive is a debit, negative a credit. */
  addSigned(currency: string, units: bigint): void {
    if (units >= 0n) this.#debit.set(currency, (this.#debit.get(currency) ?? 0n) + units);
    else this.#credit.set(currency, (this.#credit.get(currency) ?? 0n) - units);
  }

  /** Debit and credit totals in minor units, per currency. */
  units(): Map<string, { debit: bigint; credit: bigint }> {
    const currencies = [...new Set([...this.#debit.keys(), ...this.#credit.keys()])].sort();
    return new Map(currencies.map((currency) => [currency, { debit: this.#debit.get(currency) ?? 0n, credit: this.#credit.get(currency) ?? 0n }]));
  }
}

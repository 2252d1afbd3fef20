/**
 * What an export function answers: the rows it wrote, the bytes and their SHA-256, and exact
 * totals per entity and currency.
 */
import { assertInvariant, formatUnits } from '@earnbook/ledger';
import type { WrittenBytes } from './hashing-stream.js';

/** Debit and credit totals of one currency, canonical at 18 decimals. */
export interface DebitCreditTotals {
  readonly debit: string;
  readonly credit: string;
}

/**
 * Totals per entity, then per currency, both sorted. Each entity is a legal entity with books of
 * its own: an all-entities export never adds one entity's figures to another's.
 */
export type EntityTotals<Totals> = ReadonlyMap<string, ReadonlyMap<string, Totals>>;

/** The result of a CSV or journal export. */
export interface ExportResult<Totals> extends WrittenBytes {
  /** Data rows written (the header line not counted; for the hledger journal: transactions). */
  readonly rows: number;
  /** Totals per entity, then per currency, both sorted by their code. */
  readonly totals: EntityTotals<Totals>;
}

/**
 * Sums kept per entity, then per currency, each starting at `start()`.
 * Exported for the exporters, not part of the package's surface.
 */
export class EntitySums<Sum> {
  readonly #sums = new Map<string, Map<string, Sum>>();
  readonly #start: () => Sum;

  constructor(start: () => Sum) {
    this.#start = start;
  }

  /** The running sum of an (entity, currency), created at `start()` on first use. */
  of(entity: string, currency: string): Sum {
    let currencies = this.#sums.get(entity);
    if (currencies === undefined) {
      currencies = new Map();
      this.#sums.set(entity, currencies);
    }
    let sum = currencies.get(currency);
    if (sum === undefined) {
      sum = this.#start();
      currencies.set(currency, sum);
    }
    return sum;
  }

  /** Each sum through `format`, entities and currencies sorted, frozen. */
  totals<Totals>(format: (sum: Sum) => Totals): EntityTotals<Totals> {
    const sorted = <T>(map: ReadonlyMap<string, T>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return new Map(sorted(this.#sums).map(([entity, currencies]) => [entity, new Map(sorted(currencies).map(([currency, sum]) => [currency, Object.freeze(format(sum))]))]));
  }

  /** Every (entity, currency, sum), in insertion order (for checks). */
  *entries(): IterableIterator<[string, string, Sum]> {
    for (const [entity, currencies] of this.#sums) for (const [currency, sum] of currencies) yield [entity, currency, sum];
  }
}

/** Accumulates debit and credit minor units per entity and currency. */
export class DebitCreditAccumulator {
  readonly #sums = new EntitySums(() => ({ debit: 0n, credit: 0n }));

  /** Adds a signed amount in minor units: positive is a debit, negative a credit. */
  addSigned(entity: string, currency: string, units: bigint): void {
    const sum = this.#sums.of(entity, currency);
    if (units >= 0n) sum.debit += units;
    else sum.credit -= units;
  }

  /**
   * Asserts that debits equal credits in every entity and currency: each entity's books balance
   * on their own, so a difference is a broken invariant and throws, with `what` in the message.
   */
  assertBalanced(what: string): void {
    for (const [entity, currency, { debit, credit }] of this.#sums.entries()) {
      assertInvariant(debit === credit, `${what}: ${entity} ${currency} debits ${formatUnits(debit)} differ from credits ${formatUnits(credit)}`);
    }
  }

  /** Debit and credit totals at 18 decimals, per entity and currency. */
  totals(): EntityTotals<DebitCreditTotals> {
    return this.#sums.totals(({ debit, credit }) => ({ debit: formatUnits(debit), credit: formatUnits(credit) }));
  }
}

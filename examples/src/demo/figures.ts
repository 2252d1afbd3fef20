/**
 * The demo's figures per entity and currency, read back from the partner's own books (not from
 * what the demo meant to do): deposits, withdrawals, interest and partner margin from the
 * journal, settlements from the confirmed instructions, breaks from the reconciler, and the
 * outstanding balance next to the provider's.
 */
import { sql } from 'kysely';
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { EarnBooks, Ledger } from '@earnbook/ledger';
import type { Reconciler } from '@earnbook/reconcile';

/** One row of the summary: exact 18-decimal amounts. */
export interface CurrencyFigures {
  readonly entity: string;
  readonly currency: string;
  readonly deposits: string;
  readonly withdrawals: string;
  readonly interest: string;
  readonly partnerMargin: string;
  /** Confirmed transfers partner → provider. */
  readonly settledToProvider: string;
  /** Confirmed transfers provider → partner. */
  readonly settledFromProvider: string;
  /** Breaks found (open and resolved) whose currency is this one. */
  readonly breaksFound: number;
  readonly breaksOpen: number;
  /** The outstanding balance in the partner's books (negative: the partner owes). */
  readonly outstanding: string;
  /** The provider's figure, as its API answers now; null if not asked. */
  readonly providerOutstanding: string | null;
}

/**
 * Reads the figures of every (entity, currency) that has a product. One aggregate query over the
 * journal per entity (the dialect's exact sum: no float anywhere).
 */
export async function readFigures(input: {
  readonly ledger: Ledger;
  readonly books: EarnBooks;
  readonly reconciler: Reconciler;
  readonly entities: readonly string[];
  readonly currencies: ReadonlyMap<string, readonly string[]>;
  readonly providerOutstanding?: ReadonlyMap<string, string>;
}): Promise<CurrencyFigures[]> {
  const { ledger } = input;
  const sum = sql.raw(ledger.dialect.exactSumFunction);
  const figures: CurrencyFigures[] = [];
  for (const entity of input.entities) {
    const rows = await ledger.db
      .selectFrom('journal_entries as e')
      .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
      .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
      .select(['t.kind as kind', 'e.currency as currency', sql<string>`${sum}(e.amount)`.as('total')])
      .where('e.entity', '=', entity)
      .where((eb) =>
        eb.or([
          eb.and([eb('a.kind', '=', 'user'), eb('t.kind', 'in', ['deposit', 'withdrawal', 'interest'])]),
          eb.and([eb('a.kind', '=', 'partner_margin_income'), eb('t.kind', '=', 'partner_margin')]),
        ]),
      )
      .groupBy(['t.kind', 'e.currency'])
      .execute();
    // Entries are signed (debit positive): user accounts are credited by deposits and interest.
    const total = (kind: string, currency: string): bigint => {
      const row = rows.find((candidate) => candidate.kind === kind && candidate.currency === currency);
      return row === undefined ? 0n : toUnits(row.total);
    };
    const instructions = await input.reconciler.instructions({ entity, status: 'confirmed' });
    const breaks = await input.reconciler.breaks({ entity });
    for (const currency of input.currencies.get(entity) ?? []) {
      let toProvider = 0n;
      let fromProvider = 0n;
      for (const instruction of instructions) {
        if (instruction.currency !== currency) continue;
        if (instruction.direction === 'to_provider') toProvider += toUnits(instruction.amount);
        else fromProvider += toUnits(instruction.amount);
      }
      const ofCurrency = breaks.filter((found) => found.currency === currency);
      figures.push({
        entity,
        currency,
        deposits: formatUnits(-total('deposit', currency)),
        withdrawals: formatUnits(total('withdrawal', currency)),
        interest: formatUnits(-total('interest', currency)),
        partnerMargin: formatUnits(-total('partner_margin', currency)),
        settledToProvider: formatUnits(toProvider),
        settledFromProvider: formatUnits(fromProvider),
        breaksFound: ofCurrency.length,
        breaksOpen: ofCurrency.filter((found) => found.status === 'open').length,
        outstanding: await input.books.outstandingBalance({ entity, currency }),
        providerOutstanding: input.providerOutstanding?.get(`${entity} ${currency}`) ?? null,
      });
    }
  }
  return figures;
}

/** An exact amount rounded half-even to `decimals` places for display, with thousands separators. */
export function displayAmount(amount: string, decimals = 6): string {
  const units = toUnits(amount);
  const step = 10n ** BigInt(18 - decimals);
  const negative = units < 0n;
  const magnitude = negative ? -units : units;
  let quotient = magnitude / step;
  const remainder = magnitude % step;
  if (remainder * 2n > step || (remainder * 2n === step && quotient % 2n === 1n)) quotient += 1n;
  const digits = quotient.toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const text = decimals === 0 ? whole : `${whole}.${digits.slice(digits.length - decimals)}`;
  return negative && quotient !== 0n ? `-${text}` : text;
}

/** Amounts per accounting day of one (entity, currency), exact, for the summary's charts. */
export interface DailySeries {
  readonly entity: string;
  readonly currency: string;
  /** Interest credited to users, by the accounting day it was credited. */
  readonly interestCredited: ReadonlyMap<string, string>;
  /** The outstanding balance with the provider at the end of each day (negative: the partner owes). */
  readonly outstanding: ReadonlyMap<string, string>;
}

/**
 * Reads the daily figures of every (entity, currency) over `days`: interest by one exact
 * aggregate query per entity, the outstanding balance from the settlement account's end-of-day
 * balance (the ledger's per-day balances, one probe per day; zero for a currency never booked).
 * Reads only: it opens no account.
 */
export async function readDailySeries(input: {
  readonly ledger: Ledger;
  readonly entities: readonly string[];
  readonly currencies: ReadonlyMap<string, readonly string[]>;
  readonly days: readonly string[];
}): Promise<DailySeries[]> {
  const { ledger } = input;
  const sum = sql.raw(ledger.dialect.exactSumFunction);
  const first = input.days[0];
  const last = input.days[input.days.length - 1];
  if (first === undefined || last === undefined) return [];
  const series: DailySeries[] = [];
  for (const entity of input.entities) {
    const rows = await ledger.db
      .selectFrom('journal_entries as e')
      .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
      .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
      .select(['e.accounting_day as day', 'e.currency as currency', sql<string>`${sum}(e.amount)`.as('total')])
      .where('e.entity', '=', entity)
      .where('t.kind', '=', 'interest')
      .where('a.kind', '=', 'user')
      .where('e.accounting_day', '>=', first)
      .where('e.accounting_day', '<=', last)
      .groupBy(['e.accounting_day', 'e.currency'])
      .execute();
    for (const currency of input.currencies.get(entity) ?? []) {
      // User accounts are credited by interest: the signed sum is negative.
      const interestCredited = new Map(rows.filter((row) => row.currency === currency).map((row) => [row.day, formatUnits(-toUnits(row.total))]));
      // Found, never opened: a currency the entity never booked has no settlement account, and a
      // read of the figures must not write one (its outstanding balance is zero every day).
      const account = await ledger.findAccount({ entity, currency, code: 'settlement' });
      const outstanding = new Map<string, string>();
      for (const day of input.days) outstanding.set(day, account === undefined ? formatUnits(0n) : await ledger.balanceAtEndOfDay(account.id, day));
      series.push({ entity, currency, interestCredited, outstanding });
    }
  }
  return series;
}

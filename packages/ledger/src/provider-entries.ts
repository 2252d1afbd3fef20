/**
 * The ledger's read API for what a reconciliation with the provider needs: the provider entries
 * (deposits, withdrawals, interest, partner margin, fees), each with its one relevant line, read
 * a day at a time in book order and in bounded pages; lookups by provider id anywhere in the
 * books; Earn accounts by id. The ledger's own conventions (which line is relevant, the
 * `interestDay` metadata, the Earn account of a user line) stay here.
 *
 * A provider entry is either a whole transaction that carries a provider id (`post`,
 * `postMany`) or one line of a compound transaction that carries its own (`postLines`: the
 * accounting cycle's interest, the report sync); callers see both alike, one entry per provider
 * id and transaction, several entries of one compound transaction sharing its `transactionId`.
 *
 * Every function takes an optional `db`: pass the transaction of a write in progress to read
 * inside it (on SQLite the one connection is held by that transaction).
 */
import type { Kysely } from 'kysely';
import { LedgerError, describeValue, isArrayInput, requireObject } from './errors.js';
import { absoluteStoredAmount } from './money.js';
import type { Amount } from './money.js';
import { parseAccountingDay } from './calendar.js';
import { parseTransactionKind } from './posting.js';
import type { TransactionKind } from './posting.js';
import type { Ledger } from './ledger.js';
import type { LedgerDatabase } from './db/schema.js';
import { selectEarnAccountsByIds, selectProviderDayMark, selectProviderEntriesByIds, selectProviderEntriesOfDayInBookOrder } from './db/provider-entries-repository.js';
import type { ProviderEntryRow } from './db/provider-entries-repository.js';
import { wholeNumber } from './whole-number.js';

/** Provider entries one page may return. */
export const PROVIDER_ENTRY_PAGE_SIZE_MAX = 10_000;
/** Provider ids or Earn account ids one lookup may name. */
export const PROVIDER_LOOKUP_IDS_MAX = 1_000;

/** A provider entry: a transaction that carries a provider id, or a line of a compound transaction that carries its own, seen through its relevant line. */
export interface ProviderEntry {
  readonly transactionId: number;
  readonly kind: TransactionKind;
  readonly providerId: string;
  readonly accountingDay: string;
  readonly occurredAt: string;
  /** For interest, margin and fees: the day that earned it (its `interestDay`, else its own day). */
  readonly interestDay: string | null;
  /** Positive amount of the relevant line: the user's account, or `settlement` for margin and fees (a compound line is its own relevant line). */
  readonly amount: Amount;
  readonly currency: string;
  /** The Earn account of the user line (deposits, withdrawals, interest). */
  readonly earnAccountId: string | null;
}

/** The `interestDay` of a transaction's metadata. */
function interestDayOf(metadata: string | null): string | null {
  if (metadata === null) return null;
  const value = (JSON.parse(metadata) as Record<string, unknown>)['interestDay'];
  return typeof value === 'string' ? value : null;
}

/**
 * Maps rows to entries. The lines of one compound transaction come together and share its
 * metadata: it is parsed once per run of equal texts, not once per line.
 */
function toProviderEntries(rows: readonly ProviderEntryRow[]): ProviderEntry[] {
  let metadata: string | null | undefined;
  let interestDay: string | null = null;
  return rows.map((row) => {
    if (row.metadata !== metadata) {
      metadata = row.metadata;
      interestDay = interestDayOf(row.metadata);
    }
    return toProviderEntry(row, interestDay);
  });
}

function toProviderEntry(row: ProviderEntryRow, interestDay: string | null): ProviderEntry {
  const booking = row.kind === 'deposit' || row.kind === 'withdrawal';
  return {
    transactionId: row.id,
    kind: row.kind as TransactionKind,
    providerId: row.provider_id ?? '',
    accountingDay: row.accounting_day,
    occurredAt: row.occurred_at,
    interestDay: booking ? null : (interestDay ?? row.accounting_day),
    amount: absoluteStoredAmount(row.amount),
    currency: row.currency,
    earnAccountId: row.earn_account_id,
  };
}

/** A kinds filter: absent (every kind, null), or a non-empty list of transaction kinds. */
function checkKinds(kinds: readonly TransactionKind[] | undefined): readonly TransactionKind[] | null {
  if (kinds === undefined) return null;
  if (!isArrayInput(kinds, 'kinds') || kinds.length === 0) {
    throw new LedgerError('invalid_input', `kinds must list at least one kind, got ${describeValue(kinds)}`, { field: 'kinds', value: describeValue(kinds) });
  }
  kinds.forEach((kind: unknown, index) => parseTransactionKind(kind, `kinds[${index}]`));
  return kinds;
}

/**
 * A list of ids a lookup takes: an array of strings, at most `max` (a text, or an element that is
 * no string, reached the driver and failed as a raw SqliteError or TypeError; a review, session 44).
 */
function checkIds(ids: unknown, max: number, field: string): readonly string[] {
  if (!isArrayInput(ids, field)) throw new LedgerError('invalid_input', `${field} must be an array of ids, got ${describeValue(ids)}`, { field, value: describeValue(ids) });
  checkLimit(Math.max(1, ids.length), max, `${field}.length`);
  for (let index = 0; index < ids.length; index++) {
    if (typeof ids[index] !== 'string') throw new LedgerError('invalid_input', `${field}[${index}] must be a string, got ${describeValue(ids[index])}`, { field: `${field}[${index}]`, value: describeValue(ids[index]) });
  }
  return ids as readonly string[];
}

function checkLimit(limit: number, max: number, field: string): number {
  return wholeNumber(limit, { field, min: 1, max });
}

/** Where a page of {@link providerEntriesOfDayInBookOrder} starts (exclusive). */
export interface ProviderEntryBookCursor {
  readonly transactionId: number;
  /** The journal entry (line) the last entry was read from. */
  readonly entryId: number;
}

/** A page of {@link providerEntriesOfDayInBookOrder}: its entries and where the next page starts (null after the last). */
export interface ProviderEntryBookPage {
  readonly entries: ProviderEntry[];
  readonly next: ProviderEntryBookCursor | null;
}

/**
 * One page of the provider entries booked on an entity's accounting day in book order
 * (transaction id, then line); `kinds` keeps only transactions of those kinds. The rows are read
 * in about the order they lie in the tables. A caller that needs provider id order sorts them
 * (the reconciler's external sort): the ledger keeps no index in that order, which every line
 * written would pay for at a random place (provider ids are the provider's UUIDs; migration
 * 0010), and which read the rows themselves at random (1M interest lines of a day: ~30 µs a line
 * in provider id order on SQLite).
 *
 * @example
 * let after = null;
 * do {
 *   const page = await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: '2025-03-18', after, limit: 5000 });
 *   // … page.entries
 *   after = page.next;
 * } while (after !== null);
 */
export async function providerEntriesOfDayInBookOrder(
  ledger: Ledger,
  input: { entity: string; day: string; after: ProviderEntryBookCursor | null; limit: number; kinds?: readonly TransactionKind[] },
  db: Kysely<LedgerDatabase> = ledger.db,
): Promise<ProviderEntryBookPage> {
  requireObject(input, 'input');
  const entity = ledger.entity(input.entity).id;
  const day = parseAccountingDay(input.day, 'day');
  const limit = checkLimit(input.limit, PROVIDER_ENTRY_PAGE_SIZE_MAX, 'limit');
  const kinds = checkKinds(input.kinds);
  const after = input.after;
  if (after !== null && (after === undefined || !Number.isSafeInteger(after.transactionId) || !Number.isSafeInteger(after.entryId))) {
    throw new LedgerError('invalid_input', `after must be null or a cursor of two integers, got ${describeValue(after)}`, { field: 'after', value: describeValue(after) });
  }
  const rows = await selectProviderEntriesOfDayInBookOrder(db, ledger.dialect, { entity, day, after, limit, kinds });
  const last = rows[rows.length - 1];
  return { entries: toProviderEntries(rows), next: last === undefined || rows.length < limit ? null : { transactionId: last.id, entryId: last.entry_id } };
}

/**
 * What a read of a day's provider entries depends on, counted: the journal lines booked on the
 * entity's day, and the entity's Earn accounts (a user line's Earn account is joined in). Both
 * only grow (journal rows are immutable by trigger, and so are Earn accounts and the identity of
 * ledger accounts, their kind included: migration 0012), so a
 * mark taken in the same snapshot as a read of the day ({@link Ledger.readSnapshot}) and found
 * equal later says that the day's read would return the same entries then: a caller may keep
 * what it read elsewhere (the reconciler reads a large day on a worker thread while it parses
 * the report) and read again only when the mark moved. The later mark must be taken where every
 * commit the snapshot saw is visible (a write transaction that holds SQLite's lock, or a
 * PostgreSQL read-committed statement).
 */
export interface ProviderDayMark {
  readonly lines: number;
  readonly earnAccounts: number;
}

/** The {@link ProviderDayMark} of an entity's day now (or in `db`'s snapshot or transaction). */
export async function providerEntriesDayMark(ledger: Ledger, input: { entity: string; day: string }, db: Kysely<LedgerDatabase> = ledger.db): Promise<ProviderDayMark> {
  const entity = ledger.entity(input.entity).id;
  const day = parseAccountingDay(input.day, 'day');
  return selectProviderDayMark(db, { entity, day });
}

/** Whether two {@link ProviderDayMark}s are the same. */
export function sameProviderDayMark(a: ProviderDayMark, b: ProviderDayMark): boolean {
  return a.lines === b.lines && a.earnAccounts === b.earnAccounts;
}

/** The provider entries of any day that carry one of `providerIds`, by transaction id. */
export async function providerEntriesByIds(ledger: Ledger, input: { entity: string; providerIds: readonly string[] }, db: Kysely<LedgerDatabase> = ledger.db): Promise<ProviderEntry[]> {
  requireObject(input, 'input');
  const entity = ledger.entity(input.entity).id;
  const providerIds = checkIds(input.providerIds, PROVIDER_LOOKUP_IDS_MAX, 'providerIds');
  return toProviderEntries(await selectProviderEntriesByIds(db, ledger.dialect, { entity, providerIds }));
}

/** Earn accounts of an entity by Earn account id: the ledger account and currency of each known one. */
export async function earnAccountsByIds(
  ledger: Ledger,
  input: { entity: string; earnAccountIds: readonly string[] },
  db: Kysely<LedgerDatabase> = ledger.db,
): Promise<Map<string, { readonly ledgerAccountId: number; readonly currency: string }>> {
  requireObject(input, 'input');
  const entity = ledger.entity(input.entity).id;
  const earnAccountIds = checkIds(input.earnAccountIds, PROVIDER_LOOKUP_IDS_MAX, 'earnAccountIds');
  const rows = await selectEarnAccountsByIds(db, ledger.dialect, { entity, earnAccountIds });
  return new Map(rows.map((row) => [row.earn_account_id, { ledgerAccountId: row.ledger_account_id, currency: row.currency }]));
}

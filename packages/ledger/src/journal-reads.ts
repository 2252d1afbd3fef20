/**
 * Reading the journal back: stored rows as {@link JournalTransaction}s (each asserted to balance
 * per currency after reading), an account's history in pages with an opaque cursor, and the
 * transactions of an accounting day.
 */
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant, describeValue, isArrayInput } from './errors.js';
import { formatUnits, toUnits } from './money.js';
import type { TransactionKind } from './posting.js';
import { DAY_PAGE_SIZE_MAX, HISTORY_PAGE_SIZE_MAX } from './ledger-types.js';
import type { HistoryOptions, HistoryPage, JournalEntry, JournalTransaction } from './ledger-types.js';
import type { LedgerDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { EntryRow } from './db/repository.js';
import { selectHistoryRows, selectTransactionsOfDay } from './db/journal-pages.js';
import { optionalWholeNumber } from './whole-number.js';

/** A stored transaction row. */
export type TransactionRow = NonNullable<Awaited<ReturnType<typeof repository.findTransactionById>>>;

/** A stored entry as the public {@link JournalEntry} (side and positive amount from the signed amount). */
export function rowToEntry(row: EntryRow): JournalEntry {
  const units = toUnits(row.amount);
  return {
    id: row.id,
    transactionId: row.transaction_id,
    accountId: row.account_id,
    currency: row.currency,
    side: units >= 0n ? 'debit' : 'credit',
    amount: formatUnits(units >= 0n ? units : -units),
    balanceAfter: formatUnits(toUnits(row.balance_after)),
    accountingDay: row.accounting_day,
    providerId: row.provider_id,
  };
}

/** A transaction from its stored row and entries; asserts that it balances per currency. */
export function toTransaction(row: TransactionRow, entryRows: readonly EntryRow[]): JournalTransaction {
  // Invariant after reading back: a stored transaction balances per currency.
  const perCurrency = new Map<string, bigint>();
  for (const entry of entryRows) perCurrency.set(entry.currency, (perCurrency.get(entry.currency) ?? 0n) + toUnits(entry.amount));
  assertInvariant(entryRows.length >= 2, `transaction ${row.id} has ${entryRows.length} entries`);
  for (const [currency, total] of perCurrency) assertInvariant(total === 0n, `transaction ${row.id} does not balance in ${currency}`);
  return Object.freeze({
    id: row.id,
    entity: row.entity,
    kind: row.kind as TransactionKind,
    idempotencyKey: row.idempotency_key,
    occurredAt: row.occurred_at,
    accountingDay: row.accounting_day,
    providerId: row.provider_id,
    reversesTransactionId: row.reverses_transaction_id,
    description: row.description,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    entries: Object.freeze(entryRows.map(rowToEntry)),
  });
}

/** A transaction by id with its entries, or an `unknown_transaction` error. */
export async function readTransaction(db: Kysely<LedgerDatabase>, id: number): Promise<JournalTransaction> {
  const row = await repository.findTransactionById(db, id);
  if (row === undefined) throw new LedgerError('unknown_transaction', `transaction ${id} does not exist`, { field: 'transactionId', value: String(id) });
  const entryRows = await repository.selectEntriesOfTransactions(db, [id]);
  return toTransaction(row, entryRows);
}

/** Entries grouped by their transaction id. */
export function entriesByTransaction(entries: readonly EntryRow[]): Map<number, EntryRow[]> {
  const byTransaction = new Map<number, EntryRow[]>();
  for (const entry of entries) {
    const list = byTransaction.get(entry.transaction_id);
    if (list === undefined) byTransaction.set(entry.transaction_id, [entry]);
    else list.push(entry);
  }
  return byTransaction;
}

function encodeCursor(entryId: number): string {
  return Buffer.from(`e:${entryId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): number {
  // A cursor that is not text was Buffer.from's TypeError.
  const text = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^e:(\d{1,15})$/.exec(text);
  if (match === null || match[1] === undefined) {
    throw new LedgerError('invalid_input', `cursor is not a cursor this ledger issued, got ${describeValue(cursor)}`, { field: 'cursor', value: describeValue(cursor) });
  }
  return Number(match[1]);
}

/** A page of an account's entries (the account already checked), by entry id. */
export async function readHistory(db: Kysely<LedgerDatabase>, accountId: number, options: HistoryOptions): Promise<HistoryPage> {
  // `null` skips the caller's default parameter, and reading its fields was a TypeError.
  if (typeof options !== 'object' || options === null || isArrayInput(options, 'options')) {
    throw new LedgerError('invalid_input', `options must be an object such as { limit: 50 }, got ${describeValue(options)}`, { field: 'options', value: describeValue(options) });
  }
  const limit = optionalWholeNumber(options.limit, 50, { field: 'limit', min: 1, max: HISTORY_PAGE_SIZE_MAX });
  const order = options.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new LedgerError('invalid_input', `order must be "asc" or "desc", got ${describeValue(order)}`, { field: 'order', value: describeValue(order) });
  const afterEntryId = options.cursor !== undefined && options.cursor !== null ? decodeCursor(options.cursor) : undefined;
  const rows = await selectHistoryRows(db, { accountId, order, afterEntryId, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((row) => ({ ...rowToEntry(row), kind: row.kind as TransactionKind, occurredAt: row.occurred_at, providerId: row.provider_id ?? row.transaction_provider_id, description: row.description })),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null,
  };
}

/** A page of an entity's transactions of a day (entity and day already checked), by id. */
export async function readTransactionsOfDay(db: Kysely<LedgerDatabase>, input: { entity: string; day: string; afterId?: number; limit?: number }): Promise<JournalTransaction[]> {
  const limit = optionalWholeNumber(input.limit, HISTORY_PAGE_SIZE_MAX, { field: 'limit', min: 1, max: DAY_PAGE_SIZE_MAX });
  // Unchecked, NaN or Infinity read an empty page and "1" was compared as text.
  const afterId = optionalWholeNumber(input.afterId, 0, { field: 'afterId', min: 0, max: Number.MAX_SAFE_INTEGER });
  const rows = await selectTransactionsOfDay(db, { entity: input.entity, day: input.day, afterId, limit });
  const byTransaction = entriesByTransaction(await repository.selectEntriesOfTransactions(db, rows.map((row) => row.id)));
  return rows.map((row) => toTransaction(row, byTransaction.get(row.id) ?? []));
}

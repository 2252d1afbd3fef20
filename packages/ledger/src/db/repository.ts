/**
 * Every SQL statement of the journal, as functions over a `Kysely` handle or transaction.
 * No rules live here: callers decide, these functions read and write.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { LedgerDialect } from './dialect.js';
import type { JournalEntryTable, JournalTransactionTable, LedgerAccountTable, LedgerDatabase } from './schema.js';
import type { Insertable, Selectable } from 'kysely';
import type { BulkAccountRow } from './journal-bulk.js';
import { textArrayLiteral } from './postgres/array-literal.js';

export type AccountRow = Selectable<LedgerAccountTable>;
export type EntryRow = Selectable<JournalEntryTable>;
type Db = Kysely<LedgerDatabase>;

/** The transaction of an (entity, idempotency key), if any. */
export async function findTransactionByKey(db: Db, entity: string, idempotencyKey: string) {
  return db.selectFrom('journal_transactions').selectAll().where('entity', '=', entity).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
}

/**
 * The transaction of an (entity, kind, provider id), if any: the transaction that carries it, or
 * the compound transaction one of whose entries carries it (`postLines`).
 */
export async function findTransactionByProviderId(db: Db, entity: string, kind: string, providerId: string) {
  const whole = await db
    .selectFrom('journal_transactions')
    .selectAll()
    .where('entity', '=', entity)
    .where('kind', '=', kind)
    .where('provider_id', '=', providerId)
    .executeTakeFirst();
  if (whole !== undefined) return whole;
  return db
    .selectFrom('journal_entries as e')
    .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
    .selectAll('t')
    .where('e.entity', '=', entity)
    .where('e.provider_id', '=', providerId)
    .where('t.kind', '=', kind)
    .executeTakeFirst();
}

/** A transaction by id. */
export async function findTransactionById(db: Db, id: number) {
  return db.selectFrom('journal_transactions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The transaction that reverses `id`, if any. */
export async function findReversalOf(db: Db, id: number) {
  return db.selectFrom('journal_transactions').select(['id', 'idempotency_key', 'request_hash']).where('reverses_transaction_id', '=', id).executeTakeFirst();
}

/**
 * Locks a transaction's row for the rest of the write transaction (PostgreSQL; SQLite's write
 * transaction already holds the whole file), so that two `reverse()` calls of one transaction
 * take turns: the second reads the first's reversal (by its key, or as the reversal of the
 * transaction) once the first has committed, instead of both inserting one and the second failing
 * on the unique index `journal_transactions_reverses`. `FOR NO KEY UPDATE`: the foreign-key check
 * of the reversal's own row (`FOR KEY SHARE`) does not wait on it.
 */
export async function lockTransactionForReversal(db: Db, dialect: LedgerDialect, id: number): Promise<void> {
  if (!dialect.supportsRowLocks) return;
  await db.selectFrom('journal_transactions').select('id').where('id', '=', id).forNoKeyUpdate().execute();
}

/** The unique indexes whose violation the ledger answers with a typed error, with SQLite's name for each (it reports columns, not the index). */
const UNIQUE_INDEX_COLUMNS = {
  journal_transactions_reverses: 'journal_transactions.reverses_transaction_id',
  journal_transactions_entity_key: 'journal_transactions.entity, journal_transactions.idempotency_key',
  journal_entries_entity_provider: 'journal_entries.entity, journal_entries.provider_id',
  account_day_balances_pk: 'account_day_balances.account_id, account_day_balances.accounting_day',
} as const;

/**
 * Whether a driver error is a violation of the unique index `index`: SQLSTATE 23505 naming the
 * index on PostgreSQL, `UNIQUE constraint failed: <its columns>` on SQLite.
 */
export function isUniqueViolation(error: unknown, index: keyof typeof UNIQUE_INDEX_COLUMNS): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint, message } = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (code === '23505') return constraint === index;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT') && message === `UNIQUE constraint failed: ${UNIQUE_INDEX_COLUMNS[index]}`;
}

/** A transaction's entries in posting order. */
export async function selectEntriesOfTransactions(db: Db, transactionIds: readonly number[]): Promise<EntryRow[]> {
  const rows: EntryRow[] = [];
  for (let start = 0; start < transactionIds.length; start += 500) {
    rows.push(...(await db.selectFrom('journal_entries').selectAll().where('transaction_id', 'in', transactionIds.slice(start, start + 500)).orderBy('id').execute()));
  }
  return rows;
}

/**
 * Accounts by id, locked for the rest of the transaction where the dialect has row locks.
 * `FOR NO KEY UPDATE`: other writers of the row wait, but not the foreign-key checks of rows
 * other transactions insert for the account (entries of a system account written in a balance
 * shard while this transaction holds the account's row).
 */
export async function selectAccountsForPosting(db: Db, dialect: LedgerDialect, ids: readonly number[]): Promise<AccountRow[]> {
  const query = db.selectFrom('ledger_accounts').selectAll().where('id', 'in', ids).orderBy('id');
  return dialect.supportsRowLocks ? query.forNoKeyUpdate().execute() : query.execute();
}

/** Sets the end-of-day balances of (account, day) pairs. */
export async function upsertDayBalances(db: Db, rows: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('account_day_balances')
    .values([...rows])
    .onConflict((conflict) => conflict.columns(['account_id', 'accounting_day']).doUpdateSet({ balance: (eb) => eb.ref('excluded.balance') }))
    .execute();
}

/** End-of-day balance rows of an account from `day` on, oldest first. */
export async function selectDayBalancesFrom(db: Db, accountId: number, day: string) {
  return db
    .selectFrom('account_day_balances')
    .select(['accounting_day', 'balance'])
    .where('account_id', '=', accountId)
    .where('accounting_day', '>=', day)
    .orderBy('accounting_day')
    .execute();
}

/** The balance at the end of `day`: the latest day row at or before it. */
export async function selectBalanceAtEndOfDay(db: Db, accountId: number, day: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('account_day_balances')
    .select('balance')
    .where('account_id', '=', accountId)
    .where('accounting_day', '<=', day)
    .orderBy('accounting_day', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.balance;
}

/**
 * Per account of ids `fromId`..`toId`, balance series (its own row: `balance_shard` null; else a
 * shard), entries' entity and accounting day: the exact sum of the signed entries and their
 * count, in (account, day) order. What verify() checks a range of accounts against: each series'
 * stored balance and count (the caller keeps the entity's entries), and each own end-of-day row
 * (summed up to its day, by the account's entity: an entry filed under another entity than its
 * account's must still be counted, and fail the check). One pass over the range's entries: read
 * per account and again per day, they were two (books of 1M deposits: verify() 10.2-11.1 s → 7.9-9.6 s).
 * Every entity's rows: a condition on the entity here made SQLite walk the entity's whole
 * `(entity, day, …)` index for each range instead of this one.
 */
export async function sumEntriesPerAccountDay(db: Db, dialect: LedgerDialect, range: { fromId: number; toId: number }) {
  const rows = await accountDaySumsQuery(db, dialect, range).execute();
  // PostgreSQL's count is a bigint, which the driver hands over as text.
  return rows.map((row) => ({ ...row, entries: Number(row.entries) }));
}

/** The statement of {@link sumEntriesPerAccountDay} (a test reads its plan). */
export function accountDaySumsQuery(db: Db, dialect: LedgerDialect, range: { fromId: number; toId: number }) {
  return db
    .selectFrom('journal_entries')
    .select(['account_id', 'balance_shard', 'entity', 'accounting_day', sql<string>`${sql.raw(dialect.exactSumFunction)}(amount)`.as('total'), sql<number | string>`count(*)`.as('entries')])
    .where('account_id', '>=', range.fromId)
    .where('account_id', '<=', range.toId)
    .groupBy(['account_id', 'balance_shard', 'entity', 'accounting_day'])
    .orderBy('account_id')
    .orderBy('accounting_day');
}

/**
 * The own end-of-day rows of accounts of ids `fromId`..`toId`, every entity's, in (account, day)
 * order: verify() keeps those of the entity's accounts it read for the range, as it does with
 * their sums. The entity was a condition here, the account's entity probed per row by primary
 * key (no form of it planned better: as `in (select id …)`, SQLite read the entity's every
 * account id for each range, verify() took 82-96 s at 300k accounts; as `exists`, PostgreSQL
 * hashed every account of the entity, 146 ms a range of 1,000 at 200k accounts). Without it, a
 * range of 1,000 at 300k accounts on PostgreSQL: 1.6-2.5 ms against 5.2-5.3 ms.
 */
export async function selectDayBalancesOfAccounts(db: Db, range: { fromId: number; toId: number }) {
  return db
    .selectFrom('account_day_balances as d')
    .select(['d.account_id', 'd.accounting_day', 'd.balance'])
    .where('d.account_id', '>=', range.fromId)
    .where('d.account_id', '<=', range.toId)
    .orderBy('d.account_id')
    .orderBy('d.accounting_day')
    .execute();
}

/**
 * Per transaction of ids `fromId`..`toId`, currency and entries' entity: the exact sum of the
 * signed entries (must be zero; a transaction must balance per entity too). Every entity's: the
 * caller skips the others'. With a condition on the entity here, SQLite walked the entity's whole
 * `(entity, accounting_day, …)` index for each range of ids instead of the range's entries, as
 * the per-account sums did: verify() of 1M deposits (2M entries) took 38.6 s, 27 s of it
 * in this statement, and grew with the square of the journal.
 */
export async function sumEntriesPerTransactionCurrency(db: Db, dialect: LedgerDialect, range: { fromId: number; toId: number }) {
  return transactionSumsQuery(db, dialect, range).execute();
}

/** The statement of {@link sumEntriesPerTransactionCurrency} (a test reads its plan). */
export function transactionSumsQuery(db: Db, dialect: LedgerDialect, range: { fromId: number; toId: number }) {
  return db
    .selectFrom('journal_entries')
    .select(['transaction_id', 'currency', 'entity', sql<string>`${sql.raw(dialect.exactSumFunction)}(amount)`.as('total')])
    .where('transaction_id', '>=', range.fromId)
    .where('transaction_id', '<=', range.toId)
    .groupBy(['transaction_id', 'currency', 'entity']);
}

/** The lowest and highest transaction id stored of `entity` (of any entity when undefined), or undefined when there is none. */
export async function selectTransactionIdRange(db: Db, entity: string | undefined): Promise<{ fromId: number; toId: number } | undefined> {
  let query = db.selectFrom('journal_transactions').select((eb) => [eb.fn.min<number>('id').as('from_id'), eb.fn.max<number>('id').as('to_id')]);
  if (entity !== undefined) query = query.where('entity', '=', entity);
  const row = await query.executeTakeFirst();
  if (row?.from_id === null || row?.from_id === undefined || row.to_id === null) return undefined;
  return { fromId: Number(row.from_id), toId: Number(row.to_id) };
}

/** Values per `IN` list and rows per multi-row statement: well inside SQLite's 32,766 variables. */
export const STATEMENT_ROWS_MAX = 500;

function chunks<T>(items: readonly T[], size: number = STATEMENT_ROWS_MAX): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** Transactions of an entity by idempotency keys. */
export async function selectTransactionsByKeys(db: Db, entity: string, keys: readonly string[]) {
  const rows = [];
  for (const part of chunks([...new Set(keys)])) {
    rows.push(...(await db.selectFrom('journal_transactions').select(['id', 'idempotency_key', 'request_hash']).where('entity', '=', entity).where('idempotency_key', 'in', part).execute()));
  }
  return rows;
}

/**
 * Transactions of an entity by provider ids (any kind): those that carry one, and the compound
 * transactions whose entries carry one (with that entry's provider id).
 */
export async function selectTransactionsByProviderIds(db: Db, entity: string, providerIds: readonly string[]) {
  const rows: { id: number; kind: string; provider_id: string | null; idempotency_key: string }[] = [];
  for (const part of chunks([...new Set(providerIds)])) {
    rows.push(...(await db.selectFrom('journal_transactions').select(['id', 'kind', 'provider_id', 'idempotency_key']).where('entity', '=', entity).where('provider_id', 'in', part).execute()));
    rows.push(
      ...(await db
        .selectFrom('journal_entries as e')
        .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
        .select(['t.id', 't.kind', 'e.provider_id', 't.idempotency_key'])
        .where('e.entity', '=', entity)
        .where('e.provider_id', 'in', part)
        .execute()),
    );
  }
  return rows;
}

/** Inserts transactions, skipping keys that exist; returns the (key → id) of the inserted ones. */
export async function insertTransactions(db: Db, rows: readonly Insertable<JournalTransactionTable>[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const part of chunks(rows)) {
    const inserted = await db
      .insertInto('journal_transactions')
      .values(part)
      .onConflict((conflict) => conflict.columns(['entity', 'idempotency_key']).doNothing())
      .returning(['id', 'idempotency_key'])
      .execute();
    for (const row of inserted) ids.set(row.idempotency_key, row.id);
  }
  return ids;
}

/** Inserts entries in multi-row statements. */
export async function insertEntryRows(db: Db, rows: readonly Omit<EntryRow, 'id'>[]): Promise<void> {
  for (const part of chunks(rows)) await db.insertInto('journal_entries').values(part).execute();
}

/** Writes new balances, last days and entry counts of accounts, in multi-row statements. */
export async function writeAccountBalances(db: Db, rows: readonly AccountRow[]): Promise<void> {
  for (const part of chunks(rows)) {
    await db
      .insertInto('ledger_accounts')
      .values(part)
      .onConflict((conflict) =>
        conflict.column('id').doUpdateSet((eb) => ({
          balance: eb.ref('excluded.balance'),
          last_day: eb.ref('excluded.last_day'),
          entry_count: eb.ref('excluded.entry_count'),
        })),
      )
      .execute();
  }
}

/** Sets end-of-day balances in multi-row statements. */
export async function writeDayBalances(db: Db, rows: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void> {
  for (const part of chunks(rows)) await upsertDayBalances(db, part);
}

/**
 * Serialises the two ways a provider id enters the journal under one kind (PostgreSQL; SQLite's
 * write transaction already holds the whole file): as a line of a compound posting (unique on
 * `journal_entries (entity, provider_id)`) and as a whole transaction (unique on
 * `journal_transactions (entity, kind, provider_id)`). No index spans the two, and the two writers
 * need not share any row lock (a whole transaction's system accounts may go to a balance shard),
 * so each one's lookup could miss the other's uncommitted row and both commit: the id booked
 * twice. A transaction-scoped advisory lock per (entity, kind): compound postings take it
 * exclusively, whole transactions carrying a provider id take it shared (so they never wait on
 * each other), each before its account locks and its provider-id lookup; kinds in code point order.
 * A hash collision between two (entity, kind) pairs only makes their writers wait for each other.
 *
 * The line index `journal_entries (entity, provider_id)` spans kinds, the claim does not: two
 * compound postings of different kinds booking one line provider id at the same moment both miss
 * the other's row, and the second fails on the index. That one is answered as an
 * `idempotency_conflict` naming the line (`post-lines.ts`). An entity-wide claim taken by every
 * compound posting avoided that failure, but it could deadlock a `transact` scope that posts a
 * whole transaction with a provider id and then compound lines against a compound posting of the
 * first one's kind (found in review, session 23): a rare clash answered, not a lock for all.
 */
export async function lockProviderIdClaims(db: Db, dialect: LedgerDialect, input: { entity: string; kinds: readonly string[]; exclusive: boolean }): Promise<void> {
  if (!dialect.supportsRowLocks || input.kinds.length === 0) return;
  const kinds = [...new Set(input.kinds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lock = input.exclusive ? sql.raw('pg_advisory_xact_lock') : sql.raw('pg_advisory_xact_lock_shared');
  await sql`select ${lock}(hashtext('earnbook.provider_id_claims'), hashtext(${input.entity} || '/' || k.kind)) from unnest(${textArrayLiteral(kinds)}::text[]) with ordinality as k(kind, n) order by k.n`.execute(db);
}


/** Accounts by id in chunks, locked where the dialect has row locks (in id order, so no deadlock). */
export async function selectAccountsLocked(db: Db, dialect: LedgerDialect, ids: readonly number[]): Promise<AccountRow[]> {
  const rows: AccountRow[] = [];
  for (const part of chunks([...ids].sort((a, b) => a - b))) rows.push(...(await selectAccountsForPosting(db, dialect, part)));
  return rows;
}

/**
 * A cycle account as {@link selectCycleAccounts} reads it: the ledger account's row under its own
 * column names (so that the cycle posts with the row as read, without a copy per account), with
 * the Earn account's fields beside it.
 */
export interface CycleAccountRow extends BulkAccountRow {
  readonly earn_account_id: string;
  readonly provider_product_id: string;
  /** The Earn account's currency (the ledger account's is `currency`). */
  readonly earn_currency: string;
  readonly user_residue: string | null;
  readonly margin_residue: string | null;
  /** The balance at the end of the day (null: no day row up to it); `balance` is the balance now. */
  readonly day_balance: string | null;
}

/**
 * The Earn accounts of an entity after `afterId` in ledger account order, with their ledger
 * account rows, the residues carried from the previous day and the end-of-day balance: the
 * account's own unless it was posted to after the day, only then its day row is looked up.
 * Written as SQL text: the query builder compiled this select for every batch, 0.3-0.5 s of a
 * 300k-account cycle's 9.8 s (profile), the same on both dialects.
 *
 * The ledger account and residue rows are bounded by `afterId` as well, though the join implies
 * it: PostgreSQL does not carry a range across an equality, and merge-joined the page with
 * `ledger_accounts` read from its first row, so each page cost every account before it (1M
 * accounts, a page at 500k: 248 ms, with the bounds 2 ms).
 */
export async function selectCycleAccounts(db: Db, input: { entity: string; day: string; previousDay: string; afterId: number; limit: number; lockRows?: boolean }): Promise<CycleAccountRow[]> {
  // PostgreSQL only (SQLite has no row locks): the ledger account rows locked as read, in id
  // order, so that the cycle posts with them as they are (see postLinesWithKnownAccounts).
  const lock = input.lockRows === true ? sql`for no key update of l` : sql``;
  const { rows } = await sql<CycleAccountRow>`
    select l.id, l.entity, l.currency, l.code, l.kind, l.normal_side, l.balance, l.last_day, l.entry_count,
           a.earn_account_id, a.provider_product_id, a.currency as earn_currency, r.user_residue, r.margin_residue,
           case when l.last_day is null or l.last_day <= ${input.day} then l.balance
                else (select d.balance from account_day_balances d where d.account_id = a.ledger_account_id and d.accounting_day <= ${input.day}
                      order by d.accounting_day desc limit 1) end as day_balance
    from earn_accounts a
    join ledger_accounts l on l.id = a.ledger_account_id
    left join interest_residues r on r.account_id = a.ledger_account_id and r.accounting_day = ${input.previousDay} and r.account_id > ${input.afterId}
    where a.entity = ${input.entity} and a.ledger_account_id > ${input.afterId} and l.id > ${input.afterId}
    order by a.ledger_account_id
    limit ${input.limit}
    ${lock}`.execute(db);
  return rows;
}

/**
 * The savepoints the ledger takes: one per posting of a group retried alone, one around a batch's
 * key claims, one around a posting that opens its currency's system accounts.
 */
export type SavepointName = 'group_item' | 'batch_keys' | 'system_accounts';

/** Opens a savepoint inside the current transaction (same SQL on both dialects). */
export async function savepoint(db: Db, name: SavepointName): Promise<void> {
  await sql`savepoint ${sql.raw(name)}`.execute(db);
}

/** Keeps the work since a savepoint. */
export async function releaseSavepoint(db: Db, name: SavepointName): Promise<void> {
  await sql`release savepoint ${sql.raw(name)}`.execute(db);
}

/** Undoes the work since a savepoint; the transaction goes on. */
export async function rollbackToSavepoint(db: Db, name: SavepointName): Promise<void> {
  await sql`rollback to savepoint ${sql.raw(name)}`.execute(db);
}

/**
 * Runs `work` in one read-only transaction whose reads all see one snapshot of the books: on
 * SQLite a deferred `BEGIN` (in WAL mode the snapshot is taken at its first read; writers on other
 * connections go on), on PostgreSQL `REPEATABLE READ READ ONLY`.
 */
export async function readSnapshot<T>(db: Db, work: (snapshot: Db) => Promise<T>): Promise<T> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work);
}

/** Whether an entity's accounting cycle of `day` completed, and the latest day whose cycle did. */
export async function selectCycleDays(db: Db, input: { entity: string; day: string }): Promise<{ ran: boolean; latest: string | undefined }> {
  const ran = await db.selectFrom('accounting_cycles').select('accounting_day').where('entity', '=', input.entity).where('accounting_day', '=', input.day).executeTakeFirst();
  const latest = await db.selectFrom('accounting_cycles').select('accounting_day').where('entity', '=', input.entity).orderBy('accounting_day', 'desc').limit(1).executeTakeFirst();
  return { ran: ran !== undefined, latest: latest?.accounting_day };
}

/**
 * Whether some Earn account of an entity held a balance at the end of a day from `from` to `to`
 * (its latest day row on or before `from`, or any day row after it up to `to`, other than
 * `zero`, the canonical zero: the text SQLite stores, a value PostgreSQL compares as NUMERIC), or
 * carries an interest residue from `residueDay`. Two index probes per Earn account, and the
 * first one found ends the read; the cycle asks only when days were skipped.
 */
export async function earnBalanceOrResidueHeld(db: Db, input: { entity: string; from: string; to: string; residueDay: string; zero: string }): Promise<boolean> {
  const { rows } = await sql<{ found: number }>`
    select 1 as found from earn_accounts a
    where a.entity = ${input.entity} and (
      coalesce((select d.balance from account_day_balances d where d.account_id = a.ledger_account_id and d.accounting_day <= ${input.from}
                order by d.accounting_day desc limit 1), ${input.zero}) <> ${input.zero}
      or exists (select 1 from account_day_balances d where d.account_id = a.ledger_account_id and d.accounting_day > ${input.from}
                 and d.accounting_day <= ${input.to} and d.balance <> ${input.zero})
      or exists (select 1 from interest_residues r where r.account_id = a.ledger_account_id and r.accounting_day = ${input.residueDay}))
    limit 1`.execute(db);
  return rows.length > 0;
}

/** Records that an entity's accounting cycle of a day completed (kept if already recorded). */
export async function insertAccountingCycle(db: Db, row: { entity: string; accounting_day: string; accounts: number; completed_at: string }): Promise<void> {
  await db.insertInto('accounting_cycles').values(row).onConflict((conflict) => conflict.columns(['entity', 'accounting_day']).doNothing()).execute();
}

/**
 * SQLite only: what has been committed to the database file since, as this connection sees it —
 * `data_version` (it changes when another connection commits) and `total_changes()` (rows this
 * connection changed, whoever in this process wrote through it). Two equal marks read on one
 * connection, the second in a write transaction, mean that nothing was written in between but
 * by that connection's own transactions between the two reads (see `cycle-read-ahead.ts`).
 */
export async function selectSqliteWriteMark(db: Db): Promise<string> {
  const { rows } = await sql<{ data_version: number; changes: number }>`select (select data_version from pragma_data_version()) as data_version, total_changes() as changes`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error('assertion: pragma_data_version answered no row');
  return `${row.data_version}:${row.changes}`;
}

/**
 * The SQL of the audit exports, in one place: keyset-paginated reads (never OFFSET), each served
 * by an index, identical on SQLite and PostgreSQL.
 *
 * Text is ordered in UTF-8 byte order on both dialects, whatever the database's collation: SQLite
 * compares text as bytes (BINARY), and PostgreSQL does with `COLLATE "C"` ({@link byteOrdered}),
 * where a database created with a linguistic collation (`en_US.UTF-8`, often the default) would
 * put `a_b` before `B` and make the files differ between the dialects.
 */
import { sql } from 'kysely';
import type { CompiledQuery, Expression, Kysely, RawBuilder, SqlBool } from 'kysely';
import type { LedgerDatabase } from '@earnbook/ledger';
import type { ReconcileDatabase } from '../db/schema.js';
import type { CheckedScope, ExportDayRange } from './export-options.js';
import { postgresBalancesPage, postgresJournalPage } from './export-queries-postgres.js';

/**
 * Whether a handle is on PostgreSQL. Kysely has no public dialect accessor; its PostgreSQL query
 * compiler (whichever driver) numbers the parameters (`$1`), SQLite's writes `?`.
 */
function isPostgres<DB>(db: Kysely<DB>): boolean {
  return sql`${0}`.compile(db).sql === '$1';
}

/**
 * A text column compared in UTF-8 byte order: `column COLLATE "C"` on PostgreSQL, the column as it
 * is on SQLite (BINARY already is byte order). For ORDER BY and for the keyset comparison of the
 * same query, which must follow the same order.
 */
function byteOrdered<DB>(db: Kysely<DB>, column: string): RawBuilder<string> {
  return isPostgres(db) ? sql<string>`${sql.ref(column)} collate "C"` : sql<string>`${sql.ref(column)}`;
}

/** `(a, b, c) > (x, y, z)` over expressions (the keyset of a page), in the order each one has. */
function tupleAfter(columns: readonly Expression<unknown>[], values: readonly unknown[]): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${sql.join(columns)}) > (${sql.join(values)})`;
}

/** The entry ids of a journal export's scope and day range: the first, the last, and how many there are. */
export interface JournalEntryBounds {
  readonly first: number;
  readonly last: number;
  readonly entries: number;
}

/**
 * The first and last journal entry ids of a scope and day range, and the number of entries, through
 * the `journal_transactions_entity_day` and `journal_entries_transaction` indexes (cost in proportion
 * to the range, not to the books). Undefined when the range has no entries.
 */
export async function selectJournalEntryBounds(db: Kysely<LedgerDatabase>, scope: CheckedScope, range: ExportDayRange): Promise<JournalEntryBounds | undefined> {
  let query = db
    .selectFrom('journal_transactions as t')
    .innerJoin('journal_entries as e', 'e.transaction_id', 't.id')
    .select((eb) => [eb.fn.min('e.id').as('first'), eb.fn.max('e.id').as('last'), eb.fn.countAll<number | string>().as('entries')])
    .where('t.accounting_day', '>=', range.fromDay)
    .where('t.accounting_day', '<=', range.toDay);
  if (scope.entity !== undefined) query = query.where('t.entity', '=', scope.entity);
  const row = await query.executeTakeFirst();
  if (row === undefined || row.first === null || row.last === null) return undefined;
  // Ids come back as numbers: the ledger's PostgreSQL pool parses BIGINT (see openPostgresDatabase).
  return { first: row.first, last: row.last, entries: Number(row.entries) };
}

/**
 * Whether a journal export's pages walk the primary key across the bounds' whole id range (every
 * entry in it, of any day or entity, read once over all pages), rather than read through the day
 * index, which reads the rest of the scope's entries for each page (a page ends at its
 * `pageSize`-th entry in id order, which no index of the day gives). The walk costs about the
 * range, the index about the entries times the pages; each is a few microseconds a row. Both
 * dialects: SQLite chose the day index as PostgreSQL did.
 */
export function walkJournalByEntryId(bounds: JournalEntryBounds, pageSize: number): boolean {
  const span = bounds.last - bounds.first + 1;
  return span <= 2 * bounds.entries * Math.max(1, bounds.entries / pageSize);
}

/** One journal entry with its transaction's and account's facts, as stored. */
export interface JournalExportRow {
  readonly entry_id: number | string;
  readonly transaction_id: number | string;
  readonly entity: string;
  readonly accounting_day: string;
  readonly occurred_at: string;
  readonly kind: string;
  readonly account_id: number;
  readonly account: string;
  readonly account_kind: string;
  readonly currency: string;
  readonly amount: string;
  readonly balance_after: string;
  /** The transaction's metadata as stored (JSON text), or null. */
  readonly metadata: string | null;
  /** The entry's own provider id (a line of a compound transaction), else its transaction's, else null. */
  readonly provider_id: string | null;
  readonly description: string | null;
}

/**
 * A page of journal entries in posting order (entry id), after `afterId` and up to the bounds'
 * last id (from {@link selectJournalEntryBounds}), filtered to the scope and days. Entries carry
 * their transaction's entity and day, so no index beyond the primary key is needed here.
 */
export async function selectJournalPage(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; afterId: number; bounds: JournalEntryBounds; pageSize: number },
): Promise<JournalExportRow[]> {
  const page = { scope: input.scope, range: input.range, afterId: input.afterId, lastId: input.bounds.last, pageSize: input.pageSize };
  const byEntryId = walkJournalByEntryId(input.bounds, input.pageSize);
  if (byEntryId && isPostgres(db)) return postgresJournalPage(db, page);
  return journalPageBuilt(db, { ...page, byEntryId });
}

/**
 * A text column as an expression no index holds (`column || ''`, the same value): a condition on
 * it cannot make the planner read the rows through that column's index.
 */
function unindexed(column: 'e.accounting_day' | 'e.entity'): RawBuilder<string> {
  return sql<string>`(${sql.ref(column)} || '')`;
}

/**
 * {@link selectJournalPage} as the query builder writes it: SQLite's, and PostgreSQL's for a sparse
 * range. `byEntryId` ({@link walkJournalByEntryId}): the day and entity are compared
 * {@link unindexed}, so that SQLite walks the primary key from the cursor; else it reads the rest
 * of the scope's entries through `journal_entries_entity_day_book` and sorts them for each page
 * (451 ms a page of 5,000 of a 1M-line day, the day's journal 58.4 s; 20 ms a page walking).
 */
export async function journalPageBuilt(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; afterId: number; lastId: number; pageSize: number; byEntryId: boolean },
): Promise<JournalExportRow[]> {
  // Returned as read: one object per row and no copy (the hot path of the largest export).
  // Ids are numbers on both dialects (the PostgreSQL pool parses BIGINT), and callers only print
  // them or pass the last one back as the keyset.
  return journalPageQuery(db, input).execute();
}

/** The statement of {@link journalPageBuilt}, unexecuted (a test reads SQLite's plan of it). */
export function journalPageQuery(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; afterId: number; lastId: number; pageSize: number; byEntryId: boolean },
): { compile(): CompiledQuery<JournalExportRow>; execute(): Promise<JournalExportRow[]> } {
  const day = input.byEntryId ? unindexed('e.accounting_day') : sql.ref<string>('e.accounting_day');
  let query = db
    .selectFrom('journal_entries as e')
    .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
    .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
    .select([
      'e.id as entry_id',
      'e.transaction_id',
      'e.entity',
      'e.accounting_day',
      't.occurred_at',
      't.kind',
      'e.account_id',
      'a.code as account',
      'a.kind as account_kind',
      'e.currency',
      'e.amount',
      'e.balance_after',
      // The entry's own provider id (a line of a compound transaction), else its transaction's.
      (eb) => eb.fn.coalesce('e.provider_id', 't.provider_id').as('provider_id'),
      't.description',
      't.metadata',
    ])
    .where('e.id', '>', input.afterId)
    .where('e.id', '<=', input.lastId)
    .where(day, '>=', input.range.fromDay)
    .where(day, '<=', input.range.toDay);
  if (input.scope.entity !== undefined) query = query.where(input.byEntryId ? unindexed('e.entity') : sql.ref<string>('e.entity'), '=', input.scope.entity);
  return query.orderBy('e.id').limit(input.pageSize);
}

/** One account with its balance at the end of a day (null when it had no posting by then). */
export interface BalanceExportRow {
  readonly account_id: number;
  readonly entity: string;
  readonly account: string;
  readonly account_kind: string;
  readonly normal_side: 'debit' | 'credit';
  readonly currency: string;
  readonly balance: string | null;
  readonly balance_day: string | null;
}

/**
 * A page of accounts (by id) with the latest `account_day_balances` row on or before `day`
 * (primary key `(account_id, accounting_day)`: one index probe per account).
 */
export async function selectBalancesPage(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; day: string; afterId: number; pageSize: number },
): Promise<BalanceExportRow[]> {
  return isPostgres(db) ? postgresBalancesPage(db, input) : balancesPageBuilt(db, input);
}

/** {@link selectBalancesPage} as the query builder writes it (SQLite's: a probe per account there). */
export async function balancesPageBuilt(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; day: string; afterId: number; pageSize: number },
): Promise<BalanceExportRow[]> {
  let query = db
    .selectFrom('ledger_accounts as a')
    .select(['a.id as account_id', 'a.entity', 'a.code as account', 'a.kind as account_kind', 'a.normal_side', 'a.currency'])
    // One join: the day row whose day is the latest on or before `day` (a max probe, then the key).
    .leftJoin('account_day_balances as b', (join) =>
      join.onRef('b.account_id', '=', 'a.id').on('b.accounting_day', '=', (eb) =>
        eb.selectFrom('account_day_balances as l').select((inner) => inner.fn.max('l.accounting_day').as('day')).whereRef('l.account_id', '=', 'a.id').where('l.accounting_day', '<=', input.day),
      ),
    )
    .select(['b.balance', 'b.accounting_day as balance_day'])
    .where('a.id', '>', input.afterId);
  if (input.scope.entity !== undefined) query = query.where('a.entity', '=', input.scope.entity);
  const rows = await query.orderBy('a.id').limit(input.pageSize).execute();
  return rows;
}

/**
 * The balance shards of some accounts at the end of `day` (PostgreSQL keeps a system account's
 * balance as its own row plus shards written by concurrent writers; SQLite has none): per shard,
 * its latest day row on or before `day` (one index probe each), for {@link selectBalancesPage}'s
 * accounts. The account's balance is its own row's plus these.
 */
export async function selectShardBalancesAtEndOfDay(db: Kysely<LedgerDatabase>, input: { accountIds: readonly number[]; day: string }): Promise<{ account_id: number; balance: string; accounting_day: string }[]> {
  if (input.accountIds.length === 0) return [];
  const rows = await db
    .selectFrom('account_balance_shards as s')
    .select('s.account_id')
    .select((eb) => {
      const latest = eb
        .selectFrom('account_shard_day_balances as d')
        .whereRef('d.account_id', '=', 's.account_id')
        .whereRef('d.shard', '=', 's.shard')
        .where('d.accounting_day', '<=', input.day)
        .orderBy('d.accounting_day', 'desc')
        .limit(1);
      return [latest.select('d.balance').as('balance'), latest.select('d.accounting_day').as('accounting_day')];
    })
    .where('s.account_id', 'in', [...input.accountIds])
    .orderBy('s.account_id')
    .orderBy('s.shard')
    .execute();
  return rows.flatMap((row) => (row.balance === null || row.accounting_day === null ? [] : [{ account_id: row.account_id, balance: row.balance, accounting_day: row.accounting_day }]));
}

/**
 * The first and last break ids of a scope and day range, through `reconcile_breaks_day` (entity,
 * day, …; on SQLite it holds the id too). Undefined when the range has no breaks.
 */
export async function selectBreakIdBounds(db: Kysely<ReconcileDatabase>, scope: CheckedScope, range: ExportDayRange): Promise<{ first: number; last: number } | undefined> {
  let query = db
    .selectFrom('reconcile_breaks')
    // `id + 0`, not `id`: PostgreSQL answers min(id) by walking the primary key from its end until
    // a row of the range comes (0.27 s for a day's 740 breaks among 300k), where this reads the
    // range through the day index (2 ms).
    .select((eb) => [eb.fn.min(sql<number>`id + 0`).as('first'), eb.fn.max(sql<number>`id + 0`).as('last')])
    .where('accounting_day', '>=', range.fromDay)
    .where('accounting_day', '<=', range.toDay);
  if (scope.entity !== undefined) query = query.where('entity', '=', scope.entity);
  const row = await query.executeTakeFirst();
  if (row === undefined || row.first === null || row.last === null) return undefined;
  return { first: Number(row.first), last: Number(row.last) };
}

/**
 * A page of breaks of a scope and day range, by id, after `afterId` and up to `lastId` (from
 * {@link selectBreakIdBounds}): one range of `reconcile_breaks_entity_id` (or of the primary key
 * for all entities), the days checked on each row. Ordering the day index's rows by id instead
 * sorted the whole range for every page (see migration `0007_break_entity_ids`).
 */
export async function selectBreaksPage(
  db: Kysely<ReconcileDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; afterId: number; lastId: number; pageSize: number },
) {
  let query = db
    .selectFrom('reconcile_breaks')
    .selectAll()
    .where('id', '>', input.afterId)
    .where('id', '<=', input.lastId)
    .where('accounting_day', '>=', input.range.fromDay)
    .where('accounting_day', '<=', input.range.toDay);
  if (input.scope.entity !== undefined) query = query.where('entity', '=', input.scope.entity);
  const rows = await query.orderBy('id').limit(input.pageSize).execute();
  return rows;
}

/** The keyset of settlement positions: their primary key. */
export interface SettlementKey {
  readonly entity: string;
  readonly currency: string;
  readonly accounting_day: string;
}

/**
 * A page of settlement positions in primary-key order (entity, currency, day), each with the
 * instruction of the same (entity, currency, day) if there is one.
 */
export async function selectSettlementsPage(
  db: Kysely<ReconcileDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; after: SettlementKey | undefined; pageSize: number },
) {
  let query = db
    .selectFrom('settlement_positions as p')
    .leftJoin('settlement_instructions as i', (join) =>
      join.onRef('i.entity', '=', 'p.entity').onRef('i.currency', '=', 'p.currency').onRef('i.accounting_day', '=', 'p.accounting_day'),
    )
    .select([
      'p.entity',
      'p.currency',
      'p.accounting_day',
      'p.payables',
      'p.receivables',
      'p.net',
      'p.carried_in',
      'p.outstanding',
      'p.settled',
      'p.carried_out',
      'p.reported_outstanding',
      'p.computed_at',
      'i.id as instruction_id',
      'i.direction',
      'i.amount as instruction_amount',
      'i.wallet',
      'i.status as instruction_status',
      'i.transaction_hash',
      'i.ledger_transaction_id',
    ])
    .where('p.accounting_day', '>=', input.range.fromDay)
    .where('p.accounting_day', '<=', input.range.toDay);
  if (input.scope.entity !== undefined) query = query.where('p.entity', '=', input.scope.entity);
  // In byte order on both dialects. The primary key's order is the database's collation, so
  // PostgreSQL sorts the range's positions (one per entity, currency and day: a few thousand).
  const keys = [byteOrdered(db, 'p.entity'), byteOrdered(db, 'p.currency'), byteOrdered(db, 'p.accounting_day')] as const;
  const after = input.after;
  if (after !== undefined) query = query.where(tupleAfter(keys, [after.entity, after.currency, after.accounting_day]));
  const rows = await query.orderBy(keys[0]).orderBy(keys[1]).orderBy(keys[2]).limit(input.pageSize).execute();
  return rows;
}

/** The keyset of one entity's journal transactions in the `journal_transactions_entity_day` index order. */
export interface TransactionKey {
  readonly accounting_day: string;
  readonly id: number;
}

/**
 * A page of one entity's journal transactions in (accounting day, id) order, read in the order of
 * the `journal_transactions_entity_day` index (entity, accounting day, id). One entity at a time
 * (in byte order, {@link selectEntityIds}): ordering by `entity COLLATE "C"` on PostgreSQL would
 * not follow the index, and sort the whole range for every page (measured on 200k transactions,
 * ICU en-US columns: a page of 1,000 of one entity's 40k took 188 ms that way, 0.4-0.9 ms
 * through the index). The day is not given `COLLATE "C"` for the same reason: accounting days are
 * canonical `YYYY-MM-DD` strings, which every collation orders as bytes, and the caller asserts
 * that order on every row.
 */
export async function selectTransactionsPage(
  db: Kysely<LedgerDatabase>,
  input: { entity: string; range: ExportDayRange; after: TransactionKey | undefined; pageSize: number },
) {
  let query = db
    .selectFrom('journal_transactions')
    .select(['id', 'entity', 'accounting_day', 'occurred_at', 'kind', 'provider_id', 'reverses_transaction_id', 'description', 'metadata'])
    .where('entity', '=', input.entity)
    .where('accounting_day', '>=', input.range.fromDay)
    .where('accounting_day', '<=', input.range.toDay);
  const after = input.after;
  if (after !== undefined) query = query.where((eb) => eb(eb.refTuple('accounting_day', 'id'), '>', eb.tuple(after.accounting_day, after.id)));
  const rows = await query.orderBy('accounting_day').orderBy('id').limit(input.pageSize).execute();
  return rows;
}

/**
 * The number of entries of each of some transactions (through the `journal_entries_transaction`
 * index), so that a page of transactions can be cut before its entries exceed a bound.
 */
export async function selectEntryCounts(db: Kysely<LedgerDatabase>, transactionIds: readonly number[]): Promise<Map<number, number>> {
  if (transactionIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('journal_entries')
    .select((eb) => ['transaction_id', eb.fn.countAll<number | string>().as('entries')])
    .where('transaction_id', 'in', [...transactionIds])
    .groupBy('transaction_id')
    .execute();
  return new Map(rows.map((row) => [row.transaction_id, Number(row.entries)]));
}

/** The entries of some transactions, with their accounts and their own provider ids (compound lines), by entry id. */
export async function selectEntriesOfTransactions(db: Kysely<LedgerDatabase>, transactionIds: readonly number[]) {
  if (transactionIds.length === 0) return [];
  return db
    .selectFrom('journal_entries as e')
    .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
    .select(['e.id', 'e.transaction_id', 'e.entity', 'e.currency', 'e.amount', 'a.code as account', 'a.kind as account_kind', 'e.provider_id'])
    .where('e.transaction_id', 'in', [...transactionIds])
    .orderBy('e.id')
    .execute();
}

/** The currencies of a scope's accounts, sorted (for the journal's commodity directives). */
export async function selectCurrencies(db: Kysely<LedgerDatabase>, scope: CheckedScope): Promise<string[]> {
  // GROUP BY, not DISTINCT: PostgreSQL refuses a DISTINCT ordered by `currency COLLATE "C"`.
  let query = db.selectFrom('ledger_accounts').select('currency').groupBy('currency');
  if (scope.entity !== undefined) query = query.where('entity', '=', scope.entity);
  const rows = await query.orderBy(byteOrdered(db, 'currency')).execute();
  return rows.map((row) => row.currency);
}

/** The IANA time zone of each entity's accounting days, by entity id in byte order (a handful of rows). */
export async function selectEntityTimeZones(db: Kysely<LedgerDatabase>): Promise<Map<string, string>> {
  const rows = await db.selectFrom('ledger_entities').select(['id', 'time_zone']).orderBy(byteOrdered(db, 'id')).execute();
  return new Map(rows.map((row) => [row.id, row.time_zone]));
}

/** The entities of a scope, in byte order: the one entity, or every entity of the books. */
export async function selectEntityIds(db: Kysely<LedgerDatabase>, scope: CheckedScope): Promise<string[]> {
  if (scope.entity !== undefined) return [scope.entity];
  const rows = await db.selectFrom('ledger_entities').select('id').orderBy(byteOrdered(db, 'id')).execute();
  return rows.map((row) => row.id);
}

/** An account's name parts: (entity, kind, code). */
export interface AccountNameKey {
  readonly entity: string;
  readonly kind: string;
  readonly code: string;
}

/**
 * A page of a scope's accounts by id, after `afterId` (one range of `ledger_accounts_entity_id`,
 * or of the primary key for all entities), with their name parts. The journal export sorts the
 * names itself: no index has the (entity, kind, code) byte order, and asking the database for a
 * page in that order sorted (and on PostgreSQL hash-grouped, spilling to disk) every account of
 * the scope for each page: 22 s on SQLite and 52 s on PostgreSQL for 270k accounts.
 */
export async function selectAccountNamesByIdPage(db: Kysely<LedgerDatabase>, input: { scope: CheckedScope; afterId: number; pageSize: number }): Promise<(AccountNameKey & { readonly id: number })[]> {
  let query = db.selectFrom('ledger_accounts').select(['id', 'entity', 'kind', 'code']).where('id', '>', input.afterId);
  if (input.scope.entity !== undefined) query = query.where('entity', '=', input.scope.entity);
  return query.orderBy('id').limit(input.pageSize).execute();
}

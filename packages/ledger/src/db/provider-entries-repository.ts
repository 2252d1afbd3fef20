/**
 * The SQL behind the ledger's read API for provider entries (see `../provider-entries.ts`): a
 * day's provider entries in book order, each with its one relevant line, and the batch lookups
 * the reconciler needs. Reads only.
 *
 * A provider id is stored in one of two places, and every read here sees both alike:
 * - on a whole transaction (`journal_transactions.provider_id`: `post`/`postMany`): its relevant
 *   line is the user's entry (deposits, withdrawals, interest) or the `settlement` entry (margin,
 *   fees);
 * - on one entry of a compound transaction (`journal_entries.provider_id`: `postLines`, the
 *   accounting cycle and the report sync): that entry is the relevant line.
 * The day's read sees both in one pass; the lookups by provider id read each store by its own
 * index.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { LedgerDialect } from './dialect.js';
import type { LedgerDatabase } from './schema.js';
import { postgresDayPageInBookOrder, postgresProviderEntriesByIds } from './postgres/provider-entries.js';
import { PROVIDER_ENTRY_KINDS, SETTLEMENT_LINE_KINDS, USER_LINE_KINDS, relevantLine } from './provider-lines.js';
import { textArrayLiteral } from './postgres/array-literal.js';

type Db = Kysely<LedgerDatabase>;


/** One row per provider entry: its transaction's facts and its relevant line. */
export interface ProviderEntryRow {
  readonly id: number;
  readonly kind: string;
  readonly provider_id: string | null;
  readonly accounting_day: string;
  readonly occurred_at: string;
  readonly metadata: string | null;
  readonly amount: string;
  readonly currency: string;
  readonly earn_account_id: string | null;
}

/** Code point order of two strings (UTF-16 order differs for characters beyond U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * `column IN ids` as one parameter (a JSON array read by `json_each` on SQLite, a text array on
 * PostgreSQL): a list of up to 1,000 ids compiled as 1,000 parameters cost more than the probes
 * (the report sync looks up a 1M-account day 1,000 ids at a time).
 */
function inList(dialect: LedgerDialect, column: string, ids: readonly string[]) {
  return dialect.name === 'postgres' ? sql<boolean>`${sql.ref(column)} = any(${textArrayLiteral(ids)}::text[])` : sql<boolean>`${sql.ref(column)} in (select value from json_each(${JSON.stringify(ids)}))`;
}

/** Transactions that carry a provider id, each with its relevant line. */
function transactionLevelQuery(db: Db, entity: string) {
  return db
    .selectFrom('journal_transactions as t')
    .innerJoin('journal_entries as e', 'e.transaction_id', 't.id')
    .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
    .leftJoin('earn_accounts as ea', (join) => join.onRef('ea.ledger_account_id', '=', 'a.id').onRef('ea.entity', '=', 't.entity'))
    .select(['t.id', 't.kind', 't.provider_id', 't.accounting_day', 't.occurred_at', 't.metadata', 'e.amount', 'e.currency', 'ea.earn_account_id'])
    .where('t.entity', '=', entity)
    .where('t.provider_id', 'is not', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('a.kind', '=', 'user'), eb('t.kind', 'in', USER_LINE_KINDS)]),
        eb.and([eb('a.kind', '=', 'settlement'), eb('t.kind', 'in', SETTLEMENT_LINE_KINDS)]),
      ]),
    );
}

/** Entries of compound transactions that carry a provider id: each is its own relevant line. */
function entryLevelQuery(db: Db, entity: string) {
  return db
    .selectFrom('journal_entries as e')
    .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
    .leftJoin('earn_accounts as ea', (join) => join.onRef('ea.ledger_account_id', '=', 'e.account_id').onRef('ea.entity', '=', 'e.entity'))
    .select(['t.id', 't.kind', 'e.provider_id', 'e.accounting_day', 't.occurred_at', 't.metadata', 'e.amount', 'e.currency', 'ea.earn_account_id'])
    .where('e.entity', '=', entity)
    .where('e.provider_id', 'is not', null)
    .where('t.kind', 'in', PROVIDER_ENTRY_KINDS);
}

/** Where a page in book order starts (exclusive): the transaction and journal entry of the last row. */
export interface ProviderEntryBookKey {
  readonly transactionId: number;
  readonly entryId: number;
}

/** A row of {@link selectProviderEntriesOfDayInBookOrder}: a provider entry and the journal entry it was read from. */
export interface ProviderEntryBookRow extends ProviderEntryRow {
  readonly entry_id: number;
}

/** What a page of a day's provider entries in book order asks for. */
export interface DayPageInput {
  readonly entity: string;
  readonly day: string;
  readonly after: ProviderEntryBookKey | null;
  readonly limit: number;
  /** Only these transaction kinds; null: every provider entry kind. */
  readonly kinds: readonly string[] | null;
}

/**
 * A page of a day's provider entries in book order (transaction id, then journal entry id), after
 * a key: one range of the index `journal_entries_entity_day_book (entity, accounting_day,
 * transaction_id, id)` (migration 0010) from the key on, each entry joined to its transaction and
 * Earn account by key, with no sort: the page costs its own rows whatever the size of the day.
 * On PostgreSQL the joins are forced per row (`postgres/provider-entries.ts`); the query
 * builder's form ({@link dayPageInBookOrderBuilt}) is SQLite's. A line's day is its transaction's:
 * the ledger writes them alike.
 */
export async function selectProviderEntriesOfDayInBookOrder(db: Db, dialect: LedgerDialect, input: DayPageInput): Promise<ProviderEntryBookRow[]> {
  if (dialect.name === 'postgres') return postgresDayPageInBookOrder(db, { ...input, kinds: input.kinds ?? PROVIDER_ENTRY_KINDS });
  return dayPageInBookOrderBuilt(db, input);
}

/**
 * {@link selectProviderEntriesOfDayInBookOrder} as the query builder writes it (SQLite's form). On
 * PostgreSQL the planner joins it as its statistics say: driven from the day's transactions, as
 * before migration 0010, it hashed every entry of the journal for each page (~0.4 s a page on the
 * 1M-account nightly books); in this form, with statistics of the books before the night, it
 * still hashed the journal, every transaction and every Earn account (0.12-0.46 s a page of
 * 5,000 on the 200k-account nightly; 0.04 s forced per row).
 */
export async function dayPageInBookOrderBuilt(db: Db, input: DayPageInput): Promise<ProviderEntryBookRow[]> {
  const { after, kinds } = input;
  let query = db
    .selectFrom('journal_entries as e')
    .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
    .leftJoin('earn_accounts as ea', (join) => join.onRef('ea.ledger_account_id', '=', 'e.account_id').onRef('ea.entity', '=', 'e.entity'))
    .select(['t.id', 't.kind', 't.accounting_day', 't.occurred_at', 't.metadata', 'e.amount', 'e.currency', 'ea.earn_account_id', 'e.id as entry_id'])
    .select(sql<string | null>`coalesce(e.provider_id, t.provider_id)`.as('provider_id'))
    .where('e.entity', '=', input.entity)
    .where('e.accounting_day', '=', input.day)
    .where('t.kind', 'in', kinds ?? PROVIDER_ENTRY_KINDS)
    // A line that carries its own provider id, or the relevant line of a transaction that carries one.
    .where(relevantLine());
  if (after !== null) query = query.where(sql<boolean>`(e.transaction_id, e.id) > (${after.transactionId}, ${after.entryId})`);
  return query.orderBy('e.transaction_id').orderBy('e.id').limit(input.limit).execute();
}

/**
 * The journal lines booked on an entity's day (a range of `journal_entries_entity_day_book`) and
 * the entity's Earn accounts (a range of their primary key), counted in one statement.
 */
export async function selectProviderDayMark(db: Db, input: { entity: string; day: string }): Promise<{ readonly lines: number; readonly earnAccounts: number }> {
  const { rows } = await sql<{ lines: number | string; earn_accounts: number | string }>`
    select (select count(*) from journal_entries where entity = ${input.entity} and accounting_day = ${input.day}) as lines,
           (select count(*) from earn_accounts where entity = ${input.entity}) as earn_accounts`.execute(db);
  const row = rows[0];
  // PostgreSQL's count is a bigint, which the driver hands over as text.
  return { lines: Number(row?.lines ?? 0), earnAccounts: Number(row?.earn_accounts ?? 0) };
}

/** Provider entries in the order lookups answer: by transaction id, then provider id. */
function byTransaction(a: ProviderEntryRow, b: ProviderEntryRow): number {
  return a.id - b.id || compareCodePoints(a.provider_id ?? '', b.provider_id ?? '');
}

/**
 * The provider entries of any day carrying one of `providerIds`, by transaction id (then provider
 * id). PostgreSQL: one index probe per id, forced (`postgres/provider-entries.ts`); SQLite: the
 * query builder's form ({@link providerEntriesByIdsBuilt}).
 */
export async function selectProviderEntriesByIds(db: Db, dialect: LedgerDialect, input: { entity: string; providerIds: readonly string[] }): Promise<ProviderEntryRow[]> {
  if (input.providerIds.length === 0) return [];
  if (dialect.name === 'postgres') return (await postgresProviderEntriesByIds(db, input)).sort(byTransaction);
  return providerEntriesByIdsBuilt(db, dialect, input);
}

/**
 * {@link selectProviderEntriesByIds} as the query builder writes it (SQLite's form). On PostgreSQL
 * the planner chose from its statistics: with 500 ids it scanned every whole transaction of the
 * entity for each lookup (7-17 ms a lookup of 500 ids on the 200k-account nightly's books; about 1 ms
 * forced per id).
 */
export async function providerEntriesByIdsBuilt(db: Db, dialect: LedgerDialect, input: { entity: string; providerIds: readonly string[] }): Promise<ProviderEntryRow[]> {
  if (input.providerIds.length === 0) return [];
  // A plain IN list here: with `json_each`, SQLite's planner scanned the entity's whole unique
  // index, then `(entity, kind, provider_id)`, instead of probing `(entity, provider_id)`
  // (migration 0011 made the two one index led by the provider id).
  const whole = await transactionLevelQuery(db, input.entity).where('t.provider_id', 'in', input.providerIds).execute();
  const line = await entryLevelQuery(db, input.entity).where(inList(dialect, 'e.provider_id', input.providerIds)).execute();
  return [...whole, ...line].sort(byTransaction);
}

/** Earn accounts of an entity by id: their ledger account and currency. */
export async function selectEarnAccountsByIds(db: Db, dialect: LedgerDialect, input: { entity: string; earnAccountIds: readonly string[] }) {
  if (input.earnAccountIds.length === 0) return [];
  return db
    .selectFrom('earn_accounts')
    .select(['earn_account_id', 'ledger_account_id', 'currency'])
    .where('entity', '=', input.entity)
    .where(inList(dialect, 'earn_account_id', input.earnAccountIds))
    .execute();
}

/**
 * The index a day's provider entries were read in, in provider id order: (entity, day, provider
 * id, id), the provider id in byte order on PostgreSQL. Dropped by {@link dayReadInBookOrderMigration}.
 */
export function providerEntryOrderIndexMigration(dialect: LedgerDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const providerId = dialect.name === 'postgres' ? sql`provider_id collate "C"` : sql`provider_id`;
      await sql`create index journal_transactions_entity_day_provider on journal_transactions (entity, accounting_day, ${providerId}, id)`.execute(db);
    },
  };
}

/**
 * The same order for provider ids on entries of compound transactions: (day, entity, provider
 * id, transaction id), only over entries that carry one (the partial index stays as small as
 * the compound lines). Dropped by {@link dayReadInBookOrderMigration}.
 *
 * The day comes first on purpose: led by the entity, SQLite's planner took this (covering) index
 * for lookups by provider id too, scanning every line of the entity per lookup instead of
 * probing `journal_entries_entity_provider` — quadratic in the sync of a 1M-account day.
 */
export function entryProviderDayIndexMigration(dialect: LedgerDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const providerId = dialect.name === 'postgres' ? sql`provider_id collate "C"` : sql`provider_id`;
      await sql`create index journal_entries_day_entity_provider on journal_entries (accounting_day, entity, ${providerId}, transaction_id) where provider_id is not null`.execute(db);
    },
  };
}

/**
 * The day's provider entries are read in book order only. Drops the two indexes of the day read
 * in provider id order (migrations 0005 and 0007), which the ledger no longer offers (a caller
 * that needs provider id order sorts the day), and adds the one the book-order read walks:
 * `(entity, accounting_day, transaction_id, id)` on the entries, which every write appends to
 * (a new day, increasing ids; the raw writer of 1M lines: 14.8-17.0 s with it, 15.5-16.0 s
 * without). Provider ids are the provider's random UUIDs, so every line of a night's sync
 * inserted one at a random place of the day's part of the entries' index: with it, the raw
 * same-rows writer of 1M interest lines took 36-41 s on SQLite, without it 18 s (sequential ids:
 * 17 s); the idempotency index `(entity, provider_id)` stays, as it must.
 */
export function dayReadInBookOrderMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('journal_entries_day_entity_provider').execute();
      await db.schema.dropIndex('journal_transactions_entity_day_provider').execute();
      await db.schema.createIndex('journal_entries_entity_day_book').on('journal_entries').columns(['entity', 'accounting_day', 'transaction_id', 'id']).execute();
    },
  };
}

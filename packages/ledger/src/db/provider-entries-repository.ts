/**
 * The SQL behind the ledger's read API for provider entries (see `../provider-entries.ts`): a
 * day's transactions that carry a provider id, in provider id order, each with its one relevant
 * line, and the batch lookups the reconciler needs. Reads only.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { LedgerDialect } from './dialect.js';
import type { LedgerDatabase } from './schema.js';

type Db = Kysely<LedgerDatabase>;

/** The transaction kinds a provider entry can be, and the account kind of their relevant line. */
const USER_LINE_KINDS = ['deposit', 'withdrawal', 'interest'] as const;
const SETTLEMENT_LINE_KINDS = ['partner_margin', 'fee'] as const;

/** One row per transaction: its facts and its relevant line. */
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

/**
 * PostgreSQL compares text by the database's collation; the reconciler merges in code point
 * order, which is UTF-8 byte order: `COLLATE "C"` there, SQLite's BINARY here.
 */
function providerOrder(dialect: LedgerDialect) {
  return dialect.name === 'postgres' ? sql`t.provider_id collate "C"` : sql`t.provider_id`;
}

function entryQuery(db: Db, entity: string) {
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

/** A page of a day's provider entries ordered by (provider id, transaction id), after a key. */
export async function selectProviderEntriesOfDay(
  db: Db,
  dialect: LedgerDialect,
  input: { entity: string; day: string; after: { providerId: string; transactionId: number } | null; limit: number; kinds: readonly string[] | null },
): Promise<ProviderEntryRow[]> {
  const order = providerOrder(dialect);
  let query = entryQuery(db, input.entity).where('t.accounting_day', '=', input.day);
  if (input.kinds !== null) query = query.where('t.kind', 'in', input.kinds);
  if (input.after !== null) {
    const { providerId, transactionId } = input.after;
    query = query.where(sql<boolean>`${order} >= ${providerId} and (${order} > ${providerId} or t.id > ${transactionId})`);
  }
  return query.orderBy(order).orderBy('t.id').limit(input.limit).execute();
}

/** The provider entries of any day carrying one of `providerIds`. */
export async function selectProviderEntriesByIds(db: Db, input: { entity: string; providerIds: readonly string[] }): Promise<ProviderEntryRow[]> {
  if (input.providerIds.length === 0) return [];
  return entryQuery(db, input.entity).where('t.provider_id', 'in', input.providerIds).orderBy('t.id').execute();
}

/** Earn accounts of an entity by id: their ledger account and currency. */
export async function selectEarnAccountsByIds(db: Db, input: { entity: string; earnAccountIds: readonly string[] }) {
  if (input.earnAccountIds.length === 0) return [];
  return db
    .selectFrom('earn_accounts')
    .select(['earn_account_id', 'ledger_account_id', 'currency'])
    .where('entity', '=', input.entity)
    .where('earn_account_id', 'in', input.earnAccountIds)
    .execute();
}

/**
 * The index a day's provider entries are read in: (entity, day, provider id, id), the provider id
 * in byte order on PostgreSQL to match {@link selectProviderEntriesOfDay}.
 */
export function providerEntryOrderIndexMigration(dialect: LedgerDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const providerId = dialect.name === 'postgres' ? sql`provider_id collate "C"` : sql`provider_id`;
      await sql`create index journal_transactions_entity_day_provider on journal_transactions (entity, accounting_day, ${providerId}, id)`.execute(db);
    },
  };
}

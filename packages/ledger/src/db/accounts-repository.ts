/**
 * The statements of entities and accounts: recording an entity, opening an account, finding and
 * listing accounts, reading a current balance. Callers decide; these functions read and write.
 */
import type { Insertable, Kysely, Migration } from 'kysely';
import type { LedgerAccountTable, LedgerDatabase } from './schema.js';
import type { AccountRow } from './repository.js';

type Db = Kysely<LedgerDatabase>;

/** Records an entity (kept if recorded) and answers the time zone it is stored with. */
export async function insertEntityReturningZone(db: Db, row: { id: string; time_zone: string; created_at: string }): Promise<string> {
  // Read first: opening books that already keep the entity writes nothing (a reader on a second
  // connection, such as the reconciler's worker thread, never waits for the write lock).
  const known = await db.selectFrom('ledger_entities').select('time_zone').where('id', '=', row.id).executeTakeFirst();
  if (known !== undefined) return known.time_zone;
  await db.insertInto('ledger_entities').values(row).onConflict((c) => c.column('id').doNothing()).execute();
  const stored = await db.selectFrom('ledger_entities').select('time_zone').where('id', '=', row.id).executeTakeFirstOrThrow();
  return stored.time_zone;
}

/** Inserts an account unless (entity, currency, code) exists; answers the stored row either way. */
export async function insertAccountReturningRow(db: Db, row: Insertable<LedgerAccountTable>): Promise<AccountRow> {
  await db
    .insertInto('ledger_accounts')
    .values(row)
    .onConflict((c) => c.columns(['entity', 'currency', 'code']).doNothing())
    .execute();
  return db.selectFrom('ledger_accounts').selectAll().where('entity', '=', row.entity).where('currency', '=', row.currency).where('code', '=', row.code).executeTakeFirstOrThrow();
}

/** An account by id, if any. */
export async function selectAccountById(db: Db, id: number): Promise<AccountRow | undefined> {
  return db.selectFrom('ledger_accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** An account by (entity, currency, code), if any. */
export async function selectAccountByCode(db: Db, key: { entity: string; currency: string; code: string }): Promise<AccountRow | undefined> {
  return db.selectFrom('ledger_accounts').selectAll().where('entity', '=', key.entity).where('currency', '=', key.currency).where('code', '=', key.code).executeTakeFirst();
}

/** An entity's accounts (all entities' when `entity` is undefined), optionally of one currency or kind, after an id (exclusive), by id, at most `limit` (all without it). */
export async function selectAccounts(db: Db, filter: { entity: string | undefined; currency?: string; kind?: string; afterId?: number; limit?: number }): Promise<AccountRow[]> {
  let query = db.selectFrom('ledger_accounts').selectAll().orderBy('id');
  if (filter.entity !== undefined) query = query.where('entity', '=', filter.entity);
  if (filter.currency !== undefined) query = query.where('currency', '=', filter.currency);
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
  if (filter.afterId !== undefined && filter.afterId > 0) query = query.where('id', '>', filter.afterId);
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return query.execute();
}

/** The stored balance column of an account, if the account exists. */
export async function selectAccountBalance(db: Db, id: number): Promise<string | undefined> {
  const row = await db.selectFrom('ledger_accounts').select('balance').where('id', '=', id).executeTakeFirst();
  return row?.balance;
}

/**
 * An entity's accounts in id order: `(entity, id)`. A page of them (`listAccounts` with `afterId`
 * and `limit`, verify's ranges) is then one range of this index. Without it SQLite took the
 * `(entity, currency, code)` key for `entity = ?` and sorted every account of the entity for each
 * page: 67 ms a page of 1,000 at 300k accounts (2 ms with it), so walking the accounts in pages
 * cost the square of their number. Accounts are written once, so the index costs their creation
 * one more entry.
 */
export function accountPagesIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('ledger_accounts_entity_id').on('ledger_accounts').columns(['entity', 'id']).execute();
    },
  };
}

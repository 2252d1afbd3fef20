/**
 * The read statements of the journal that page: an account's history, the transactions of an
 * accounting day, and the count the invariant check compares with.
 */
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema.js';

type Db = Kysely<LedgerDatabase>;

/** Up to `limit` entries of an account after the cursor entry id, by entry id, with their transaction's facts. */
export async function selectHistoryRows(db: Db, input: { accountId: number; order: 'asc' | 'desc'; afterEntryId: number | undefined; limit: number }) {
  let query = db
    .selectFrom('journal_entries as e')
    .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
    .selectAll('e')
    .select(['t.kind', 't.occurred_at', 't.provider_id as transaction_provider_id', 't.description'])
    .where('e.account_id', '=', input.accountId)
    .orderBy('e.id', input.order)
    .limit(input.limit);
  if (input.afterEntryId !== undefined) query = query.where('e.id', input.order === 'asc' ? '>' : '<', input.afterEntryId);
  return query.execute();
}

/** Up to `limit` transactions of an entity's accounting day with ids above `afterId`, by id. */
export async function selectTransactionsOfDay(db: Db, input: { entity: string; day: string; afterId: number; limit: number }) {
  return db
    .selectFrom('journal_transactions')
    .selectAll()
    .where('entity', '=', input.entity)
    .where('accounting_day', '=', input.day)
    .where('id', '>', input.afterId)
    .orderBy('id')
    .limit(input.limit)
    .execute();
}

/** How many transactions are stored for an entity (all entities' when undefined). */
export async function countTransactions(db: Db, entity: string | undefined): Promise<number> {
  let query = db.selectFrom('journal_transactions').select((eb) => eb.fn.countAll<number>().as('n'));
  if (entity !== undefined) query = query.where('entity', '=', entity);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/**
 * The statements of balance shards (see `AccountBalanceShardTable`): on PostgreSQL a system
 * account (customer_funds, earn_assets, settlement, …) is touched by every booking, so one row
 * per account would make every concurrent writer wait for the previous one's commit. A writer
 * takes the account's own row when no one holds it (`FOR NO KEY UPDATE SKIP LOCKED`, never waiting);
 * when another transaction holds it, the writer keeps that account's running balance in its own
 * shard instead (a row per (account, shard)), locked only by writers that drew the same shard.
 * An account's balance is its own row's plus the sum of its shards'; its balance at the end of a
 * day is its own day row's plus, per shard, the shard's latest day row on or before the day.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema.js';
import type { LedgerDialect } from './dialect.js';

type Db = Kysely<LedgerDatabase>;

/** A shard's running state, as a posting reads and writes it. */
export interface ShardRow {
  readonly account_id: number;
  readonly shard: number;
  readonly balance: string;
  readonly last_day: string | null;
  readonly entry_count: number;
}

/**
 * The accounts among `ids` whose own row no other transaction holds, locked now (PostgreSQL; never
 * waits), in id order. `FOR NO KEY UPDATE`, like every account lock of the ledger: it excludes the
 * other writers of the row but not the foreign-key checks of entries and shard rows that other
 * transactions insert for the account (a `FOR UPDATE` would make them wait).
 */
export async function selectAccountsSkipLocked(db: Db, ids: readonly number[]) {
  if (ids.length === 0) return [];
  return db.selectFrom('ledger_accounts').selectAll().where('id', 'in', [...ids]).orderBy('id').forNoKeyUpdate().skipLocked().execute();
}

/**
 * Locks shard `shard` of each account for the transaction, creating it at zero when missing, in
 * account id order (so that two writers that drew the same shard never deadlock); one statement.
 */
export async function lockShards(db: Db, accountIds: readonly number[], shard: number): Promise<ShardRow[]> {
  if (accountIds.length === 0) return [];
  const ids = [...new Set(accountIds)].sort((a, b) => a - b);
  return db
    .insertInto('account_balance_shards')
    .values(ids.map((id) => ({ account_id: id, shard, balance: '0', last_day: null, entry_count: 0 })))
    // A no-op update: it locks and returns the existing row in the same statement.
    .onConflict((conflict) => conflict.columns(['account_id', 'shard']).doUpdateSet((eb) => ({ entry_count: eb.ref('account_balance_shards.entry_count') })))
    .returning(['account_id', 'shard', 'balance', 'last_day', 'entry_count'])
    .execute();
}

/** Writes the new running state of shards (locked by {@link lockShards} in this transaction). */
export async function writeShards(db: Db, rows: readonly ShardRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('account_balance_shards')
    .values(rows.map((row) => ({ ...row })))
    .onConflict((conflict) =>
      conflict.columns(['account_id', 'shard']).doUpdateSet((eb) => ({
        balance: eb.ref('excluded.balance'),
        last_day: eb.ref('excluded.last_day'),
        entry_count: eb.ref('excluded.entry_count'),
      })),
    )
    .execute();
}

/** Sets shards' end-of-day balances. */
export async function writeShardDays(db: Db, rows: readonly { account_id: number; shard: number; accounting_day: string; balance: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('account_shard_day_balances')
    .values([...rows])
    .onConflict((conflict) => conflict.columns(['account_id', 'shard', 'accounting_day']).doUpdateSet({ balance: (eb) => eb.ref('excluded.balance') }))
    .execute();
}

/** A shard's end-of-day rows from `day` on, oldest first. */
export async function selectShardDaysFrom(db: Db, key: { accountId: number; shard: number; day: string }) {
  return db
    .selectFrom('account_shard_day_balances')
    .select(['accounting_day', 'balance'])
    .where('account_id', '=', key.accountId)
    .where('shard', '=', key.shard)
    .where('accounting_day', '>=', key.day)
    .orderBy('accounting_day')
    .execute();
}

/** A shard's balance at the end of `day`: its latest day row at or before it. */
export async function selectShardBalanceAtEndOfDay(db: Db, key: { accountId: number; shard: number; day: string }): Promise<string | undefined> {
  const row = await db
    .selectFrom('account_shard_day_balances')
    .select('balance')
    .where('account_id', '=', key.accountId)
    .where('shard', '=', key.shard)
    .where('accounting_day', '<=', key.day)
    .orderBy('accounting_day', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.balance;
}

/** The shards of every account (of `entity` when given), each with its latest day row (what `verify` checks). */
export async function selectShardsWithLatestDay(db: Db, entity: string | undefined) {
  let query = db
    .selectFrom('account_balance_shards as s')
    .select(['s.account_id', 's.shard', 's.balance', 's.last_day', 's.entry_count'])
    .select((eb) => {
      // One index probe per shard (the key is account, shard, day): the latest day row.
      const latest = eb
        .selectFrom('account_shard_day_balances as d')
        .whereRef('d.account_id', '=', 's.account_id')
        .whereRef('d.shard', '=', 's.shard')
        .orderBy('d.accounting_day', 'desc')
        .limit(1);
      return [latest.select('d.balance').as('day_balance'), latest.select('d.accounting_day').as('day')];
    });
  if (entity !== undefined) query = query.where('s.account_id', 'in', db.selectFrom('ledger_accounts').select('id').where('entity', '=', entity));
  return query.orderBy('s.account_id').orderBy('s.shard').execute();
}

/**
 * Per (account, balance series, accounting day) of sharded accounts: the exact sum of signed
 * entries and their count, for the end-of-day check of every shard day row.
 */
export async function sumShardEntriesPerDay(db: Db, dialect: LedgerDialect, entity: string | undefined) {
  let query = db
    .selectFrom('journal_entries')
    .select(['account_id', 'balance_shard', 'accounting_day', sql<string>`${sql.raw(dialect.exactSumFunction)}(amount)`.as('total')])
    .where('balance_shard', 'is not', null)
    .groupBy(['account_id', 'balance_shard', 'accounting_day']);
  if (entity !== undefined) query = query.where('entity', '=', entity);
  return query.execute();
}

/** Every end-of-day row of the shards (of an entity's accounts), by account, shard and day. */
export async function selectShardDays(db: Db, entity: string | undefined) {
  let query = db.selectFrom('account_shard_day_balances').select(['account_id', 'shard', 'accounting_day', 'balance']);
  if (entity !== undefined) query = query.where('account_id', 'in', db.selectFrom('ledger_accounts').select('id').where('entity', '=', entity));
  return query.orderBy('account_id').orderBy('shard').orderBy('accounting_day').execute();
}

/**
 * An account's balance as one snapshot: its own row's balance (`shard` null; absent when there
 * is no such account) and each shard's, in one statement, so that a writer committing between two reads
 * cannot make the sum one the account never had. With `day`: the balances at the end of that day
 * (each series' latest day row on or before it; null where it has none).
 */
export async function selectSeriesBalances(db: Db, input: { accountId: number; day?: string }): Promise<{ shard: number | null; balance: string | null }[]> {
  const { accountId, day } = input;
  const query =
    day === undefined
      ? sql<{ shard: number | null; balance: string | null }>`
          select null as shard, balance from ledger_accounts where id = ${accountId}
          union all
          select shard, balance from account_balance_shards where account_id = ${accountId}`
      : sql<{ shard: number | null; balance: string | null }>`
          select null as shard, (select balance from account_day_balances where account_id = ${accountId} and accounting_day <= ${day} order by accounting_day desc limit 1) as balance
          union all
          select s.shard, (select d.balance from account_shard_day_balances d where d.account_id = s.account_id and d.shard = s.shard and d.accounting_day <= ${day}
                           order by d.accounting_day desc limit 1)
          from account_balance_shards s where s.account_id = ${accountId}`;
  return (await query.execute(db)).rows;
}

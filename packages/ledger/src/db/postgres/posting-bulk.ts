/**
 * The PostgreSQL half of {@link PostingBulk}: one `unnest` statement per list, one array per
 * column, rows numbered `WITH ORDINALITY` so that ids are drawn in posting order.
 *
 * The batch's lookups (its keys, its provider ids, its entries read back) are one index probe
 * per value, forced: a lateral subquery behind `offset 0` is planned per value, on the key
 * columns. Written as `column in (…500 values…)`, their plan rests on the table's statistics,
 * and where those are stale (a young table, a server whose autovacuum is off or has not yet
 * come round) the planner costs 500 values at the default selectivity as "every row" and scans
 * the entity's whole `journal_transactions_entity_day` index, or all of `journal_entries` in id
 * order, filtering: each batch then reads everything booked before it. Measured here (8 writers,
 * `postMany` batches of 500, this server's autovacuum off): 9.3k deposits/s in the first 3 s,
 * then 7.8k, 5.8k, 4.4k and 3.7k/s in the next four 10 s windows; after an `ANALYZE`,
 * 12.9k–13.5k/s in all four.
 */
import { sql } from 'kysely';
import type { Insertable, Kysely } from 'kysely';
import type { JournalTransactionTable, LedgerDatabase } from '../schema.js';
import type { AccountRow, EntryRow } from '../repository.js';
import type { PostingBulk, StoredOfBatch } from '../posting-bulk.js';
import { integerArrayLiteral as ints, textArrayLiteral as texts } from './array-literal.js';

type Db = Kysely<LedgerDatabase>;
type AccountWrite = { id: number; balance: string; last_day: string | null; entry_count: number };
type DayWrite = { account_id: number; accounting_day: string; balance: string };

/** Transactions of an entity by idempotency keys, one forced probe per key. */
function byKeys(entity: string, keys: readonly string[]) {
  return sql`select t.id, t.idempotency_key, t.request_hash from unnest(${texts([...new Set(keys)])}::text[]) as k(key)
      cross join lateral (select id, idempotency_key, request_hash from journal_transactions where entity = ${entity} and idempotency_key = k.key offset 0) t`;
}

/** Transactions of an entity by provider ids (whole ones and compound lines), one forced probe per id and store. */
function byProviderIds(entity: string, providerIds: readonly string[]) {
  const ids = texts([...new Set(providerIds)]);
  return sql`select t.id, t.kind, t.provider_id, t.idempotency_key from unnest(${ids}::text[]) as p(id)
      cross join lateral (select id, kind, provider_id, idempotency_key from journal_transactions where entity = ${entity} and provider_id = p.id offset 0) t
      union all
      select t.id, t.kind, e.provider_id, t.idempotency_key from unnest(${ids}::text[]) as p(id)
      cross join lateral (select transaction_id, provider_id from journal_entries where entity = ${entity} and provider_id = p.id offset 0) e
      join journal_transactions t on t.id = e.transaction_id`;
}

function updateAccounts(rows: readonly AccountWrite[]) {
  return sql`update ledger_accounts as a set balance = u.balance, last_day = u.last_day, entry_count = u.entry_count
      from unnest(${ints(rows.map((r) => r.id))}::bigint[], ${texts(rows.map((r) => r.balance))}::numeric[], ${texts(rows.map((r) => r.last_day))}::text[], ${ints(rows.map((r) => r.entry_count))}::int[])
           as u(id, balance, last_day, entry_count)
      where a.id = u.id`;
}

function upsertDays(rows: readonly DayWrite[]) {
  return sql`insert into account_day_balances (account_id, accounting_day, balance)
      select * from unnest(${ints(rows.map((r) => r.account_id))}::bigint[], ${texts(rows.map((r) => r.accounting_day))}::text[], ${texts(rows.map((r) => r.balance))}::numeric[])
      on conflict (account_id, accounting_day) do update set balance = excluded.balance`;
}

/** The PostgreSQL bulk inserts of the posting path (stateless). */
export const postgresPostingBulk: PostingBulk = Object.freeze({
  async selectTransactionsByKeys(trx: Db, entity: string, keys: readonly string[]) {
    if (keys.length === 0) return [];
    return (await sql<{ id: number; idempotency_key: string; request_hash: string }>`${byKeys(entity, keys)}`.execute(trx)).rows;
  },
  async selectTransactionsByProviderIds(trx: Db, entity: string, providerIds: readonly string[]) {
    if (providerIds.length === 0) return [];
    return (await sql<{ id: number; kind: string; provider_id: string | null; idempotency_key: string }>`${byProviderIds(entity, providerIds)}`.execute(trx)).rows;
  },
  async selectEntriesOfTransactions(trx: Db, transactionIds: readonly number[]): Promise<EntryRow[]> {
    if (transactionIds.length === 0) return [];
    const result = await sql<EntryRow>`
      select e.* from unnest(${ints([...new Set(transactionIds)])}::bigint[]) as t(id)
      cross join lateral (select * from journal_entries where transaction_id = t.id offset 0) e
      order by e.id`.execute(trx);
    return result.rows;
  },
  async insertTransactions(trx: Db, rows: readonly Insertable<JournalTransactionTable>[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    if (rows.length === 0) return ids;
    const column = (pick: (row: Insertable<JournalTransactionTable>) => string | null): string => texts(rows.map(pick));
    const numbers = (pick: (row: Insertable<JournalTransactionTable>) => number | null): string => ints(rows.map(pick));
    const inserted = await sql<{ id: number; idempotency_key: string }>`
      insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
      select u.entity, u.kind, u.idempotency_key, u.request_hash, u.occurred_at, u.accounting_day, u.provider_id, u.reverses_transaction_id, u.description, u.metadata, u.created_at
      from unnest(${column((r) => r.entity)}::text[], ${column((r) => r.kind)}::text[], ${column((r) => r.idempotency_key)}::text[], ${column((r) => r.request_hash)}::text[],
                  ${column((r) => r.occurred_at)}::text[], ${column((r) => r.accounting_day)}::text[], ${column((r) => r.provider_id ?? null)}::text[],
                  ${numbers((r) => r.reverses_transaction_id ?? null)}::bigint[], ${column((r) => r.description ?? null)}::text[], ${column((r) => r.metadata ?? null)}::text[],
                  ${column((r) => r.created_at)}::text[])
           with ordinality as u(entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at, n)
      order by u.n
      on conflict (entity, idempotency_key) do nothing
      returning id, idempotency_key`.execute(trx);
    for (const row of inserted.rows) ids.set(row.idempotency_key, row.id);
    return ids;
  },
  async insertEntries(trx: Db, rows: readonly Omit<EntryRow, 'id'>[]): Promise<EntryRow[]> {
    if (rows.length === 0) return [];
    const column = (pick: (row: Omit<EntryRow, 'id'>) => string | null): string => texts(rows.map(pick));
    const numbers = (pick: (row: Omit<EntryRow, 'id'>) => number | null): string => ints(rows.map(pick));
    const inserted = await sql<EntryRow>`
      insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard)
      select u.transaction_id, u.entity, u.account_id, u.currency, u.amount, u.balance_after, u.accounting_day, u.provider_id, u.balance_shard
      from unnest(${numbers((r) => r.transaction_id)}::bigint[], ${column((r) => r.entity)}::text[], ${numbers((r) => r.account_id)}::bigint[], ${column((r) => r.currency)}::text[],
                  ${column((r) => r.amount)}::numeric[], ${column((r) => r.balance_after)}::numeric[], ${column((r) => r.accounting_day)}::text[],
                  ${column((r) => r.provider_id)}::text[], ${numbers((r) => r.balance_shard)}::int[])
           with ordinality as u(transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard, n)
      order by u.n
      returning *`.execute(trx);
    // RETURNING answers in no promised order: the rows are put in id order here.
    return inserted.rows.sort((a, b) => a.id - b.id);
  },
  async writeAccounts(trx: Db, rows: readonly AccountWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`${updateAccounts(rows)}`.execute(trx);
  },
  async writeDays(trx: Db, rows: readonly DayWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`${upsertDays(rows)}`.execute(trx);
  },
  combined: Object.freeze({
    async selectAccounts(trx: Db, locked: readonly number[], skipLocked: readonly number[]) {
      // Locked in id order as the two statements lock them: the waited-for rows first, then the
      // others without waiting; each CTE's rows are locked as its sort emits them.
      const result = await sql<AccountRow & { waited: boolean }>`
        with l as (select * from ledger_accounts where id = any(${ints(locked)}::bigint[]) order by id for no key update),
             s as (select * from ledger_accounts where id = any(${ints(skipLocked)}::bigint[]) order by id for no key update skip locked)
        select true as waited, l.* from l union all select false as waited, s.* from s`.execute(trx);
      const byId = (a: AccountRow, b: AccountRow) => a.id - b.id;
      const strip = ({ waited: _, ...row }: AccountRow & { waited: boolean }): AccountRow => row;
      return { locked: result.rows.filter((row) => row.waited).map(strip).sort(byId), taken: result.rows.filter((row) => !row.waited).map(strip).sort(byId) };
    },
    async selectStored(trx: Db, entity: string, keys: readonly string[], providerIds: readonly string[]): Promise<StoredOfBatch> {
      if (providerIds.length === 0) return { byKeys: await postgresPostingBulk.selectTransactionsByKeys(trx, entity, keys), byProviderIds: [] };
      if (keys.length === 0) return { byKeys: [], byProviderIds: await postgresPostingBulk.selectTransactionsByProviderIds(trx, entity, providerIds) };
      const result = await sql<{ by_key: boolean; id: number; idempotency_key: string; request_hash: string | null; kind: string | null; provider_id: string | null }>`
        select true as by_key, k.id, k.idempotency_key, k.request_hash, null::text as kind, null::text as provider_id from (${byKeys(entity, keys)}) k
        union all
        select false as by_key, p.id, p.idempotency_key, null::text as request_hash, p.kind, p.provider_id from (${byProviderIds(entity, providerIds)}) p`.execute(trx);
      return {
        byKeys: result.rows.filter((row) => row.by_key).map((row) => ({ id: row.id, idempotency_key: row.idempotency_key, request_hash: row.request_hash ?? '' })),
        byProviderIds: result.rows.filter((row) => !row.by_key).map((row) => ({ id: row.id, kind: row.kind ?? '', provider_id: row.provider_id, idempotency_key: row.idempotency_key })),
      };
    },
    async writeBalances(trx: Db, accounts: readonly AccountWrite[], days: readonly DayWrite[]): Promise<void> {
      if (accounts.length === 0 || days.length === 0) {
        await postgresPostingBulk.writeAccounts(trx, accounts);
        await postgresPostingBulk.writeDays(trx, days);
        return;
      }
      // A data-modifying CTE runs once, to completion, whether or not the statement reads it.
      await sql`with a as (${updateAccounts(accounts)}) ${upsertDays(days)}`.execute(trx);
    },
  }),
});

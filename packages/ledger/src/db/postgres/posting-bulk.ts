/**
 * The PostgreSQL half of {@link PostingBulk}: one `unnest` statement per list, one array per
 * column, rows numbered `WITH ORDINALITY` so that ids are drawn in posting order.
 */
import { sql } from 'kysely';
import type { Insertable, Kysely } from 'kysely';
import type { JournalTransactionTable, LedgerDatabase } from '../schema.js';
import type { EntryRow } from '../repository.js';
import { selectEntriesOfTransactions, selectTransactionsByKeys, selectTransactionsByProviderIds } from '../repository.js';
import type { PostingBulk } from '../posting-bulk.js';

type Db = Kysely<LedgerDatabase>;

/** The PostgreSQL bulk inserts of the posting path (stateless). */
export const postgresPostingBulk: PostingBulk = Object.freeze({
  selectTransactionsByKeys,
  selectTransactionsByProviderIds,
  selectEntriesOfTransactions,
  async insertTransactions(trx: Db, rows: readonly Insertable<JournalTransactionTable>[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    if (rows.length === 0) return ids;
    const column = <T>(pick: (row: Insertable<JournalTransactionTable>) => T): T[] => rows.map(pick);
    const inserted = await sql<{ id: number; idempotency_key: string }>`
      insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
      select u.entity, u.kind, u.idempotency_key, u.request_hash, u.occurred_at, u.accounting_day, u.provider_id, u.reverses_transaction_id, u.description, u.metadata, u.created_at
      from unnest(${column((r) => r.entity)}::text[], ${column((r) => r.kind)}::text[], ${column((r) => r.idempotency_key)}::text[], ${column((r) => r.request_hash)}::text[],
                  ${column((r) => r.occurred_at)}::text[], ${column((r) => r.accounting_day)}::text[], ${column((r) => r.provider_id ?? null)}::text[],
                  ${column((r) => r.reverses_transaction_id ?? null)}::bigint[], ${column((r) => r.description ?? null)}::text[], ${column((r) => r.metadata ?? null)}::text[],
                  ${column((r) => r.created_at)}::text[])
           with ordinality as u(entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at, n)
      order by u.n
      on conflict (entity, idempotency_key) do nothing
      returning id, idempotency_key`.execute(trx);
    for (const row of inserted.rows) ids.set(row.idempotency_key, row.id);
    return ids;
  },
  async insertEntries(trx: Db, rows: readonly Omit<EntryRow, 'id'>[]): Promise<void> {
    if (rows.length === 0) return;
    const column = <T>(pick: (row: Omit<EntryRow, 'id'>) => T): T[] => rows.map(pick);
    await sql`
      insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard)
      select u.transaction_id, u.entity, u.account_id, u.currency, u.amount, u.balance_after, u.accounting_day, u.provider_id, u.balance_shard
      from unnest(${column((r) => r.transaction_id)}::bigint[], ${column((r) => r.entity)}::text[], ${column((r) => r.account_id)}::bigint[], ${column((r) => r.currency)}::text[],
                  ${column((r) => r.amount)}::numeric[], ${column((r) => r.balance_after)}::numeric[], ${column((r) => r.accounting_day)}::text[],
                  ${column((r) => r.provider_id)}::text[], ${column((r) => r.balance_shard)}::int[])
           with ordinality as u(transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard, n)
      order by u.n`.execute(trx);
  },
  async writeAccounts(trx: Db, rows: readonly { id: number; balance: string; last_day: string | null; entry_count: number }[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`
      update ledger_accounts as a set balance = u.balance, last_day = u.last_day, entry_count = u.entry_count
      from unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.balance)}::numeric[], ${rows.map((r) => r.last_day)}::text[], ${rows.map((r) => r.entry_count)}::int[])
           as u(id, balance, last_day, entry_count)
      where a.id = u.id`.execute(trx);
  },
  async writeDays(trx: Db, rows: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`
      insert into account_day_balances (account_id, accounting_day, balance)
      select * from unnest(${rows.map((r) => r.account_id)}::bigint[], ${rows.map((r) => r.accounting_day)}::text[], ${rows.map((r) => r.balance)}::numeric[])
      on conflict (account_id, accounting_day) do update set balance = excluded.balance`.execute(trx);
  },
});

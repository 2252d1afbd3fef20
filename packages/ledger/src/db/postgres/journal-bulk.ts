/**
 * The PostgreSQL half of {@link JournalBulk}: each list goes to the server as arrays in one
 * statement (`unnest`), so a compound posting of 1,000 lines costs a handful of round trips.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from '../schema.js';
import { readBackText } from '../journal-bulk.js';
import { integerArrayLiteral as ints, textArrayLiteral as texts } from './array-literal.js';
import type { BulkAccountRow, BulkEntryRow, BulkWrite, JournalBulk, ReadBackEntry, ResidueRow, StoredProviderEntry } from '../journal-bulk.js';

type Db = Kysely<LedgerDatabase>;

/** The PostgreSQL bulk statements (stateless: they run on the transaction they are given). */
export const postgresJournalBulk: JournalBulk = Object.freeze({
  async lockAccounts(trx: Db, ids: readonly number[]): Promise<BulkAccountRow[]> {
    // In id order, so that two writers never deadlock on each other's rows; NO KEY, so that
    // writers of balance shards of the same accounts insert their entries meanwhile.
    const result = await sql<BulkAccountRow>`
      select id, entity, currency, code, kind, normal_side, balance, last_day, entry_count from ledger_accounts
      where id = any(${ints(ids)}::bigint[]) order by id for no key update`.execute(trx);
    return result.rows;
  },
  async findProviderEntries(trx: Db, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<StoredProviderEntry[]> {
    const ids = texts(input.providerIds);
    // One index probe per id, forced (a lateral subquery behind `offset 0` is planned per id, on
    // both key columns): written as `provider_id = any(ids)`, the planner may scan the entity's
    // whole partial index and filter, which it costs as free when its statistics say no entry
    // carries a provider id — the first night of compound lines — and the night's own lines are
    // not in the statistics: each probe then read every line booked so far (a 1M-account night
    // spent most of its sync there).
    const result = await sql<StoredProviderEntry>`
      select e.provider_id, e.transaction_id, e.account_id, e.amount from unnest(${ids}::text[]) as p(id)
      cross join lateral (select provider_id, transaction_id, account_id, amount from journal_entries where entity = ${input.entity} and provider_id = p.id offset 0) e
      union all
      select t.provider_id, t.id, e.account_id, e.amount from journal_transactions t join journal_entries e on e.transaction_id = t.id
      where t.entity = ${input.entity} and t.kind = ${input.kind} and t.provider_id = any(${ids}::text[])`.execute(trx);
    return result.rows;
  },
  async anyProviderIdInRange(trx: Db, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<boolean> {
    const result = await sql<{ found: boolean }>`
      with bounds as (select min(id) as least, max(id) as greatest from unnest(${texts(input.providerIds)}::text[]) as p(id))
      select exists (select 1 from journal_entries where entity = ${input.entity} and provider_id between (select least from bounds) and (select greatest from bounds))
          or exists (select 1 from journal_transactions where entity = ${input.entity} and provider_id between (select least from bounds) and (select greatest from bounds) and kind = ${input.kind}) as found`.execute(trx);
    return result.rows[0]?.found === true;
  },
  async dayBalancesFrom(trx: Db, accountId: number, day: string) {
    const before = await sql<{ balance: string }>`
      select balance from account_day_balances where account_id = ${accountId} and accounting_day < ${day} order by accounting_day desc limit 1`.execute(trx);
    const rows = await sql<{ accounting_day: string; balance: string }>`
      select accounting_day, balance from account_day_balances where account_id = ${accountId} and accounting_day >= ${day} order by accounting_day`.execute(trx);
    return { before: before.rows[0]?.balance, rows: rows.rows };
  },
  async write(trx: Db, write: BulkWrite): Promise<number> {
    const t = write.transaction;
    const a = write.accounts;
    // End-of-day rows the account rows say are new are inserted without a conflict check: the
    // speculative insertion of `on conflict` cost a statement of 1,000 new rows 7.4-7.8 ms
    // against 4.4-5.1 ms (psql, 100k accounts), and the raw writer's day rows at 100k accounts
    // took 1.25-1.44 s upserted against 0.74-0.97 s inserted (a slow hour, round trips included).
    const fresh = write.dayBalances.filter((row) => row.fresh);
    const d = write.dayBalances.filter((row) => !row.fresh);
    const inserted = await sql<{ id: number }>`
      with t as (
        insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, description, metadata, created_at)
        values (${t.entity}, ${t.kind}, ${t.idempotency_key}, ${t.request_hash}, ${t.occurred_at}, ${t.accounting_day}, ${t.description}, ${t.metadata}, ${t.created_at})
        returning id),
      e as (
        insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id)
        select (select id from t), ${t.entity}, u.account_id, ${write.currency}, u.amount, u.balance_after, ${t.accounting_day}, u.provider_id
        from unnest(${ints(write.entries.map((e) => e.account_id))}::bigint[], ${texts(write.entries.map((e) => e.amount))}::numeric[],
                    ${texts(write.entries.map((e) => e.balance_after))}::numeric[], ${texts(write.entries.map((e) => e.provider_id))}::text[])
             with ordinality as u(account_id, amount, balance_after, provider_id, n)
        order by u.n),
      a as (
        update ledger_accounts as a set balance = u.balance, last_day = u.last_day, entry_count = u.entry_count
        from unnest(${ints(a.map((r) => r.id))}::bigint[], ${texts(a.map((r) => r.balance))}::numeric[], ${texts(a.map((r) => r.last_day))}::text[], ${ints(a.map((r) => r.entry_count))}::int[])
             as u(id, balance, last_day, entry_count)
        where a.id = u.id),
      f as (
        insert into account_day_balances (account_id, accounting_day, balance)
        select * from unnest(${ints(fresh.map((r) => r.account_id))}::bigint[], ${texts(fresh.map((r) => r.accounting_day))}::text[], ${texts(fresh.map((r) => r.balance))}::numeric[])),
      d as (
        insert into account_day_balances (account_id, accounting_day, balance)
        select * from unnest(${ints(d.map((r) => r.account_id))}::bigint[], ${texts(d.map((r) => r.accounting_day))}::text[], ${texts(d.map((r) => r.balance))}::numeric[])
        on conflict (account_id, accounting_day) do update set balance = excluded.balance)
      select id from t`.execute(trx);
    const transactionId = inserted.rows[0]?.id;
    if (transactionId === undefined) throw new Error('insert into journal_transactions returned no id');
    return transactionId;
  },
  async readBack(trx: Db, transactionId: number): Promise<ReadBackEntry[]> {
    const result = await sql<ReadBackEntry>`
      select id, account_id, currency, amount, balance_after, provider_id from journal_entries where transaction_id = ${transactionId} order by id`.execute(trx);
    return result.rows;
  },
  async readBackMatches(trx: Db, transactionId: number, expected: { readonly currency: string; readonly entries: readonly BulkEntryRow[] }): Promise<boolean> {
    // One text built by the server from the stored rows (see readBackText) instead of a row per
    // entry parsed here.
    const result = await sql<{ count: number | string; text: string | null }>`
      select count(*) as count,
             string_agg(account_id::text || chr(31) || currency || chr(31) || amount::text || chr(31) || coalesce('=' || provider_id, ''), chr(30) order by id) as text
      from journal_entries where transaction_id = ${transactionId}`.execute(trx);
    const row = result.rows[0];
    return row !== undefined && Number(row.count) === expected.entries.length && row.text === readBackText(expected.currency, expected.entries);
  },
  async insertResidues(trx: Db, rows: readonly ResidueRow[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`
      insert into interest_residues (account_id, accounting_day, user_residue, margin_residue)
      select * from unnest(${ints(rows.map((r) => r.account_id))}::bigint[], ${texts(rows.map((r) => r.accounting_day))}::text[],
                           ${texts(rows.map((r) => r.user_residue))}::text[], ${texts(rows.map((r) => r.margin_residue))}::text[])
      on conflict (account_id, accounting_day) do nothing`.execute(trx);
  },
});

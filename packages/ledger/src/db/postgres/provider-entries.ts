/**
 * The PostgreSQL statements of the provider-entry reads (`../provider-entries-repository.ts`),
 * with every join planned per row: each joined table is read in a lateral subquery behind
 * `offset 0`, which the planner cannot turn into a hash join over the whole table.
 *
 * Written with the query builder's plain joins, PostgreSQL planned them from its statistics, and
 * those describe the books before the night (the bench's books analyzed once built; a partner's
 * books between two autovacuum runs): on a 200k-account nightly, a page of the day's 5,000
 * entries in book order scanned the whole journal, every transaction and every Earn account and
 * hashed them (0.12–0.46 s a page; the page's rows alone are a few milliseconds), and a lookup of
 * 500 provider ids of whole transactions scanned every transaction of the entity (7–17 ms a
 * lookup, 2,000 lookups at 1M accounts). Per row, each costs its own rows whatever the size of
 * the books and whatever the statistics say.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from '../schema.js';
import type { ProviderEntryBookKey, ProviderEntryBookRow, ProviderEntryRow } from '../provider-entries-repository.js';
import { PROVIDER_ENTRY_KINDS, relevantLine, wholeTransactionLine } from '../provider-lines.js';
import { textArrayLiteral } from './array-literal.js';

type Db = Kysely<LedgerDatabase>;

/**
 * A page of a day's provider entries in book order after a key (see
 * `selectProviderEntriesOfDayInBookOrder`): the entries' range of `journal_entries_entity_day_book`
 * in index order, each joined to its transaction and Earn account by key, until the page is full.
 */
export async function postgresDayPageInBookOrder(
  db: Db,
  input: { entity: string; day: string; after: ProviderEntryBookKey | null; limit: number; kinds: readonly string[] },
): Promise<ProviderEntryBookRow[]> {
  const after = input.after === null ? sql`` : sql`and (e.transaction_id, e.id) > (${input.after.transactionId}, ${input.after.entryId})`;
  const result = await sql<ProviderEntryBookRow>`
    select t.id, t.kind, t.accounting_day, t.occurred_at, t.metadata, e.amount, e.currency, ea.earn_account_id, e.id as entry_id, coalesce(e.provider_id, t.provider_id) as provider_id
    from journal_entries e
    cross join lateral (select id, kind, provider_id, accounting_day, occurred_at, metadata from journal_transactions where id = e.transaction_id offset 0) t
    left join lateral (select earn_account_id from earn_accounts where ledger_account_id = e.account_id and entity = e.entity offset 0) ea on true
    where e.entity = ${input.entity} and e.accounting_day = ${input.day} ${after}
      and t.kind in (${sql.join([...input.kinds])}) and ${relevantLine()}
    order by e.transaction_id, e.id
    limit ${input.limit}`.execute(db);
  return result.rows;
}

/**
 * The provider entries carrying one of `providerIds`: per id, one probe of the whole
 * transactions' index and one of the compound lines' (then each row's entries, transaction and
 * Earn account by key). Unordered; each entry once, whatever ids repeat.
 */
export async function postgresProviderEntriesByIds(db: Db, input: { entity: string; providerIds: readonly string[] }): Promise<ProviderEntryRow[]> {
  // Each id once: an id asked for twice is answered once, as an `in` list answers it (SQLite's form).
  const ids = textArrayLiteral([...new Set(input.providerIds)]);
  const { entity } = input;
  const result = await sql<ProviderEntryRow>`
    select t.id, t.kind, t.provider_id, t.accounting_day, t.occurred_at, t.metadata, e.amount, e.currency, ea.earn_account_id
    from unnest(${ids}::text[]) as p(id)
    cross join lateral (select id, kind, provider_id, accounting_day, occurred_at, metadata from journal_transactions where entity = ${entity} and provider_id = p.id offset 0) t
    cross join lateral (select account_id, amount, currency, provider_id, entity from journal_entries where transaction_id = t.id offset 0) e
    left join lateral (select earn_account_id from earn_accounts where ledger_account_id = e.account_id and entity = e.entity offset 0) ea on true
    where ${wholeTransactionLine()}
    union all
    select t.id, t.kind, e.provider_id, e.accounting_day, t.occurred_at, t.metadata, e.amount, e.currency, ea.earn_account_id
    from unnest(${ids}::text[]) as p(id)
    cross join lateral (select transaction_id, account_id, amount, currency, provider_id, accounting_day, entity from journal_entries where entity = ${entity} and provider_id = p.id offset 0) e
    cross join lateral (select id, kind, occurred_at, metadata from journal_transactions where id = e.transaction_id offset 0) t
    left join lateral (select earn_account_id from earn_accounts where ledger_account_id = e.account_id and entity = e.entity offset 0) ea on true
    where t.kind in (${sql.join(PROVIDER_ENTRY_KINDS)})`.execute(db);
  return result.rows;
}

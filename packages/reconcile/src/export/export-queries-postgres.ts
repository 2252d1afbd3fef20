/**
 * PostgreSQL's forms of two export pages whose query-builder forms (`export-queries.ts`) it planned
 * to read more than the page (measured on the nightly bench's 1M-account books, the night synced):
 *
 * - The journal page ({@link postgresJournalPage}): with statistics taken before the day's rows
 *   were written (a nightly export runs right after the night's bookings, before autovacuum has
 *   analyzed them), the planner counted the day as empty, read the whole rest of the day through
 *   `journal_entries_entity_day_book`, joined every row and sorted it for each page: a page of
 *   5,000 of a 1M-line day took 2.4-3.1 s and the day's journal 254.6 s; 31 ms a page and 11.8 s
 *   this way. (SQLite had the same plan, without statistics: see `journalPageBuilt`.)
 * - The balances page ({@link postgresBalancesPage}): a merge join walked `account_day_balances`
 *   from its first row up to the page's accounts for every page: 0.3-0.7 s a page of 5,000, 52-60
 *   s for 1M accounts; 6.6-10.3 s this way.
 *
 * Neither plan depends on the statistics now: the journal page walks the primary key from the
 * cursor (the day and entity are compared as expressions no index holds, so the planner cannot
 * pick the day index and sort), and each page joins its rows one by one (lateral subqueries behind
 * `offset 0` or `limit 1`).
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from '@earnbook/ledger';
import type { CheckedScope, ExportDayRange } from './export-options.js';
import type { BalanceExportRow, JournalExportRow } from './export-queries.js';

/**
 * A page of journal entries after `afterId` up to `lastId`, by entry id, walking the primary key.
 * It reads every entry of the id range, of any day or entity, so it serves a dense range (see
 * `walkJournalByEntryId`); a sparse one is left to the query builder's form.
 */
export async function postgresJournalPage(
  db: Kysely<LedgerDatabase>,
  input: { scope: CheckedScope; range: ExportDayRange; afterId: number; lastId: number; pageSize: number },
): Promise<JournalExportRow[]> {
  // `|| ''`: the same comparison, on an expression no index holds (see the module comment).
  const entity = input.scope.entity === undefined ? sql`` : sql`and (e.entity || '') = ${input.scope.entity}`;
  const { rows } = await sql<JournalExportRow>`
    select e.id as entry_id, e.transaction_id, e.entity, e.accounting_day, t.occurred_at, t.kind, e.account_id,
           a.code as account, a.kind as account_kind, e.currency, e.amount, e.balance_after,
           coalesce(e.provider_id, t.provider_id) as provider_id, t.description, t.metadata
    from journal_entries e
    cross join lateral (select occurred_at, kind, provider_id, description, metadata from journal_transactions where id = e.transaction_id offset 0) t
    cross join lateral (select code, kind from ledger_accounts where id = e.account_id offset 0) a
    where e.id > ${input.afterId} and e.id <= ${input.lastId}
      and (e.accounting_day || '') >= ${input.range.fromDay} and (e.accounting_day || '') <= ${input.range.toDay} ${entity}
    order by e.id
    limit ${input.pageSize}`.execute(db);
  return rows;
}

/** A page of accounts by id, each with its latest `account_day_balances` row on or before `day` (one index probe per account). */
export async function postgresBalancesPage(db: Kysely<LedgerDatabase>, input: { scope: CheckedScope; day: string; afterId: number; pageSize: number }): Promise<BalanceExportRow[]> {
  const entity = input.scope.entity === undefined ? sql`` : sql`and a.entity = ${input.scope.entity}`;
  const { rows } = await sql<BalanceExportRow>`
    select a.id as account_id, a.entity, a.code as account, a.kind as account_kind, a.normal_side, a.currency,
           b.balance, b.accounting_day as balance_day
    from ledger_accounts a
    left join lateral (select balance, accounting_day from account_day_balances
                       where account_id = a.id and accounting_day <= ${input.day} order by accounting_day desc limit 1) b on true
    where a.id > ${input.afterId} ${entity}
    order by a.id
    limit ${input.pageSize}`.execute(db);
  return rows;
}

/**
 * The SQLite half of {@link JournalBulk}: prepared statements on the native better-sqlite3
 * handle, run inside the write transaction the caller opened through Kysely (the
 * handle is the one connection behind that transaction, so they commit or roll back with it).
 *
 * Multi-row statements built per call cost more in JS than SQLite spends executing them (see
 * `bench/interest-cycle.ts`). Lists go in as one JSON array bound to `json_each`, so no statement
 * depends on a list length: so do a write's entries and end-of-day rows (see `write` below).
 */
import type Database from 'better-sqlite3';
import { readBackText } from '../journal-bulk.js';
import type { BulkAccountRow, BulkEntryRow, BulkWrite, JournalBulk, ReadBackEntry, ResidueRow, StoredProviderEntry } from '../journal-bulk.js';
import { readerOf } from './row-objects.js';

/** A balance, last day and entry count written to an account row (shared with `posting-bulk.ts`). */
export const UPDATE_ACCOUNT_SQL = 'update ledger_accounts set balance = ?, last_day = ?, entry_count = ? where id = ?';

/** An end-of-day balance set (shared with `posting-bulk.ts`). */
export const UPSERT_DAY_SQL =
  'insert into account_day_balances (account_id, accounting_day, balance) values (?, ?, ?) on conflict (account_id, accounting_day) do update set balance = excluded.balance';

interface Statements {
  readonly lockAccounts: (ids: string) => BulkAccountRow[];
  readonly entryProviderIds: (entity: string, ids: string) => StoredProviderEntry[];
  readonly transactionProviderIds: (entity: string, kind: string, ids: string) => StoredProviderEntry[];
  readonly anyInRange: (ids: string, entity: string, sameEntity: string, kind: string) => { found: number }[];
  readonly dayRowsFrom: (accountId: number, day: string) => { accounting_day: string; balance: string }[];
  readonly dayBefore: (accountId: number, day: string) => { balance: string }[];
  readonly insertTransaction: Database.Statement;
  readonly insertEntries: Database.Statement;
  readonly insertEntry: Database.Statement;
  readonly updateAccount: Database.Statement;
  readonly upsertDays: Database.Statement;
  readonly readBack: (transactionId: number) => ReadBackEntry[];
  readonly readBackText: Database.Statement;
  readonly insertResidue: Database.Statement;
}

function prepare(native: Database.Database): Statements {
  return {
    lockAccounts: readerOf(
      native.prepare('select id, entity, currency, code, kind, normal_side, balance, last_day, entry_count from ledger_accounts where id in (select value from json_each(?)) order by id'),
    ),
    entryProviderIds: readerOf(
      native.prepare('select provider_id, transaction_id, account_id, amount from journal_entries where entity = ? and provider_id in (select value from json_each(?))'),
    ),
    transactionProviderIds: readerOf(native.prepare(
      `select t.provider_id, t.id as transaction_id, e.account_id, e.amount from journal_transactions t join journal_entries e on e.transaction_id = t.id
       where t.entity = ? and t.kind = ? and t.provider_id in (select value from json_each(?))`,
    )),
    anyInRange: readerOf(native.prepare(
      `with bounds as (select min(value) as least, max(value) as greatest from json_each(?))
       select exists (select 1 from journal_entries, bounds where entity = ? and provider_id between least and greatest)
           or exists (select 1 from journal_transactions, bounds where entity = ? and provider_id between least and greatest and kind = ?) as found`,
    )),
    dayRowsFrom: readerOf(native.prepare('select accounting_day, balance from account_day_balances where account_id = ? and accounting_day >= ? order by accounting_day')),
    dayBefore: readerOf(native.prepare('select balance from account_day_balances where account_id = ? and accounting_day < ? order by accounting_day desc limit 1')),
    insertTransaction: native.prepare(
      `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
       values (?, ?, ?, ?, ?, ?, null, null, ?, ?, ?)`,
    ),
    // Rows in array order (json_each's), so entry ids follow posting order as readBack expects.
    insertEntries: native.prepare(
      `insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id)
       select ?, ?, value ->> 0, ?, value ->> 1, value ->> 2, ?, value ->> 3 from json_each(?)`,
    ),
    insertEntry: native.prepare(
      `insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id)
       values (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateAccount: native.prepare(UPDATE_ACCOUNT_SQL),
    // `where true` keeps SQLite from reading `on conflict` as part of the select's join.
    upsertDays: native.prepare(
      `insert into account_day_balances (account_id, accounting_day, balance) select value ->> 0, value ->> 1, value ->> 2 from json_each(?) where true
       on conflict (account_id, accounting_day) do update set balance = excluded.balance`,
    ),
    readBack: readerOf(native.prepare('select id, account_id, currency, amount, balance_after, provider_id from journal_entries where transaction_id = ? order by id')),
    // One text for a transaction's entries (see readBackText in ../journal-bulk.ts): SQLite builds
    // it from the rows it reads, so no row object and no value per column cross into JavaScript.
    readBackText: native
      .prepare(
        `select count(*), group_concat(account_id || char(31) || currency || char(31) || amount || char(31) || coalesce('=' || provider_id, ''), char(30) order by id)
         from journal_entries where transaction_id = ?`,
      )
      .raw(true),
    insertResidue: native.prepare(
      'insert into interest_residues (account_id, accounting_day, user_residue, margin_residue) values (?, ?, ?, ?) on conflict (account_id, accounting_day) do nothing',
    ),
  };
}

/**
 * Whether the entries' provider ids ascend (null ids, which the provider-id index does not hold,
 * aside): then one multi-row statement inserts them. A statement that writes many rows and may
 * fail midway (here: the entries' foreign keys) keeps a statement journal, a copy of every page
 * it changes for the first time, in a temporary file. Ascending ids (the accounting cycle's) land
 * on a few pages at the end of the provider-id index; a provider's ids (UUIDs, the report sync's)
 * land on a page each, so a statement of 1,000 such rows copied ~1,000 pages: on the nightly
 * bench's books (1M accounts), 1,000 statements of 1,000 such entries took 12.3-14.7 ms each,
 * 1,000 rows inserted one by one (a single-row insert needs no statement journal) 7.8 ms, and
 * ascending ids 3.0-3.3 ms in one statement, 5.0 ms row by row (a standalone script on those
 * books; README, session 43). Either way stores the same rows in the same order: the check (in
 * JavaScript's order, not SQLite's byte order, which differ only past the BMP) only picks the
 * faster one.
 */
function providerIdsAscend(entries: readonly BulkEntryRow[]): boolean {
  let last: string | undefined;
  for (const { provider_id: id } of entries) {
    if (id === null) continue;
    if (last !== undefined && !(last < id)) return false;
    last = id;
  }
  return true;
}

/** The bulk statements of one SQLite database; prepared on first use. */
export function sqliteJournalBulk(native: Database.Database): JournalBulk {
  let prepared: Statements | undefined;
  const statements = (): Statements => (prepared ??= prepare(native));
  return Object.freeze({
    async lockAccounts(_trx: unknown, ids: readonly number[]): Promise<BulkAccountRow[]> {
      // SQLite has no row locks: the caller's BEGIN IMMEDIATE holds the whole database.
      return statements().lockAccounts(JSON.stringify(ids));
    },
    async findProviderEntries(_trx: unknown, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<StoredProviderEntry[]> {
      const list = JSON.stringify(input.providerIds);
      const s = statements();
      return [...s.entryProviderIds(input.entity, list), ...s.transactionProviderIds(input.entity, input.kind, list)];
    },
    async anyProviderIdInRange(_trx: unknown, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<boolean> {
      return statements().anyInRange(JSON.stringify(input.providerIds), input.entity, input.entity, input.kind)[0]?.found === 1;
    },
    async dayBalancesFrom(_trx: unknown, accountId: number, day: string) {
      const s = statements();
      return { before: s.dayBefore(accountId, day)[0]?.balance, rows: s.dayRowsFrom(accountId, day) };
    },
    async write(_trx: unknown, write: BulkWrite): Promise<number> {
      const s = statements();
      const t = write.transaction;
      const transactionId = Number(s.insertTransaction.run(t.entity, t.kind, t.idempotency_key, t.request_hash, t.occurred_at, t.accounting_day, t.description, t.metadata, t.created_at).lastInsertRowid);
      // Entries and end-of-day rows go in as one JSON array each: at 1M interest lines a night,
      // 1M single-row inserts of entries took 4.7-4.9 s, 1,000 statements of 1,000 rows
      // 3.5-3.6 s (JSON built in JS included); end-of-day rows 1.70 s against 1.40 s. Account
      // rows are updated one by one: as one statement they took as long (1.25 s against 1.30 s).
      // Entries whose provider ids do not ascend go in row by row (see providerIdsAscend).
      if (providerIdsAscend(write.entries)) {
        s.insertEntries.run(transactionId, t.entity, write.currency, t.accounting_day, JSON.stringify(write.entries.map((entry) => [entry.account_id, entry.amount, entry.balance_after, entry.provider_id])));
      } else {
        for (const entry of write.entries) s.insertEntry.run(transactionId, t.entity, entry.account_id, write.currency, entry.amount, entry.balance_after, t.accounting_day, entry.provider_id);
      }
      for (const account of write.accounts) s.updateAccount.run(account.balance, account.last_day, account.entry_count, account.id);
      if (write.dayBalances.length > 0) s.upsertDays.run(JSON.stringify(write.dayBalances.map((day) => [day.account_id, day.accounting_day, day.balance])));
      return transactionId;
    },
    async readBack(_trx: unknown, transactionId: number): Promise<ReadBackEntry[]> {
      return statements().readBack(transactionId);
    },
    async readBackMatches(_trx: unknown, transactionId: number, expected: { readonly currency: string; readonly entries: readonly BulkEntryRow[] }): Promise<boolean> {
      const row = statements().readBackText.get(transactionId) as [number, string | null] | undefined;
      return row !== undefined && row[0] === expected.entries.length && row[1] === readBackText(expected.currency, expected.entries);
    },
    async insertResidues(_trx: unknown, rows: readonly ResidueRow[]): Promise<void> {
      const s = statements();
      for (const row of rows) s.insertResidue.run(row.account_id, row.accounting_day, row.user_residue, row.margin_residue);
    },
  });
}

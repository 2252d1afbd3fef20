/**
 * The SQLite half of {@link PostingBulk}: single-row prepared statements on the native
 * better-sqlite3 handle, run inside the write transaction the caller opened through Kysely (the
 * handle is the one connection behind it, so they commit or roll back with it). Lists go in as
 * one JSON array bound to `json_each`, so no statement depends on a list's length.
 */
import type Database from 'better-sqlite3';
import type { Insertable } from 'kysely';
import type { JournalTransactionTable } from '../schema.js';
import type { EntryRow } from '../repository.js';
import type { PostingBulk } from '../posting-bulk.js';
import { UPDATE_ACCOUNT_SQL, UPSERT_DAY_SQL } from './journal-bulk.js';
import { readerOf } from './row-objects.js';

type ProviderRow = { id: number; kind: string; provider_id: string | null; idempotency_key: string };

interface Statements {
  readonly byKeys: (entity: string, keys: string) => { id: number; idempotency_key: string; request_hash: string }[];
  readonly byTransactionProviderIds: (entity: string, ids: string) => ProviderRow[];
  readonly byEntryProviderIds: (entity: string, ids: string) => ProviderRow[];
  readonly entriesOf: (ids: string) => EntryRow[];
  readonly insertTransaction: Database.Statement;
  readonly insertEntry: Database.Statement;
  readonly updateAccount: Database.Statement;
  readonly upsertDay: Database.Statement;
}

function prepare(native: Database.Database): Statements {
  return {
    byKeys: readerOf(native.prepare('select id, idempotency_key, request_hash from journal_transactions where entity = ? and idempotency_key in (select value from json_each(?))')),
    byTransactionProviderIds: readerOf(native.prepare('select id, kind, provider_id, idempotency_key from journal_transactions where entity = ? and provider_id in (select value from json_each(?))')),
    byEntryProviderIds: readerOf(native.prepare(
      `select t.id, t.kind, e.provider_id, t.idempotency_key from journal_entries e join journal_transactions t on t.id = e.transaction_id
       where e.entity = ? and e.provider_id in (select value from json_each(?))`,
    )),
    entriesOf: readerOf(native.prepare('select * from journal_entries where transaction_id in (select value from json_each(?)) order by id')),
    insertTransaction: native.prepare(
      `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (entity, idempotency_key) do nothing returning id`,
    ),
    insertEntry: native.prepare(
      'insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updateAccount: native.prepare(UPDATE_ACCOUNT_SQL),
    upsertDay: native.prepare(UPSERT_DAY_SQL),
  };
}

/** The posting path's statements of one SQLite database; prepared on first use. */
export function sqlitePostingBulk(native: Database.Database): PostingBulk {
  let prepared: Statements | undefined;
  const statements = (): Statements => (prepared ??= prepare(native));
  return Object.freeze({
    async selectTransactionsByKeys(_trx: unknown, entity: string, keys: readonly string[]) {
      return statements().byKeys(entity, JSON.stringify(keys));
    },
    async selectTransactionsByProviderIds(_trx: unknown, entity: string, providerIds: readonly string[]) {
      const list = JSON.stringify(providerIds);
      const s = statements();
      return [...s.byTransactionProviderIds(entity, list), ...s.byEntryProviderIds(entity, list)];
    },
    async selectEntriesOfTransactions(_trx: unknown, transactionIds: readonly number[]) {
      return statements().entriesOf(JSON.stringify(transactionIds));
    },
    async insertTransactions(_trx: unknown, rows: readonly Insertable<JournalTransactionTable>[]) {
      const s = statements();
      const ids = new Map<string, number>();
      for (const r of rows) {
        const inserted = s.insertTransaction.get(
          r.entity,
          r.kind,
          r.idempotency_key,
          r.request_hash,
          r.occurred_at,
          r.accounting_day,
          r.provider_id ?? null,
          r.reverses_transaction_id ?? null,
          r.description ?? null,
          r.metadata ?? null,
          r.created_at,
        ) as { id: number } | undefined;
        if (inserted !== undefined) ids.set(r.idempotency_key, inserted.id);
      }
      return ids;
    },
    async insertEntries(_trx: unknown, rows: readonly Omit<EntryRow, 'id'>[]) {
      const s = statements();
      for (const r of rows) s.insertEntry.run(r.transaction_id, r.entity, r.account_id, r.currency, r.amount, r.balance_after, r.accounting_day, r.provider_id, r.balance_shard);
      // Nothing answered: the batch reads its entries back by transaction, one statement, cheaper here than a `returning` per row.
    },
    async writeAccounts(_trx: unknown, rows: readonly { id: number; balance: string; last_day: string | null; entry_count: number }[]) {
      const s = statements();
      for (const r of rows) s.updateAccount.run(r.balance, r.last_day, r.entry_count, r.id);
    },
    async writeDays(_trx: unknown, rows: readonly { account_id: number; accounting_day: string; balance: string }[]) {
      const s = statements();
      for (const r of rows) s.upsertDay.run(r.account_id, r.accounting_day, r.balance);
    },
  });
}

/**
 * The two widest statements of posting a batch (`post-batch.ts`), where a dialect has a faster
 * form than the query builder's multi-row `VALUES`: the transactions and the entries. Without it
 * (SQLite), the repository's Kysely statements are used.
 *
 * Why: on PostgreSQL a `postMany` of 500 deposits (500 transactions, 2,000 entries) spent
 * ~50 ms inserting the transactions and ~100 ms inserting the entries as 500-row `VALUES`
 * statements (18,000 bound parameters; measured in `post-batch.ts` on this machine, batch
 * ~250 ms in all); as `unnest` over one array per column each is one short statement, and a
 * single writer's 5,000 deposits in batches of 500 went from 3.1–5.6 s to 1.7–2.5 s (load 6–7).
 * The account and day rows follow the same form.
 *
 * SQLite (`sqlite/posting-bulk.ts`): single-row prepared statements on the native handle, the
 * batch's lists bound as one JSON array. Through the query builder, 30,000 deposits in `postMany`
 * batches of 500 took 3.6–4.9 s; with these, 3.3–3.5 s (three runs each, alternating, on this
 * machine): Kysely compiling 500-row `VALUES` lists and 500-id `IN` lists cost more than SQLite
 * executing them.
 */
import type { Insertable, Kysely } from 'kysely';
import type { JournalTransactionTable, LedgerDatabase } from './schema.js';
import type { AccountRow, EntryRow } from './repository.js';

type Db = Kysely<LedgerDatabase>;

/** Bulk forms of the posting path's statements. */
export interface PostingBulk {
  /** Transactions of an entity by idempotency keys. */
  selectTransactionsByKeys(trx: Db, entity: string, keys: readonly string[]): Promise<{ id: number; idempotency_key: string; request_hash: string }[]>;
  /** Transactions of an entity by provider ids: those carrying one, and compound ones whose entries carry one. */
  selectTransactionsByProviderIds(trx: Db, entity: string, providerIds: readonly string[]): Promise<{ id: number; kind: string; provider_id: string | null; idempotency_key: string }[]>;
  /** The entries of transactions, in id order. */
  selectEntriesOfTransactions(trx: Db, transactionIds: readonly number[]): Promise<EntryRow[]>;
  /** Inserts transactions in order, skipping keys that exist; returns the (key → id) of the inserted ones. */
  insertTransactions(trx: Db, rows: readonly Insertable<JournalTransactionTable>[]): Promise<Map<string, number>>;
  /**
   * Inserts entries in order (ids drawn in that order). Answers them as the table stored them (a
   * `RETURNING` of every column, after the column types' conversions), in id order, where the
   * insert itself can (PostgreSQL): a batch's read-back then takes these rows instead of reading
   * its transactions' entries in a statement of its own (one round trip of the ~11 a group of
   * concurrent `post()` calls makes: 1.4 ms of ~19 ms per group of 64 deposits, measured with
   * `bench/post-concurrent.ts`'s callers). Nothing where it cannot answer them more cheaply
   * than that read (SQLite, a statement per row: `returning` per entry was slower); `void`
   * stays allowed, as an implementation of the earlier form of this method answers.
   */
  insertEntries(trx: Db, rows: readonly Omit<EntryRow, 'id'>[]): Promise<EntryRow[] | undefined | void>;
  /** Writes new balances, last days and entry counts of (locked) accounts. */
  writeAccounts(trx: Db, rows: readonly { id: number; balance: string; last_day: string | null; entry_count: number }[]): Promise<void>;
  /** Sets end-of-day balances. */
  writeDays(trx: Db, rows: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void>;
  /**
   * Optional, where a round trip costs more than the statement (PostgreSQL): a batch's reads and
   * writes of the same step in one statement each (see `postgres/posting-bulk.ts`). A group of 64
   * concurrent `post()` calls made ~11 round trips of 0.4-0.8 ms each beside its two inserts.
   */
  readonly combined?: CombinedPostingStatements;
}

/** What a transaction with these keys and provider ids stored (see {@link PostingBulk.combined}). */
export interface StoredOfBatch {
  readonly byKeys: readonly { id: number; idempotency_key: string; request_hash: string }[];
  readonly byProviderIds: readonly { id: number; kind: string; provider_id: string | null; idempotency_key: string }[];
}

/** Statements of {@link PostingBulk} two at a time, in one round trip each. */
export interface CombinedPostingStatements {
  /**
   * `locked`: accounts locked in id order, waiting for other writers (`selectAccountsLocked`);
   * then `skipLocked`: accounts locked only where no one holds them, never waiting
   * (`selectAccountsSkipLocked`); each list's rows in id order.
   */
  selectAccounts(trx: Db, locked: readonly number[], skipLocked: readonly number[]): Promise<{ locked: AccountRow[]; taken: AccountRow[] }>;
  /** {@link PostingBulk.selectTransactionsByKeys} and {@link PostingBulk.selectTransactionsByProviderIds} at once. */
  selectStored(trx: Db, entity: string, keys: readonly string[], providerIds: readonly string[]): Promise<StoredOfBatch>;
  /** {@link PostingBulk.writeAccounts} and {@link PostingBulk.writeDays} at once. */
  writeBalances(trx: Db, accounts: readonly { id: number; balance: string; last_day: string | null; entry_count: number }[], days: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void>;
}

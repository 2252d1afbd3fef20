/**
 * The statements of the journal's bulk write path (compound postings of many lines: the
 * accounting cycle's interest), behind one interface with one implementation per dialect:
 * `sqlite/journal-bulk.ts` (prepared native statements) and `postgres/journal-bulk.ts`
 * (multi-row `unnest` statements, one round trip each).
 *
 * Why not the query builder here: at 1M accounts a night the cycle issues a few million rows;
 * Kysely building one multi-row statement of 500 rows cost more than SQLite executing it
 * (the cycle ran at 4,900 accounts/s through `postMany`, 205 s for 1M; see `bench/interest-cycle.ts`
 * for the figure of this path). Every function runs inside the caller's write transaction.
 */
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema.js';

/** An account row as the bulk path reads it (locked on PostgreSQL). */
export interface BulkAccountRow {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly code: string;
  readonly kind: string;
  readonly normal_side: 'debit' | 'credit';
  readonly balance: string;
  readonly last_day: string | null;
  readonly entry_count: number;
}

/** A provider id already in the journal: on an entry, or on a whole transaction of the kind. */
export interface StoredProviderEntry {
  readonly provider_id: string;
  readonly transaction_id: number;
  readonly account_id: number;
  /** Signed (debit positive). */
  readonly amount: string;
}

/** One journal entry of a compound transaction, ready to insert. */
export interface BulkEntryRow {
  readonly account_id: number;
  readonly amount: string;
  readonly balance_after: string;
  readonly provider_id: string | null;
}

/** The header of a compound transaction, ready to insert. */
export interface BulkTransactionRow {
  readonly entity: string;
  readonly kind: string;
  readonly idempotency_key: string;
  readonly request_hash: string;
  readonly occurred_at: string;
  readonly accounting_day: string;
  readonly metadata: string | null;
  readonly description: string | null;
  readonly created_at: string;
}

/** What a compound posting writes, decided before any write. */
export interface BulkWrite {
  readonly transaction: BulkTransactionRow;
  /** One currency per compound transaction. */
  readonly currency: string;
  readonly entries: readonly BulkEntryRow[];
  readonly accounts: readonly { readonly id: number; readonly balance: string; readonly last_day: string; readonly entry_count: number }[];
  readonly dayBalances: readonly BulkDayRow[];
}

/**
 * An end-of-day balance a compound posting sets. `fresh`: the account's row, read locked, says it
 * has no such row yet (its last day is earlier, or it has none): every writer of end-of-day rows
 * writes the account's last day with them, and no row is ever written past it. PostgreSQL
 * inserts fresh rows without a conflict check (a row it finds anyway fails the posting on the
 * key: the books would be broken); the rest are upserted.
 */
export interface BulkDayRow {
  readonly account_id: number;
  readonly accounting_day: string;
  readonly balance: string;
  readonly fresh: boolean;
}

/** An interest residue row carried to the next day. */
export interface ResidueRow {
  readonly account_id: number;
  readonly accounting_day: string;
  readonly user_residue: string;
  readonly margin_residue: string;
}

/** An entry read back after writing. */
export interface ReadBackEntry {
  readonly id: number;
  readonly account_id: number;
  readonly currency: string;
  readonly amount: string;
  readonly balance_after: string;
  readonly provider_id: string | null;
}

type Db = Kysely<LedgerDatabase>;

/** The bulk statements of one database; every call takes the open write transaction. */
export interface JournalBulk {
  /** Accounts by id, in id order; locked for the transaction on PostgreSQL. */
  lockAccounts(trx: Db, ids: readonly number[]): Promise<BulkAccountRow[]>;
  /**
   * The stored entries carrying any of `providerIds` in the entity: entry-level provider ids,
   * and whole transactions of `kind` with that provider id (one row per entry of those).
   */
  findProviderEntries(trx: Db, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<StoredProviderEntry[]>;
  /**
   * Whether any provider id {@link findProviderEntries} looks at lies between the least and the
   * greatest of `providerIds` (in the database's own order): one index range per table instead
   * of a probe per id. `false` means none of `providerIds` is stored; `true` says nothing. Pays
   * only where the ids are dense in their range (the accounting cycle's, in account order).
   * Optional: without it, the ids are looked up one by one.
   */
  anyProviderIdInRange?(trx: Db, input: { entity: string; kind: string; providerIds: readonly string[] }): Promise<boolean>;
  /** End-of-day rows of an account from `day` on (oldest first) and the closing balance before `day`. */
  dayBalancesFrom(trx: Db, accountId: number, day: string): Promise<{ before: string | undefined; rows: { accounting_day: string; balance: string }[] }>;
  /** Writes a compound transaction, its entries, account balances and day rows; returns its id. */
  write(trx: Db, write: BulkWrite): Promise<number>;
  /** The entries of a transaction in posting order. */
  readBack(trx: Db, transactionId: number): Promise<ReadBackEntry[]>;
  /**
   * Whether the stored entries of a transaction are exactly `entries` (in posting order, each in
   * `currency`): account, amount text and provider id compared in the database, one text back
   * instead of a row per entry. `true` proves the read-back; `false` proves nothing (the caller
   * reads the rows back with {@link readBack} and compares them itself, so a difference is named).
   * Optional: without it, every read-back reads the rows.
   */
  readBackMatches?(trx: Db, transactionId: number, expected: { readonly currency: string; readonly entries: readonly BulkEntryRow[] }): Promise<boolean>;
  /** Inserts interest residues, keeping rows that exist. */
  insertResidues(trx: Db, rows: readonly ResidueRow[]): Promise<void>;
}

/**
 * The read-back text of entries as each dialect's `readBackMatches` builds it from stored rows:
 * per entry in posting order its account id, currency, amount text and `=` + provider id (empty
 * for none), fields joined by U+001F, entries by U+001E. Unambiguous for planned entries: their
 * currencies and provider ids are validated free of control characters, account ids are whole
 * numbers, amounts canonical decimals. Stored values holding a separator would add one to the
 * stored text, whose count of separators is then no longer the expected text's: never equal.
 * The 1M-account cycle's read-back on SQLite took 1.58 s read as rows, 0.94 s compared as one
 * text per 1,000 entries (profiles, the text built on both sides included). PostgreSQL's amounts
 * are `numeric(60, 18)`, whose text is the canonical 18-decimal form the plan writes.
 */
export function readBackText(currency: string, entries: readonly BulkEntryRow[]): string {
  let text = '';
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as BulkEntryRow;
    text += `${index === 0 ? '' : '\x1e'}${entry.account_id}\x1f${currency}\x1f${entry.amount}\x1f${entry.provider_id === null ? '' : `=${entry.provider_id}`}`;
  }
  return text;
}

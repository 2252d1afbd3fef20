/**
 * The ledger's public shapes and limits: options, accounts, journal rows as read, results and
 * reports. `ledger.ts` re-exports them beside the {@link Ledger} class.
 */
import type { Kysely } from 'kysely';
import type { Amount } from './money.js';
import type { AccountKind, NormalSide } from './chart.js';
import type { PostingInput, TransactionKind } from './posting.js';
import type { LinesInput, LinesResult } from './posting-lines.js';
import type { GroupCommitOptions } from './commit-queue.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import type { LedgerLogger } from './logger.js';

/** Entries one history page may return. */
export const HISTORY_PAGE_SIZE_MAX = 500;
/** Transactions one {@link Ledger.transactionsOfDay} page may return. */
export const DAY_PAGE_SIZE_MAX = 10_000;
/** Accounts one page of {@link Ledger.listAccounts} or `EarnBooks.earnAccounts` may return. */
export const ACCOUNTS_PAGE_SIZE_MAX = 10_000;
/** Postings one {@link Ledger.postMany} call may hold. */
export const POST_BATCH_MAX = 1_000;
/** Legal entities one ledger may keep. */
export const ENTITIES_MAX = 16;

/** A legal entity's configuration: its id and the IANA zone of its accounting day. */
export interface LedgerEntity {
  readonly id: string;
  readonly timeZone: string;
}

/** The provider's two legal entities, with the provider's usual zone. */
export const DEFAULT_ENTITIES: readonly LedgerEntity[] = Object.freeze([
  Object.freeze({ id: 'defi', timeZone: 'UTC' }),
  Object.freeze({ id: 'lending', timeZone: 'UTC' }),
]);

/** Where the ledger keeps its books. */
export interface LedgerStorage {
  readonly db: Kysely<LedgerDatabase>;
  readonly dialect: LedgerDialect;
  /** PostgreSQL schema of the tables (default: the connection's search path). */
  readonly schema?: string;
}

/** Options of {@link Ledger.open}. */
export interface LedgerOptions {
  readonly storage: LedgerStorage;
  /**
   * Legal entities. Their zones are fixed once stored. Default: the entities the books already
   * keep, or {@link DEFAULT_ENTITIES} for new books.
   */
  readonly entities?: readonly LedgerEntity[];
  /**
   * What to do when the storage holds no books yet (no ledger tables, or no entity): `create`
   * them (default), or `fail` with `books_not_found` before anything is written, for callers that
   * must not make new books by mistake (a mistyped path).
   */
  readonly ifMissing?: 'create' | 'fail';
  /**
   * Decimal places per currency (default 18). They bound an amount's precision, not its text: an
   * input with a non-zero digit past them is refused, but "0.500000000000000000" BTC at 8 is 0.5
   * BTC. The provider writes every amount with 18 decimals.
   */
  readonly currencyScales?: Readonly<Record<string, number>>;
  /**
   * Apply pending migrations on open; default true. With `false` the books must have every
   * migration of this version already (see `ledgerMigrationState`): else `open` fails with
   * `migration_required`, naming them, and nothing is written. Books a newer version migrated
   * open with `false` (the caller's choice: a process of the previous release during a rolling
   * upgrade), and are `books_too_new` when migrating.
   */
  readonly migrate?: boolean;
  /** The clock for `created_at` stamps; default `() => new Date()`. */
  readonly now?: () => Date;
  /** How concurrent {@link Ledger.post} calls share transactions; see {@link GroupCommitOptions}. */
  readonly groupCommit?: GroupCommitOptions;
  /** Where the books log (pino-compatible `{ info, warn, error, debug }`); default silent. */
  readonly logger?: LedgerLogger;
}

/** A ledger account. */
export interface LedgerAccount {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly code: string;
  readonly kind: AccountKind;
  readonly normalSide: NormalSide;
}

/** One line of a journal transaction, as stored. */
export interface JournalEntry {
  readonly id: number;
  readonly transactionId: number;
  readonly accountId: number;
  readonly currency: string;
  readonly side: 'debit' | 'credit';
  /** Positive amount on `side`. */
  readonly amount: Amount;
  /**
   * The normal-side running balance after this entry, in posting order, of the balance series the
   * entry was written to: the account's own row (the whole balance whenever no concurrent writer
   * held it, and always on SQLite and for user accounts), or on PostgreSQL the balance shard of a
   * writer that found a system account's row held by another transaction. The account's balance
   * is its own row's plus its shards' ({@link Ledger.balance}).
   */
  readonly balanceAfter: Amount;
  readonly accountingDay: string;
  /** The provider's id of this one line in a compound transaction (see {@link Ledger.postLines}); else null. */
  readonly providerId: string | null;
}

/** A journal transaction, as stored. */
export interface JournalTransaction {
  readonly id: number;
  readonly entity: string;
  readonly kind: TransactionKind;
  readonly idempotencyKey: string;
  readonly occurredAt: string;
  readonly accountingDay: string;
  readonly providerId: string | null;
  readonly reversesTransactionId: number | null;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly entries: readonly JournalEntry[];
}

/** The answer to an idempotent write: `created` the first time, `exists` for a replay. */
export interface PostResult {
  readonly status: 'created' | 'exists';
  readonly transaction: JournalTransaction;
}

/** An entry in an account's history, with its transaction's facts (`providerId`: the entry's, else the transaction's). */
export interface HistoryItem extends JournalEntry {
  readonly kind: TransactionKind;
  readonly occurredAt: string;
  readonly providerId: string | null;
  readonly description: string | null;
}

/** One page of history; pass `nextCursor` back for the next page (null at the end). */
export interface HistoryPage {
  readonly items: readonly HistoryItem[];
  readonly nextCursor: string | null;
}

/** Options of {@link Ledger.history}. */
export interface HistoryOptions {
  /** Entries per page, 1..{@link HISTORY_PAGE_SIZE_MAX}; default 50. */
  readonly limit?: number;
  readonly cursor?: string | null;
  /** `desc` (newest first, default) or `asc`. */
  readonly order?: 'asc' | 'desc';
}

/** Options of {@link Ledger.reverse}. */
export interface ReverseInput {
  readonly entity: string;
  readonly transactionId: number;
  readonly idempotencyKey: string;
  readonly occurredAt: string | Date;
  readonly description?: string;
}

/** Counts from a successful {@link Ledger.verify}. */
export interface VerifyReport {
  readonly accounts: number;
  readonly transactions: number;
  readonly entries: number;
}

/** A scope in which several postings share one database transaction (all or nothing). */
export interface PostingScope {
  readonly db: Kysely<LedgerDatabase>;
  post(input: PostingInput): Promise<PostResult>;
  /** Posts many of one entity with bulk statements; see {@link Ledger.postMany}. */
  postMany(inputs: readonly PostingInput[]): Promise<PostResult[]>;
  /** Posts a compound transaction of many lines; see {@link Ledger.postLines} and {@link ScopeLinesOptions}. */
  postLines(input: LinesInput, options?: ScopeLinesOptions): Promise<LinesResult>;
}

/** Options of {@link PostingScope.postLines}. */
export interface ScopeLinesOptions {
  /**
   * The caller read, earlier in this same transaction, that none of the lines' provider ids is
   * booked (of any kind), and books each of them once: the ledger skips its own lookup of them
   * (a random index page per line on a large day). A caller who is wrong books nothing twice:
   * the database's unique index refuses the line, and the transaction can only roll back
   * (`transaction_aborted`), instead of the line being answered `exists`. On PostgreSQL another
   * writer committing one of the ids after the caller's read (the ledger locks the accounts only
   * when it posts) makes the word wrong in that way. Default false.
   */
  readonly providerIdsAbsent?: boolean;
}

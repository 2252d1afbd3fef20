/**
 * What differs between the storage dialects, behind one interface. Implementations live in
 * `sqlite/` and `postgres/`; the core never imports them, so loading the core loads no native
 * module.
 */
import type { Kysely } from 'kysely';
import type { JournalBulk } from './journal-bulk.js';
import type { PostingBulk } from './posting-bulk.js';
import type { LedgerLogger } from '../logger.js';

/** The dialect-specific pieces the migration set and the repository need. */
export interface LedgerDialect {
  readonly name: 'sqlite' | 'postgres';
  /** SQL type of an auto-increment integer primary key column. */
  readonly idColumnType: 'integer' | 'bigserial';
  /** SQL type of an exact amount column. */
  readonly amountColumnType: 'text' | 'numeric(60, 18)';
  /** SQL type of an integer foreign key to an id. */
  readonly referenceColumnType: 'integer' | 'bigint';
  /** Statements that make journal rows immutable (triggers), run by the migration. */
  readonly immutabilityStatements: readonly string[];
  /** Name of the exact aggregate that sums amount columns (`sum` on NUMERIC, `decimal_sum` on TEXT). */
  readonly exactSumFunction: 'sum' | 'decimal_sum';
  /** Whether `SELECT … FOR UPDATE` is understood (PostgreSQL) or the whole file is locked. */
  readonly supportsRowLocks: boolean;
  /**
   * Balance shards per system account (see `db/balance-shards-repository.ts`): concurrent write
   * transactions keep a system account's running balance in different rows, so they never wait
   * on one row. Absent or 0: one row per account (SQLite, whose writers hold the whole file).
   */
  readonly balanceShardCount?: number;
  /** Faster forms of the posting path's two widest inserts (PostgreSQL); absent: the query builder's. */
  readonly postingBulk?: PostingBulk;
  /**
   * The bulk write statements of this database (compound postings of many lines). SQLite's are
   * bound to one native connection, so they come with the dialect `openSqliteDatabase` returns.
   */
  readonly bulk?: JournalBulk;
  /**
   * SQLite: the absolute path of the database file, which a reader on another connection (a
   * worker thread's) may open beside this one. Absent for an in-memory database and on PostgreSQL.
   */
  readonly databaseFile?: string;
  /**
   * PostgreSQL: how a reader on another connection (a worker thread's) opens the same books: the
   * connection string and schema the storage was opened with. A function, so that the connection
   * string (which may hold a password) is no enumerable property of the dialect, nor in any log
   * or serialization of it. Absent on SQLite.
   */
  readonly readerConnection?: () => { readonly connectionString: string; readonly schema: string };
  /**
   * PostgreSQL: from now on, logs to `logger` the connections of the pool that the server ended
   * while idle (they are dropped and replaced; before a logger is given, silently). `Ledger.open`
   * passes the logger it was given. Absent on SQLite.
   */
  readonly logConnectionErrorsTo?: (logger: LedgerLogger) => void;
  /**
   * Runs `work` inside one write transaction. SQLite takes the write lock first
   * (`BEGIN IMMEDIATE`) so that two processes never deadlock on a lock upgrade; PostgreSQL retries
   * serialization failures and deadlocks a bounded number of times.
   */
  writeTransaction<DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
  /**
   * Runs a migrator so that processes starting together on fresh books never race: SQLite runs
   * it inside one `BEGIN IMMEDIATE` transaction on the one connection (Kysely's SQLite migrator
   * takes no lock); PostgreSQL relies on Kysely's advisory lock.
   */
  migrate(db: Kysely<unknown>, run: (db: Kysely<unknown>, options: { disableTransactions: boolean }) => Promise<void>): Promise<void>;
}

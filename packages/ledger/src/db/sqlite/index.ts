/**
 * The embedded SQLite storage (better-sqlite3): a file in WAL mode, or `:memory:`.
 * This is the only module of the package that loads better-sqlite3 (an optional peer dependency).
 */
import type BetterSqlite3 from 'better-sqlite3';
// Named type imports keep the public .d.ts readable under every moduleResolution (a default
// import of the driver's `export =` typings needs esModuleInterop in the consumer).
import type { Database as NativeDatabase } from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { resolve } from 'node:path';
import { loadDriver } from '../load-driver.js';
import type { LedgerDialect } from '../dialect.js';
import type { LedgerDatabase } from '../schema.js';
import { formatUnits, toUnits } from '../../money.js';
import { LedgerError, describeValue } from '../../errors.js';
import { sqliteJournalBulk } from './journal-bulk.js';
import { sqlitePostingBulk } from './posting-bulk.js';
import { rowsFromArrays } from './row-objects.js';
import type { DriverStatement } from './row-objects.js';

/** How long a writer waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS_DEFAULT = 15_000;
/** Longest busy timeout accepted: SQLite keeps it in a signed 32-bit int (about 24.8 days). */
export const SQLITE_BUSY_TIMEOUT_MS_MAX = 2_147_483_647;

// The driver is an optional peer dependency: without it, importing this subpath rejects with a
// typed `driver_missing` error instead of Node's bare ERR_MODULE_NOT_FOUND.
// Node hands a CommonJS module to `import()` as `{ default: module.exports }`; the driver's
// `export =` typings describe `module.exports` itself, hence the one cast.
const driver = await loadDriver('better-sqlite3', '@earnbook/ledger/sqlite', () => import('better-sqlite3'));
const Database = (driver as unknown as { readonly default: typeof BetterSqlite3 }).default;

const IMMUTABLE_TABLES = ['journal_transactions', 'journal_entries'] as const;

/** Whether a driver error is SQLite's "database is locked": another connection held the write lock past the busy timeout. */
function isBusy(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** The typed error of a write that found the file's write lock held by another connection for the whole busy timeout. */
function storageBusyError(cause: unknown, busyTimeoutMs: number | undefined): LedgerError {
  const waited = busyTimeoutMs === undefined ? 'its busy timeout' : `its busy timeout (busyTimeoutMs ${busyTimeoutMs})`;
  return new LedgerError(
    'storage_busy',
    `the SQLite database is locked by another connection's write transaction (another process or ledger on the same file): the write waited ${waited} and was not made; nothing was written, retry later or raise busyTimeoutMs`,
    { field: 'storage', value: busyTimeoutMs === undefined ? 'sqlite' : String(busyTimeoutMs), context: { busyTimeoutMs: busyTimeoutMs === undefined ? 'unknown' : String(busyTimeoutMs) }, cause },
  );
}

/**
 * One write transaction on SQLite. `BEGIN IMMEDIATE` takes the write lock before the first read,
 * so a second process waits (busy_timeout) instead of failing on a read-to-write lock upgrade; one
 * that waited the whole timeout (SQLITE_BUSY) is `storage_busy`, with nothing written.
 */
function writeTransactionWaiting(busyTimeoutMs: number | undefined): LedgerDialect['writeTransaction'] {
  return async <DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> =>
    db.connection().execute(async (connection) => {
      try {
        await sql`begin immediate`.execute(connection);
      } catch (error) {
        if (isBusy(error)) throw storageBusyError(error, busyTimeoutMs);
        throw error;
      }
      try {
        const result = await work(connection);
        await sql`commit`.execute(connection);
        return result;
      } catch (error) {
        await sql`rollback`.execute(connection);
        // A COMMIT that met a lock (SQLite then keeps the transaction open: rolled back above).
        if (isBusy(error)) throw storageBusyError(error, busyTimeoutMs);
        throw error;
      }
    });
}

/** The SQLite half of {@link LedgerDialect}. */
export const sqliteLedgerDialect: LedgerDialect = Object.freeze<LedgerDialect>({
  name: 'sqlite',
  idColumnType: 'integer',
  amountColumnType: 'text',
  referenceColumnType: 'integer',
  immutabilityStatements: IMMUTABLE_TABLES.flatMap((table) => [
    `CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} rows are immutable'); END`,
    `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} rows are immutable'); END`,
  ]),
  exactSumFunction: 'decimal_sum',
  supportsRowLocks: false,
  async migrate(db: Kysely<unknown>, run: (db: Kysely<unknown>, options: { disableTransactions: boolean }) => Promise<void>): Promise<void> {
    await sqliteLedgerDialect.writeTransaction(db, (connection) => run(connection, { disableTransactions: true }));
  },
  writeTransaction: writeTransactionWaiting(undefined),
});

/**
 * Page cache of a connection, in KiB. SQLite's default (2 MiB) holds the upper levels of a few
 * indexes only; the cycle at 1M accounts touches every leaf of four of them per night.
 */
export const SQLITE_PAGE_CACHE_KIB = 64 * 1024;

/**
 * WAL pages after which a commit checkpoints them into the database file (SQLite's default:
 * 1,000). A checkpoint writes each page the WAL holds once, however many commits changed it, and
 * syncs both files; the ledger's commits rewrite the same hot pages (system accounts, the day's
 * rows, the journal's right-hand index pages), so checkpointing less often writes them less. But
 * the commit that checkpoints waits for it, and every caller of its group with it: the interval
 * trades throughput for the p99 of concurrent `post()` callers (target ≤ 50 ms). 64 callers,
 * groups of 64 deposits (~217 WAL pages a commit), `ledger_post_concurrent_sqlite`: at 1,000
 * pages 5,285–7,731/s, p99 19.2–26.4 ms; at 3,000, 6,976–8,727/s, p99 28.7–34.8 ms; at 5,000,
 * p99 43.1–58.9 ms; at 10,000 (session 19's choice, benched then for throughput only),
 * 6,539–9,481/s but p99 51.6–86.2 ms in all six runs, over the target. The WAL file grows to
 * ~12 MiB between checkpoints (it is reused, not shrunk).
 */
export const SQLITE_WAL_AUTOCHECKPOINT_PAGES = 3_000;

/** Prepared statements kept per connection; the ledger issues a few dozen distinct ones. */
export const SQLITE_STATEMENT_CACHE_SIZE_MAX = 256;

/**
 * Kysely's SQLite driver prepares every statement on every call, which costs about as much as
 * running a small insert; this keeps the prepared statements by SQL text (bounded, least recently
 * used first out). A statement still iterating a result is never handed out twice.
 */
function cachingStatements(native: NativeDatabase): { close(): void; prepare(sql: string): DriverStatement } {
  const cache = new Map<string, DriverStatement>();
  return {
    close: () => native.close(),
    prepare(sqlText: string): DriverStatement {
      const cached = cache.get(sqlText);
      if (cached !== undefined && !cached.busy) {
        cache.delete(sqlText);
        cache.set(sqlText, cached);
        return cached;
      }
      const statement = rowsFromArrays(native.prepare(sqlText));
      cache.set(sqlText, statement);
      if (cache.size > SQLITE_STATEMENT_CACHE_SIZE_MAX) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      return statement;
    },
  };
}

/** Pause between two attempts to switch a new database file to WAL while another process holds it. */
const WAL_SWITCH_RETRY_MS = 5;

/**
 * Switches the file to WAL. Several processes opening a new file at once may each hold a shared
 * lock while asking for the exclusive one the switch needs; SQLite then answers SQLITE_BUSY at once
 * to one of them instead of waiting (its deadlock rule), so the switch is retried for up to the
 * busy timeout (seen as "database is locked" in the concurrent-open test about one run in three).
 */
function switchToWal(native: NativeDatabase, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      native.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if ((code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, WAL_SWITCH_RETRY_MS);
    }
  }
}

/**
 * The busy timeout to set. SQLite reads a pragma value it cannot parse as 0 (no waiting at all),
 * so NaN, text or a value past its 32-bit int would silently turn the wait off: refused instead.
 */
function checkBusyTimeoutMs(value: unknown): number {
  if (value === undefined) return SQLITE_BUSY_TIMEOUT_MS_DEFAULT;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > SQLITE_BUSY_TIMEOUT_MS_MAX) {
    throw new LedgerError('invalid_input', `busyTimeoutMs must be a whole number of milliseconds from 0 to ${SQLITE_BUSY_TIMEOUT_MS_MAX}, got ${describeValue(value)}`, {
      field: 'busyTimeoutMs',
      value: describeValue(value),
    });
  }
  return value;
}

/** Options of {@link openSqliteDatabase}. */
export interface SqliteDatabaseOptions {
  /** A file path, or `:memory:` for a private in-memory database. */
  readonly filename: string;
  /**
   * Wait for another writer's lock this long: a whole number of milliseconds from 0 to
   * {@link SQLITE_BUSY_TIMEOUT_MS_MAX}. Default {@link SQLITE_BUSY_TIMEOUT_MS_DEFAULT}.
   */
  readonly busyTimeoutMs?: number;
}

/** An open SQLite database: the Kysely handle and the native connection behind it. */
export interface SqliteDatabase {
  readonly db: Kysely<LedgerDatabase>;
  readonly native: NativeDatabase;
  readonly dialect: LedgerDialect;
}

/**
 * Opens (creating if needed) a SQLite database with the settings the ledger relies on: WAL,
 * `synchronous = NORMAL` (durable across process crashes; the last commits may be lost on power
 * loss), foreign keys on, a busy timeout, and the exact `decimal_sum` aggregate.
 *
 * @throws LedgerError `invalid_input` naming `busyTimeoutMs` when it is not a whole number of
 * milliseconds from 0 to {@link SQLITE_BUSY_TIMEOUT_MS_MAX}, before the file is opened.
 */
export function openSqliteDatabase(options: SqliteDatabaseOptions): SqliteDatabase {
  const busyTimeoutMs = checkBusyTimeoutMs(options.busyTimeoutMs);
  const native = new Database(options.filename);
  native.pragma(`busy_timeout = ${busyTimeoutMs}`);
  if (options.filename !== ':memory:') switchToWal(native, busyTimeoutMs);
  native.pragma('synchronous = NORMAL');
  native.pragma('foreign_keys = ON');
  native.pragma(`cache_size = -${SQLITE_PAGE_CACHE_KIB}`);
  native.pragma(`wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT_PAGES}`);
  // Exact sum of 18-decimal TEXT amounts, for checks and reports; SQLite's own SUM would go
  // through REAL and lose digits.
  native.aggregate('decimal_sum', {
    start: () => 0n,
    step: (total: bigint, value: unknown) => (typeof value === 'string' ? total + toUnits(value) : total),
    result: (total: bigint) => formatUnits(total),
  });
  const db = new Kysely<LedgerDatabase>({ dialect: new SqliteDialect({ database: cachingStatements(native) }) });
  // The dialect of this database carries the bulk statements bound to its native connection.
  const file = options.filename === ':memory:' || options.filename === '' ? {} : { databaseFile: resolve(options.filename) };
  // Its write transactions name the busy timeout when they find the file locked past it.
  const writeTransaction = writeTransactionWaiting(busyTimeoutMs);
  const dialect: LedgerDialect = Object.freeze({
    ...sqliteLedgerDialect,
    writeTransaction,
    migrate: (db: Kysely<unknown>, run: (db: Kysely<unknown>, options: { disableTransactions: boolean }) => Promise<void>) => writeTransaction(db, (connection) => run(connection, { disableTransactions: true })),
    bulk: sqliteJournalBulk(native),
    postingBulk: sqlitePostingBulk(native),
    ...file,
  });
  return { db, native, dialect };
}

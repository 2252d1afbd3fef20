/**
 * The PostgreSQL storage (`pg`). This is the only module of the package that loads `pg` (an
 * optional peer dependency).
 */
import type { Pool } from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { loadDriver } from '../load-driver.js';
import type { LedgerDialect } from '../dialect.js';
import type { LedgerDatabase } from '../schema.js';
import { postgresJournalBulk } from './journal-bulk.js';
import { postgresPostingBulk } from './posting-bulk.js';
import { LedgerError, describeValue } from '../../errors.js';
import { redactConnectionString } from '../../connection-string.js';
import { ConnectionLostInTransaction, connectionLostError, watchConnections } from './connection-loss.js';

// The driver is an optional peer dependency: without it, importing this subpath rejects with a
// typed `driver_missing` error instead of Node's bare ERR_MODULE_NOT_FOUND.
const { default: pg } = await loadDriver('pg', '@earnbook/ledger/postgres', () => import('pg'));

/** Attempts of one write transaction that fails on a serialization failure or a deadlock. */
export const POSTGRES_WRITE_ATTEMPTS_MAX = 8;
/** Connections in the pool by default. */
export const POSTGRES_POOL_SIZE_DEFAULT = 10;
/**
 * Most connections a pool may open: ten times PostgreSQL's default `max_connections` (100). A
 * larger figure is a slip (a byte count, a timeout) rather than a pool anyone could be granted.
 */
export const POSTGRES_POOL_SIZE_MAX = 1_000;

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const IMMUTABLE_TABLES = ['journal_transactions', 'journal_entries'] as const;

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Balance shards of a system account on PostgreSQL: at least the writers that run at once (8
 * processes, a pool each), so that they seldom draw the same one; a balance read sums at most
 * this many rows.
 */
const POSTGRES_BALANCE_SHARDS = 32;

/** The PostgreSQL half of {@link LedgerDialect}. */
export const postgresLedgerDialect: LedgerDialect = Object.freeze({
  name: 'postgres',
  idColumnType: 'bigserial',
  amountColumnType: 'numeric(60, 18)',
  referenceColumnType: 'bigint',
  immutabilityStatements: [
    `CREATE OR REPLACE FUNCTION earnbook_reject_journal_change() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME; END $$`,
    ...IMMUTABLE_TABLES.map(
      (table) => `CREATE TRIGGER ${table}_immutable BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION earnbook_reject_journal_change()`,
    ),
  ],
  exactSumFunction: 'sum',
  supportsRowLocks: true,
  balanceShardCount: POSTGRES_BALANCE_SHARDS,
  postingBulk: postgresPostingBulk,
  bulk: postgresJournalBulk,
  async migrate(db: Kysely<unknown>, run: (db: Kysely<unknown>, options: { disableTransactions: boolean }) => Promise<void>): Promise<void> {
    await run(db, { disableTransactions: false });
  },
  async writeTransaction<DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work);
      } catch (error) {
        // Kysely's ROLLBACK on a lost connection fails with `connection_lost` already; this
        // covers a failure of the connection that escaped a transaction some other way.
        if (error instanceof ConnectionLostInTransaction) throw connectionLostError(error.cause);
        const state = sqlState(error);
        if (attempt >= POSTGRES_WRITE_ATTEMPTS_MAX || state === undefined || !RETRYABLE_SQLSTATES.has(state)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  },
});

/** Options of {@link openPostgresDatabase}. */
export interface PostgresDatabaseOptions {
  /**
   * A `postgres://` connection string, required: an empty or missing one is refused rather than
   * left to `pg`'s fallback on the `PG*` environment variables.
   */
  readonly connectionString: string;
  /** Schema to use (created if missing, unless `createSchema: false`); default `public`. Tests use one schema each. */
  readonly schema?: string;
  /**
   * Create the schema when it does not exist; default true. False for books that must already
   * exist (then `Ledger.open({ ifMissing: 'fail' })` reports them missing and nothing is created).
   */
  readonly createSchema?: boolean;
  /** Pool size, a whole number from 1 to {@link POSTGRES_POOL_SIZE_MAX}; default {@link POSTGRES_POOL_SIZE_DEFAULT}. */
  readonly poolSizeMax?: number;
}

/** An open PostgreSQL database. */
export interface PostgresDatabase {
  readonly db: Kysely<LedgerDatabase>;
  readonly pool: Pool;
  readonly dialect: LedgerDialect;
  /** The schema the tables live in. */
  readonly schema: string;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks the schema name: a plain lowercase identifier, and not a system schema (`pg_*`,
 * `information_schema`), where books must never be created nor a clean-up ever drop anything.
 */
function checkSchema(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new LedgerError('invalid_input', `schema must match ${SCHEMA_PATTERN}, got ${JSON.stringify(String(schema)).slice(0, 80)}`, { field: 'schema', value: String(schema).slice(0, 80) });
  }
  if (schema.startsWith('pg_') || schema === 'information_schema') {
    throw new LedgerError('invalid_input', `schema ${schema} is a PostgreSQL system schema: books go in a schema of their own`, { field: 'schema', value: schema });
  }
  return schema;
}

/**
 * Checks the connection string: a non-empty string. The value in the error is redacted (a string
 * may hold a password) or only its type (an object may be a whole `pg` config, password included).
 */
function checkConnectionString(connectionString: unknown): string {
  if (typeof connectionString !== 'string') {
    const shown = connectionString === undefined || connectionString === null ? String(connectionString) : `a ${typeof connectionString}`;
    throw new LedgerError('invalid_input', `connectionString must be a postgres:// connection string, got ${shown}`, { field: 'connectionString', value: shown });
  }
  if (connectionString.trim() === '') {
    throw new LedgerError('invalid_input', 'connectionString must not be empty (the PG* environment variables are not read in its place)', {
      field: 'connectionString',
      value: describeValue(redactConnectionString(connectionString)),
    });
  }
  return connectionString;
}

/** Checks the pool size: `pg` hangs every query of a pool whose `max` is below 1. */
function checkPoolSizeMax(poolSizeMax: unknown): number {
  if (poolSizeMax === undefined) return POSTGRES_POOL_SIZE_DEFAULT;
  if (typeof poolSizeMax !== 'number' || !Number.isSafeInteger(poolSizeMax) || poolSizeMax < 1 || poolSizeMax > POSTGRES_POOL_SIZE_MAX) {
    throw new LedgerError('invalid_input', `poolSizeMax must be a whole number from 1 to ${POSTGRES_POOL_SIZE_MAX}, got ${describeValue(poolSizeMax)}`, {
      field: 'poolSizeMax',
      value: describeValue(poolSizeMax),
    });
  }
  return poolSizeMax;
}

/** Checks `createSchema`: a boolean when given. */
function checkCreateSchema(createSchema: unknown): boolean {
  if (createSchema === undefined) return true;
  if (typeof createSchema !== 'boolean') {
    throw new LedgerError('invalid_input', `createSchema must be true or false, got ${describeValue(createSchema)}`, { field: 'createSchema', value: describeValue(createSchema) });
  }
  return createSchema;
}

/**
 * Opens a pooled PostgreSQL connection. BIGINT ids are parsed to numbers (per pool, not
 * globally), NUMERIC amounts stay strings; the sessions run with `jit = off`. A schema that is not a plain lowercase identifier, or
 * is a system schema (`pg_*`, `information_schema`), is a {@link LedgerError} `invalid_input`
 * naming `schema`, before any connection is made; so is a `connectionString` that is not a
 * non-empty string (its value redacted by {@link redactConnectionString}), a `poolSizeMax` that
 * is not a whole number from 1 to {@link POSTGRES_POOL_SIZE_MAX} and a `createSchema` that is not
 * a boolean, each naming its field.
 */
export async function openPostgresDatabase(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
  if (typeof options !== 'object' || options === null) {
    throw new LedgerError('invalid_input', 'openPostgresDatabase takes an options object with a connectionString', { field: 'options', value: options === null ? 'null' : `a ${typeof options}` });
  }
  const connectionString = checkConnectionString(options.connectionString);
  const schema = checkSchema(options.schema ?? 'public');
  const poolSizeMax = checkPoolSizeMax(options.poolSizeMax);
  const createSchema = checkCreateSchema(options.createSchema);
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
  };
  if (schema !== 'public' && createSchema) {
    const setup = new pg.Client({ connectionString });
    // Its connection ending between two statements must not crash the process: the statement fails instead.
    setup.on('error', () => undefined);
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (error) {
      // Two processes creating the same schema at once: one of them loses the catalog race.
      const state = sqlState(error);
      if (state !== '23505' && state !== '42P06') throw error;
    } finally {
      await setup.end();
    }
  }
  const pool = new pg.Pool({
    connectionString,
    max: poolSizeMax,
    types,
    ...(schema === 'public' ? {} : { options: `-c search_path=${schema}` }),
  });
  // JIT off: it compiles a statement whose estimated cost passes `jit_above_cost`, 10-20 ms each
  // time, and the ledger's statements are short lookups and writes whose estimates pass it only
  // where statistics are stale (the read-back of a 500-deposit batch on a young journal: 19 ms,
  // of which the lookup is under 1 ms). A `SET` as each connection opens (queued before any query
  // of the pool's), not a startup option: poolers such as PgBouncer refuse `-c` options they do
  // not know, and a startup option would override the user's PGOPTIONS. It is an optimisation: a
  // server that refuses it keeps JIT, and the connection is used as it is.
  pool.on('connect', (client) => {
    client.query('SET jit = off').catch(() => undefined);
  });
  // A connection the server ends must not crash the process (an `'error'` event with no
  // listener), and a unit of work that loses it fails with `connection_lost` (connection-loss.ts).
  const watched = watchConnections(pool);
  const db = new Kysely<LedgerDatabase>({ dialect: new PostgresDialect({ pool: watched.pool }) });
  const dialect: LedgerDialect = Object.freeze({ ...postgresLedgerDialect, logConnectionErrorsTo: watched.logTo, readerConnection: () => ({ connectionString, schema }) });
  return { db, pool, dialect, schema };
}

/**
 * Opening the books a command works on: a SQLite file or a PostgreSQL database (optionally one
 * schema of it), the ledger with the configured entities, the Earn mirror and the reconciler.
 * Connection strings are never printed with their password.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { EarnBooks, Ledger, LedgerError, ledgerMigrationState, redactConnectionString } from '@earnbook/ledger';
import type { LedgerEntity, LedgerDatabase, LedgerLogger, LedgerStorage } from '@earnbook/ledger';
import { ReconcileError, Reconciler, reconcileMigrationState } from '@earnbook/reconcile';
import type { ReconcileDatabase } from '@earnbook/reconcile';
import { CliError } from './cli-error.js';
import type { CliConfig } from './cli-config.js';

/** The database used when neither `--database`, `EARNBOOK_DATABASE` nor the config names one. */
export const DATABASE_DEFAULT = '.earnbook/earnbook.sqlite';

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where the books are. */
export type DatabaseTarget =
  | { readonly kind: 'sqlite'; readonly filename: string }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string | undefined };

/**
 * Reads `--database` (and `--schema`): `postgres://` or `postgresql://` URLs are PostgreSQL, with
 * the schema from `?schema=name` or `--schema` (they must agree); anything else is a SQLite file
 * path, relative to `cwd`.
 */
export function parseDatabaseTarget(input: { database: string; schema?: string | undefined; cwd: string }): DatabaseTarget {
  const { database } = input;
  if (database.length === 0 || database.length > 4000) throw new CliError('invalid_flag', '--database must be a SQLite file path or a postgres:// URL', { field: '--database' });
  if (!/^postgres(ql)?:\/\//i.test(database)) {
    // SQLite drops white space at the end of a file name: "books.sqlite " opens (or makes)
    // "books.sqlite", another file than the one named and checked.
    if (/\s$/.test(database)) throw new CliError('invalid_flag', `--database must not end with white space (SQLite would open ${JSON.stringify(database.trimEnd())} instead), got ${JSON.stringify(database)}`, { field: '--database', value: JSON.stringify(database) });
    if (input.schema !== undefined) throw new CliError('invalid_flag', '--schema is only for a PostgreSQL --database', { field: '--schema', value: input.schema });
    return { kind: 'sqlite', filename: database === ':memory:' ? database : resolve(input.cwd, database) };
  }
  let url: URL;
  try {
    url = new URL(database);
  } catch (cause) {
    throw new CliError('invalid_flag', '--database is not a valid postgres:// URL', { field: '--database', cause });
  }
  const fromUrl = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  if (fromUrl !== undefined && input.schema !== undefined && fromUrl !== input.schema) {
    throw new CliError('invalid_flag', `--schema ${input.schema} differs from the URL's ?schema=${fromUrl}`, { field: '--schema', value: input.schema });
  }
  const schema = input.schema ?? fromUrl;
  if (schema !== undefined && !SCHEMA_PATTERN.test(schema)) {
    throw new CliError('invalid_flag', `schema must match ${SCHEMA_PATTERN}, got ${JSON.stringify(schema)}`, { field: '--schema', value: schema });
  }
  return { kind: 'postgres', connectionString: url.toString(), schema };
}

/**
 * The target for messages: a file path, or the URL with every password (user-info and
 * `?password=`-like parameters) replaced by `***`.
 */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return target.filename;
  return `${redactConnectionString(target.connectionString)}${target.schema === undefined ? '' : ` (schema ${target.schema})`}`;
}

/** Open books; `close()` releases the connection. */
export interface OpenBooks {
  readonly ledger: Ledger;
  readonly books: EarnBooks;
  readonly reconciler: Reconciler;
  /** Reconcile's view of the database (the ledger's tables and reconcile's). */
  readonly db: Kysely<ReconcileDatabase>;
  readonly target: DatabaseTarget;
  close(): Promise<void>;
}

/** The error for books that do not exist, with how to make them. */
function booksNotFound(target: DatabaseTarget, cause?: unknown): CliError {
  return new CliError(
    'books_not_found',
    `no books at ${describeDatabase(target)}: check --database (or EARNBOOK_DATABASE, or the config's "database"); to start new books there, run "earnbook init" with a --config that lists the entities, or add --create`,
    { field: '--database', value: describeDatabase(target), ...(cause === undefined ? {} : { cause }) },
  );
}

/** Whether `path` is a file: a folder of that name is not books (the driver would open another file). */
async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function openStorage(target: DatabaseTarget, create: boolean): Promise<LedgerStorage> {
  if (target.kind === 'sqlite') {
    if (target.filename !== ':memory:') {
      // A SQLite driver makes a missing file on open: check first, so a typo creates nothing.
      if (!create && !(await fileExists(target.filename))) throw booksNotFound(target);
      await mkdir(dirname(target.filename), { recursive: true });
    }
    // The storage modules load native drivers; only the one needed is imported.
    const { openSqliteDatabase } = await import('@earnbook/ledger/sqlite');
    const { db, dialect } = openSqliteDatabase({ filename: target.filename });
    return { db, dialect };
  }
  const { openPostgresDatabase } = await import('@earnbook/ledger/postgres');
  const opened = await openPostgresDatabase({ connectionString: target.connectionString, poolSizeMax: 4, createSchema: create, ...(target.schema === undefined ? {} : { schema: target.schema }) });
  return { db: opened.db, dialect: opened.dialect, ...(target.schema === undefined ? {} : { schema: opened.schema }) };
}

/** The entities a database already keeps (none for a new one). */
async function storedEntities(db: Kysely<LedgerDatabase>): Promise<LedgerEntity[]> {
  try {
    const rows = await db.selectFrom('ledger_entities').select(['id', 'time_zone']).orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, timeZone: row.time_zone }));
  } catch (error) {
    // A new database has no ledger tables yet (SQLite: "no such table"; PostgreSQL: 42P01).
    // Anything else, such as a refused connection, is a failure to report.
    const code = (error as { code?: unknown }).code;
    if (code === '42P01' || /no such table/i.test((error as Error).message)) return [];
    throw error;
  }
}

/**
 * Which parts of the books `open` migrates: new books (`booksAreNew`, no entity stored:
 * `Ledger.open` makes them, or refuses them as missing) whole, and reconcile's tables where none exist yet (books the
 * partner's own code made with the ledger alone). Existing books that lack a migration of this
 * version, the ledger's or reconcile's, are refused with `migration_required` naming them all,
 * unless `migrate` (`--migrate`). Read before anything is written (the ledger records the
 * config's entities when it opens).
 */
async function migrationsToApply(storage: LedgerStorage, target: DatabaseTarget, input: { migrate: boolean; booksAreNew: boolean }): Promise<{ ledger: boolean; reconcile: boolean }> {
  if (input.migrate || input.booksAreNew) return { ledger: true, reconcile: true };
  const schema = storage.schema === undefined ? {} : { schema: storage.schema };
  const db = storage.db as Kysely<unknown>;
  const ledger = await ledgerMigrationState(db, storage.dialect, schema);
  const reconcile = await reconcileMigrationState(db, storage.dialect, schema);
  const pending = [...ledger.pending, ...(reconcile.applied.length === 0 ? [] : reconcile.pending)];
  if (pending.length === 0) return { ledger: false, reconcile: reconcile.pending.length > 0 };
  throw new CliError(
    'migration_required',
    `the books in ${describeDatabase(target)} need ${pending.length} schema migration(s) of this version of earnbook (${pending.join(', ')}): take a backup, then run the command again with --migrate (earnbook verify --migrate applies them and checks the books)`,
    { field: '--migrate', value: pending[0] ?? '' },
  );
}

/**
 * Opens the books: connects, checks (or with `migrate`, applies) pending migrations, and opens
 * the ledger with the config's entities (or, without any in the config, those the database
 * keeps), the Earn mirror and the reconciler with the config's tolerances, thresholds and wallets.
 *
 * Books that do not exist are `books_not_found` and nothing is created (no file, no schema, no
 * table), unless `create` is true (`earnbook init`, `--create`). Existing books that lack one of
 * this version's migrations (the ledger's or reconcile's) are `migration_required`, naming them,
 * and nothing is changed, unless `migrate` is true (`--migrate`): upgrading earnbook never changes
 * a production schema without the operator's word (and the backup taken before it).
 */
export async function openBooks(input: { target: DatabaseTarget; config: CliConfig; create?: boolean; migrate?: boolean; logger?: LedgerLogger }): Promise<OpenBooks> {
  const { target, config } = input;
  const create = input.create === true;
  let storage: LedgerStorage;
  try {
    storage = await openStorage(target, create);
  } catch (cause) {
    // A refused schema (a system schema), a missing driver or missing books is already typed.
    if (cause instanceof LedgerError || cause instanceof CliError) throw cause;
    throw new CliError('database_unavailable', `cannot open the database ${describeDatabase(target)}: ${redactConnectionString((cause as Error).message)}`, { field: '--database', cause });
  }
  let ledger: Ledger | undefined;
  try {
    // Read once: the entities new books are opened with, and whether the books are new.
    const stored = await storedEntities(storage.db);
    let entities = config.entities;
    if (entities === undefined && create) {
      entities = stored;
      if (entities.length === 0) {
        throw new CliError('invalid_config', `the database ${describeDatabase(target)} keeps no entities yet: give --config with entities (id and timeZone)`, { field: 'entities' });
      }
    }
    // New books are made whole; existing ones are migrated only when told to.
    const migrate = await migrationsToApply(storage, target, { migrate: input.migrate === true, booksAreNew: stored.length === 0 });
    try {
      ledger = await Ledger.open({ storage, ifMissing: create ? 'create' : 'fail', migrate: migrate.ledger, ...(entities === undefined ? {} : { entities }), ...(input.logger === undefined ? {} : { logger: input.logger }) });
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'books_not_found') throw booksNotFound(target, error);
      throw error;
    }
    const books = new EarnBooks(ledger);
    const reconciler = await Reconciler.open({
      books,
      toleranceUnits: config.toleranceUnits,
      settlementThresholds: config.settlementThresholds,
      wallets: config.wallets,
      migrate: migrate.reconcile,
    });
    const opened = ledger;
    return {
      ledger: opened,
      books,
      reconciler,
      db: opened.db as unknown as Kysely<ReconcileDatabase>,
      target,
      close: () => opened.close(),
    };
  } catch (error) {
    await (ledger === undefined ? storage.db.destroy() : ledger.close());
    if (error instanceof CliError || error instanceof LedgerError || error instanceof ReconcileError) throw error;
    throw new CliError('database_unavailable', `cannot open the books in ${describeDatabase(target)}: ${redactConnectionString((error as Error).message)}`, { field: '--database', cause: error });
  }
}

/**
 * Opening the partner's own books for the examples: an embedded SQLite file (the default) or a
 * PostgreSQL database, through the CLI's one {@link openBooks} (the ledger with the legal
 * entities, the Earn mirror and the reconciler). Each caller says whether it may start new books
 * (`ifMissing`) and, for the demo only, whether a PostgreSQL URL without a schema gets a fresh
 * one (`unnamedSchema`): a job over the partner's books (the nightly reconciliation, the audit
 * export) opens the books that exist and refuses a place that holds none.
 */
import { randomBytes } from 'node:crypto';
import { CliError, EMPTY_CONFIG, describeDatabase, openBooks, parseDatabaseTarget } from '@earnbook/cli';
import type { CliConfig, DatabaseTarget, OpenBooks } from '@earnbook/cli';
import type { LedgerEntity } from '@earnbook/ledger';

/** Options of {@link openPartnerBooks}. */
export interface PartnerBooksOptions {
  /**
   * A SQLite file path (`:memory:` for a private in-memory database) or a `postgres://` URL.
   * A PostgreSQL URL may name its schema with `?schema=name`; without one, see `unnamedSchema`.
   */
  readonly database: string;
  /**
   * The legal entities and the partner's accounting zone of each. Omitted: the entities the books
   * keep, with their zones (only with `ifMissing: 'fail'`: new books need them said).
   */
  readonly entities?: readonly LedgerEntity[];
  /**
   * Books that do not exist at `database`: `create` starts new ones (the demo, the sandbox runs,
   * an in-memory database, a new back office); `fail` is a `CliError` `books_not_found` naming
   * the database (never its password), and nothing is created (no file, schema or table). A job
   * over the partner's books uses `fail`, so that a mistyped path is an error instead of new
   * empty books reconciled "clean".
   */
  readonly ifMissing: 'create' | 'fail';
  /**
   * A PostgreSQL URL without `?schema=`: `default` (the default) uses the connection's default
   * schema (`public`), where the partner's books are; `fresh` makes a new schema
   * `earnbook_<time>_<random>`, the demo's policy so that a run never mixes with earlier books.
   * `fresh` needs `ifMissing: 'create'`.
   */
  readonly unnamedSchema?: 'default' | 'fresh';
  /** Reconciler settings (tolerances, thresholds, wallets), as in the CLI's configuration. */
  readonly reconcile?: Partial<Pick<CliConfig, 'toleranceUnits' | 'settlementThresholds' | 'wallets'>>;
  /** Resolve a relative SQLite path against this directory; default the process's. */
  readonly cwd?: string;
}

/** Open books (the CLI's {@link OpenBooks} without its target); `close()` releases the database. */
export interface PartnerBooks extends Omit<OpenBooks, 'target'> {
  /** Where the books are, for messages (a PostgreSQL password is never shown). */
  readonly description: string;
}

/** A schema name no earlier run used. */
function freshSchema(): string {
  return `earnbook_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(3).toString('hex')}`;
}

/** Where the books are, in words: the dialect, the path or the URL without its password, and the schema. */
function describeTarget(target: DatabaseTarget): string {
  return `${target.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${describeDatabase(target)}`;
}

/**
 * Opens the partner's books: existing ones (migrated if needed), or new ones when `ifMissing` is
 * `create`.
 *
 * @example
 * const partner = await openPartnerBooks({ database: 'books.sqlite', ifMissing: 'fail', entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] });
 * await partner.books.registerUser({ partnerUserId: 'customer-1', earnUsers: [] });
 * await partner.close();
 */
export async function openPartnerBooks(options: PartnerBooksOptions): Promise<PartnerBooks> {
  const { database, ifMissing } = options;
  const unnamedSchema = options.unnamedSchema ?? 'default';
  if (ifMissing !== 'create' && ifMissing !== 'fail') throw new Error(`ifMissing must be "create" or "fail", got ${JSON.stringify(ifMissing)}`);
  // A fresh schema never holds books: with `fail` it could only ever be refused.
  if (unnamedSchema === 'fresh' && ifMissing !== 'create') throw new Error('unnamedSchema "fresh" needs ifMissing "create"');
  if (options.entities === undefined && ifMissing !== 'fail') throw new Error('entities may be omitted with ifMissing "fail" only');
  // The CLI's parser first: it refuses a URL that is not one as invalid_flag without quoting it,
  // where `new URL` would throw a TypeError whose `input` (printed uncaught) holds the password.
  const cwd = options.cwd ?? process.cwd();
  const given = parseDatabaseTarget({ database, cwd });
  const fresh = given.kind === 'postgres' && given.schema === undefined && unnamedSchema === 'fresh';
  const target = fresh ? parseDatabaseTarget({ database, schema: freshSchema(), cwd }) : given;
  const config: CliConfig = { ...EMPTY_CONFIG, ...options.reconcile, entities: options.entities };
  const description = describeTarget(target);
  let opened: OpenBooks;
  try {
    opened = await openBooks({ target, config, create: ifMissing === 'create' });
  } catch (error) {
    // The CLI's message points at its own flags (--create, EARNBOOK_DATABASE); the examples have none.
    if (error instanceof CliError && error.code === 'books_not_found') {
      throw new CliError('books_not_found', `no books at ${description}: check --database; this job opens the partner's existing books only and creates none (start new books with "earnbook init --config <file> --database <same value>")`, { field: '--database', value: describeDatabase(target), cause: error });
    }
    throw error;
  }
  return Object.freeze({ ledger: opened.ledger, books: opened.books, reconciler: opened.reconciler, db: opened.db, description, close: () => opened.close() });
}

/**
 * Opens the books at `database` once: the books it keeps, with the entities and zones they keep,
 * or else new books with `entitiesIfNew`. A service that starts books of its own when there are
 * none (the back office) opens them so, instead of opening them to read their entities, closing
 * them and opening them again; it reads the zones from the answer's `ledger.entities`. A place
 * that holds no books is only looked at before the new books are started there (a SQLite file
 * that does not exist is not opened at all).
 *
 * @example
 * const partner = await openOrStartBooks({ database: 'back-office.sqlite', entitiesIfNew: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
 * const zones = [...partner.ledger.entities.values()].map((entity) => entity.timeZone);
 */
export async function openOrStartBooks(options: { readonly database: string; readonly entitiesIfNew: readonly LedgerEntity[]; readonly cwd?: string }): Promise<PartnerBooks> {
  const where = { database: options.database, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) };
  try {
    return await openPartnerBooks({ ...where, ifMissing: 'fail' });
  } catch (error) {
    if (!(error instanceof CliError && error.code === 'books_not_found')) throw error;
  }
  return openPartnerBooks({ ...where, ifMissing: 'create', entities: options.entitiesIfNew });
}

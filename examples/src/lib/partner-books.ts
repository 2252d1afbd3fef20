/**
 * Opening the partner's own books for the examples: an embedded SQLite file (the default) or a
 * PostgreSQL database, through the CLI's one {@link openBooks} (the ledger with the legal
 * entities, the Earn mirror and the reconciler). The examples add one policy of their own: a
 * PostgreSQL URL without a schema gets a fresh one, so that a run never mixes with earlier books.
 */
import { randomBytes } from 'node:crypto';
import { EMPTY_CONFIG, describeDatabase, openBooks, parseDatabaseTarget } from '@earnbook/cli';
import type { CliConfig, OpenBooks } from '@earnbook/cli';
import type { LedgerEntity } from '@earnbook/ledger';

/** Options of {@link openPartnerBooks}. */
export interface PartnerBooksOptions {
  /**
   * A SQLite file path (`:memory:` for a private in-memory database) or a `postgres://` URL.
   * A PostgreSQL URL may name its schema with `?schema=name`; without one, a fresh schema
   * `earnbook_<time>_<random>` is made so that a run never mixes with earlier books.
   */
  readonly database: string;
  /** The legal entities and the partner's accounting zone of each. */
  readonly entities: readonly LedgerEntity[];
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

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** Whether a `--database` value names PostgreSQL rather than a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return POSTGRES_URL.test(database);
}

/** A schema name no earlier run used. */
function freshSchema(): string {
  return `earnbook_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(3).toString('hex')}`;
}

/**
 * Opens (creating and migrating if needed) the partner's books.
 *
 * @example
 * const partner = await openPartnerBooks({ database: 'books.sqlite', entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] });
 * await partner.books.registerUser({ partnerUserId: 'customer-1', earnUsers: [] });
 * await partner.close();
 */
export async function openPartnerBooks(options: PartnerBooksOptions): Promise<PartnerBooks> {
  const { database } = options;
  const named = isPostgresUrl(database) && new URL(database).searchParams.has('schema');
  const schema = isPostgresUrl(database) && !named ? freshSchema() : undefined;
  const target = parseDatabaseTarget({ database, schema, cwd: options.cwd ?? process.cwd() });
  const config: CliConfig = { ...EMPTY_CONFIG, ...options.reconcile, entities: options.entities };
  // The examples start new books (the demo, a fresh schema): creating them is asked for here.
  const opened = await openBooks({ target, config, create: true });
  const description = `${target.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${describeDatabase(target)}`;
  return Object.freeze({ ledger: opened.ledger, books: opened.books, reconciler: opened.reconciler, db: opened.db, description, close: () => opened.close() });
}

/**
 * Opening the partner's own books for the examples: an embedded SQLite file (the default) or a
 * PostgreSQL database, the ledger with both legal entities, the Earn mirror and the reconciler.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import type { LedgerEntity, LedgerStorage } from '@earnbook/ledger';
import { Reconciler } from '@earnbook/reconcile';
import type { ReconcileDatabase, ReconcilerOptions } from '@earnbook/reconcile';

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
  /** Reconciler settings (thresholds, wallets, tolerances); `books` is filled in. */
  readonly reconcile?: Omit<ReconcilerOptions, 'books'>;
  /** Resolve a relative SQLite path against this directory; default the process's. */
  readonly cwd?: string;
}

/** Open books; `close()` releases the database. */
export interface PartnerBooks {
  readonly ledger: Ledger;
  readonly books: EarnBooks;
  readonly reconciler: Reconciler;
  /** The ledger's and reconcile's tables, for the audit export. */
  readonly db: Kysely<ReconcileDatabase>;
  /** Where the books are, for messages (a PostgreSQL password is never shown). */
  readonly description: string;
  close(): Promise<void>;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** Whether a `--database` value names PostgreSQL rather than a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return POSTGRES_URL.test(database);
}

async function openStorage(database: string, cwd: string): Promise<{ storage: LedgerStorage; description: string }> {
  if (!isPostgresUrl(database)) {
    const filename = database === ':memory:' ? database : resolve(cwd, database);
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    // Storage modules load native drivers: import only the one needed.
    const { openSqliteDatabase } = await import('@earnbook/ledger/sqlite');
    const { db, dialect } = openSqliteDatabase({ filename });
    return { storage: { db, dialect }, description: `SQLite ${filename}` };
  }
  const url = new URL(database);
  const schema = url.searchParams.get('schema') ?? `earnbook_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(3).toString('hex')}`;
  url.searchParams.delete('schema');
  const { openPostgresDatabase } = await import('@earnbook/ledger/postgres');
  const opened = await openPostgresDatabase({ connectionString: url.toString(), schema, poolSizeMax: 4 });
  if (url.password !== '') url.password = '***';
  return { storage: { db: opened.db, dialect: opened.dialect, schema: opened.schema }, description: `PostgreSQL ${url.toString()} schema ${opened.schema}` };
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
  const { storage, description } = await openStorage(options.database, options.cwd ?? process.cwd());
  let ledger: Ledger | undefined;
  try {
    ledger = await Ledger.open({ storage, entities: options.entities });
    const books = new EarnBooks(ledger);
    const reconciler = await Reconciler.open({ ...options.reconcile, books });
    const opened = ledger;
    return Object.freeze({ ledger: opened, books, reconciler, db: opened.db as unknown as Kysely<ReconcileDatabase>, description, close: () => opened.close() });
  } catch (error) {
    await (ledger === undefined ? storage.db.destroy() : ledger.close());
    throw error;
  }
}

/**
 * The storage dialects every database test runs against. `EARNBOOK_DIALECTS` filters them
 * (comma list, default `sqlite,postgres`); PostgreSQL is reached at `EARNBOOK_PG_URL` (default
 * the local trust-auth server). A requested dialect that cannot connect fails the tests: nothing
 * is skipped silently.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Ledger } from '../src/index.js';
import type { LedgerOptions, LedgerStorage } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';

export type DialectName = 'sqlite' | 'postgres';

export const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const DIALECTS: readonly DialectName[] = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres')
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is DialectName => {
    if (name !== 'sqlite' && name !== 'postgres') throw new Error(`EARNBOOK_DIALECTS has unknown dialect ${name}`);
    return true;
  });

/** A fresh, empty storage: SQLite in memory (or a file), or a new PostgreSQL schema. */
export async function freshStorage(dialect: DialectName, options: { filename?: string; poolSizeMax?: number } = {}): Promise<LedgerStorage> {
  if (dialect === 'sqlite') {
    const { db, dialect: sqlite } = openSqliteDatabase({ filename: options.filename ?? ':memory:' });
    return { db, dialect: sqlite };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, ...(options.poolSizeMax === undefined ? {} : { poolSizeMax: options.poolSizeMax }) });
  return { db: opened.db, dialect: opened.dialect, schema: opened.schema };
}

/** Drops a test schema on PostgreSQL. */
export async function dropSchema(schema: string | undefined): Promise<void> {
  if (schema === undefined) return;
  // A clean-up must never drop a system schema or the default one.
  if (schema === 'public' || schema === 'information_schema' || schema.startsWith('pg_')) throw new Error(`refusing to drop schema ${schema}`);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Opens a ledger on a fresh storage; `close()` destroys it (and its schema). */
export async function freshLedger(dialect: DialectName, options: Omit<LedgerOptions, 'storage'> = {}) {
  const storage = await freshStorage(dialect);
  const ledger = await Ledger.open({ ...options, storage });
  return {
    ledger,
    schema: storage.schema,
    async close() {
      await ledger.close();
      await dropSchema(storage.schema);
    },
  };
}

/**
 * Upgrading earnbook never changes a production schema without the operator's word: books that
 * lack one of this version's migrations (the ledger's or reconcile's) are `migration_required`
 * for every command, naming them, and nothing is changed; `--migrate` applies them. New books
 * (`init`, `--create`) are made whole, and books the partner's own code made with the ledger
 * alone get reconcile's tables on the first command, as before.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DAY, DIALECTS, PG_URL, dropSchema, runCli, seedBooks, tempFolder, testConfig } from './fixtures.js';

/**
 * The newest migrations of each set, and the index the first makes: what the tests take back to
 * age the books (the ledger's 0015 sets a PostgreSQL storage parameter alone, set again when it
 * is applied again).
 */
const LEDGER_LAST = { names: ['0014_account_pages_index', '0015_account_rows_room'], index: 'ledger_accounts_entity_id' };
const RECONCILE_LAST = { names: ['0008_breaks_day_id_index'], index: 'reconcile_breaks_entity_day_id' };

interface Books {
  readonly dialect: 'sqlite' | 'postgres';
  /** The --database flags naming the books. */
  readonly flags: readonly string[];
  readonly folder: string;
  readonly configFile: string;
  readonly reportFile: string;
  /** A handle on the books, for the test's own reads and writes. */
  readonly db: Kysely<unknown>;
  close(): Promise<void>;
}

async function seeded(dialect: 'sqlite' | 'postgres'): Promise<Books> {
  const folder = await tempFolder();
  const configFile = join(folder.path, 'config.json');
  const reportFile = join(folder.path, 'report.json');
  await writeFile(configFile, JSON.stringify(testConfig()));
  if (dialect === 'sqlite') {
    const database = join(folder.path, 'books.sqlite');
    const { db, dialect: sqlite } = openSqliteDatabase({ filename: database });
    await writeFile(reportFile, JSON.stringify(await seedBooks({ db, dialect: sqlite })));
    const handle = openSqliteDatabase({ filename: database }).db as Kysely<unknown>;
    return { dialect, flags: ['--database', database], folder: folder.path, configFile, reportFile, db: handle, close: async () => (await handle.destroy(), await folder.remove()) };
  }
  const schema = `t_mig_${randomBytes(5).toString('hex')}`;
  const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 2 });
  await writeFile(reportFile, JSON.stringify(await seedBooks({ db: opened.db, dialect: opened.dialect, schema: opened.schema })));
  const handle = (await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 1, createSchema: false })).db as Kysely<unknown>;
  return {
    dialect,
    flags: ['--database', PG_URL, '--schema', schema],
    folder: folder.path,
    configFile,
    reportFile,
    db: handle,
    close: async () => {
      await handle.destroy();
      await dropSchema(schema);
      await folder.remove();
    },
  };
}

/** Takes the books back to before migrations: the index dropped, their records removed. */
async function unapply(db: Kysely<unknown>, table: string, migrations: { names: readonly string[]; index: string }): Promise<void> {
  await sql`drop index ${sql.ref(migrations.index)}`.execute(db);
  for (const name of migrations.names) await sql`delete from ${sql.table(table)} where name = ${name}`.execute(db);
}

/** The books' rows and their indexes' names: what a refused command must leave as it found. */
async function snapshot(books: Books): Promise<string> {
  const indexes =
    books.dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(books.db)
      : await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(books.db);
  return `${await snapshotDatabase(books.db)}\nindexes: ${indexes.rows.map((row) => row.name).sort().join(', ')}`;
}

describe.each(DIALECTS)('explicit migrations on %s', (dialect) => {
  let books: Books;
  beforeEach(async () => {
    books = await seeded(dialect);
  });
  afterEach(async () => books.close());

  it('books behind this version are refused by every command (exit 2, migration_required, naming each migration), unchanged; --migrate applies them', async () => {
    // Ledger-only books: the first command adds reconcile's tables without --migrate.
    const first = await runCli(['breaks', 'list', '--entity', 'defi', ...books.flags, '--config', books.configFile, '--quiet']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    await unapply(books.db, 'earnbook_ledger_migration', LEDGER_LAST);
    await unapply(books.db, 'earnbook_reconcile_migration', RECONCILE_LAST);
    const before = await snapshot(books);
    const commands = [
      ['verify'],
      ['breaks', 'list', '--entity', 'defi'],
      ['settlements', 'list', '--entity', 'defi'],
      ['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', books.reportFile, '--out', 'summary'],
      ['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', 'audit'],
      ['init'],
    ];
    for (const command of commands) {
      const refused = await runCli([...command, ...books.flags, '--config', books.configFile], { cwd: books.folder });
      expect(refused.code, command[0]).toBe(2);
      expect(refused.stderr, command[0]).toContain('code migration_required, field --migrate');
      expect(refused.stderr, command[0]).toContain([...LEDGER_LAST.names, ...RECONCILE_LAST.names].join(', '));
      expect(await snapshot(books), command[0]).toBe(before);
    }
    const migrated = await runCli(['verify', '--migrate', ...books.flags, '--config', books.configFile]);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    const after = await snapshot(books);
    for (const name of [LEDGER_LAST.index, RECONCILE_LAST.index, ...LEDGER_LAST.names, ...RECONCILE_LAST.names]) expect(after).toContain(name);
    // Current books open without the flag.
    const reconciled = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', books.reportFile, ...books.flags, '--config', books.configFile, '--quiet'], { cwd: books.folder });
    expect(reconciled.stderr).toBe('');
    expect(reconciled.code).toBe(0);
  });

  it('books a newer version migrated are refused with or without --migrate (books_too_new), unchanged', async () => {
    const first = await runCli(['breaks', 'list', '--entity', 'defi', ...books.flags, '--config', books.configFile, '--quiet']);
    expect(first.code).toBe(0);
    await sql`insert into earnbook_ledger_migration (name, timestamp) values (${'9999_from_the_future'}, ${'2030-01-01T00:00:00.000Z'})`.execute(books.db);
    const before = await snapshot(books);
    for (const flags of [[], ['--migrate']]) {
      const refused = await runCli(['verify', ...flags, ...books.flags, '--config', books.configFile]);
      expect(refused.code, flags.join(' ')).toBe(2);
      expect(refused.stderr, flags.join(' ')).toContain('code books_too_new');
      expect(refused.stderr, flags.join(' ')).toContain('9999_from_the_future');
      expect(await snapshot(books)).toBe(before);
    }
  });
});

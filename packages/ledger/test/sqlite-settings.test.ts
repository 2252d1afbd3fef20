/**
 * The settings every SQLite connection the ledger opens runs with (`openSqliteDatabase`): what
 * the durability and speed figures in the README were measured with. A file: WAL, `synchronous =
 * NORMAL`, foreign keys, the 64 MiB page cache, checkpoints every 3,000 WAL pages; in memory the
 * same but the journal (a private in-memory database has no WAL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_PAGE_CACHE_KIB, SQLITE_WAL_AUTOCHECKPOINT_PAGES, openSqliteDatabase } from '../src/db/sqlite/index.js';
import type { SqliteDatabase } from '../src/db/sqlite/index.js';

describe('SQLite connection settings', () => {
  let directory: string;
  let storage: SqliteDatabase | undefined;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-sqlite-settings-'));
  });
  afterEach(async () => {
    await storage?.db.destroy();
    storage = undefined;
    rmSync(directory, { recursive: true, force: true });
  });

  const settings = (opened: SqliteDatabase) => ({
    journalMode: opened.native.pragma('journal_mode', { simple: true }),
    synchronous: opened.native.pragma('synchronous', { simple: true }),
    foreignKeys: opened.native.pragma('foreign_keys', { simple: true }),
    cacheSize: opened.native.pragma('cache_size', { simple: true }),
    walAutocheckpoint: opened.native.pragma('wal_autocheckpoint', { simple: true }),
  });

  it.each([
    ['a file', () => join(directory, 'books.sqlite'), 'wal'],
    ['memory', () => ':memory:', 'memory'],
  ])('%s', (_what, filename, journalMode) => {
    storage = openSqliteDatabase({ filename: filename() });
    // synchronous 1 = NORMAL; a negative cache size is in KiB.
    expect(settings(storage)).toEqual({ journalMode, synchronous: 1, foreignKeys: 1, cacheSize: -SQLITE_PAGE_CACHE_KIB, walAutocheckpoint: SQLITE_WAL_AUTOCHECKPOINT_PAGES });
    expect(SQLITE_WAL_AUTOCHECKPOINT_PAGES).toBe(3_000);
  });
});

/**
 * `exportAudit({ temporaryDirectory })`: the hledger journal's external sort of account names
 * spills its runs there instead of the system's temporary folder, and nothing is left in it after
 * the export, whether it succeeded or failed. A `temporaryDirectory` that is not an existing folder
 * is refused `invalid_input` naming it, before anything is written.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely, KyselyPlugin } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { ReconcileError } from '../src/errors.js';
import { SORT_RUN_ITEMS_DEFAULT } from '../src/external-sort.js';
import { exportAudit, exportHledgerJournal } from '../src/export/index.js';
import type { ReconcileDatabase } from '../src/db/schema.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

/** More accounts than one run of the sort holds: the sort spills to disk. */
const ACCOUNTS = SORT_RUN_ITEMS_DEFAULT + 10;
const RANGE = { fromDay: '2025-03-18', toDay: '2025-03-19' } as const;

async function refusal(promise: Promise<unknown>): Promise<ReconcileError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReconcileError);
  return error as ReconcileError;
}

/** A handle on the books that runs `onQuery` after each query's result arrives. */
function withQueryHook(db: Kysely<ReconcileDatabase>, onQuery: () => void): Kysely<ReconcileDatabase> {
  const plugin: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      onQuery();
      return args.result;
    },
  };
  return db.withPlugin(plugin);
}

describe.each(DIALECTS)('audit export temporaryDirectory on %s', (dialect) => {
  let books: TestBooks;
  let root: string;
  let temporaryDirectory: string;
  let systemTemporary: string;
  const previousTmp = process.env['TMPDIR'];

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    const values: string[] = [];
    for (let index = 0; index < ACCOUNTS; index += 1) {
      values.push(`('defi', 'BTC', 'u${index}', 'user', 'credit', '0', 0, '2025-03-21T00:00:00.000Z')`);
      if (values.length >= 500 || index === ACCOUNTS - 1) {
        await sql.raw(`insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, entry_count, created_at) values ${values.join(',')}`).execute(books.db);
        values.length = 0;
      }
    }
  }, 120_000);
  afterAll(async () => books.close());
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `earnbook-export-temporary-${dialect}-`));
    temporaryDirectory = join(root, 'spill');
    systemTemporary = join(root, 'system-temporary');
    mkdirSync(temporaryDirectory);
    mkdirSync(systemTemporary);
    // The default folder (os.tmpdir()) is this one during the test: nothing may land there.
    process.env['TMPDIR'] = systemTemporary;
  });
  afterEach(async () => {
    if (previousTmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previousTmp;
    await rm(root, { recursive: true, force: true });
  });

  it('spills the sort into temporaryDirectory and leaves nothing there (nor in the system folder) after success', async () => {
    const seen = new Set<string>();
    const db = withQueryHook(books.db, () => {
      for (const name of readdirSync(temporaryDirectory)) for (const run of readdirSync(join(temporaryDirectory, name))) seen.add(`${name.replace(/-[^-]+$/, '-*')}/${run}`);
      expect(readdirSync(systemTemporary)).toEqual([]);
    });
    const directory = join(root, 'audit');
    const { manifest } = await exportAudit({ db, entity: 'defi', ...RANGE, directory, formats: ['hledger_journal'], temporaryDirectory });
    expect(manifest.files[0]?.name).toBe('journal.hledger');
    // The account names' sort spilled its first run while it read the next page of names.
    expect([...seen]).toContain('earnbook-sort-*/run-0.ndjson');
    expect(readdirSync(temporaryDirectory)).toEqual([]);
    expect(readdirSync(systemTemporary)).toEqual([]);
  }, 120_000);

  it('leaves nothing in temporaryDirectory when the export fails after the sort spilled', async () => {
    let spilled = false;
    const db = withQueryHook(books.db, () => {
      if (spilled) throw new Error('connection lost');
      spilled = readdirSync(temporaryDirectory).length > 0;
    });
    const directory = join(root, 'audit');
    const error = await refusal(exportAudit({ db, entity: 'defi', ...RANGE, directory, formats: ['hledger_journal'], temporaryDirectory }));
    expect(error.code).toBe('export_failed');
    expect(error.message).toMatch(/connection lost/);
    expect(spilled).toBe(true);
    expect(readdirSync(temporaryDirectory)).toEqual([]);
    expect(readdirSync(systemTemporary)).toEqual([]);
    // The export's own folder, which it made, is gone with its files.
    expect(existsSync(directory)).toBe(false);
  }, 120_000);

  it('names temporaryDirectory (not the reconciler\'s sortDirectory) when its runs cannot be read back', async () => {
    let removed = false;
    const db = withQueryHook(books.db, () => {
      // Once a run is on disk, its folder goes away (a cleaner of the temporary folder, a full disk's repair).
      for (const name of readdirSync(temporaryDirectory)) {
        rmSync(join(temporaryDirectory, name), { recursive: true, force: true });
        removed = true;
      }
    });
    const directory = join(root, 'audit');
    const error = await refusal(exportAudit({ db, entity: 'defi', ...RANGE, directory, formats: ['hledger_journal'], temporaryDirectory }));
    expect(removed).toBe(true);
    expect(error.code).toBe('sort_failed');
    expect(error.field).toBe('temporaryDirectory');
    expect(error.value).toBe(temporaryDirectory);
    expect(error.message).toContain(`in temporaryDirectory ${JSON.stringify(temporaryDirectory)}: ENOENT`);
    expect(readdirSync(temporaryDirectory)).toEqual([]);
    // The export's own folder, which it made, is gone with its files.
    expect(existsSync(directory)).toBe(false);
  }, 120_000);

  it('spills to the system temporary folder without temporaryDirectory, as before', async () => {
    const seen = new Set<string>();
    const db = withQueryHook(books.db, () => {
      for (const name of readdirSync(systemTemporary)) seen.add(name.replace(/-[^-]+$/, '-*'));
    });
    await exportAudit({ db, entity: 'defi', ...RANGE, directory: join(root, 'audit'), formats: ['hledger_journal'] });
    expect([...seen]).toEqual(['earnbook-sort-*']);
    expect(readdirSync(systemTemporary)).toEqual([]);
  }, 120_000);

  it('refuses a temporaryDirectory that is not an existing folder, naming it, before anything is written', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a folder');
    const booksBefore = await snapshotDatabase(books.db as never);
    for (const value of [join(root, 'missing'), file, join(file, 'below'), '', 42]) {
      const directory = join(root, 'audit');
      const before = readdirSync(root).sort();
      const error = await refusal(exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory, temporaryDirectory: value as string }));
      expect({ code: error.code, field: error.field }).toEqual({ code: 'invalid_input', field: 'temporaryDirectory' });
      expect(error.value).toBe(typeof value === 'string' ? value : '42');
      expect(error.message).toMatch(/^temporaryDirectory must be an existing folder/);
      expect(readdirSync(root).sort()).toEqual(before);
      // The hledger exporter on its own refuses it too, before writing a byte.
      const memory = memoryOutput();
      const direct = await refusal(exportHledgerJournal({ db: books.db, entity: 'defi', ...RANGE, output: memory.output, temporaryDirectory: value as string }));
      expect({ code: direct.code, field: direct.field }).toEqual({ code: 'invalid_input', field: 'temporaryDirectory' });
      expect(memory.bytes().length).toBe(0);
    }
    expect(readdirSync(temporaryDirectory)).toEqual([]);
    expect(await snapshotDatabase(books.db as never)).toBe(booksBefore);
  });
});

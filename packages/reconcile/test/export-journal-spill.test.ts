/**
 * The hledger journal's account names through the external sort when it spills to disk (more
 * accounts than a run holds): the names come in the byte order the database's `COLLATE "C"` /
 * BINARY order gave, each once, and the sort's temporary files are gone after the export, whether
 * it succeeded or its output failed midway.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { compareKeys } from '../src/keys.js';
import { SORT_RUN_ITEMS_DEFAULT } from '../src/external-sort.js';
import { exportHledgerJournal } from '../src/export/index.js';
import { hledgerAccountName } from '../src/export/hledger-journal.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const ACCOUNTS = SORT_RUN_ITEMS_DEFAULT + 2_000;
/** Codes whose byte order differs from UTF-16 order, repeated across currencies and entities. */
const ODD = ['\u{1F600}', '\uFF5E', '\uE000', 'Z', 'a', '\u00E9', '\u{10FFFF}', 'a:b'];

describe.each(DIALECTS)('journal.hledger names through a spilling sort on %s', (dialect) => {
  let books: TestBooks;
  let sortDirectory: string;
  const previousTmp = process.env['TMPDIR'];
  beforeAll(async () => {
    books = await openTestBooks(dialect);
    const values: string[] = [];
    const flush = async () => {
      if (values.length === 0) return;
      await sql.raw(`insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, entry_count, created_at) values ${values.join(',')}`).execute(books.db);
      values.length = 0;
    };
    for (let index = 0; index < ACCOUNTS; index += 1) {
      const entity = index % 7 === 0 ? 'lending' : 'defi';
      const currency = index % 2 === 0 ? 'BTC' : 'ETH';
      // Every second account shares its code with the one before (another currency): one name.
      const code = `u${ODD[Math.floor(index / 2) % ODD.length]}${(Math.floor(index / 2) * 7919) % 100_003}`;
      values.push(`('${entity}', '${currency}', '${code}', 'user', 'credit', '0', 0, '2025-03-21T00:00:00.000Z')`);
      if (values.length >= 500) await flush();
    }
    await flush();
  }, 120_000);
  afterAll(async () => books.close());
  beforeEach(() => {
    sortDirectory = mkdtempSync(join(tmpdir(), 'earnbook-h3-'));
    process.env['TMPDIR'] = sortDirectory;
  });
  afterEach(() => {
    if (previousTmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previousTmp;
    rmSync(sortDirectory, { recursive: true, force: true });
  });

  it('declares every name once, in byte order, and leaves no sort files', async () => {
    const memory = memoryOutput();
    await exportHledgerJournal({ db: books.db, allEntities: true, fromDay: '2025-03-18', toDay: '2025-03-19', pageSize: 5_000, output: memory.output });
    const declared = memory.bytes().toString('utf8').split('\n').filter((line) => line.startsWith('account ')).map((line) => line.slice('account '.length));
    const rows = await books.db.selectFrom('ledger_accounts').select(['entity', 'kind', 'code']).execute();
    const parts = [...new Map(rows.map((row) => [`${row.entity}\u0000${row.kind}\u0000${row.code}`, row])).values()];
    parts.sort((a, b) => compareKeys(a.entity, b.entity) || compareKeys(a.kind, b.kind) || compareKeys(a.code, b.code));
    const expected: string[] = [];
    let parent = '';
    for (const row of parts) {
      const group = hledgerAccountName({ ...row, code: row.kind });
      if (group !== parent) expected.push((parent = group));
      const name = hledgerAccountName(row);
      if (name !== group) expected.push(name);
    }
    expect(parts.length).toBeGreaterThan(SORT_RUN_ITEMS_DEFAULT / 2);
    expect(declared.length).toBe(expected.length);
    expect(declared).toEqual(expected);
    expect(readdirSync(sortDirectory)).toEqual([]);
  }, 120_000);

  it('leaves no sort files when the output fails midway', async () => {
    let written = 0;
    const output = new Writable({
      highWaterMark: 1_024,
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        callback(written > 200_000 ? new Error('disk full') : null);
      },
    });
    await expect(exportHledgerJournal({ db: books.db, allEntities: true, fromDay: '2025-03-18', toDay: '2025-03-19', pageSize: 5_000, output })).rejects.toThrow(/disk full/);
    expect(readdirSync(sortDirectory)).toEqual([]);
  }, 120_000);
});

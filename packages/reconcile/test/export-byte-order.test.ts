/**
 * The exports' row order is UTF-8 byte order on every dialect, whatever the database's collation:
 * the README promises byte-identical files from SQLite and PostgreSQL, and PostgreSQL databases
 * are often created with a linguistic collation (`en_US.UTF-8`), under which `ORDER BY entity`
 * puts `a_b` before `B`. On PostgreSQL the books below keep every text column in ICU `en-US`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAudit, exportHledgerJournal, exportSettlementsCsv, hledgerAccountName } from '../src/export/index.js';
import type { AuditManifest } from '../src/export/index.js';
import { AWKWARD_CODES, AWKWARD_ENTITIES, LINGUISTIC_COLLATION, byteOrder, openAwkwardBooks, seedAwkwardBooks } from './export-awkward-books.js';
import { DIALECTS, memoryOutput } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

/** Compares tuples of text element by element in byte order (then numbers). */
function tupleOrder(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (const [index, left] of a.entries()) {
    const right = b[index] ?? '';
    const order = typeof left === 'number' && typeof right === 'number' ? left - right : byteOrder(String(left), String(right));
    if (order !== 0) return order;
  }
  return 0;
}

describe.each(DIALECTS)('export row order on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;

  beforeAll(async () => {
    books = await openAwkwardBooks(dialect);
    await seedAwkwardBooks(books);
    directory = await mkdtemp(join(tmpdir(), `earnbook-byte-order-${dialect}-`));
  });
  afterAll(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  it.runIf(dialect === 'postgres')('runs on books whose own order is not byte order', async () => {
    // Without this, a database created with the C locale would pass the tests below by chance.
    const { rows } = await sql<{ id: string }>`select id from ledger_entities order by id`.execute(books.db);
    const stored = rows.map((row) => row.id);
    expect(stored).not.toEqual([...stored].sort(byteOrder));
    const { rows: collations } = await sql<{ collation_name: string }>`select collation_name from information_schema.columns where table_schema = current_schema() and table_name = 'ledger_accounts' and column_name = 'code'`.execute(books.db);
    expect(collations[0]?.collation_name).toBe(LINGUISTIC_COLLATION);
  });

  it('writes the hledger journal’s accounts and transactions in byte order', async () => {
    for (const pageSize of [2, 5_000]) {
      const sink = memoryOutput();
      await exportHledgerJournal({ db: books.db, allEntities: true, ...RANGE, pageSize, output: sink.output });
      const lines = sink.bytes().toString('utf8').split('\n');
      const declared = lines.filter((line) => line.startsWith('account ')).map((line) => line.slice('account '.length));
      const entities = [...AWKWARD_ENTITIES.map((entity) => entity.id), 'defi', 'lending'].sort(byteOrder);
      const expected: string[] = [];
      for (const entity of entities.filter((id) => AWKWARD_ENTITIES.some((awkward) => awkward.id === id))) {
        expected.push(hledgerAccountName({ entity, kind: 'adjustment', code: 'adjustment' }));
        for (const code of [...AWKWARD_CODES].sort(byteOrder)) expected.push(hledgerAccountName({ entity, kind: 'adjustment', code }));
        expected.push(hledgerAccountName({ entity, kind: 'treasury', code: 'treasury' }));
      }
      expect(declared).toEqual(expected);
      // Transactions: (entity, accounting day, id), the entity in byte order.
      const titles = lines.filter((line) => /^\d{4}-\d{2}-\d{2} \(\d+\) /.test(line));
      const keys = lines.flatMap((line, index) => {
        const title = /^(\d{4}-\d{2}-\d{2}) \((\d+)\) /.exec(line);
        const entity = /^ {4}; entity: (.*)$/.exec(lines[index + 2] ?? '');
        return title === null || entity === null ? [] : [[entity[1] ?? '', title[1] ?? '', Number(title[2])] as const];
      });
      expect(keys).toHaveLength(AWKWARD_ENTITIES.length * AWKWARD_CODES.length);
      expect(titles).toHaveLength(keys.length);
      expect(keys).toEqual([...keys].sort(tupleOrder));
    }
  });

  it('writes settlements.csv in (entity, currency, day) byte order', async () => {
    for (const pageSize of [3, 5_000]) {
      const sink = memoryOutput();
      await exportSettlementsCsv({ db: books.db, allEntities: true, ...RANGE, pageSize, output: sink.output });
      const rows = sink.bytes().toString('utf8').split('\r\n').slice(1, -1);
      const keys = rows.map((row) => {
        const [entity = '', day = '', , currency = ''] = row.split(',');
        return [JSON.parse(entity) as string, JSON.parse(currency) as string, day] as const;
      });
      expect(keys).toHaveLength(AWKWARD_ENTITIES.length * 4);
      expect(keys).toEqual([...keys].sort(tupleOrder));
    }
  });

  it('lists the manifest’s time zones in byte order of the entity', async () => {
    const target = join(directory, 'audit');
    await exportAudit({ db: books.db, allEntities: true, ...RANGE, directory: target, formats: ['breaks_csv'] });
    const manifest = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as AuditManifest;
    const entities = Object.keys(manifest.parameters.timeZones);
    expect(entities).toEqual([...entities].sort(byteOrder));
    expect(entities).toHaveLength(AWKWARD_ENTITIES.length + 2);
  });
});

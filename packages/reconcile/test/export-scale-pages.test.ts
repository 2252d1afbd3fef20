/**
 * The audit exports' page walks that no longer ask the database for a sorted range per page:
 * `breaks.csv` walks an entity's breaks by id between the range's first and last id, and the
 * hledger journal sorts account names itself (an external sort). Both must give what the
 * one-query order gave: every row of the range once, in id order; every account name once, in
 * (entity, kind, code) byte order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { compareKeys } from '../src/keys.js';
import { exportBreaksCsv, exportHledgerJournal } from '../src/export/index.js';
import type { Writable } from 'node:stream';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

/** Runs an export into memory: its text and result. */
async function collect<T>(run: (output: Writable) => Promise<T>): Promise<{ text: string; result: T }> {
  const memory = memoryOutput();
  const result = await run(memory.output);
  return { text: memory.bytes().toString('utf8'), result };
}

describe.each(DIALECTS)('audit export page walks on %s', (dialect) => {
  let books: TestBooks;
  beforeEach(async () => {
    books = await openTestBooks(dialect);
  });
  afterEach(async () => books.close());

  it('breaks.csv: small pages walk the range once, in id order, skipping other days and entities between its ids', async () => {
    // Days interleaved by id, two entities, so that the range's ids are not contiguous.
    await books.ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'settlement', kind: 'settlement' });
    await books.ledger.openAccount({ entity: 'lending', currency: 'BTC', code: 'settlement', kind: 'settlement' });
    const days = ['2025-03-17', '2025-03-18', '2025-03-19', '2025-03-18', '2025-03-20', '2025-03-18', '2025-03-19', '2025-03-16'];
    for (const [index, day] of days.entries()) {
      for (const entity of ['defi', 'lending']) {
        await sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, provider_id, earn_account_id, currency, expected, actual, details, status, resolved_by, resolution_reason, resolution_transaction_id, report_version, created_at, resolved_at)
          values (${entity}, ${day}, 'margin_mismatch', ${`["margin_mismatch",null,null,"BTC",${index}]`}, null, null, 'BTC', '1', '2', '{}', 'open', null, null, null, 1, '2025-03-21T00:00:00.000Z', null)`.execute(books.db);
      }
    }
    const stored = await books.db.selectFrom('reconcile_breaks').select(['id', 'entity', 'accounting_day']).orderBy('id').execute();
    const expected = stored.filter((row) => row.entity === 'defi' && row.accounting_day >= '2025-03-18' && row.accounting_day <= '2025-03-19').map((row) => String(row.id));
    expect(expected).toHaveLength(5);
    for (const pageSize of [1, 2, 5, 100]) {
      const { text, result } = await collect((output) => exportBreaksCsv({ db: books.db, entity: 'defi', fromDay: '2025-03-18', toDay: '2025-03-19', pageSize, output }));
      const ids = text.trim().split('\r\n').slice(1).map((line) => line.split(',')[3]);
      expect(ids).toEqual(expected);
      expect(result.rows).toBe(5);
    }
    const empty = await collect((output) => exportBreaksCsv({ db: books.db, entity: 'defi', fromDay: '2025-04-01', toDay: '2025-04-30', output }));
    expect(empty.result.rows).toBe(0);
    const all = await collect((output) => exportBreaksCsv({ db: books.db, allEntities: true, fromDay: '2025-03-18', toDay: '2025-03-19', pageSize: 3, output }));
    expect(all.result.rows).toBe(10);
  });

  it('journal.hledger: account names declared once each, in byte order, across pages, currencies and entities', async () => {
    // Opened out of name order, in two currencies, with names whose byte order differs from
    // UTF-16 order (U+FF5E vs U+1F600) and two entities.
    const accounts: [string, string, string][] = [
      ['defi', 'BTC', 'user:zeta'],
      ['lending', 'BTC', 'user:alpha'],
      ['defi', 'ETH', 'user:zeta'],
      ['defi', 'BTC', 'user:\u{1F600}'],
      ['defi', 'BTC', 'user:\uFF5E'],
      ['defi', 'ETH', 'user:alpha'],
      ['defi', 'BTC', 'settlement'],
      ['defi', 'BTC', 'user:Alpha'],
      ['lending', 'ETH', 'settlement'],
      ['defi', 'ETH', 'settlement'],
    ];
    for (const [entity, currency, code] of accounts) await books.ledger.openAccount({ entity, currency, code, kind: code === 'settlement' ? 'settlement' : 'user' });
    const declared = async (pageSize: number) => {
      const { text } = await collect((output) => exportHledgerJournal({ db: books.db, allEntities: true, fromDay: '2025-03-18', toDay: '2025-03-19', pageSize, output }));
      return text.split('\n').filter((line) => line.startsWith('account ')).map((line) => line.slice('account '.length));
    };
    const names = await declared(1);
    expect(names).toEqual([
      'defi:settlement',
      'defi:user',
      'defi:user:Alpha',
      'defi:user:alpha',
      'defi:user:zeta',
      'defi:user:%EF%BD%9E',
      'defi:user:%F0%9F%98%80',
      'lending:settlement',
      'lending:user',
      'lending:user:alpha',
    ]);
    expect(await declared(3)).toEqual(names);
    expect(await declared(10_000)).toEqual(names);
    expect(compareKeys('\uFF5E', '\u{1F600}')).toBeLessThan(0);
  });
});

/**
 * SQLite reads build their row objects from the driver's raw arrays (`db/sqlite/row-objects.ts`):
 * the rows must be exactly what better-sqlite3's own objects would be, through Kysely's
 * `execute` and `stream` alike, whatever the column names and value types.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import type { SqliteDatabase } from '../src/db/sqlite/index.js';

describe('SQLite rows built from raw arrays', () => {
  let storage: SqliteDatabase | undefined;
  afterEach(async () => {
    await storage?.db.destroy();
    storage = undefined;
  });

  const QUERIES = [
    "select 1 as a, 'x' as b, null as c, x'00ff' as d, 2.5 as e",
    // Two columns of one name: the later wins, as in the driver's objects.
    "select 1 as a, 2 as a, 'z' as b",
    // A column named like Object.prototype members.
    "select 'v' as constructor, 'w' as toString, 3 as hasOwnProperty",
    "select 'p' as __proto__, 4 as n",
    "select value as v, key as k from json_each('[10, \"t\", null]')",
  ];

  it.each(QUERIES)('%s reads the same rows as the driver', async (query) => {
    storage = openSqliteDatabase({ filename: ':memory:' });
    const expected = storage.native.prepare(query).all();
    const { rows } = await sql.raw(query).execute(storage.db);
    expect(rows).toEqual(expected);
    // The prototype of every row is Object's, whatever the column names.
    for (const row of rows) expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  });

  it('a streamed select yields the rows the driver reads, and the statement reads again after it', async () => {
    storage = openSqliteDatabase({ filename: ':memory:' });
    await sql`create table t (n integer, s text)`.execute(storage.db);
    await sql`insert into t values (1, 'a'), (2, null), (3, 'c')`.execute(storage.db);
    const expected = storage.native.prepare('select n, s from t order by n').all();
    const query = storage.db.selectFrom('t' as never).select([sql<number>`n`.as('n'), sql<string | null>`s`.as('s')]).orderBy(sql`n`);
    const streamed: unknown[] = [];
    for await (const row of query.stream()) streamed.push(row);
    expect(streamed).toEqual(expected);
    expect(await query.execute()).toEqual(expected);
  });
});

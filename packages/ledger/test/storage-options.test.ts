/**
 * Options of the storage openers are checked before anything is opened: a bad busy timeout is not
 * silently SQLite's 0, a bad pool size does not hang `Ledger.open`, a connection string that is
 * not one is not `pg`'s TypeError nor its fallback on the PG* environment variables, and no error
 * shows a password.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/index.js';
import { SQLITE_BUSY_TIMEOUT_MS_DEFAULT, SQLITE_BUSY_TIMEOUT_MS_MAX, openSqliteDatabase } from '../src/db/sqlite/index.js';
import { POSTGRES_POOL_SIZE_MAX, openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL } from './dialects.js';

const directory = mkdtempSync(join(tmpdir(), 'earnbook-options-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function busyTimeoutOf(options: { busyTimeoutMs?: number }): number {
  const opened = openSqliteDatabase({ filename: ':memory:', ...options });
  try {
    return (opened.native.pragma('busy_timeout') as { timeout: number }[])[0]?.timeout ?? -1;
  } finally {
    opened.native.close();
  }
}

/** The error a call throws or rejects with, or the string 'no error'. */
async function errorOf(action: () => unknown): Promise<unknown> {
  try {
    await action();
    return 'no error';
  } catch (error) {
    return error;
  }
}

describe.runIf(DIALECTS.includes('sqlite'))('openSqliteDatabase busyTimeoutMs', () => {
  it.each([Number.NaN, -5, -1, 1.5, 3_000_000_000, SQLITE_BUSY_TIMEOUT_MS_MAX + 1, Number.POSITIVE_INFINITY, 'x', '100', null, 10n])(
    'refuses %s with invalid_input naming busyTimeoutMs, before creating the file',
    async (busyTimeoutMs) => {
      const filename = join(directory, `refused-${String(busyTimeoutMs)}.sqlite`);
      const error = await errorOf(() => openSqliteDatabase({ filename, busyTimeoutMs: busyTimeoutMs as number }));
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'invalid_input', field: 'busyTimeoutMs' });
      expect((error as LedgerError).value).toBe(typeof busyTimeoutMs === 'bigint' ? `${busyTimeoutMs}n` : typeof busyTimeoutMs === 'string' ? JSON.stringify(busyTimeoutMs) : String(busyTimeoutMs));
      expect(existsSync(filename)).toBe(false);
    },
  );

  it('sets the busy timeout it is given, from 0 to the largest SQLite holds, and the default without one', () => {
    expect(busyTimeoutOf({})).toBe(SQLITE_BUSY_TIMEOUT_MS_DEFAULT);
    expect(busyTimeoutOf({ busyTimeoutMs: 0 })).toBe(0);
    expect(busyTimeoutOf({ busyTimeoutMs: 250 })).toBe(250);
    expect(busyTimeoutOf({ busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS_MAX })).toBe(SQLITE_BUSY_TIMEOUT_MS_MAX);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('openPostgresDatabase options', () => {
  const SCHEMA = 'options_checked';
  async function schemaExists(): Promise<boolean> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const result = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [SCHEMA]);
      return result.rowCount === 1;
    } finally {
      await client.end();
    }
  }
  afterAll(async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).finally(() => client.end());
  });

  it.each([-1, 0, 1.5, Number.NaN, POSTGRES_POOL_SIZE_MAX + 1, '4', null])('refuses poolSizeMax %s with invalid_input, at once and before connecting', async (poolSizeMax) => {
    const pending = openPostgresDatabase({ connectionString: PG_URL, schema: SCHEMA, poolSizeMax: poolSizeMax as number });
    const settled = await Promise.race([pending.then(() => 'opened', (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5_000))]);
    expect(settled).toBeInstanceOf(LedgerError);
    expect(settled).toMatchObject({ code: 'invalid_input', field: 'poolSizeMax' });
    expect(await schemaExists()).toBe(false);
  });

  it.each([
    [5, 'a number'],
    [undefined, 'undefined'],
    [null, 'null'],
    [{ host: '127.0.0.1', password: 'hunter2' }, 'a object'],
    ['', '""'],
    ['   ', '"   "'],
  ])('refuses connectionString %j with invalid_input naming it, showing no password', async (connectionString, shown) => {
    const error = await errorOf(() => openPostgresDatabase({ connectionString: connectionString as string, schema: SCHEMA }));
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'connectionString', value: shown });
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('refuses options that are not an object, and a createSchema that is not a boolean', async () => {
    expect(await errorOf(() => openPostgresDatabase(undefined as never))).toMatchObject({ code: 'invalid_input', field: 'options' });
    expect(await errorOf(() => openPostgresDatabase({ connectionString: PG_URL, schema: SCHEMA, createSchema: 'no' as unknown as boolean }))).toMatchObject({
      code: 'invalid_input',
      field: 'createSchema',
    });
    expect(await schemaExists()).toBe(false);
  });

  it('a pool of one connection and one of the largest size still open', async () => {
    for (const poolSizeMax of [1, POSTGRES_POOL_SIZE_MAX]) {
      const opened = await openPostgresDatabase({ connectionString: PG_URL, schema: SCHEMA, poolSizeMax });
      try {
        expect(opened.pool.options.max).toBe(poolSizeMax);
        await opened.pool.query('SELECT 1');
      } finally {
        await opened.db.destroy();
      }
    }
  });
});

import { randomBytes } from 'node:crypto';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { DIALECTS, PG_URL, dropSchema, runCli, tempFolder } from './fixtures.js';

const PASSWORD = 'hunter2-Pa55word-never-printed';

function withPassword(base: string, extra: Record<string, string> = {}): string {
  const url = new URL(base);
  url.password = PASSWORD;
  url.searchParams.set('password', PASSWORD);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url.toString();
}

function expectNoPassword(result: { stdout: string; stderr: string }): void {
  for (const text of [result.stdout, result.stderr]) {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(encodeURIComponent(PASSWORD));
  }
}

describe('database names: passwords are never printed', () => {
  it('an unreachable server: the error names the URL with both passwords replaced', async () => {
    const result = await runCli(['breaks', 'list', '--entity', 'defi', '--database', withPassword('postgres://books@127.0.0.1:1/earn'), '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('postgres://books:***@127.0.0.1:1/earn?password=***');
    expectNoPassword(result);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('database names on PostgreSQL', () => {
  const schema = `t_cli_names_${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    await dropSchema(schema);
  });

  // Opening books that do not exist is books_not_found (issue 12): the reachable server's error
  // names the database, and the URL in it has no password.
  it('a reachable server without books: the message shows the URL without its passwords', async () => {
    const folder = await tempFolder();
    try {
      // The test server trusts every connection: the passwords are carried, never checked.
      const result = await runCli(['breaks', 'list', '--entity', 'defi', '--database', withPassword(PG_URL, { schema })], { cwd: folder.path });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/no books at postgres:\/\/.*\(code books_not_found, field --database\)/);
      expect(result.stderr).toContain('password=***');
      expectNoPassword(result);
    } finally {
      await folder.remove();
    }
  });

  it.each([
    ['--schema', 'information_schema'],
    ['--schema', 'pg_toast'],
    ['?schema=', 'pg_catalog'],
  ])('%s %s is refused with the ledger typed error, and the system schema gets no books', async (how, name) => {
    const database = how === '--schema' ? PG_URL : `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${name}`;
    const result = await runCli(['breaks', 'list', '--entity', 'defi', '--database', database, ...(how === '--schema' ? ['--schema', name] : []), '--json']);
    expect(result.code).toBe(2);
    // Named by the flag that gave the schema: --schema, or --database whose ?schema= held it.
    const field = how === '--schema' ? '--schema' : '--database';
    expect(result.stderr).toContain(`code invalid_input, field ${field}`);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { kind: 'LedgerError', code: 'invalid_input', field, value: name } });
    const opened = await openPostgresDatabase({ connectionString: PG_URL, poolSizeMax: 1 });
    try {
      const tables = await opened.pool.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'ledger%'", [name]);
      expect(tables.rows).toEqual([]);
    } finally {
      await opened.db.destroy();
    }
  });
});

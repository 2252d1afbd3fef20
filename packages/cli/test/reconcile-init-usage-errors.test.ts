/**
 * `reconcile` (one day, a range, `--fetch`) and `init` refuse malformed flags the way `breaks`,
 * `settlements` and `export` do: a value flag given twice is one typed `invalid_flag` line naming
 * it with both values (never the last one silently taken), exit 2, nothing written; and a value
 * the reconciler, the ledger or the Earn client refuses is blamed on the flag that gave it
 * (`--report-id`, `--day`, `--report-file`, `--schema`), not on the library's field.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { FakeEarnServer } from '../../earn-client/test/support/fake-earn-server.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DAY, DIALECTS, PG_URL, booksSnapshot, dropSchema, runCli, seedBooks, tempFolder, testConfig, workspace } from './fixtures.js';
import type { RunOutcome, Workspace } from './fixtures.js';

const SECRET = 'very-secret-client-value-42';
const SECRET_ENV = 'EARNBOOK_TEST_DEFI_CLIENT_SECRET';

/** Characters a terminal acts on: none may reach stderr raw (the line's own final \n aside). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/;

/** One typed `error:` line naming `field`; with `--json`, the same error on stdout as JSON. */
function expectRefused(outcome: RunOutcome, code: string, field: string, json: boolean): void {
  expect(outcome.code, outcome.stderr).toBe(2);
  expect(outcome.stderr).toMatch(/^error: [^\n]* \(code [a-z_]+(, field [^\n]*)?\)\n$/);
  expect(outcome.stderr).toContain(`(code ${code}, field ${field}`);
  expect(outcome.stderr.slice(0, -1)).not.toMatch(RAW_CONTROL);
  if (json) expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { code, field } });
  else expect(outcome.stdout).toBe('');
}

/** The working folder's entries (the books' SQLite files aside), to prove nothing was made. */
async function folderEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith('books.sqlite')).sort();
}

describe('reconcile and init: a value flag given twice', () => {
  let ws: Workspace;
  let server: FakeEarnServer;
  beforeEach(async () => {
    ws = await workspace();
    server = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: SECRET });
    // Named fetch-config.json: the cases below build their paths before the workspace exists.
    await ws.writeConfig(
      'fetch-config.json',
      testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: SECRET_ENV, attemptsMax: 1, timeoutMs: 5000 } } }),
    );
  });
  afterEach(async () => {
    await server.close();
    await ws.remove();
  });

  const day = (ws: Workspace) => ['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile];
  const range = (ws: Workspace, config: string) => ['reconcile', '--entity', 'defi', '--from', DAY, '--to', DAY, '--fetch', '--database', ws.database, '--config', config];
  const fetched = (ws: Workspace, config: string) => ['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', config];

  it.each([
    ['reconcile --day', (ws: Workspace) => [...day(ws), '--day', '2025-03-19'], '--day', (_ws: Workspace) => [DAY, '2025-03-19']],
    ['reconcile --entity', (ws: Workspace) => [...day(ws), '--entity', 'lending'], '--entity', (_ws: Workspace) => ['defi', 'lending']],
    ['reconcile --report-file', (ws: Workspace) => [...day(ws), '--report-file', join(ws.dir, 'other.json')], '--report-file', (ws: Workspace) => [ws.reportFile, join(ws.dir, 'other.json')]],
    ['reconcile --out', (ws: Workspace) => [...day(ws), '--out', 'first', '--out', 'second'], '--out', (_ws: Workspace) => ['first', 'second']],
    ['reconcile --config', (ws: Workspace) => [...day(ws), '--config', join(ws.dir, 'fetch-config.json')], '--config', (ws: Workspace) => [ws.configFile, join(ws.dir, 'fetch-config.json')]],
    ['reconcile --database', (ws: Workspace) => [...day(ws), '--database', join(ws.dir, 'other.sqlite')], '--database', (ws: Workspace) => [ws.database, join(ws.dir, 'other.sqlite')]],
    ['reconcile --log-level', (ws: Workspace) => [...day(ws), '--log-format', 'json', '--log-level', 'error', '--log-level', 'debug'], '--log-level', (_ws: Workspace) => ['error', 'debug']],
    ['reconcile --from (a range)', (ws: Workspace) => [...range(ws, join(ws.dir, 'fetch-config.json')), '--from', '2025-03-17'], '--from', (_ws: Workspace) => [DAY, '2025-03-17']],
    ['reconcile --to (a range)', (ws: Workspace) => [...range(ws, join(ws.dir, 'fetch-config.json')), '--to', '2025-03-19'], '--to', (_ws: Workspace) => [DAY, '2025-03-19']],
    ['reconcile --report-id (--fetch)', (ws: Workspace) => [...fetched(ws, join(ws.dir, 'fetch-config.json')), '--report-id', 'r-new', '--report-id', 'r-old'], '--report-id', (_ws: Workspace) => ['r-new', 'r-old']],
    ['init --database', (ws: Workspace) => ['init', '--database', join(ws.dir, 'a.sqlite'), '--database', join(ws.dir, 'b.sqlite'), '--config', ws.configFile], '--database', (ws: Workspace) => [join(ws.dir, 'a.sqlite'), join(ws.dir, 'b.sqlite')]],
    ['init --config', (ws: Workspace) => ['init', '--database', join(ws.dir, 'a.sqlite'), '--config', ws.configFile, '--config', join(ws.dir, 'fetch-config.json')], '--config', (ws: Workspace) => [ws.configFile, join(ws.dir, 'fetch-config.json')]],
    ['init --log-format', (ws: Workspace) => ['init', '--database', join(ws.dir, 'a.sqlite'), '--config', ws.configFile, '--log-format', 'json', '--log-format', 'text'], '--log-format', (_ws: Workspace) => ['json', 'text']],
  ] as const)('%s given twice: one invalid_flag line naming it with both values, exit 2, nothing written', async (_name, argvOf, field, valuesOf) => {
    const argv = argvOf(ws);
    const values = valuesOf(ws);
    const before = await booksSnapshot(ws.database);
    const folderBefore = await folderEntries(ws.dir);
    for (const json of [false, true]) {
      const outcome = await runCli(json ? [...argv, '--json'] : argv, { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
      expectRefused(outcome, 'invalid_flag', field, json);
      expect(outcome.stderr).toContain(`error: ${field} is given twice (${JSON.stringify(values[0])}, then ${JSON.stringify(values[1])})`);
    }
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(await folderEntries(ws.dir)).toEqual(folderBefore);
    expect(server.requests).toEqual([]);
  });

  it('a flag given once each time still runs (the refusal is per run)', async () => {
    expect((await runCli([...day(ws), '--out', 'once', '--quiet'], { cwd: ws.dir })).code).toBe(0);
    expect((await runCli([...day(ws), '--out', 'again', '--quiet'], { cwd: ws.dir })).code).toBe(0);
    expect((await runCli(['init', '--database', ws.database, '--config', ws.configFile, '--quiet'], { cwd: ws.dir })).code).toBe(0);
  });
});

describe('reconcile: a value the library refuses is named by the flag that gave it', () => {
  let ws: Workspace;
  let server: FakeEarnServer;
  let fetchConfig: string;
  beforeEach(async () => {
    ws = await workspace();
    server = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: SECRET });
    fetchConfig = await ws.writeConfig(
      'fetch-config.json',
      testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: SECRET_ENV, attemptsMax: 1, timeoutMs: 5000 } } }),
    );
  });
  afterEach(async () => {
    await server.close();
    await ws.remove();
  });

  it.each([
    ['"."', '.'],
    ['".."', '..'],
    ['an empty one', ''],
    ['one over 128 characters', 'r'.repeat(129)],
  ])('a --report-id that is %s: invalid_input naming --report-id, nothing sent, nothing written', async (_name, reportId) => {
    const before = await booksSnapshot(ws.database);
    const folderBefore = await folderEntries(ws.dir);
    const argv = ['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--report-id', reportId, '--database', ws.database, '--config', fetchConfig, '--out', 'out'];
    for (const json of [false, true]) {
      const outcome = await runCli(json ? [...argv, '--json'] : argv, { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
      expectRefused(outcome, 'invalid_input', '--report-id', json);
      expect(outcome.stderr).toMatch(/^error: --report-id must /);
      expect(outcome.stderr).not.toContain('reportId');
    }
    expect(server.requestsTo('GET', `/v1/reports/${encodeURIComponent(reportId)}/download-uri`)).toEqual([]);
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(await folderEntries(ws.dir)).toEqual(folderBefore);
  });

  it('a --day that breaks the chain of reconciled days is named --day with its value, nothing written', async () => {
    expect((await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile, '--out', 'first', '--quiet'], { cwd: ws.dir })).code).toBe(0);
    const before = await booksSnapshot(ws.database);
    const folderBefore = await folderEntries(ws.dir);
    const argv = ['reconcile', '--entity', 'defi', '--day', '2025-03-20', '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile, '--out', 'skipped'];
    for (const json of [false, true]) {
      const outcome = await runCli(json ? [...argv, '--json'] : argv, { cwd: ws.dir });
      expectRefused(outcome, 'invalid_transition', '--day', json);
      // Only the field is renamed: the prose ("the day before") stays as the reconciler wrote it.
      expect(outcome.stderr).toContain('carries over from the day before');
      if (json) expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { value: '2025-03-20' } });
    }
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(await folderEntries(ws.dir)).toEqual(folderBefore);
  });

  it('a --report-file that does not exist is named --report-file, nothing written', async () => {
    const before = await booksSnapshot(ws.database);
    const missing = join(ws.dir, 'nowhere.json');
    const argv = ['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', missing, '--database', ws.database, '--config', ws.configFile, '--out', 'out'];
    for (const json of [false, true]) {
      const outcome = await runCli(json ? [...argv, '--json'] : argv, { cwd: ws.dir });
      expectRefused(outcome, 'no_report', '--report-file', json);
      if (json) expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { value: missing } });
    }
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(existsSync(join(ws.dir, 'out'))).toBe(false);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('reconcile and init on PostgreSQL: refused runs leave the books as they were', () => {
  const schema = `t_cli_reconcile_flags_${randomBytes(4).toString('hex')}`;
  let folder: { path: string; remove(): Promise<void> };
  let database: string;
  let configFile: string;
  let reportFile: string;

  beforeAll(async () => {
    folder = await tempFolder();
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 2 });
    const report = await seedBooks({ db: opened.db, dialect: opened.dialect, schema: opened.schema });
    await opened.db.destroy();
    reportFile = join(folder.path, 'report.json');
    configFile = join(folder.path, 'config.json');
    await writeFile(reportFile, JSON.stringify(report));
    await writeFile(configFile, JSON.stringify(testConfig()));
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    database = url.toString();
    expect((await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', database, '--config', configFile, '--out', 'first', '--quiet'], { cwd: folder.path })).code).toBe(0);
  });
  afterAll(async () => {
    await dropSchema(schema);
    await folder.remove();
  });
  const snapshot = async () => {
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 1, createSchema: false });
    try {
      return await snapshotDatabase(opened.db as never);
    } finally {
      await opened.db.destroy();
    }
  };
  const books = () => ['--database', database, '--config', configFile];
  const reconcileDay = (day: string) => ['reconcile', '--entity', 'defi', '--day', day, '--report-file', reportFile, ...books(), '--out', 'out'];

  it.each([
    ['reconcile --day given twice', () => [...reconcileDay('2025-03-20'), '--day', DAY], 'invalid_flag', '--day'],
    ['reconcile --schema given twice', () => [...reconcileDay(DAY), '--schema', schema, '--schema', 'public'], 'invalid_flag', '--schema'],
    ['reconcile, a --day that breaks the chain', () => reconcileDay('2025-03-20'), 'invalid_transition', '--day'],
    ['init --database given twice', () => ['init', '--database', database, '--database', PG_URL, '--config', configFile], 'invalid_flag', '--database'],
    ['init, a system --schema', () => ['init', '--database', PG_URL, '--schema', 'pg_catalog', '--config', configFile], 'invalid_input', '--schema'],
    ['init, a system schema in the --database URL', () => ['init', '--database', `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=pg_toast`, '--config', configFile], 'invalid_input', '--database'],
  ] as const)('%s: one typed line naming the flag, nothing written', async (_name, argvOf, code, field) => {
    const before = await snapshot();
    for (const json of [false, true]) {
      const outcome = await runCli(json ? [...argvOf(), '--json'] : argvOf(), { cwd: folder.path });
      expectRefused(outcome, code, field, json);
      // A schema from the URL keeps the library's word in the message ("schema pg_toast is …").
      if (field === '--database' && code === 'invalid_input') expect(outcome.stderr).toMatch(/^error: schema pg_toast is a PostgreSQL system schema/);
      if (field === '--schema' && code === 'invalid_input') expect(outcome.stderr).toMatch(/^error: --schema pg_catalog is a PostgreSQL system schema/);
    }
    expect(await snapshot()).toBe(before);
    expect(existsSync(join(folder.path, 'out'))).toBe(false);
  });
});

import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeEarnServer, json, text } from '../../earn-client/test/support/fake-earn-server.js';
import { DAY, booksSnapshot, runCli, testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';
import { planDayReports } from '@earnbook/reconcile';
import type { ReconcileSummary } from '../src/index.js';
import { isConventionalEnvName } from '../src/fetch-report.js';

const SECRET = 'very-secret-client-value-42';
const SECRET_ENV = 'EARNBOOK_TEST_DEFI_CLIENT_SECRET';


describe('earnbook reconcile --fetch', () => {
  let ws: Workspace;
  let server: FakeEarnServer;
  let configFile: string;

  beforeEach(async () => {
    ws = await workspace();
    server = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: SECRET });
    configFile = await ws.writeConfig(
      'fetch-config.json',
      testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: SECRET_ENV, attemptsMax: 1, timeoutMs: 5000 } } }),
    );
    server
      .on(
        'GET',
        '/v1/reports',
        json(200, {
          items: [
            { id: 'r-old', type: 'Report', accountingDay: DAY, createdAt: '2025-03-19T00:02:00Z' },
            { id: 'r-new', type: 'Report', accountingDay: DAY, createdAt: '2025-03-19T03:30:00+02:00' },
            { id: 'r-next', type: 'Report', accountingDay: '2025-03-19', createdAt: '2025-03-20T00:02:00Z' },
          ],
          nextCursor: null,
        }),
      )
      .on('GET', '/v1/reports/r-new/download-uri', json(200, { uri: `${server.baseUrl}/downloads/r-new.json?signature=abc` }))
      .on('GET', '/downloads/r-new.json', json(200, ws.report))
      .on('GET', '/v1/reports/r-old/download-uri', json(200, { uri: `${server.baseUrl}/downloads/r-old.json` }))
      .on('GET', '/downloads/r-old.json', json(200, { ...ws.report, transactions: [] }));
  });
  afterEach(async () => {
    await server.close();
    await ws.remove();
  });

  const fetchCli = (extra: readonly string[], env: Record<string, string> = { [SECRET_ENV]: SECRET }) =>
    // A test's own --out replaces 'out': a value flag is given once (twice is refused).
    runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', configFile, ...(extra.includes('--out') ? [] : ['--out', 'out']), ...extra], { cwd: ws.dir, env });

  it("fetches the newest report of the day with the entity's credentials, keeps it beside the summary, and never prints the secret", async () => {
    const result = await fetchCli(['--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as ReconcileSummary & { files: string[] };
    expect(summary.clean).toBe(true);
    expect(summary.report.source).toBe(`${server.baseUrl} report r-new`);
    expect(summary.files).toContain(join(ws.dir, 'out', 'report.json'));
    expect(JSON.parse(await readFile(join(ws.dir, 'out', 'report.json'), 'utf8'))).toEqual(ws.report);
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/reports/r-old/download-uri')).toEqual([]);
    for (const file of ['summary.json', 'summary.html', 'report.json']) expect(await readFile(join(ws.dir, 'out', file), 'utf8')).not.toContain(SECRET);
    expect(result.stdout).not.toContain(SECRET);
    // The kept file is the same report: a re-run from it is no restatement.
    const again = await runCli(
      ['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', join(ws.dir, 'out', 'report.json'), '--database', ws.database, '--config', configFile, '--out', 'again', '--json'],
      { cwd: ws.dir, env: {} },
    );
    expect(again.code).toBe(0);
    const rerun = JSON.parse(again.stdout) as ReconcileSummary;
    expect(rerun.report).toMatchObject({ status: 'exists', version: 1, contentHash: summary.report.contentHash });
  });

  it('logs structured lines with --log-format json (client, ledger, reconciler), none with a secret; text and --quiet too', async () => {
    const result = await fetchCli(['--quiet', '--log-format', 'json', '--log-level', 'debug']);
    expect(result.code).toBe(0);
    // --quiet wins: only errors would be logged, and there are none.
    expect(result.stderr).toBe('');
    const logged = await fetchCli(['--json', '--log-format', 'json', '--log-level', 'debug', '--out', 'out2']);
    expect(logged.code).toBe(0);
    const lines = logged.stderr.split('\n').filter((line) => line.length > 0);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of parsed) {
      expect(typeof line['time']).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(line['level']);
      expect(typeof line['msg']).toBe('string');
    }
    const events = new Set(parsed.map((line) => line['event']));
    for (const event of ['earn.request', 'earn.response', 'ledger.open', 'reconcile.day']) expect(events, event).toContain(event);
    const tokens = [...server.validTokens];
    for (const secret of [SECRET, ...tokens, 'signature=abc']) expect(logged.stderr).not.toContain(secret);
    const text = await fetchCli(['--quiet', '--log-format', 'text', '--log-level', 'info', '--out', 'out3']);
    expect(text.stderr).toBe('');
    const plain = await fetchCli(['--json', '--log-format', 'text', '--out', 'out4']);
    expect(plain.stderr).toMatch(/^\S+ INFO  opened the books/m);
    expect(plain.stderr).not.toContain(SECRET);
  });

  it('catches up a range in day order, stopping at the first day that cannot be reconciled', async () => {
    const rangeCli = (extra: readonly string[]) =>
      runCli(['reconcile', '--entity', 'defi', '--fetch', '--database', ws.database, '--config', configFile, ...extra], { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
    const range = await rangeCli(['--from', DAY, '--to', '2025-03-20', '--json', '--out', 'range']);
    expect(range.code).toBe(2);
    const summary = JSON.parse(range.stdout) as { days: { entity: string; day: string; status: string; error?: { code: string } }[]; stoppedAt: unknown; exitCode: number };
    expect(summary.days.map((item) => `${item.entity} ${item.day} ${item.status}`)).toEqual(['defi 2025-03-18 clean', 'defi 2025-03-19 error', 'defi 2025-03-20 not_run']);
    // The provider lists r-next for 2025-03-19 but its download is not there (404).
    expect(summary.days[1]?.error?.code).toBe('http_error');
    expect(summary.stoppedAt).toEqual({ entity: 'defi', day: '2025-03-19' });
    expect(summary.exitCode).toBe(2);
    expect(await readFile(join(ws.dir, 'range', 'defi', DAY, 'summary.json'), 'utf8')).toContain('"clean": true');
    // The day that failed left no folder and no download; the day before keeps its three files.
    expect(await readdir(join(ws.dir, 'range', 'defi'))).toEqual([DAY]);
    expect((await readdir(join(ws.dir, 'range', 'defi', DAY))).sort()).toEqual(['report.json', 'summary.html', 'summary.json']);
    expect(server.requestsTo('GET', '/v1/reports/r-next/download-uri')).toHaveLength(1);
    // Every entity of a day before the next day: lending (no API configured) stops the run on the first day.
    const all = await runCli(['reconcile', '--all-entities', '--from', DAY, '--to', '2025-03-19', '--fetch', '--database', ws.database, '--config', configFile, '--out', 'all'], { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
    expect(all.code).toBe(2);
    expect(all.stdout).toContain('defi 2025-03-18: CLEAN\nlending 2025-03-18: FAILED');
    expect(all.stdout).toContain('defi 2025-03-19: not run\nlending 2025-03-19: not run');
    expect(all.stdout).toMatch(/2025-03-18\.\.2025-03-19 \(defi, lending\): 1 clean, 0 with open breaks; stopped at lending 2025-03-18, 2 not run/);
    // A one-day range that runs through is exit 0; bad ranges are exit 2 naming the flag.
    expect((await rangeCli(['--from', DAY, '--to', DAY, '--quiet', '--out', 'one'])).code).toBe(0);
    const backwards = await rangeCli(['--from', '2025-03-19', '--to', DAY]);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain('field --to');
    const fromFile = await runCli(['reconcile', '--entity', 'defi', '--from', DAY, '--to', DAY, '--report-file', ws.reportFile, '--database', ws.database]);
    expect(fromFile.stderr).toContain('field --fetch');
  });

  it('keeps the report byte for byte as the provider sent it (pretty JSON too): its content hash is of those bytes', async () => {
    const pretty = `${JSON.stringify(ws.report, null, 2)}\n`;
    server.on('GET', '/downloads/r-new.json', text(200, pretty, { 'content-type': 'application/json' }));
    const result = await fetchCli(['--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as ReconcileSummary;
    expect(await readFile(join(ws.dir, 'out', 'report.json'), 'utf8')).toBe(pretty);
    expect(summary.report.contentHash).toBe(createHash('sha256').update(pretty).digest('hex'));
    expect(await readdir(join(ws.dir, 'out'))).toEqual(['report.json', 'summary.html', 'summary.json']);
  });

  it('a fetched report refused by the reconciler leaves the books and the output folder as they were, and no download behind', async () => {
    const first = await fetchCli(['--quiet']);
    expect(first.code).toBe(0);
    const before = await booksSnapshot(ws.database);
    const folderBefore = (await readdir(join(ws.dir, 'out'))).sort();
    // A later version of the day with one bad entry, late in the file.
    const bad = { ...ws.report, id: 'r-bad', transactions: [...ws.report.transactions, { ...ws.report.transactions[0], amount: '-1' }] };
    server.on('GET', '/v1/reports/r-bad/download-uri', json(200, { uri: `${server.baseUrl}/downloads/r-bad.json` })).on('GET', '/downloads/r-bad.json', json(200, bad));
    const refused = await fetchCli(['--report-id', 'r-bad', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: .*invalid_report/m);
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect((await readdir(join(ws.dir, 'out'))).sort()).toEqual(folderBefore);
    // Into a folder of its own: the folder it made is gone again.
    const fresh = await fetchCli(['--report-id', 'r-bad', '--out', 'fresh']);
    expect(fresh.code).toBe(2);
    expect(await readdir(ws.dir)).not.toContain('fresh');
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('a download that fails leaves no file behind, in a single day or a range', async () => {
    server.on('GET', '/downloads/r-new.json', json(503, { error: { code: 'unavailable', message: 'try later' } }));
    const single = await fetchCli(['--quiet']);
    expect(single.code).toBe(2);
    expect(await readdir(ws.dir)).not.toContain('out');
    const range = await runCli(['reconcile', '--entity', 'defi', '--fetch', '--from', DAY, '--to', DAY, '--database', ws.database, '--config', configFile, '--out', 'range', '--quiet'], {
      cwd: ws.dir,
      env: { [SECRET_ENV]: SECRET },
    });
    expect(range.code).toBe(2);
    expect(await readdir(ws.dir)).not.toContain('range');
  });

  it('fetches the report named by --report-id', async () => {
    const result = await fetchCli(['--report-id', 'r-old', '--json']);
    // The older version lacks every entry: the books hold bookings it does not show.
    expect(result.code).toBe(1);
    expect((JSON.parse(result.stdout) as ReconcileSummary).breakCounts.missing_in_report).toBe(3);
    expect(server.requestsTo('GET', '/v1/reports')).toEqual([]);
  });

  it('exits 2 when the API lists no report of the day', async () => {
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', '2025-03-17', '--fetch', '--database', ws.database, '--config', configFile], { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: no report of type Report for accounting day 2025-03-17 among the 3 reports the defi API lists (code no_report, field --day)\n');
  });

  it('exits 2 without the secret in the environment, or with a wrong one, and never prints it', async () => {
    const unset = await fetchCli([], {});
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(`environment variable ${SECRET_ENV} (named by config field earnApi.defi.clientSecretEnv) is not set`);
    const wrong = await fetchCli([], { [SECRET_ENV]: `${SECRET}-wrong` });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: .*\(code unauthorized/);
    expect(wrong.stderr + wrong.stdout).not.toContain(SECRET);
    const noApi = await runCli(['reconcile', '--entity', 'lending', '--day', DAY, '--fetch', '--database', ws.database, '--config', configFile], { cwd: ws.dir, env: {} });
    expect(noApi.stderr).toContain('field earnApi.lending');
  });

  it('never repeats a clientSecretEnv that does not look like a variable name: the secret pasted there stays out of stderr and --json', async () => {
    const pasted = 'a3f9c2e17b4d8f06e5a1c3b9d7f2e480';
    const pastedConfig = await ws.writeConfig('pasted-config.json', testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: pasted, attemptsMax: 1 } } }));
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', pastedConfig, '--json'], { cwd: ws.dir, env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr + result.stdout).not.toContain(pasted);
    expect(result.stderr).toContain('the environment variable named in config field earnApi.defi.clientSecretEnv is not set');
    expect(result.stderr).toContain('the field takes the NAME of the variable that holds the secret, such as EARNBOOK_DEFI_CLIENT_SECRET, never the secret itself');
    const described = (JSON.parse(result.stdout) as { error: Record<string, unknown> }).error;
    expect(described).toMatchObject({ code: 'invalid_config', field: 'earnApi.defi.clientSecretEnv' });
    expect(described['value']).toBeUndefined();
    expect(server.tokenRequests).toHaveLength(0);
    // A secret the configuration refuses outright (it starts with a digit) is not echoed either.
    const digitFirst = await ws.writeConfig('digit-config.json', testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: `0${pasted.slice(1)}` } } }));
    const refused = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', digitFirst, '--json'], { cwd: ws.dir, env: {} });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('field earnApi.defi.clientSecretEnv');
    expect(refused.stderr + refused.stdout).not.toContain(pasted.slice(1));
  });

  it('names a conventional clientSecretEnv that is not set, in the message and the --json value', async () => {
    const result = await fetchCli(['--json'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: environment variable ${SECRET_ENV} (named by config field earnApi.defi.clientSecretEnv) is not set (code invalid_config, field earnApi.defi.clientSecretEnv)\n`);
    expect((JSON.parse(result.stdout) as { error: Record<string, unknown> }).error).toMatchObject({ code: 'invalid_config', field: 'earnApi.defi.clientSecretEnv', value: SECRET_ENV });
  });

  it.each([
    ['EARNBOOK_DEFI_CLIENT_SECRET', true],
    ['S', true],
    ['SECRET2', true],
    ['A'.repeat(64), false],
    [`A${'_B'.repeat(31)}`, true],
    [`A${'_B'.repeat(32)}`, false],
    ['A3F9C2E17B4D8F06E5A1C3B9D7F2E480', false],
    ['A'.repeat(24), true],
    ['A'.repeat(25), false],
    ['a3f9c2e17b4d8f06e5a1c3b9d7f2e480', false],
    ['earnbook_defi_client_secret', false],
    ['_EARNBOOK_SECRET', false],
    ['Earnbook_Secret', false],
  ])('isConventionalEnvName(%j) is %s', (name, expected) => {
    expect(isConventionalEnvName(name)).toBe(expected);
  });

  it('chooses the newest listed report of the day, the later-listed on a tie', () => {
    const at = (id: string, createdAt: string, accountingDay = DAY) => ({ id, type: 'Report', accountingDay, createdAt });
    const plan = (summaries: ReturnType<typeof at>[]) => planDayReports({ summaries, day: DAY });
    expect(plan([at('a', '2025-03-19T01:00:00Z'), at('b', '2025-03-19T02:00:00+02:00')])).toMatchObject({ newest: at('a', '2025-03-19T01:00:00Z'), candidates: 2 });
    expect(plan([at('a', '2025-03-19T01:00:00Z'), at('b', '2025-03-19T01:00:00Z')]).newest?.id).toBe('b');
    expect(plan([at('a', '2025-03-19T01:00:00Z', '2025-03-19')])).toEqual({ toReconcile: [], newest: undefined, superseded: [], candidates: 0, listed: 1 });
  });
});

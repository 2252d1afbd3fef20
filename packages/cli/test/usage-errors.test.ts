/**
 * The follow-up commands (breaks, settlements, export) refuse malformed flags the way every
 * other bad input is refused: one typed `error:` line naming the flag (commander's own usage
 * errors included, their echoed value escaped), the same as JSON on stdout with `--json`, exit 2,
 * and nothing written. A value flag given twice is refused, never silently the last one; and a
 * value the library refuses is blamed on the flag that gave it, not on the library's field.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DAY, DIALECTS, PG_URL, booksSnapshot, dropSchema, runCli, seedBooks, tempFolder, testConfig, workspace } from './fixtures.js';
import type { RunOutcome, Workspace } from './fixtures.js';

/** Characters a terminal acts on: none may reach stderr raw (the line's own final \n aside). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/;

/** One typed `error:` line naming `field`; with `--json`, the same error on stdout as exact JSON. */
function expectRefused(outcome: RunOutcome, code: string, field: string, json: boolean): void {
  expect(outcome.code, outcome.stderr).toBe(2);
  expect(outcome.stderr).toMatch(/^error: [^\n]* \(code [a-z_]+(, field [^\n]*)?\)\n$/);
  expect(outcome.stderr).toContain(`(code ${code}, field ${field}`);
  expect(outcome.stderr.slice(0, -1)).not.toMatch(RAW_CONTROL);
  if (json) expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { code, field } });
  else expect(outcome.stdout).toBe('');
}

describe('follow-up commands: malformed flags', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
    // A report with a deposit the books lack: one open missing_in_ledger break (id 1).
    const extra = structuredClone(ws.report);
    extra.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: 'b-extra', idempotencyKey: 'k-extra' });
    const reconciled = await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('extra.json', extra), '--quiet']);
    expect(reconciled.code).toBe(1);
  });
  afterEach(async () => ws.remove());
  const cli = (argv: readonly string[]) => runCli([...argv, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir });

  it.each([
    ['breaks resolve --id with a line break', ['breaks', 'resolve', '--id', '1\nerror: forged', '--reason', 'ok'], '--id'],
    ['breaks resolve --id -1', ['breaks', 'resolve', '--id', '-1', '--reason', 'ok'], '--id'],
    ['breaks resolve --transaction-id 0', ['breaks', 'resolve', '--id', '1', '--reason', 'ok', '--transaction-id', '0'], '--transaction-id'],
    ['breaks repair --id with an escape sequence', ['breaks', 'repair', '--id', '\u001b[2J1'], '--id'],
    ['breaks list --status with a bidi override', ['breaks', 'list', '--entity', 'defi', '--status', 'open\u202e'], '--status'],
    ['breaks list without --entity', ['breaks', 'list'], '--entity'],
    ['settlements sent --transaction-hash with ESC', ['settlements', 'sent', '--id', '1', '--transaction-hash', '0xfeed\u001b[31mbeef'], '--transaction-hash'],
    ['settlements confirm --id 1e3', ['settlements', 'confirm', '--id', '1e3', '--occurred-at', '2025-03-19T10:00:00Z'], '--id'],
    ['settlements list, an unknown option', ['settlements', 'list', '--entity', 'defi', '--bogus'], '--bogus'],
    ['export --entity with --all-entities', ['export', '--entity', 'defi', '--all-entities', '--from', DAY, '--to', DAY, '--out', 'out'], '--entity'],
    ['export --page-size -5', ['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', 'out', '--page-size', '-5'], '--page-size'],
  ] as const)('%s: one typed line naming the flag, exact JSON with --json, nothing written', async (_name, argv, field) => {
    const before = await booksSnapshot(ws.database);
    expectRefused(await cli(argv), 'invalid_flag', field, false);
    expectRefused(await cli([...argv, '--json']), 'invalid_flag', field, true);
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(existsSync(join(ws.dir, 'out'))).toBe(false);
  });

  it.each([
    ['breaks resolve --id', ['breaks', 'resolve', '--id', '2', '--reason', 'ok', '--id', '1'], '--id'],
    ['breaks repair --id', ['breaks', 'repair', '--id', '1', '--id', '1'], '--id'],
    ['breaks list --entity', ['breaks', 'list', '--entity', 'lending', '--entity', 'defi'], '--entity'],
    ['settlements confirm --occurred-at', ['settlements', 'confirm', '--id', '1', '--occurred-at', '2025-03-19T10:00:00Z', '--occurred-at', '2025-03-20T10:00:00Z'], '--occurred-at'],
    ['export --what', ['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', 'out', '--what', 'journal', '--what', 'breaks'], '--what'],
  ] as const)('%s given twice is refused, not the last one taken: invalid_flag, nothing written', async (_name, argv, field) => {
    const before = await booksSnapshot(ws.database);
    expectRefused(await cli(argv), 'invalid_flag', field, false);
    expectRefused(await cli([...argv, '--json']), 'invalid_flag', field, true);
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(existsSync(join(ws.dir, 'out'))).toBe(false);
  });

  it('--database given twice is refused without echoing the password of either connection string', async () => {
    const argv = ['breaks', 'list', '--database', 'postgres://u:hunter2-first@127.0.0.1:1/x', '--database', 'postgres://u:hunter2-second@127.0.0.1:1/y'];
    for (const json of [false, true]) {
      const outcome = await cli(json ? [...argv, '--json'] : argv);
      expectRefused(outcome, 'invalid_flag', '--database', json);
      expect(outcome.stderr + outcome.stdout).not.toContain('hunter2');
    }
  });

  it.each([
    ['breaks resolve, an unknown break', ['breaks', 'resolve', '--id', '999999999999999', '--reason', 'ok'], 'unknown_break', '--id'],
    ['breaks resolve, an empty reason', ['breaks', 'resolve', '--id', '1', '--reason', ' '], 'invalid_input', '--reason'],
    ['breaks resolve, an unknown transaction', ['breaks', 'resolve', '--id', '1', '--reason', 'ok', '--transaction-id', '2147483648'], 'unknown_transaction', '--transaction-id'],
    ['breaks repair, an unknown break', ['breaks', 'repair', '--id', '77'], 'unknown_break', '--id'],
    ['settlements sent, an unknown instruction', ['settlements', 'sent', '--id', '77', '--transaction-hash', '0xfeedbeef01'], 'unknown_settlement', '--id'],
    ['export, --to before --from', ['export', '--entity', 'defi', '--from', '2025-03-20', '--to', DAY, '--out', 'out'], 'invalid_input', '--to'],
    ['export, a --page-size over the bound', ['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', 'out', '--page-size', '999999999'], 'invalid_input', '--page-size'],
  ] as const)('%s is blamed on the flag that gave it, nothing written', async (_name, argv, code, field) => {
    const before = await booksSnapshot(ws.database);
    expectRefused(await cli(argv), code, field, false);
    expectRefused(await cli([...argv, '--json']), code, field, true);
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect(existsSync(join(ws.dir, 'out'))).toBe(false);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('follow-up commands on PostgreSQL: refused writes leave the books as they were', () => {
  const schema = `t_cli_usage_${randomBytes(4).toString('hex')}`;
  let folder: { path: string; remove(): Promise<void> };
  let database: string;
  let configFile: string;

  beforeAll(async () => {
    folder = await tempFolder();
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 2 });
    const report = await seedBooks({ db: opened.db, dialect: opened.dialect, schema: opened.schema });
    await opened.db.destroy();
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: 'b-extra', idempotencyKey: 'k-extra' });
    const reportFile = join(folder.path, 'report.json');
    configFile = join(folder.path, 'config.json');
    await writeFile(reportFile, JSON.stringify(report));
    await writeFile(configFile, JSON.stringify(testConfig()));
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    database = url.toString();
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--quiet'])).code).toBe(1);
  });
  afterAll(async () => {
    await dropSchema(schema);
    await folder.remove();
  });
  const cli = (argv: readonly string[]) => runCli([...argv, '--database', database, '--config', configFile], { cwd: folder.path });
  const snapshot = async () => {
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 1, createSchema: false });
    try {
      return await snapshotDatabase(opened.db as never);
    } finally {
      await opened.db.destroy();
    }
  };

  it.each([
    ['breaks resolve --id given twice', ['breaks', 'resolve', '--id', '2', '--reason', 'ok', '--id', '1'], 'invalid_flag', '--id'],
    ['breaks repair --id with a line break', ['breaks', 'repair', '--id', '1\nerror: forged'], 'invalid_flag', '--id'],
    ['breaks resolve, an empty reason', ['breaks', 'resolve', '--id', '1', '--reason', ' '], 'invalid_input', '--reason'],
    ['breaks resolve, an unknown transaction', ['breaks', 'resolve', '--id', '1', '--reason', 'ok', '--transaction-id', '2147483648'], 'unknown_transaction', '--transaction-id'],
    ['settlements sent, an unknown instruction', ['settlements', 'sent', '--id', '2147483648', '--transaction-hash', '0xfeedbeef01'], 'unknown_settlement', '--id'],
    ['settlements sent --transaction-hash given twice', ['settlements', 'sent', '--id', '1', '--transaction-hash', '0xfeedbeef01', '--transaction-hash', '0xfeedbeef02'], 'invalid_flag', '--transaction-hash'],
  ] as const)('%s: one typed line naming the flag, nothing written', async (_name, argv, code, field) => {
    const before = await snapshot();
    expectRefused(await cli(argv), code, field, false);
    expectRefused(await cli([...argv, '--json']), code, field, true);
    expect(await snapshot()).toBe(before);
  });
});

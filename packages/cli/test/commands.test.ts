import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { DAY, Captured, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';
import { buildProgram, exportFormatsOf, parseConfig } from '../src/index.js';
import type { ReconcileSummary } from '../src/index.js';

function commandsOf(command: Command, path: readonly string[] = []): { path: string[]; command: Command }[] {
  return command.commands.flatMap((child) => [{ path: [...path, child.name()], command: child }, ...commandsOf(child, [...path, child.name()])]);
}

const program = await buildProgram({ stdout: new Captured(), stderr: new Captured(), env: {}, cwd: '/' }, () => {});

describe('--help', () => {
  const all = commandsOf(program).filter(({ command }) => command.name() !== 'help');

  it('documents every flag of every command, each with a description', async () => {
    expect(all.map(({ path }) => path.join(' '))).toEqual([
      'init',
      'reconcile',
      'export',
      'breaks',
      'breaks list',
      'breaks resolve',
      'breaks repair',
      'settlements',
      'settlements list',
      'settlements sent',
      'settlements confirm',
      'verify',
    ]);
    for (const { path, command } of all) {
      const help = await runCli([...path, '--help']);
      expect(help.code, path.join(' ')).toBe(0);
      expect(help.stderr).toBe('');
      for (const option of command.options) {
        expect(option.description.length, `${option.flags} of ${path.join(' ')}`).toBeGreaterThan(10);
        expect(help.stdout, `${path.join(' ')} --help`).toContain(option.flags);
      }
    }
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const name of ['init', 'reconcile', 'export', 'breaks', 'settlements', 'verify']) expect(top.stdout).toContain(name);
    expect(top.stdout).toContain('Exit codes: 0 success');
  });

  it('names the flags the reconcile and export commands must have', async () => {
    const reconcile = (await runCli(['reconcile', '--help'])).stdout;
    for (const flag of ['--entity', '--day', '--report-file', '--fetch', '--report-id', '--database', '--schema', '--config', '--out', '--json', '--quiet', '--from', '--to', '--all-entities', '--create', '--log-format', '--log-level']) expect(reconcile).toContain(flag);
    const exportHelp = (await runCli(['export', '--help'])).stdout;
    for (const flag of ['--what', '--entity', '--all-entities', '--from', '--to', '--format', '--out', '--bom', '--excel', '--delimiter', '--page-size', '--database']) expect(exportHelp).toContain(flag);
  });

  it('exits 2 without a command, 0 for --version', async () => {
    expect((await runCli([])).code).toBe(2);
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });
});

describe('a malformed PostgreSQL --database', () => {
  it.each([
    ['--database', (url: string) => ({ argv: ['--database', url], env: {} })],
    ['EARNBOOK_DATABASE', (url: string) => ({ argv: [], env: { EARNBOOK_DATABASE: url } })],
  ] as const)('from %s: exit 2 naming the field, the password never echoed', async (field, source) => {
    for (const url of ['postgres://books:hunter2-pw@127.0.0.1:5432/earn\u0000', `postgres://books:hunter2-pw@127.0.0.1/${'x'.repeat(5000)}`, 'postgres://127.0.0.1/earn?password=hunter2-pw&x=\ud800']) {
      const { argv, env } = source(url);
      const result = await runCli(['breaks', 'list', '--entity', 'defi', '--json', ...argv], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(field);
      expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2');
    }
  });
});

describe('earnbook export', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
    const reconciled = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile, '--quiet'], { cwd: ws.dir });
    expect(reconciled.code).toBe(0);
  });
  afterEach(async () => ws.remove());

  const exportCli = (extra: readonly string[]) => runCli(['export', '--database', ws.database, '--from', DAY, '--to', '2025-03-19', ...extra], { cwd: ws.dir });

  it('writes every file and the manifest, and prints a summary', async () => {
    const result = await exportCli(['--entity', 'defi', '--out', 'audit']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^exported defi 2025-03-18\.\.2025-03-19/);
    expect(result.stdout).toMatch(/journal\.csv +\d+ rows/);
    const files = (await readdir(join(ws.dir, 'audit'))).sort();
    expect(files).toEqual(['balances.csv', 'breaks.csv', 'journal.csv', 'journal.hledger', 'manifest.json', 'settlements.csv']);
    const manifest = JSON.parse(await readFile(join(ws.dir, 'audit', 'manifest.json'), 'utf8')) as { parameters: { entity: string }; files: { name: string; rows: number }[] };
    expect(manifest.parameters.entity).toBe('defi');
    expect(manifest.files.find((file) => file.name === 'journal.csv')?.rows).toBeGreaterThan(0);
    expect(manifest.files.find((file) => file.name === 'settlements.csv')?.rows).toBeGreaterThan(0);
  });

  it('writes one chosen file with --what and --format, as JSON with --json, and with a BOM', async () => {
    const result = await exportCli(['--entity', 'defi', '--what', 'journal', '--format', 'hledger', '--out', 'hledger', '--json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { manifestPath: string; manifest: { files: { name: string }[] } };
    expect(printed.manifest.files.map((file) => file.name)).toEqual(['journal.hledger']);
    expect((await readdir(join(ws.dir, 'hledger'))).sort()).toEqual(['journal.hledger', 'manifest.json']);
    expect(await readFile(join(ws.dir, 'hledger', 'journal.hledger'), 'utf8')).toMatch(/2025-03-18/);
    expect((await exportCli(['--all-entities', '--what', 'journal', '--out', 'bom', '--bom', '--quiet'])).code).toBe(0);
    expect((await readFile(join(ws.dir, 'bom', 'journal.csv'))).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  });

  it('counts rows as they are written on a terminal', async () => {
    const result = await runCli(['export', '--database', ws.database, '--from', DAY, '--to', '2025-03-19', '--entity', 'defi', '--out', 'tty', '--page-size', '1'], { cwd: ws.dir, tty: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/export: \d+ rows written journal\.csv/);
  });

  it('writes the spreadsheet profile with --excel and --delimiter ";", and says so in the manifest', async () => {
    const result = await exportCli(['--entity', 'defi', '--what', 'balances', '--out', 'excel', '--excel', '--delimiter', ';', '--quiet']);
    expect(result.code).toBe(0);
    const bytes = await readFile(join(ws.dir, 'excel', 'balances.csv'));
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const [header = '', first = ''] = bytes.subarray(3).toString('utf8').split('\r\n');
    expect(header.split(';')).toContain('account_id');
    expect(first).toMatch(/;"=""-?\d+\.\d{18}""";/);
    const manifest = JSON.parse(await readFile(join(ws.dir, 'excel', 'manifest.json'), 'utf8')) as { parameters: Record<string, unknown> };
    expect(manifest.parameters).toMatchObject({ excel: true, bom: true, delimiter: ';', timeZones: { defi: expect.any(String) } });
    expect((await exportCli(['--entity', 'defi', '--what', 'balances', '--out', 'tab', '--delimiter', 'tab'])).code).toBe(2);
  });

  it('exits 2 on bad flags and never overwrites an export', async () => {
    expect((await exportCli(['--entity', 'defi', '--out', 'once', '--quiet'])).code).toBe(0);
    const twice = await exportCli(['--entity', 'defi', '--out', 'once']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^error: --out .* already holds journal.csv; .* \(code invalid_input, field --out\)/);
    const format = await exportCli(['--entity', 'defi', '--what', 'balances', '--format', 'hledger', '--out', 'x']);
    expect(format.stderr).toContain('field --format');
    const scope = await exportCli(['--out', 'x']);
    expect(scope.stderr).toContain('give exactly one of --entity <id> or --all-entities');
    const entity = await exportCli(['--entity', 'nobody', '--out', 'x']);
    expect(entity.code).toBe(2);
    expect(entity.stderr).toContain('code unknown_entity, field --entity');
    const range = await runCli(['export', '--database', ws.database, '--entity', 'defi', '--from', '2025-03-19', '--to', DAY, '--out', 'x'], { cwd: ws.dir });
    expect(range.stderr).toContain('field --to');
    await expect(access(join(ws.dir, 'x', 'manifest.json'))).rejects.toThrow();
  });

  it('maps --what and --format to files', () => {
    expect(exportFormatsOf('all', undefined)).toHaveLength(5);
    expect(exportFormatsOf('all', 'csv')).toEqual(['journal_csv', 'balances_csv', 'breaks_csv', 'settlements_csv']);
    expect(exportFormatsOf('all', 'hledger')).toEqual(['hledger_journal']);
    expect(exportFormatsOf('journal', undefined)).toEqual(['journal_csv']);
    expect(() => exportFormatsOf('hledger', 'csv')).toThrow(/does not apply/);
  });
});

describe('earnbook breaks and settlements', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => ws.remove());

  const cli = (argv: readonly string[]) => runCli([...argv, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir });

  it('lists, repairs and resolves breaks', async () => {
    const extra = structuredClone(ws.report);
    extra.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: 'b-lost', idempotencyKey: 'k-lost' });
    extra.transactions.push({ id: '00000000-0000-4000-8000-000000000003', type: 'Airdrop', currency: 'BTC', amount: '1', createdAt: '2025-03-18T23:00:00.000Z' });
    const first = await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('extra.json', extra), '--json']);
    expect(first.code).toBe(1);
    const summary = JSON.parse(first.stdout) as ReconcileSummary;
    const kinds = summary.breaks.map((item) => item.kind);
    expect(kinds).toContain('missing_in_ledger');
    expect(kinds).toContain('unknown_entry_type');

    const listed = await cli(['breaks', 'list', '--entity', 'defi', '--day', DAY]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^id +day +kind +status/);
    expect(listed.stdout).toContain('b-lost');

    const missing = summary.breaks.find((item) => item.kind === 'missing_in_ledger');
    const unknown = summary.breaks.find((item) => item.kind === 'unknown_entry_type');
    const repaired = await cli(['breaks', 'repair', '--id', String(missing?.id)]);
    expect(repaired.stdout).toMatch(/^break \d+ \(missing_in_ledger, defi 2025-03-18\) is resolved: booked from the daily report/);
    const resolved = await cli(['breaks', 'resolve', '--id', String(unknown?.id), '--reason', 'airdrop handled outside Earn', '--json']);
    expect(JSON.parse(resolved.stdout)).toMatchObject({ break: { status: 'resolved', resolutionReason: 'airdrop handled outside Earn' } });
    const again = await cli(['breaks', 'resolve', '--id', String(unknown?.id), '--reason', 'twice']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('code invalid_transition, field --id');
    const badId = await cli(['breaks', 'repair', '--id', 'seven']);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain("error: option '--id <breakId>' argument 'seven' is invalid. must be a positive integer.");
    expect((await cli(['breaks', 'list', '--entity', 'defi'])).stdout).toBe('no open breaks\n');

  });

  it('walks a settlement instruction from pending to sent to confirmed', async () => {
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'])).code).toBe(0);
    const listed = await cli(['settlements', 'list', '--entity', 'defi', '--status', 'pending']);
    expect(listed.stdout).toMatch(/^id +day +currency +direction/);
    expect(listed.stdout).toMatch(/1 +2025-03-18 +BTC +partner → Tesseract +2\.9\d+ +pending +bc1-partner-wallet/);
    const early = await cli(['settlements', 'confirm', '--id', '1', '--occurred-at', '2025-03-19T10:00:00Z']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('must be sent before it is confirmed');
    const sent = await cli(['settlements', 'sent', '--id', '1', '--transaction-hash', '0xfeedbeef01']);
    expect(sent.stdout).toMatch(/^instruction 1 .* is sent, transaction 0xfeedbeef01\n$/);
    const badInstant = await cli(['settlements', 'confirm', '--id', '1', '--occurred-at', '2025-03-19 10:00']);
    expect(badInstant.stderr).toContain('field --occurred-at');
    const confirmed = await cli(['settlements', 'confirm', '--id', '1', '--occurred-at', '2025-03-19T10:00:00Z', '--json']);
    expect(confirmed.code).toBe(0);
    expect(JSON.parse(confirmed.stdout)).toMatchObject({ instruction: { id: 1, status: 'confirmed', transactionHash: '0xfeedbeef01' } });
    expect((await cli(['settlements', 'list', '--entity', 'defi', '--status', 'pending'])).stdout).toBe('no settlement instructions\n');
  });

  it('lists a held instruction with its reason and refuses to mark it sent', async () => {
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'])).code).toBe(0);
    // A restatement whose outstanding balance disagrees with the books: the figure is disputed.
    const disputed = structuredClone(ws.report);
    disputed.id = `${String(ws.report.id)}-v2`;
    disputed.balances = [{ currency: 'BTC', outstandingBalance: '-7' }];
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('disputed.json', disputed), '--quiet'])).code).toBe(1);
    expect((await cli(['settlements', 'list', '--entity', 'defi', '--status', 'pending'])).stdout).toBe('no settlement instructions\n');
    const held = await cli(['settlements', 'list', '--entity', 'defi', '--status', 'held']);
    expect(held.stdout).toMatch(/1 +2025-03-18 +BTC +partner → Tesseract +2\.9\d+ +held: /);
    const sent = await cli(['settlements', 'sent', '--id', '1', '--transaction-hash', '0xfeedbeef01']);
    expect(sent.code).toBe(2);
    expect(sent.stderr).toContain('code invalid_transition');
    expect((await cli(['settlements', 'list', '--entity', 'defi', '--status', 'cancelled'])).stdout).toBe('no settlement instructions\n');
  });
});

describe('config.example.json', () => {
  it('is a valid configuration', async () => {
    const text = await readFile(new URL('../config.example.json', import.meta.url), 'utf8');
    const config = parseConfig(JSON.parse(text));
    expect(config.entities?.map((entity) => entity.id)).toEqual(['defi', 'lending']);
    expect(config.earnApi['defi']?.clientSecretEnv).toBe('EARNBOOK_DEFI_CLIENT_SECRET');
  });
});

import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatUnits, toUnits } from '@earnbook/ledger';
import { DAY, WALLET, booksSnapshot, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';
import type { ReconcileSummary } from '../src/index.js';

const HOSTILE_BOOKING = '<script>alert("booking")</script>';
const HOSTILE_ACCOUNT = '<img src=x onerror=alert(1)>';

describe('earnbook reconcile', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => ws.remove());

  // A test's own --config replaces the workspace's: a value flag is given once (twice is refused).
  const reconcile = (extra: readonly string[], reportFile = ws.reportFile) =>
    runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', ws.database, ...(extra.includes('--config') ? [] : ['--config', ws.configFile]), ...extra], { cwd: ws.dir });

  it('reconciles a clean day: exit 0, summary.json and summary.html written, settlement table in the page', async () => {
    const out = join(ws.dir, 'out');
    const result = await reconcile(['--out', out]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^defi 2025-03-18: CLEAN\n/);
    expect(result.stdout).toMatch(/BTC {2}outstanding -2\.9\d+: partner sends 2\.9\d+ BTC to Tesseract \(instruction 1, pending\)/);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as ReconcileSummary;
    expect(summary).toMatchObject({ kind: 'earnbook_reconcile_summary', entity: 'defi', day: DAY, clean: true, breaks: [] });
    expect(summary.report).toMatchObject({ id: ws.report.id, version: 1, status: 'created', entries: ws.report.transactions.length });
    expect(summary.synced).toEqual({ interest: 2, partnerMargin: 1, fee: 0 });
    expect(summary.breakCounts.missing_in_ledger).toBe(0);
    expect(summary.settlement[0]).toMatchObject({ currency: 'BTC', reportedOutstanding: ws.report.balances[0]?.outstandingBalance, instruction: { direction: 'to_provider', status: 'pending', wallet: WALLET } });
    expect(summary.settlement[0]?.outstanding).toBe(formatUnits(toUnits(ws.report.balances[0]?.outstandingBalance ?? '')));
    const page = await readFile(join(out, 'summary.html'), 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('<table id="settlement">');
    expect(page).toContain('<table id="netting">');
    expect(page).toContain('<div class="status clean" id="status">');
    expect(page).toContain(WALLET);
    expect(page).toMatch(/partner sends 2\.9\d+ BTC to Tesseract/);
    // Self-contained: no script, no external asset.
    expect(page).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });

  it('changes nothing on a re-run and prints the summary as JSON with --json', async () => {
    expect((await reconcile(['--out', join(ws.dir, 'first')])).code).toBe(0);
    const again = await reconcile(['--out', join(ws.dir, 'again'), '--json']);
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout) as ReconcileSummary & { files: string[] };
    expect(summary.report.status).toBe('exists');
    expect(summary.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    expect(summary.instructions).toHaveLength(1);
    expect(summary.files).toEqual([join(ws.dir, 'again', 'summary.json'), join(ws.dir, 'again', 'summary.html')]);
  });

  it('writes into the default folder under the working directory when --out is not given', async () => {
    expect((await reconcile(['--quiet'])).stdout).toBe('');
    await access(join(ws.dir, '.earnbook', 'reconcile', 'defi', DAY, 'summary.html'));
  });

  it('on a day of more breaks than the result lists (10,000), counts every one and lists the first 10,000 in summary.json, 1,000 in the page', async () => {
    const report = structuredClone(ws.report);
    const unknown = 10_050;
    for (let index = 0; index < unknown; index++) {
      const id = `00000000-0000-4000-9000-${String(index).padStart(12, '0')}`;
      report.transactions.push({ id, type: 'Deposit', currency: 'BTC', amount: '0.01', createdAt: '2025-03-18T11:00:00Z', accountId: 'ea-unknown', bookingId: id });
    }
    const balance = report.balances[0];
    if (balance !== undefined) balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - 7n);
    const out = join(ws.dir, 'out');
    const result = await reconcile(['--out', out], await ws.writeReport('many.json', report));
    expect(result.code).toBe(1);
    const open = unknown + 1;
    expect(result.stdout).toMatch(new RegExp(`^defi 2025-03-18: NOT CLEAN, ${open} open breaks\\n`));
    expect(result.stdout).toMatch(new RegExp(`missing_in_ledger {13}${unknown}\\n`));
    expect(result.stdout).toMatch(/DISPUTED/);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as ReconcileSummary;
    expect(summary).toMatchObject({ clean: false, openBreaks: open });
    expect(summary.breakCounts).toMatchObject({ missing_in_ledger: unknown, outstanding_balance_mismatch: 1 });
    expect(summary.breaks).toHaveLength(10_000);
    expect(summary.breaks.every((item) => item.kind === 'missing_in_ledger')).toBe(true);
    // The disputed outstanding balance is told though its break is past the first 10,000.
    expect(summary.settlement.map((line) => [line.currency, line.disputed])).toEqual([['BTC', true]]);
    const page = await readFile(join(out, 'summary.html'), 'utf8');
    expect(page).toContain(`Not clean: ${open} open breaks.`);
    expect(page).toMatch(new RegExp(`id="breaks-more">The first 1000 of ${open} open breaks`));
  });

  it('exits 1 when breaks are found, lists them in both summaries, and escapes every value in the page', async () => {
    const report = structuredClone(ws.report);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: HOSTILE_ACCOUNT, bookingId: HOSTILE_BOOKING });
    const balance = report.balances[0];
    if (balance !== undefined) balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - 7n);
    const out = join(ws.dir, 'out');
    const result = await reconcile(['--out', out], await ws.writeReport('broken.json', report));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^defi 2025-03-18: NOT CLEAN, 2 open breaks\n/);
    expect(result.stdout).toMatch(/missing_in_ledger {13}1/);
    expect(result.stdout).toMatch(/BTC {2}outstanding -2\.9\d+: partner sends .*; DISPUTED: the report says -2\.9\d+, resolve the break before any transfer/);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as ReconcileSummary;
    expect(summary.clean).toBe(false);
    expect(summary.breakCounts).toMatchObject({ missing_in_ledger: 1, outstanding_balance_mismatch: 1, interest_mismatch: 0 });
    expect(summary.openBreaks).toBe(2);
    expect(summary.settlement.map((line) => [line.currency, line.disputed])).toEqual([['BTC', true]]);
    expect(summary.breaks.map((item) => item.kind)).toEqual(['missing_in_ledger', 'outstanding_balance_mismatch']);
    expect(summary.breaks[0]?.providerId).toBe(HOSTILE_BOOKING);
    // A disputed outstanding balance instructs no transfer.
    expect(summary.instructions).toEqual([]);
    const page = await readFile(join(out, 'summary.html'), 'utf8');
    expect(page).toContain('<div class="status breaks" id="status">Not clean: 2 open breaks.');
    expect(page).toContain('<table id="breaks">');
    expect(page).toMatch(/<td class="num differs" title="-2\.9\d+">/);
    expect(page).not.toContain(HOSTILE_BOOKING);
    expect(page).not.toContain(HOSTILE_ACCOUNT);
    expect(page).not.toMatch(/<script|<img/i);
    expect(page).toContain('&lt;script&gt;alert(&quot;booking&quot;)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('does not call a difference within the tolerance disputed', async () => {
    const report = JSON.parse(await readFile(ws.reportFile, 'utf8')) as { balances: { currency: string; outstandingBalance: string }[] };
    const balance = report.balances[0];
    if (balance === undefined) throw new Error('the fixture report has no balance');
    balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - 7n);
    const reportFile = join(ws.dir, 'seven-units-off.json');
    await writeFile(reportFile, JSON.stringify(report));
    const config = JSON.parse(await readFile(ws.configFile, 'utf8')) as Record<string, unknown>;
    const configFile = await ws.writeConfig('tolerant.json', { ...config, toleranceUnits: { BTC: '10' } });
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', ws.database, '--config', configFile, '--out', join(ws.dir, 'tolerant')], { cwd: ws.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('DISPUTED');
    const page = await readFile(join(ws.dir, 'tolerant', 'summary.html'), 'utf8');
    expect(page).not.toContain('class="num differs"');
  });

  it('exits 2 when the report file is missing, and writes nothing', async () => {
    const out = join(ws.dir, 'out');
    const result = await reconcile(['--out', out], join(ws.dir, 'nowhere.json'));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: no report file at .*nowhere\.json \(code no_report, field --report-file\)\n$/);
    await expect(access(out)).rejects.toThrow();
  });

  it('exits 2 with the message when the report is for another day', async () => {
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', '2025-03-19', '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile, '--json'], { cwd: ws.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: report ${ws.report.id} is for 2025-03-18, not 2025-03-19 (code wrong_day, field accountingDay)`);
    expect(JSON.parse(result.stdout)).toEqual({ error: { kind: 'ReconcileError', code: 'wrong_day', message: `report ${ws.report.id} is for 2025-03-18, not 2025-03-19`, field: 'accountingDay', value: '2025-03-18' } });
  });

  it('exits 2 on an invalid report, naming the JSON path', async () => {
    const report = structuredClone(ws.report) as unknown as { transactions: { amount: unknown }[] };
    if (report.transactions[1] !== undefined) report.transactions[1].amount = 12;
    const result = await reconcile([], await ws.writeReport('bad.json', report));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/code invalid_report, .*path .*transactions\[1\]\.amount/);
  });

  it('exits 2 on bad flags: a bad day, an unknown entity, both or neither report source, a missing flag', async () => {
    const bad = await runCli(['reconcile', '--entity', 'defi', '--day', '2025-02-30', '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --day must be a real YYYY-MM-DD date .* \(code invalid_day, field --day\)/);
    const entity = await runCli(['reconcile', '--entity', 'staking', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile]);
    expect(entity.code).toBe(2);
    expect(entity.stderr).toContain('field --entity');
    const both = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--fetch']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/error: option '--report-file <path>' cannot be used with option '--fetch'/);
    const neither = await runCli(['reconcile', '--entity', 'defi', '--day', DAY]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('give exactly one of --report-file <path> or --fetch');
    const missing = await runCli(['reconcile', '--entity', 'defi', '--report-file', ws.reportFile]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: required option '--day <YYYY-MM-DD>' not specified");
    const unknown = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-fil', ws.reportFile]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--report-fil'");
  });

  it('exits 2 on a bad configuration, naming the field, before touching the books', async () => {
    const zone = await reconcile(['--config', await ws.writeConfig('zone.json', { entities: [{ id: 'defi', timeZone: 'Mars/Olympus' }] })]);
    expect(zone.code).toBe(2);
    expect(zone.stderr).toMatch(/^error: config field entities\[0\]\.timeZone must be an IANA time zone .* \(code invalid_config, field entities\[0\]\.timeZone\)/);
    const tolerance = await reconcile(['--config', await ws.writeConfig('tolerance.json', { toleranceUnits: { BTC: 5 } })]);
    expect(tolerance.stderr).toContain('field toleranceUnits.BTC');
    const typo = await reconcile(['--config', await ws.writeConfig('typo.json', { wallet: {} })]);
    expect(typo.stderr).toContain('error: config field wallet is not a known field');
    const secret = await reconcile([
      '--config',
      await ws.writeConfig('secret.json', { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }], earnApi: { defi: { baseUrl: 'https://earn.example.com', tokenUrl: 'https://earn.example.com/oauth/token', clientId: 'c', clientSecret: 'hunter2-secret' } } }),
    ]);
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('field earnApi.defi.clientSecret');
    expect(secret.stderr).not.toContain('hunter2-secret');
    const json = await reconcile(['--config', await ws.writeConfig('broken.json', '{ "entities": ')]);
    expect(json.stderr).toMatch(/is not JSON.*field --config/);
    const missing = await reconcile(['--config', join(ws.dir, 'none.json')]);
    expect(missing.stderr).toMatch(/no configuration file at .*none\.json.*field --config/);
    // The configuration's zone must be the one the books keep.
    const moved = await reconcile(['--config', await ws.writeConfig('moved.json', { entities: [{ id: 'defi', timeZone: 'UTC' }] })]);
    expect(moved.code).toBe(2);
    expect(moved.stderr).toContain('code entity_configuration_changed');
  });

  it('reports a configuration file that is not JSON by line and column only, never quoting the file (a pasted secret)', async () => {
    const secret = 'hunter2-Sup3rS3cret-value';
    // A common slip: single quotes around a value, here on the third line.
    const config = await ws.writeConfig('quoted.json', `{\n  "earnApi": {\n    "defi": { "clientSecret": '${secret}' }\n  }\n}\n`);
    for (const extra of [[], ['--json']]) {
      const result = await reconcile(['--config', config, ...extra]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`error: configuration file ${config} is not JSON: syntax error at line 3, column 31 (code invalid_config, field --config)\n`);
      for (const printed of [result.stderr, result.stdout]) expect(printed).not.toContain(secret.slice(0, 7));
    }
    const cut = await reconcile(['--config', await ws.writeConfig('cut.json', '{ "entities": ')]);
    expect(cut.stderr).toContain('is not JSON: it ends too early, at line 1, column 15 (code invalid_config, field --config)');
  });

  it('refuses an --entity that is not an entity id before using it (the default output folder): exit 2 naming --entity, nothing written', async () => {
    // Without `entities` in the configuration, --entity is not matched against a list before the
    // books are opened, but it is part of the default output folder before that.
    const config = await ws.writeConfig('no-entities.json', { wallets: {} });
    const before = await booksSnapshot(ws.database);
    for (const entity of ['a\u0000b', 'a\ud800b', '../escape', 'de/fi', '..', 'Defi', ' defi', 'x'.repeat(65), '']) {
      for (const days of [['--day', DAY, '--report-file', ws.reportFile], ['--from', DAY, '--to', DAY, '--fetch']]) {
        const result = await runCli(['reconcile', '--entity', entity, ...days, '--database', ws.database, '--config', config, '--quiet'], { cwd: ws.dir });
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr).toMatch(/^error: --entity must be (well-formed text|an entity id).* \(code invalid_flag, field --entity\)\n$/);
        expect(result.stderr).toContain(JSON.stringify(entity).slice(0, 40));
        expect(result.stderr).not.toMatch(/[\u0000\ud800]/);
      }
    }
    await expect(access(join(ws.dir, '.earnbook'))).rejects.toThrow();
    await expect(access(join(ws.dir, 'escape'))).rejects.toThrow();
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('reads the entities from the books when no configuration is given', async () => {
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'], { cwd: ws.dir, env: { EARNBOOK_DATABASE: ws.database } });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    const empty = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', join(ws.dir, 'new.sqlite'), '--create']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('keeps no entities yet: give --config with entities');
  });

  it('draws a stage progress bar on a terminal, on stderr, and none otherwise', async () => {
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir, tty: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('reconcile defi 2025-03-18 [');
    expect(result.stdout).toMatch(/^defi 2025-03-18: CLEAN/);
    const piped = await reconcile([]);
    expect(piped.stderr).toBe('');
  });
});

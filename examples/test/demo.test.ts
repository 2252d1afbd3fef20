import { spawnSync } from 'node:child_process';
/** The main job end to end, small: clean without faults; every fault kind caught with them. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runDemo } from '../src/demo/main.js';
import { parseDemoArgs } from '../src/demo/options.js';
import type { DemoOptions } from '../src/demo/options.js';
import { renderDemoText } from '../src/demo/render.js';
import { CHROMIUM, inkOf, renderInChromium, warnIfNoChromium } from '../../packages/cli/test/chromium.js';

warnIfNoChromium('demo');

/** Storage dialects to test, as in the packages: `EARNBOOK_DIALECTS` (default `sqlite,postgres`). */
const DIALECTS = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres').split(',').map((name) => name.trim());

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function options(args: readonly string[]): DemoOptions {
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-demo-test-'));
  directories.push(directory);
  const parsed = parseDemoArgs([...args, '--out', directory]);
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
}

const HLEDGER_INSTALLED = spawnSync('hledger', ['--version']).status === 0;

describe('pnpm demo', () => {
  it('runs clean without faults: no break, books verified, equal to the provider, every output written', async () => {
    // Across the DST change in Berlin (2025-03-30 has 23 hours).
    const demo = options(['--users', '25', '--days', '4', '--start', '2025-03-28', '--seed', '3']);
    const lines: string[] = [];
    const result = await runDemo(demo, { log: (line) => lines.push(line), progressBar: false });
    expect(result.unexplainedBreaks).toBe(0);
    expect(result.nights).toHaveLength(8);
    expect(result.nights.every((night) => night.breaks.length === 0)).toBe(true);
    expect(result.figures.map((figure) => `${figure.entity} ${figure.currency}`)).toEqual(['defi ETH', 'defi USDC', 'lending BTC', 'lending USDT']);
    for (const figure of result.figures) {
      expect(figure.breaksFound).toBe(0);
      // Our settlement position equals the provider's, to the unit.
      expect(figure.providerOutstanding).toBe(figure.outstanding);
    }
    for (const count of result.bookings.values()) expect(count.partner).toBe(count.provider);
    expect(result.verify.transactions).toBeGreaterThan(0);
    // With hledger installed the check must run and agree; without it, the result says so.
    expect(result.hledger.checked).toBe(HLEDGER_INSTALLED);
    if (result.hledger.checked) expect(result.hledger.mismatches).toEqual([]);
    else console.warn('hledger is not installed: the demo test did not check the journal with it');
    if (HLEDGER_INSTALLED) {
      // The balance sheet is not empty and balances: assets − liabilities − equity = net income.
      const journal = join(result.outputs.audit, 'journal.hledger');
      const net = (command: string, currency: string): string => {
        const out = spawnSync('hledger', ['-f', journal, command, '-O', 'csv', `cur:${currency}`], { encoding: 'utf8' });
        expect(out.status, out.stderr).toBe(0);
        const rows = out.stdout.split('\n').filter((row) => row.length > 0);
        expect(rows.length, `${command} ${currency} is not empty`).toBeGreaterThan(4);
        const last = rows.find((row) => /^"Net:?"/.test(row)) ?? '';
        const value = last.split(',')[1]?.replaceAll('"', '').replace(/ ?[A-Z]+$/, '') ?? '';
        expect(value, `${command} ${currency} has a net line`).toMatch(/^-?\d+(\.\d+)?$/);
        return value;
      };
      for (const figure of result.figures) expect(net('bse', figure.currency), figure.currency).toBe(net('is', figure.currency));
    }
    for (const name of ['journal.csv', 'balances.csv', 'breaks.csv', 'settlements.csv', 'journal.hledger', 'manifest.json']) expect(existsSync(join(result.outputs.audit, name))).toBe(true);
    expect(readFileSync(result.outputs.summaryHtml, 'utf8')).toContain('<h2>Per entity and currency</h2>');
    expect(JSON.parse(readFileSync(result.outputs.summaryJson, 'utf8'))).toMatchObject({ kind: 'earnbook_demo_summary', unexplainedBreaks: 0 });
    expect(existsSync(join(result.outputs.directory, result.nights[0]?.page ?? 'none'))).toBe(true);
    const text = renderDemoText(result).join('\n');
    expect(text).toContain('open at the end: 0');
  });

  it('with --faults injects each kind of fault and shows how each is caught', async () => {
    const demo = options(['--users', '20', '--days', '6', '--faults', '--seed', '11']);
    const result = await runDemo(demo, { log: () => {}, progressBar: false });
    const byKind = new Map(result.faults.map((fault) => [fault.kind, fault]));
    for (const kind of ['server_errors', 'rate_limits', 'early_token_expiry', 'lost_response_gave_up', 'duplicate_report_entry', 'interest_off_by_units', 'restated_report'] as const) {
      const fault = byKind.get(kind);
      expect(fault?.injected, kind).toBeGreaterThan(0);
      expect(fault?.caughtBy, kind).not.toBeNull();
    }
    expect(byKind.get('lost_response_gave_up')?.caughtBy).toContain('missing_in_ledger');
    expect(byKind.get('duplicate_report_entry')?.caughtBy).toContain('duplicate_in_report');
    expect(byKind.get('interest_off_by_units')?.caughtBy).toContain('interest_mismatch');
    expect(byKind.get('restated_report')?.caughtBy).toMatch(/version 2|restated_entry/);
    // summary.html pictures the run: a calendar of nights (some broken), and per currency the
    // daily interest, the settlements and the outstanding balance, all inline SVG.
    const page = readFileSync(result.outputs.summaryHtml, 'utf8');
    expect(page.match(/data-chart="calendar"/g)).toHaveLength(1);
    expect(page.match(/data-status="breaks"/g)?.length).toBeGreaterThan(0);
    expect(page.match(/data-chart="bar"/g)).toHaveLength(2 * result.figures.length);
    expect(page.match(/data-chart="line"/g)).toHaveLength(result.figures.length);
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    if (CHROMIUM !== undefined) {
      const { screenshot, layout } = await renderInChromium(result.outputs.summaryHtml, { width: 1280, height: 1600 });
      expect(layout.overflowing).toEqual([]);
      expect(layout.documentWidth).toBeLessThanOrEqual(1280);
      expect(layout.svgCount).toBe(1 + 3 * result.figures.length);
      expect(inkOf(screenshot).share).toBeGreaterThan(0.05);
    }
    // After the repairs and resolutions nothing is open, and the booking counts agree.
    expect(result.figures.reduce((sum, figure) => sum + figure.breaksOpen, 0)).toBe(0);
    for (const count of result.bookings.values()) expect(count.partner).toBe(count.provider);
  });

  it.runIf(DIALECTS.includes('postgres'))('runs on PostgreSQL in a fresh schema it names', async () => {
    const schema = `earnbook_demo_test_${process.pid}_${Date.now()}`;
    const url = new URL(process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    url.searchParams.set('schema', schema);
    const demo = options(['--users', '10', '--days', '2', '--database', url.toString()]);
    const result = await runDemo(demo, { log: () => {}, progressBar: false });
    expect(result.databaseDescription).toContain(`schema ${schema}`);
    expect(result.unexplainedBreaks).toBe(0);
    for (const figure of result.figures) expect(figure.providerOutstanding).toBe(figure.outstanding);
    const client = new pg.Client({ connectionString: process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  });

  it('refuses bad flags, naming them', () => {
    expect(() => parseDemoArgs(['--users', '0'])).toThrow(/--users/);
    expect(() => parseDemoArgs(['--zone', 'Mars/Base'])).toThrow(/--zone/);
    expect(parseDemoArgs(['--help'])).toBe('help');
  });
});

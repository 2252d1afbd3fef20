/**
 * The human output of `breaks list|resolve` and `settlements list|sent` holds provider and
 * configuration text (a report's booking id kept as a break's provider id, a resolution reason, a
 * wallet): every table cell and message line is escaped like the `error:` line (`singleLine`), so
 * that a C1 control (U+009B starts an escape sequence on some terminals), a bidi override or a
 * line break never reaches the terminal as it is. `--json` keeps the text exact.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textTable } from '../src/commands/breaks-command.js';
import { DAY, runCli, testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

/** What a terminal may interpret: C0 controls but the table's line feeds, DEL, C1 controls, line separators and bidi marks. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE_BOOKING = 'b\u009b2J\u202Eevil';

describe('textTable', () => {
  it('escapes every cell and keeps the columns aligned on the escaped text', () => {
    const text = textTable(['id', 'provider id'], [['1', `x\u009b2J\u202e\ny`], ['22', 'plain']]);
    expect(text).not.toMatch(UNSAFE);
    expect(text.split('\n')).toEqual(['id  provider id', '1   x\\u009b2J\\u202e\\u000ay', '22  plain', '']);
  });
});

describe('earnbook breaks and settlements with hostile text', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => ws.remove());
  const cli = (argv: readonly string[], configFile = ws.configFile) => runCli([...argv, '--database', ws.database, '--config', configFile], { cwd: ws.dir });

  /** Reconciles the day with a report holding a deposit the books lack, booked under a hostile id. */
  async function reconcileWithHostileBooking(configFile = ws.configFile): Promise<void> {
    const extra = structuredClone(ws.report);
    extra.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: HOSTILE_BOOKING, idempotencyKey: 'k-lost' });
    const reconciled = await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('extra.json', extra), '--quiet'], configFile);
    expect(reconciled.code).toBe(1);
  }

  it('breaks list escapes a C1 control and a bidi override of a report booking id; --json keeps it', async () => {
    await reconcileWithHostileBooking();
    const listed = await cli(['breaks', 'list', '--entity', 'defi', '--day', DAY]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('b\\u009b2J\\u202eevil');
    expect(listed.stdout).not.toMatch(UNSAFE);
    const json = await cli(['breaks', 'list', '--entity', 'defi', '--day', DAY, '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { breaks: { providerId: string | null }[] }).breaks.map((item) => item.providerId)).toContain(HOSTILE_BOOKING);
  });

  it('breaks resolve prints a reason with a line break and an override on one escaped line', async () => {
    await reconcileWithHostileBooking();
    const listed = JSON.parse((await cli(['breaks', 'list', '--entity', 'defi', '--day', DAY, '--json'])).stdout) as { breaks: { id: number; providerId: string | null }[] };
    const hostile = listed.breaks.find((item) => item.providerId === HOSTILE_BOOKING);
    if (hostile === undefined) throw new Error('no break of the hostile booking');
    const resolved = await cli(['breaks', 'resolve', '--id', String(hostile.id), '--reason', 'checked\nearnbook: defi 2025-03-18: CLEAN\u202e']);
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).not.toMatch(UNSAFE);
    expect(resolved.stdout.split('\n')).toEqual([expect.stringContaining('checked\\u000aearnbook: defi 2025-03-18: CLEAN\\u202e'), '']);
  });

  it('settlements list escapes a wallet with a bidi override and a C1 control', async () => {
    const configFile = await ws.writeConfig('hostile-wallet.json', testConfig({ wallets: { defi: { BTC: 'bc1\u202eevil\u009b2J' } } }));
    const reconciled = await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'], configFile);
    expect(reconciled.code).toBe(0);
    const listed = await cli(['settlements', 'list', '--entity', 'defi'], configFile);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('bc1\\u202eevil\\u009b2J');
    expect(listed.stdout).not.toMatch(UNSAFE);
    const json = JSON.parse((await cli(['settlements', 'list', '--entity', 'defi', '--json'], configFile)).stdout) as { instructions: { id: number; wallet: string | null }[] };
    expect(json.instructions.map((item) => item.wallet)).toEqual(['bc1\u202eevil\u009b2J']);
  });
});

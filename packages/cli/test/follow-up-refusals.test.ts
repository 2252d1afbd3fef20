/**
 * `breaks repair` and `settlements confirm` refuse what would book wrongly, with exit 2, the
 * field at fault and nothing written: a missing deposit reported in another currency than its
 * Earn account's, and a transfer dated before the end of the accounting day it settles.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, booksSnapshot, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';
import type { ReconcileSummary } from '../src/index.js';

describe('follow-up commands refuse what would book wrongly', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => ws.remove());
  const cli = (argv: readonly string[]) => runCli([...argv, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir });

  it('breaks repair refuses a missing deposit reported in another currency than its account (never books ETH as BTC)', async () => {
    const extra = structuredClone(ws.report);
    // a2 is a BTC account; the report says the provider booked 0.25 ETH into it.
    extra.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'ETH', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: 'b-eth', idempotencyKey: 'k-eth' });
    const first = await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('eth.json', extra), '--json']);
    expect(first.code).toBe(1);
    const missing = (JSON.parse(first.stdout) as ReconcileSummary).breaks.find((item) => item.kind === 'missing_in_ledger');
    expect(missing).toMatchObject({ currency: 'ETH', earnAccountId: 'a2' });
    const before = await booksSnapshot(ws.database);
    const repaired = await cli(['breaks', 'repair', '--id', String(missing?.id)]);
    expect({ code: repaired.code, out: repaired.stdout.trim() }).toEqual({ code: 2, out: '' });
    expect(repaired.stderr).toContain('code invalid_transition, field currency');
    expect(repaired.stderr).toMatch(/ETH.*BTC/);
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('settlements confirm refuses a transfer dated before the end of the accounting day it settles, naming --occurred-at', async () => {
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'])).code).toBe(0);
    expect((await cli(['settlements', 'sent', '--id', '1', '--transaction-hash', '0xfeedbeef01'])).code).toBe(0);
    const before = await booksSnapshot(ws.database);
    // DAY is 2025-03-18 in Europe/Berlin: it ends at 2025-03-18T23:00:00Z.
    for (const occurredAt of ['2024-03-18T12:00:00Z', '2025-03-18T22:59:59Z']) {
      const confirmed = await cli(['settlements', 'confirm', '--id', '1', '--occurred-at', occurredAt]);
      expect({ code: confirmed.code, out: confirmed.stdout.trim() }).toEqual({ code: 2, out: '' });
      expect(confirmed.stderr).toContain('error: --occurred-at must not be before 2025-03-18T23:00:00.000Z');
      expect(confirmed.stderr).toContain('code invalid_input, field --occurred-at');
    }
    expect(await booksSnapshot(ws.database)).toBe(before);
    expect((await cli(['settlements', 'confirm', '--id', '1', '--occurred-at', '2025-03-18T23:00:00Z'])).code).toBe(0);
  });
});

/**
 * `breaks list` and `settlements list` in pages: `--limit` and `--after-id` (the last id of the
 * page before) walk the listing; bounds out of range are refused naming the flag (exit 2).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

describe('earnbook breaks list and settlements list in pages', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => ws.remove());

  const cli = (argv: readonly string[]) => runCli([...argv, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir });

  it('walks the open breaks a page at a time and refuses bounds out of range', async () => {
    const extra = structuredClone(ws.report);
    for (const [index, type] of ['Airdrop', 'Bonus', 'Promo'].entries()) {
      extra.transactions.push({ id: `00000000-0000-4000-8000-00000000000${index + 3}`, type, currency: 'BTC', amount: '1', createdAt: '2025-03-18T23:00:00.000Z' });
    }
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', await ws.writeReport('extra.json', extra), '--quiet'])).code).toBe(1);
    const whole = JSON.parse((await cli(['breaks', 'list', '--entity', 'defi', '--json'])).stdout) as { breaks: { id: number }[] };
    expect(whole.breaks.length).toBeGreaterThanOrEqual(3);
    const walked: number[] = [];
    for (let afterId: number | undefined; ; ) {
      const page = await cli(['breaks', 'list', '--entity', 'defi', '--json', '--limit', '2', ...(afterId === undefined ? [] : ['--after-id', String(afterId)])]);
      expect(page.code).toBe(0);
      const ids = (JSON.parse(page.stdout) as { breaks: { id: number }[] }).breaks.map((item) => item.id);
      walked.push(...ids);
      if (ids.length < 2) break;
      afterId = ids[ids.length - 1];
    }
    expect(walked).toEqual(whole.breaks.map((item) => item.id));
    const tooMany = await cli(['breaks', 'list', '--entity', 'defi', '--limit', '10001']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('field --limit');
    const zero = await cli(['breaks', 'list', '--entity', 'defi', '--limit', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--limit');
    const unknown = await cli(['breaks', 'list', '--entity', 'defi', '--after-id', '999999']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('field --after-id');
  });

  it('pages the settlement instructions', async () => {
    expect((await cli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--quiet'])).code).toBe(0);
    const whole = JSON.parse((await cli(['settlements', 'list', '--entity', 'defi', '--json'])).stdout) as { instructions: { id: number }[] };
    expect(whole.instructions.length).toBeGreaterThan(0);
    const first = whole.instructions[0]!;
    expect(JSON.parse((await cli(['settlements', 'list', '--entity', 'defi', '--json', '--limit', '1'])).stdout)).toMatchObject({ instructions: [{ id: first.id }] });
    expect(JSON.parse((await cli(['settlements', 'list', '--entity', 'defi', '--json', '--after-id', String(first.id)])).stdout)).toEqual({ instructions: whole.instructions.slice(1) });
    const tooMany = await cli(['settlements', 'list', '--entity', 'defi', '--limit', '10001']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('field --limit');
  });
});

/**
 * `--log-format text` and `--log-format json` write one line per event on stderr, whatever the
 * events quote. A log message quotes the report's id (`reconciled defi 2025-03-18 with report …`),
 * which is the provider's text. The reconciler refuses C0 controls in it, but C1 controls (CSI
 * U+009B starts an escape sequence), the line separator U+2028, bidi overrides and zero-width
 * characters reached the terminal raw in both formats.
 * They are escaped by the same rule as every other line the CLI prints (`singleLine`); a JSON line
 * stays JSON with the same values.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, booksSnapshot, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

let ws: Workspace;

beforeEach(async () => {
  ws = await workspace();
});

afterEach(async () => {
  await ws.remove();
});

const HOSTILE_ID = 'r-1\u2028INFO  forged: all clean\u009b2J\u202eevil\u200b\u0085x';
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function reconcileLogged(format: 'text' | 'json'): Promise<{ code: number; lines: string[] }> {
  const reportFile = await ws.writeReport(`hostile-${format}.json`, { ...ws.report, id: HOSTILE_ID });
  const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', ws.database, '--config', ws.configFile, '--out', `out-${format}`, '--quiet', '--log-format', format, '--log-level', 'info'].filter((flag) => flag !== '--quiet'), { cwd: ws.dir });
  expect(result.stderr.endsWith('\n'), result.stderr).toBe(true);
  return { code: result.code, lines: result.stderr.slice(0, -1).split('\n') };
}

describe('log lines quoting provider text', () => {
  it('--log-format text: every line is one event starting with its time, with nothing raw that a terminal interprets', async () => {
    const { code, lines } = await reconcileLogged('text');
    expect(code).toBe(0);
    for (const line of lines) {
      expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (INFO |WARN |DEBUG|ERROR) /);
      expect(RAW_UNSAFE.test(line), JSON.stringify(line)).toBe(false);
    }
    expect(lines.join('\n')).toContain('with report r-1\\u2028INFO  forged: all clean\\u009b2J\\u202eevil\\u200b\\u0085x');
  });

  it('--log-format json: every line is JSON without raw C1, bidi or zero-width characters, and keeps the exact id', async () => {
    const before = await booksSnapshot(ws.database);
    const { code, lines } = await reconcileLogged('json');
    expect(code).toBe(0);
    expect(await booksSnapshot(ws.database)).not.toBe(before);
    const parsed = lines.map((line) => {
      expect(RAW_UNSAFE.test(line), JSON.stringify(line)).toBe(false);
      return JSON.parse(line) as Record<string, unknown>;
    });
    expect(parsed.find((line) => line['event'] === 'reconcile.day.done')?.['reportId']).toBe(HOSTILE_ID);
  });
});

describe('the terminal summary quoting provider text', () => {
  it('prints the report id escaped: one line per fact, nothing raw that a terminal interprets', async () => {
    const reportFile = await ws.writeReport('hostile-summary.json', { ...ws.report, id: HOSTILE_ID });
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', ws.database, '--config', ws.configFile, '--out', 'out-summary'], { cwd: ws.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(RAW_UNSAFE.test(result.stdout), JSON.stringify(result.stdout)).toBe(false);
    expect(result.stdout).toContain('report r-1\\u2028INFO  forged: all clean\\u009b2J\\u202eevil\\u200b\\u0085x version 1');
  });
});

describe('the range summary quoting an error message', () => {
  it('prints a failed day as one escaped line: a line feed in the message cannot forge a CLEAN day', async () => {
    const { formatRangeText } = await import('../src/commands/reconcile-range.js');
    const text = formatRangeText({
      kind: 'earnbook_reconcile_range',
      fromDay: DAY,
      toDay: '2025-03-19',
      entities: ['defi'],
      exitCode: 2,
      stoppedAt: { entity: 'defi', day: DAY },
      days: [
        { entity: 'defi', day: DAY, status: 'error', error: { kind: 'internal', code: 'internal', message: 'boom\ndefi 2025-03-19: CLEAN\u009b2J\u202e' } },
        { entity: 'defi', day: '2025-03-19', status: 'not_run' },
      ],
    });
    expect(text.split('\n')).toEqual(['defi 2025-03-18: FAILED: boom\\u000adefi 2025-03-19: CLEAN\\u009b2J\\u202e (code internal)', 'defi 2025-03-19: not run', '2025-03-18..2025-03-19 (defi): 0 clean, 0 with open breaks; stopped at defi 2025-03-18, 1 not run', '']);
  });
});

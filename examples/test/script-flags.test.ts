/**
 * The flags every example script shares the rules of, as the `earnbook` CLI applies them: a flag
 * that takes a value given twice is refused (`invalid_flag` naming the flag and both values, a
 * PostgreSQL password never shown) instead of silently keeping one of them, before anything is
 * opened; and the audit export's `--sandbox` refuses the flags it does not use (`--database`,
 * `--zone`) as the nightly job's does, instead of exporting other books than the ones named.
 * The scripts run as `pnpm …` runs them, under tsx.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoUsageError, parseDemoArgs } from '../src/demo/options.js';

const EXAMPLES = new URL('../', import.meta.url).pathname;
/** A script still running by then has started work it should have refused: it is stopped. */
const RUN_TIMEOUT_MS = 60_000;
const directory = mkdtempSync(join(tmpdir(), 'earnbook-script-flags-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an example script to its end; one that starts listening (the back office) is stopped. */
function runScript(script: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: EXAMPLES, env: { ...process.env, EARN_BASE_URL: 'http://127.0.0.1:9' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      if (stdout.includes('listening on')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one error line of a refused run: exactly one line on stderr, nothing on stdout, no stack frame. */
function errorLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((line) => line.length > 0);
  expect(lines, run.stderr + run.stdout).toHaveLength(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0] ?? '';
}

const SCRIPTS = [
  { name: 'nightly', script: 'nightly-reconciliation/src/main.ts', prefix: 'ALERT nightly reconciliation could not run: ', exit: 2, valueFlag: '--day', values: ['2025-01-01', '2025-01-02'] },
  { name: 'audit export', script: 'audit-export/src/main.ts', prefix: 'earnbook audit export: ', exit: 2, valueFlag: '--month', values: ['2025-01', '2025-02'] },
  { name: 'back office', script: 'back-office/src/main.ts', prefix: 'earnbook back office: ', exit: 2, valueFlag: '--port', values: ['0', '0'] },
] as const;

describe('a flag that takes a value, given twice', () => {
  for (const { name, script, prefix, exit, valueFlag, values } of SCRIPTS) {
    it(`the ${name} script refuses ${valueFlag} and --database given twice: invalid_flag, exit ${exit}, one line naming the flag and both values, nothing opened`, async () => {
      const first = join(directory, `${name.replace(' ', '-')}-first.sqlite`);
      const second = join(directory, `${name.replace(' ', '-')}-second.sqlite`);
      const twice = await runScript(script, ['--database', first, valueFlag, values[0], valueFlag, values[1]]);
      expect(errorLine(twice)).toBe(`${prefix}invalid_flag: ${valueFlag} is given twice (${JSON.stringify(values[0])}, then ${JSON.stringify(values[1])}): give it once`);
      expect(twice.code).toBe(exit);
      const databases = await runScript(script, ['--database', first, '--database', second, valueFlag, values[0]]);
      expect(errorLine(databases)).toBe(`${prefix}invalid_flag: --database is given twice (${JSON.stringify(first)}, then ${JSON.stringify(second)}): give it once`);
      expect(databases.code).toBe(exit);
      // The `--flag=value` spelling is the same flag.
      const inline = await runScript(script, ['--database', first, `${valueFlag}=${values[0]}`, valueFlag, values[1]]);
      expect(errorLine(inline)).toMatch(new RegExp(`^${prefix}invalid_flag: ${valueFlag} is given twice`));
      expect(existsSync(first)).toBe(false);
      expect(existsSync(second)).toBe(false);
    });
  }

  it('a PostgreSQL --database given twice is refused without either password', async () => {
    const run = await runScript('nightly-reconciliation/src/main.ts', ['--database', 'postgres://partner:first-secret@127.0.0.1:9/books', '--database', 'postgres://partner:second-secret@127.0.0.1:9/books']);
    const line = errorLine(run);
    expect(line).toMatch(/^ALERT nightly reconciliation could not run: invalid_flag: --database is given twice \("postgres:\/\/partner:\*\*\*@127\.0\.0\.1:9\/books", then /);
    expect(run.stderr).not.toContain('secret');
    expect(run.code).toBe(2);
  });

  it('a boolean flag given twice is still accepted (it says the same thing twice)', async () => {
    const run = await runScript('nightly-reconciliation/src/main.ts', ['--sandbox', '--sandbox', '--day', 'x']);
    expect(errorLine(run)).toMatch(/invalid_flag: --day must be a real YYYY-MM-DD date/);
  });

  it('the demo refuses a flag that takes a value given twice, naming it', () => {
    const refusal = (() => {
      try {
        parseDemoArgs(['--users', '10', '--users', '20']);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(DemoUsageError);
    expect((refusal as DemoUsageError).flag).toBe('users');
    expect((refusal as DemoUsageError).message).toBe('--users is given twice ("10", then "20"): give it once');
  });
});

describe("the audit export's --sandbox", () => {
  it('refuses --database and --zone (it exports the sandbox\'s own books, in memory) instead of ignoring them: invalid_flag, exit 2, nothing opened or written', async () => {
    const database = join(directory, 'audit-sandbox-never-opened.sqlite');
    for (const [flag, value] of [['--database', database], ['--zone', 'Europe/Berlin']] as const) {
      const out = join(directory, `audit-sandbox-out-${flag.slice(2)}`);
      const run = await runScript('audit-export/src/main.ts', ['--sandbox', flag, value, '--out', out]);
      expect(errorLine(run)).toBe(`earnbook audit export: invalid_flag: ${flag} does not apply with --sandbox, which exports the sandbox's own books in memory: give one or the other`);
      expect(run.code).toBe(2);
      expect(existsSync(out)).toBe(false);
    }
    expect(existsSync(database)).toBe(false);
  });
});

/**
 * `--config /dev/stdin` typed at an interactive terminal: the configuration file is opened without
 * blocking (so that a FIFO without a writer cannot hold a thread, see config-fifo-signal.test.ts),
 * and a terminal opened that way answers EAGAIN at once when nothing was typed yet. A terminal is
 * read as a pipe is, through the event loop: the run waits for the input and its end (Ctrl-D),
 * and a SIGTERM or Ctrl-C meanwhile still ends it. The terminal is a pseudo-terminal made by
 * util-linux `script`; without it the tests are skipped.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

const BIN = fileURLToPath(new URL('../bin/earnbook.mjs', import.meta.url));
/** Time for the command to start and reach the configuration file. */
const SETTLE_MS = 2_500;
/** A run still alive this long after its input ended or its signal is hung: it is killed. */
const EXIT_WAIT_MS = 10_000;

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Single-quoted for `sh`. */
function quoted(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

let ws: Workspace;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.remove();
});

interface TerminalRun {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs `earnbook argv` with a pseudo-terminal as its stdin, stdout and stderr; after
 * {@link SETTLE_MS} either types `typed` (then Ctrl-D) or sends `signal` to it.
 */
function onTerminal(argv: readonly string[], then: { typed: string } | { signal: NodeJS.Signals }): Promise<TerminalRun> {
  const pidFile = join(ws.dir, 'earnbook.pid');
  const command = `echo $$ > ${quoted(pidFile)}; exec ${[process.execPath, BIN, ...argv].map(quoted).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `sh -c ${quoted(command)}`, '/dev/null'], { cwd: ws.dir, env: { PATH: process.env['PATH'] ?? '', TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const act = setTimeout(() => {
      if ('typed' in then) child.stdin.write(`${then.typed}\n\u0004`);
      else if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').trim()), then.signal);
    }, SETTLE_MS);
    const hung = setTimeout(() => child.kill('SIGKILL'), SETTLE_MS + EXIT_WAIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(act);
      clearTimeout(hung);
      resolve({ code, output });
    });
  });
}

describe.skipIf(!hasScript())('--config /dev/stdin on an interactive terminal', () => {
  it('waits for what is typed, up to Ctrl-D, and reads it as the configuration', async () => {
    const database = join(ws.dir, 'typed.sqlite');
    const run = await onTerminal(['init', '--config', '/dev/stdin', '--database', database], { typed: JSON.stringify(testConfig()) });
    expect(run.output).not.toContain('EAGAIN');
    expect(run.output).toContain(`created new books at ${database}`);
    expect(run.code, run.output).toBe(0);
  }, SETTLE_MS + EXIT_WAIT_MS + 5_000);

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} while it waits ends the run with exit ${code}, nothing created`, async () => {
      const database = join(ws.dir, `waiting-${signal}.sqlite`);
      const run = await onTerminal(['init', '--config', '/dev/stdin', '--database', database], { signal });
      expect(run.output).toContain(`earnbook: interrupted by ${signal}`);
      expect(run.code, run.output).toBe(code);
      expect(existsSync(database)).toBe(false);
    }, SETTLE_MS + EXIT_WAIT_MS + 5_000);
  }
});

/**
 * A `--config` that is a FIFO nobody writes to yet (`--config <(slow-generator)`, or a named pipe
 * left behind) waits for its writer, as `cat` would; but the wait must not keep a scheduler's
 * SIGTERM or a Ctrl-C from ending the run. The file used to be opened on a worker thread, which
 * blocks in `open()` until a writer appears: the signal printed its `interrupted` line, then the
 * process could not exit (Node waits for its worker threads on exit) and hung until SIGKILL.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

const BIN = fileURLToPath(new URL('../bin/earnbook.mjs', import.meta.url));
/** Time for the command to start and reach the configuration file. */
const SETTLE_MS = 2_500;
/** A run still alive this long after the signal is hung: it is killed and the test fails. */
const EXIT_WAIT_MS = 10_000;

let ws: Workspace;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.remove();
});

/** Starts `earnbook` on `argv`, sends `signal` after {@link SETTLE_MS}, and answers how it ended. */
function interrupt(argv: readonly string[], signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: ws.dir, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const send = setTimeout(() => child.kill(signal), SETTLE_MS);
    const hung = setTimeout(() => child.kill('SIGKILL'), SETTLE_MS + EXIT_WAIT_MS);
    child.on('error', reject);
    child.on('close', (code, ended) => {
      clearTimeout(send);
      clearTimeout(hung);
      resolve({ code, signal: ended, stderr });
    });
  });
}

describe('a --config FIFO without a writer', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`waits for its writer, and ${signal} still ends the run with exit ${code}`, async () => {
      const fifo = join(ws.dir, `no-writer-${signal}.fifo`);
      execFileSync('mkfifo', [fifo]);
      const run = await interrupt(['breaks', 'list', '--entity', 'defi', '--database', ws.database, '--config', fifo], signal);
      expect(run.stderr).toContain(`earnbook: interrupted by ${signal}`);
      expect({ code: run.code, signal: run.signal }).toEqual({ code, signal: null });
    }, SETTLE_MS + EXIT_WAIT_MS + 5_000);
  }

  it('a writer that comes late is read as a file is', async () => {
    const fifo = join(ws.dir, 'late-writer.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [BIN, 'breaks', 'list', '--entity', 'defi', '--database', ws.database, '--config', fifo], { cwd: ws.dir, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const closed = new Promise<number | null>((resolve) => child.on('close', (exit) => resolve(exit)));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const writer = createWriteStream(fifo);
    writer.end(JSON.stringify(testConfig()));
    expect(await closed, stderr).toBe(0);
  }, SETTLE_MS + EXIT_WAIT_MS);
});

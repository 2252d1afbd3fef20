import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_BREAKS, EXIT_ERROR } from '../src/index.js';
import { DAY, testConfig, workspace } from './fixtures.js';
import { FakeEarnServer, json, trickle } from '../../earn-client/test/support/fake-earn-server.js';
import type { Workspace } from './fixtures.js';

const BIN = fileURLToPath(new URL('../bin/earnbook.mjs', import.meta.url));
const MAIN = new URL('../src/main.ts', import.meta.url).href;
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Runs `node <args>` with `stdout` as given and stderr captured. */
function spawnNode(args: readonly string[], options: { cwd: string; stdout: 'ignore' | number }): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { cwd: options.cwd, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', options.stdout, 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Runs the real bin in a child process (not a terminal: no progress bar). */
function spawnBin(argv: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the earnbook bin', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(async () => ws.remove());

  // Each start of the bin costs seconds (tsx, and the ledger's imports), so two runs only:
  // help, exit 1 and every message are tested in-process.
  it('exits 0 on a clean day and writes the page, then 2 on a missing report', async () => {
    const base = ['reconcile', '--entity', 'defi', '--day', DAY, '--database', 'books.sqlite', '--config', 'config.json', '--out', 'out'];
    const clean = await spawnBin([...base, '--report-file', 'report.json'], ws.dir);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^defi 2025-03-18: CLEAN\n/);
    expect(await readFile(join(ws.dir, 'out', 'summary.html'), 'utf8')).toContain('<table id="settlement">');
    const missing = await spawnBin([...base, '--report-file', 'missing.json'], ws.dir);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^error: no report file at .*missing\.json \(code no_report, field --report-file\)\n$/);
  });

  // Exit code 1 means "breaks found": a failure must never end the process with Node's own 1.
  it.skipIf(!existsSync('/dev/full'))('exits 2, not 1, with a line on stderr, when stdout cannot be written (/dev/full)', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const result = await spawnNode([BIN, '--version'], { cwd: ws.dir, stdout: full });
      expect(result.code).not.toBe(EXIT_BREAKS);
      expect(result.code).toBe(EXIT_ERROR);
      expect(result.stderr).toBe(`earnbook: cannot write to stdout (ENOSPC): the output is incomplete; exiting with code ${EXIT_ERROR}\n`);
    } finally {
      closeSync(full);
    }
  });

  it.each([
    ['an unhandled rejection', 'void Promise.reject(new Error("boom-rejected"))', 'unhandled rejection', 'boom-rejected'],
    ['an uncaught exception', 'throw new Error("boom-thrown")', 'uncaught exception', 'boom-thrown'],
    // Its message escaped: a line break or an escape sequence in it prints as \uXXXX.
    ['an uncaught exception with control characters', 'throw new Error("boom-\\nearnbook: CLEAN\\u001b[2J")', 'uncaught exception', 'boom-\\u000aearnbook: CLEAN\\u001b[2J'],
  ])('exits 2, not 1, on %s after the command ran', async (_name, failure, kind, text) => {
    // The entry, loaded through tsx as the bin loads it, then a failure nothing catches.
    const script = join(ws.dir, `crash-${kind.replace(' ', '-')}-${text.length}.mjs`);
    await writeFile(script, `await import(${JSON.stringify(MAIN)});\nsetTimeout(() => { ${failure}; }, 10);\n`);
    const result = await spawnNode(['--import', 'tsx', script, '--version'], { cwd: PACKAGE_DIR, stdout: 'ignore' });
    expect(result.code).toBe(EXIT_ERROR);
    expect(result.stderr).toContain(`earnbook: internal error (${kind}), exiting with code ${EXIT_ERROR}: Error: ${text}\n`);
    expect(result.stderr).not.toMatch(/\u001b|\nearnbook: CLEAN/);
  });

  it('removes the download in progress and exits 130 when interrupted (SIGINT) mid-download', async () => {
    const server = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: 'bin-test-secret-0001' });
    try {
      const report = JSON.parse(await readFile(join(ws.dir, 'report.json'), 'utf8')) as unknown;
      // The body stalls after two of forty pieces: the run is killed while it downloads.
      server.on('GET', '/v1/reports/r-1/download-uri', json(200, { uri: `${server.baseUrl}/downloads/r-1.json` })).on('GET', '/downloads/r-1.json', trickle(report, { chunks: 40, intervalMs: 5, stallAfterChunks: 2 }));
      await ws.writeConfig('fetch-config.json', testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: 'BIN_TEST_SECRET' } } }));
      const out = join(ws.dir, 'interrupted');
      await mkdir(out);
      const child = spawn(process.execPath, [BIN, 'reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--report-id', 'r-1', '--database', 'books.sqlite', '--config', 'fetch-config.json', '--out', out], {
        cwd: ws.dir,
        env: { PATH: process.env['PATH'] ?? '', BIN_TEST_SECRET: 'bin-test-secret-0001' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      // Wait until the body is being written (the client's .partial file beside the hidden name).
      for (let waited = 0; !(await readdir(out)).some((name) => name.endsWith('.partial')); waited += 50) {
        if (waited > 60_000) throw new Error(`no download started: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGINT');
      expect(await closed).toBe(130);
      expect(stderr).toContain('earnbook: interrupted by SIGINT');
      expect(await readdir(out)).toEqual([]);
    } finally {
      await server.close();
    }
  }, 90_000);
});

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

const BIN = fileURLToPath(new URL('../bin/earnbook.mjs', import.meta.url));

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
    expect(missing.stderr).toMatch(/^error: no report file at .*missing\.json \(code no_report, field reportFile\)\n$/);
  });
});

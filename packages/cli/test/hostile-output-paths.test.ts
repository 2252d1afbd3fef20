/**
 * Paths the partner typed (`--database`, `--out`) printed back on the terminal: a control
 * character, a bidirectional override or a zero-width character in them prints as a `\uXXXX`
 * escape, as in the `error:` line and the reconcile summary, so that no path can send an escape
 * sequence, forge a line or hide characters. With `--json` the path stays exact.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

/** ESC (a screen clear), a right-to-left override, a zero-width space, a line feed, DEL. */
const HOSTILE = 'x\u001b[2J\u202eevil\u200b\nearnbook: forged\u007f';
const RAW = /[\u0000-\u001f\u007f-\u009f\u200b\u202e]/;

describe('paths printed back on the terminal', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => {
    await ws.remove();
  });

  it('init prints a hostile --database escaped, one line', async () => {
    const database = join(ws.dir, `${HOSTILE}.sqlite`);
    const result = await runCli(['init', '--config', ws.configFile, '--database', database], { cwd: ws.dir });
    expect(result.code).toBe(0);
    expect(existsSync(database)).toBe(true);
    expect(result.stdout.slice(0, -1)).not.toMatch(RAW);
    expect(result.stdout).toContain('x\\u001b[2J\\u202eevil\\u200b\\u000aearnbook: forged\\u007f.sqlite');
    const json = await runCli(['init', '--config', ws.configFile, '--database', database, '--json'], { cwd: ws.dir });
    expect((JSON.parse(json.stdout) as { database: string }).database).toBe(database);
  });

  it('export prints a hostile --out escaped, each line one line', async () => {
    const result = await runCli(['export', '--database', ws.database, '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', HOSTILE], { cwd: ws.dir });
    expect(result.code).toBe(0);
    for (const line of result.stdout.slice(0, -1).split('\n')) expect(line).not.toMatch(RAW);
    expect(result.stdout).toContain(`manifest: ${join(ws.dir, 'x\\u001b[2J\\u202eevil\\u200b\\u000aearnbook: forged\\u007f', 'manifest.json')}`);
  });
});

/**
 * `earnbook reconcile --out` into a folder that holds symbolic links where the command puts its
 * own short-lived files (the write check, each summary's temporary file, named after the process
 * id): the command never writes through them, so a file they point to out of the folder is left
 * as it was, and `summary.json` / `summary.html` end up as files of the folder.
 */
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

let ws: Workspace;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.remove();
});

describe('earnbook reconcile --out holding links', () => {
  it('never writes through a link named like its temporary files', async () => {
    const out = join(ws.dir, 'out');
    mkdirSync(out);
    const victims: string[] = [];
    for (const name of [`.earnbook-write-check-${process.pid}.tmp`, `summary.json.${process.pid}.tmp`, `summary.html.${process.pid}.tmp`]) {
      const victim = join(ws.dir, `victim-${victims.length}.txt`);
      writeFileSync(victim, 'unrelated');
      symlinkSync(victim, join(out, name));
      victims.push(victim);
    }
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--database', ws.database, '--config', ws.configFile, '--out', out], { cwd: ws.dir });
    expect(result.code, result.stderr).toBe(0);
    for (const victim of victims) expect(readFileSync(victim, 'utf8')).toBe('unrelated');
    for (const name of ['summary.json', 'summary.html']) expect(lstatSync(join(out, name)).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ entity: 'defi', day: DAY });
  });
});

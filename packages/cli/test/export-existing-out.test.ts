/**
 * `earnbook export --out` at a place that already holds something: an earlier export's file, a
 * plain file where the folder is expected, or a symbolic link named like a file of the export
 * pointing elsewhere. Nothing there is overwritten, no link is followed out of the folder, and
 * the refusal is one typed `error:` line, exit 2 (a file in the way or a link: `output_failed`
 * naming `--out`, where it was an `export_failed` quoting EEXIST or ENOTDIR and naming no flag).
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
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

const exportTo = (out: string) => runCli(['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--database', ws.database, '--out', out], { cwd: ws.dir });

describe('earnbook export into an --out that holds something', () => {
  it('a folder holding an earlier journal.csv: refused, the file kept, nothing added', async () => {
    const out = join(ws.dir, 'earlier');
    mkdirSync(out);
    writeFileSync(join(out, 'journal.csv'), 'the earlier export');
    // Opened once first: the seeded books get reconcile's tables on the CLI's first open.
    expect((await runCli(['breaks', 'list', '--entity', 'defi', '--database', ws.database], { cwd: ws.dir })).code).toBe(0);
    const before = await booksSnapshot(ws.database);
    const result = await exportTo(out);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: .*earlier already holds journal\.csv; an audit export never overwrites one \(code invalid_input, field [^)]+\)\n$/);
    expect(readFileSync(join(out, 'journal.csv'), 'utf8')).toBe('the earlier export');
    expect(readdirSync(out)).toEqual(['journal.csv']);
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('a plain file where the folder is expected (or above it): output_failed naming --out, the file kept', async () => {
    const file = join(ws.dir, 'a-file');
    writeFileSync(file, 'not a folder');
    for (const out of [file, join(file, 'below')]) {
      const result = await exportTo(out);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: cannot export into .*a-file.*: .* \(code output_failed, field --out\)\n$/);
      expect(readFileSync(file, 'utf8')).toBe('not a folder');
    }
  });

  it('a link named like a file of the export, pointing out of the folder: not followed, nothing created where it points', async () => {
    const out = join(ws.dir, 'linked');
    mkdirSync(out);
    const elsewhere = join(ws.dir, 'elsewhere.csv');
    symlinkSync(elsewhere, join(out, 'journal.csv'));
    const result = await exportTo(out);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: cannot export into .*linked: it holds journal\.csv as a symbolic link; .* \(code output_failed, field --out\)\n$/);
    expect(existsSync(elsewhere)).toBe(false);
    expect(lstatSync(join(out, 'journal.csv')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'journal.csv'))).toBe(elsewhere);
    expect(readdirSync(out)).toEqual(['journal.csv']);
  });
});

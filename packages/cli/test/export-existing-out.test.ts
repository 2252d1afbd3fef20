/**
 * `earnbook export --out` at a place that already holds something: an earlier export's file, a
 * plain file where the folder is expected, or a symbolic link named like a file of the export
 * pointing elsewhere. Nothing there is overwritten, no link is followed out of the folder, and
 * the refusal is one typed `error:` line, exit 2 (a file in the way or a link: `invalid_input`
 * naming `--out`, where it was an `export_failed` quoting EEXIST or ENOTDIR and naming no flag).
 * The checks are the library's (`exportAudit` refuses `directory`), said of `--out`.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
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

  it('a plain file where the folder is expected (or above it): invalid_input naming --out, the file kept', async () => {
    const file = join(ws.dir, 'a-file');
    writeFileSync(file, 'not a folder');
    for (const out of [file, join(file, 'below')]) {
      const result = await exportTo(out);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: cannot export into .*a-file.*: .* \(code invalid_input, field --out\)\n$/);
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
    expect(result.stderr).toMatch(/^error: cannot export into .*linked: it holds journal\.csv as a symbolic link; .* \(code invalid_input, field --out\)\n$/);
    expect(existsSync(elsewhere)).toBe(false);
    expect(lstatSync(join(out, 'journal.csv')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'journal.csv'))).toBe(elsewhere);
    expect(readdirSync(out)).toEqual(['journal.csv']);
  });

  it('a folder or a dangling link named manifest.json, or a dangling link in the folder\'s place: refused naming --out, nothing written', async () => {
    // Opened once first: the seeded books get reconcile's tables on the CLI's first open.
    expect((await runCli(['breaks', 'list', '--entity', 'defi', '--database', ws.database], { cwd: ws.dir })).code).toBe(0);
    const withFolder = join(ws.dir, 'with-folder');
    mkdirSync(join(withFolder, 'manifest.json'), { recursive: true });
    const withLink = join(ws.dir, 'with-link');
    mkdirSync(withLink);
    symlinkSync(join(ws.dir, 'nowhere.json'), join(withLink, 'manifest.json'));
    const dangling = join(ws.dir, 'dangling-out');
    symlinkSync(join(ws.dir, 'nowhere'), dangling);
    for (const [out, says] of [
      [withFolder, 'it holds manifest.json as a folder'],
      [withLink, 'it holds manifest.json as a symbolic link'],
      [dangling, 'it is a symbolic link to nothing'],
    ] as const) {
      const folderBefore = tree(ws.dir);
      const booksBefore = await booksSnapshot(ws.database);
      const result = await exportTo(out);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: cannot export into [^\n]* \(code invalid_input, field --out\)\n$/);
      expect(result.stderr).toContain(`cannot export into ${out}: ${says}`);
      const json = await runCli(['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--database', ws.database, '--out', out, '--json'], { cwd: ws.dir });
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'invalid_input', field: '--out', value: out } });
      expect(tree(ws.dir)).toEqual(folderBefore);
      expect(await booksSnapshot(ws.database)).toBe(booksBefore);
    }
    expect(existsSync(join(ws.dir, 'nowhere.json'))).toBe(false);
    expect(existsSync(join(ws.dir, 'nowhere'))).toBe(false);
  });
});

describe('earnbook export with a refused --out and books not made yet', () => {
  it('refuses --out before it opens the books: no books are created', async () => {
    const file = join(ws.dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const database = join(ws.dir, 'not-yet.sqlite');
    const result = await runCli(['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--database', database, '--out', file], { cwd: ws.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: cannot export into .*a-file.*: .* \(code invalid_input, field --out\)\n$/);
    expect(readdirSync(ws.dir).filter((name) => name.startsWith('not-yet'))).toEqual([]);
  });
});

/** Every entry under `root` (the books' files aside), links shown with their target, never followed. */
function tree(root: string): string[] {
  const lines: string[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const shown = relative(root, path);
      if (/\.sqlite(-wal|-shm|-journal)?$/.test(name)) continue;
      const entry = lstatSync(path);
      if (entry.isSymbolicLink()) lines.push(`${shown} -> ${readlinkSync(path)}`);
      else if (entry.isDirectory()) {
        lines.push(`${shown}/`);
        walk(path);
      } else lines.push(`${shown} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(root);
  return lines;
}

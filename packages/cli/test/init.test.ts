/**
 * Safe books: a command never creates books by mistake (a mistyped or relative --database, no
 * configuration at all); `earnbook init` and `reconcile --create` do, when asked.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, ENTITIES, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

describe('books that do not exist', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
  });
  afterEach(async () => {
    await ws.remove();
  });

  it('are an error (exit 2, code books_not_found) for every command, and nothing is created', async () => {
    const typo = join(ws.dir, 'sub', 'bokos.sqlite');
    const runs = [
      ['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--config', ws.configFile, '--database', typo],
      ['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--out', 'audit', '--database', typo],
      ['breaks', 'list', '--entity', 'defi', '--database', typo],
      ['settlements', 'list', '--entity', 'defi', '--database', typo],
    ];
    for (const args of runs) {
      const result = await runCli(args, { cwd: ws.dir });
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr, args[0]).toContain('code books_not_found, field --database');
      expect(result.stderr).toContain('earnbook init');
    }
    expect(existsSync(join(ws.dir, 'sub'))).toBe(false);
    expect(existsSync(join(ws.dir, 'audit'))).toBe(false);
  });

  it('with no configuration and no --database leave no empty SQLite file behind', async () => {
    const result = await runCli(['breaks', 'list', '--entity', 'defi'], { cwd: ws.dir, env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('books_not_found');
    expect(existsSync(join(ws.dir, '.earnbook'))).toBe(false);
  });

  it('are made by init (idempotent, zones checked) and by reconcile --create', async () => {
    const made = await runCli(['init', '--database', 'new/books.sqlite', '--config', ws.configFile, '--json'], { cwd: ws.dir });
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toEqual({ status: 'created', database: join(ws.dir, 'new', 'books.sqlite'), entities: ENTITIES });
    const again = await runCli(['init', '--database', 'new/books.sqlite', '--config', ws.configFile], { cwd: ws.dir });
    expect(again).toEqual({ code: 0, stdout: `books exist already at ${join(ws.dir, 'new', 'books.sqlite')}: ${ENTITIES.map((entity) => `${entity.id} (${entity.timeZone})`).join(', ')}\n`, stderr: '' });
    const moved = await ws.writeConfig('moved.json', { entities: ENTITIES.map((entity) => ({ ...entity, timeZone: 'UTC' })) });
    const clash = await runCli(['init', '--database', 'new/books.sqlite', '--config', moved], { cwd: ws.dir });
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('entity_configuration_changed');
    const noEntities = await runCli(['init', '--database', 'other.sqlite'], { cwd: ws.dir });
    expect(noEntities.code).toBe(2);
    expect(noEntities.stderr).toContain('field entities');
    expect(existsSync(join(ws.dir, 'other.sqlite'))).toBe(false);
    // Reconciling into the new books works; --create makes books in one step.
    const created = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', ws.reportFile, '--config', ws.configFile, '--database', 'created.sqlite', '--create', '--quiet'], { cwd: ws.dir });
    expect(created.stderr).toBe('');
    expect(existsSync(join(ws.dir, 'created.sqlite'))).toBe(true);
  });

  it('are not made by reconcile --create (one day or a range) when --out cannot be written', async () => {
    writeFileSync(join(ws.dir, 'a-file'), 'not a folder');
    for (const range of [['--day', DAY, '--report-file', ws.reportFile], ['--from', DAY, '--to', DAY, '--fetch']]) {
      const result = await runCli(['reconcile', '--entity', 'defi', ...range, '--config', ws.configFile, '--database', 'made.sqlite', '--create', '--out', 'a-file/out'], { cwd: ws.dir });
      expect(result.code, range.join(' ')).toBe(2);
      expect(result.stderr).toContain('--out');
      expect(existsSync(join(ws.dir, 'made.sqlite')), range.join(' ')).toBe(false);
    }
  });
});

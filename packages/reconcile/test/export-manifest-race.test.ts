/**
 * An audit export removes only what it created. When another process writes `manifest.json` into
 * the same directory while this export runs (after the check that the directory holds none), the
 * export's exclusive create of its own manifest fails: that other manifest is not this export's
 * to remove, only this export's data files are.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconcileError } from '../src/errors.js';
import { AUDIT_MANIFEST_NAME, exportAudit } from '../src/export/index.js';
import { DIALECTS, openTestBooks, seedBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

describe.each(DIALECTS)('audit export manifest race on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
    directory = await mkdtemp(join(tmpdir(), `earnbook-manifest-race-${dialect}-`));
  });
  afterAll(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('leaves a manifest that another process created meanwhile, and removes its own files', async () => {
    const target = join(directory, 'audit');
    const theirs = '{"kind":"earnbook_audit_export","written_by":"another process"}\n';
    let written = false;
    const failing = exportAudit({
      db: books.db,
      entity: 'defi',
      ...RANGE,
      directory: target,
      formats: ['journal_csv', 'breaks_csv'],
      // Runs after the directory check, while this export writes its files.
      onProgress: () => {
        if (written) return;
        written = true;
        // Synchronous on purpose: the manifest exists before the export goes on.
        writeFileSync(join(target, AUDIT_MANIFEST_NAME), theirs, { flag: 'wx' });
      },
    });
    const error = await failing.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    // As a data file made meanwhile by another process: invalid_input naming directory, saying which name appeared.
    expect(error).toMatchObject({ code: 'invalid_input', field: 'directory', value: target });
    expect((error as ReconcileError).message).toContain(`${AUDIT_MANIFEST_NAME} appeared in it while the export ran`);
    expect(written).toBe(true);
    expect(await readdir(target)).toEqual([AUDIT_MANIFEST_NAME]);
    expect(await readFile(join(target, AUDIT_MANIFEST_NAME), 'utf8')).toBe(theirs);
  });
});

/**
 * The audit export is durable before it says it is complete: every file's bytes are flushed to
 * disk (fsync) before `manifest.json` appears, and the manifest and the directory entry are
 * flushed before `exportAudit` answers, so a power loss cannot leave a manifest naming files whose
 * bytes were still in the page cache.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUDIT_FILE_FORMATS, exportAudit } from '../src/export/index.js';
import { DIALECTS, openTestBooks, seedBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

describe.each(DIALECTS)('audit export durability on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
    directory = await mkdtemp(join(tmpdir(), `earnbook-durable-${dialect}-`));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('flushes every file to disk before the manifest appears, then the manifest and the directory', async () => {
    const target = join(directory, 'audit');
    const manifestPath = join(target, 'manifest.json');
    // FileHandle is not exported by name: its prototype is that of any open handle.
    const probe = await open(join(directory, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const synced: boolean[] = [];
    const original = prototype.sync;
    const spy = vi.spyOn(prototype, 'sync').mockImplementation(function (this: FileHandle) {
      synced.push(existsSync(manifestPath));
      return original.call(this);
    });
    try {
      const { manifest } = await exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: target });
      expect(manifest.files).toHaveLength(AUDIT_FILE_FORMATS.length);
      // One flush per file while no manifest exists yet, then the manifest's and the directory's.
      expect(synced.slice(0, AUDIT_FILE_FORMATS.length)).toEqual(AUDIT_FILE_FORMATS.map(() => false));
      expect(synced.slice(AUDIT_FILE_FORMATS.length)).toEqual([true, true]);
      expect(JSON.parse(await readFile(manifestPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(manifest)));
    } finally {
      spy.mockRestore();
    }
  });
});

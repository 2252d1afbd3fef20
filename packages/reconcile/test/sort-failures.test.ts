/**
 * The external sort's file operations failing (a sort folder that does not exist or went away
 * mid-run, a full disk): a typed `sort_failed` naming `sortDirectory` and the folder, the errno
 * code in its message and the file system's error as `cause`, never a raw Node error. A
 * `sortDirectory` missing already is refused by `Reconciler.open` (`invalid_input`), before
 * anything is read or written.
 *
 * ENOSPC is not tested: a full disk needs a small file system mounted for the test (root only);
 * its errno takes the same path as ENOENT's here.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import { ReconcileError, Reconciler } from '../src/index.js';
import { ExternalSorter } from '../src/external-sort.js';
import { seedOneAccount } from './one-account-day.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'earnbook-sort-failures-'));
});
afterEach(() => {
  // Some tests remove the folder themselves.
  if (existsSync(directory)) chmodSync(directory, 0o700);
  rmSync(directory, { recursive: true, force: true });
});

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the external sort’s file operations failing', () => {
  it('a sort folder that does not exist, at the first spill: sort_failed naming sortDirectory, ENOENT', async () => {
    const missing = join(directory, 'missing');
    const sorter = new ExternalSorter<string>({ key: (item) => item, runSize: 2, directory: missing });
    const failure = await failureOf(() => sorter.addAll(['c', 'b', 'a']));
    expect(failure).toBeInstanceOf(ReconcileError);
    expect(failure).toMatchObject({ code: 'sort_failed', field: 'sortDirectory', value: missing });
    expect(String(failure)).toContain('ENOENT');
    expect((failure as Error).cause).toMatchObject({ code: 'ENOENT' });
    await sorter.close();
  });

  it('the sort folder removed between two spills: sort_failed, ENOENT', async () => {
    const sorter = new ExternalSorter<string>({ key: (item) => item, runSize: 2, directory });
    await sorter.addAll(['d', 'c']);
    rmSync(directory, { recursive: true, force: true });
    const failure = await failureOf(() => sorter.addAll(['b', 'a']));
    expect(failure).toMatchObject({ code: 'sort_failed', field: 'sortDirectory', value: directory });
    expect(String(failure)).toContain('ENOENT');
    await sorter.close();
  });

  it('the run files removed before the merge reads them: sort_failed, ENOENT', async () => {
    const sorter = new ExternalSorter<string>({ key: (item) => item, runSize: 2, directory });
    await sorter.addAll(['d', 'c', 'b', 'a']);
    for (const name of readdirSync(directory)) rmSync(join(directory, name), { recursive: true, force: true });
    const failure = await failureOf(async () => {
      for await (const batch of sorter.sortedBatches()) void batch;
    });
    expect(failure).toMatchObject({ code: 'sort_failed', field: 'sortDirectory', value: directory });
    expect(String(failure)).toContain('ENOENT');
    await sorter.close();
  });

  it.runIf(process.getuid?.() !== 0)('a sort folder the process may not write in: sort_failed, EACCES', async () => {
    chmodSync(directory, 0o500);
    const sorter = new ExternalSorter<string>({ key: (item) => item, runSize: 1, directory });
    const failure = await failureOf(() => sorter.addAll(['b', 'a']));
    expect(failure).toMatchObject({ code: 'sort_failed', field: 'sortDirectory', value: directory });
    expect(String(failure)).toContain('EACCES');
    await sorter.close();
  });
});

describe.each(DIALECTS)('Reconciler.open with a sortDirectory that cannot hold the sort, on %s', (dialect) => {
  it.each([
    ['a folder that does not exist', () => join(directory, 'missing'), /ENOENT/],
    ['a file', () => {
      writeFileSync(join(directory, 'file'), '');
      return join(directory, 'file');
    }, /must be a folder/],
  ] as const)('%s: invalid_input naming sortDirectory, nothing written', async (_name, sortDirectory, message) => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(opened.ledger);
      await seedOneAccount(books);
      const before = await snapshotDatabase(opened.ledger.db as never);
      const path = sortDirectory();
      const failure = await failureOf(() => Reconciler.open({ books, sortDirectory: path }));
      expect(failure).toBeInstanceOf(ReconcileError);
      expect(failure).toMatchObject({ code: 'invalid_input', field: 'sortDirectory', value: path });
      expect(String(failure)).toMatch(message);
      expect(await snapshotDatabase(opened.ledger.db as never)).toBe(before);
    } finally {
      await opened.close();
    }
  });
});

/**
 * `exportAudit`'s own checks of the folder it writes into, so that a partner calling the library
 * gets what the CLI used to check alone: a `directory` that exists but is not a folder (or lies
 * below a file, or is a dangling link), and any file name of the export already present in it as
 * anything at all (a file, a folder, a symbolic link, dangling or not: looked at without following
 * it), are refused `invalid_input` naming `directory`, before anything is written. A name that
 * appears after the check (another process) makes the exclusive create fail: the same refusal, not
 * a fieldless `export_failed` quoting EEXIST or ENOTDIR. Every refusal leaves the folder tree and
 * the books exactly as they were.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Kysely, KyselyPlugin } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { ReconcileError } from '../src/errors.js';
import { AUDIT_FILE_FORMATS, AUDIT_FILE_NAMES, AUDIT_MANIFEST_NAME, auditFileNames, checkAuditExportDirectory, exportAudit } from '../src/export/index.js';
import type { AuditFileFormat } from '../src/export/index.js';
import type { ReconcileDatabase } from '../src/db/schema.js';
import { DIALECTS, openTestBooks, seedBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

/**
 * Every entry under `root`, recursively, with what it is: a file with the SHA-256 of its bytes, a
 * folder, or a link with where it points (never followed).
 */
function tree(root: string): string[] {
  const lines: string[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const entry = lstatSync(path);
      const shown = relative(root, path);
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

async function refusal(promise: Promise<unknown>): Promise<ReconcileError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReconcileError);
  return error as ReconcileError;
}

/** A handle on the books that runs `onQuery` after each query's result arrives (to act between two steps of an export). */
function withQueryHook(db: Kysely<ReconcileDatabase>, onQuery: () => void): Kysely<ReconcileDatabase> {
  const plugin: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      onQuery();
      return args.result;
    },
  };
  return db.withPlugin(plugin);
}

describe('the file names of an audit export', () => {
  it('are each asked format’s file, in the order they are written, then the manifest', () => {
    expect(auditFileNames()).toEqual(['journal.csv', 'balances.csv', 'breaks.csv', 'settlements.csv', 'journal.hledger', 'manifest.json']);
    expect(auditFileNames(['hledger_journal', 'breaks_csv'])).toEqual(['breaks.csv', 'journal.hledger', AUDIT_MANIFEST_NAME]);
    expect(() => auditFileNames([] as never)).toThrow(ReconcileError);
  });
});

describe('checkAuditExportDirectory’s own input', () => {
  class HostileGetterError extends Error {}
  const revoked = (): never => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy as never;
  };

  it('refuses an input it cannot read, or a directory that is not a path, as invalid_input naming the field (it threw raw errors, or export_failed)', async () => {
    const hostileDirectory = Object.defineProperty({}, 'directory', {
      enumerable: true,
      get: () => {
        throw new HostileGetterError('hostile getter directory');
      },
    });
    const cases: readonly { input: unknown; field: string }[] = [
      { input: revoked(), field: 'input' },
      { input: hostileDirectory, field: 'directory' },
      { input: { directory: 42 }, field: 'directory' },
      { input: { directory: '' }, field: 'directory' },
      { input: { directory: join(tmpdir(), 'a\0b') }, field: 'directory' },
      { input: { directory: join(tmpdir(), 'never-made'), formats: revoked() }, field: 'formats' },
    ];
    for (const { input, field } of cases) {
      const error = await refusal(checkAuditExportDirectory(input as never));
      expect({ code: error.code, field: error.field }, error.message).toEqual({ code: 'invalid_input', field });
    }
    const error = await refusal(checkAuditExportDirectory(hostileDirectory as never));
    expect(error.cause).toBeInstanceOf(HostileGetterError);
  });
});

describe.each(DIALECTS)('audit export folder checks on %s', (dialect) => {
  let books: TestBooks;
  let root: string;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
  });
  afterAll(async () => books.close());
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `earnbook-folder-checks-${dialect}-`));
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  /** Runs a refused export and checks that neither the folder tree nor the books changed. */
  async function expectRefused(options: { directory: string; formats?: readonly AuditFileFormat[]; db?: Kysely<ReconcileDatabase>; value?: string }): Promise<ReconcileError> {
    const folderBefore = tree(root);
    const booksBefore = await snapshotDatabase(books.db as never);
    const error = await refusal(exportAudit({ db: options.db ?? books.db, entity: 'defi', ...RANGE, directory: options.directory, ...(options.formats === undefined ? {} : { formats: options.formats }) }));
    expect(error.code, error.message).toBe('invalid_input');
    expect(error.field).toBe('directory');
    expect(error.value).toBe(options.value ?? options.directory);
    expect(tree(root)).toEqual(folderBefore);
    expect(await snapshotDatabase(books.db as never)).toBe(booksBefore);
    return error;
  }

  it('refuses a directory that is a file, lies below a file, or is a dangling link', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a folder');
    expect((await expectRefused({ directory: file })).message).toBe(`cannot export into ${file}: it is a file, not a folder`);
    const below = join(file, 'below', 'deeper');
    expect((await expectRefused({ directory: below })).message).toBe(`cannot export into ${below}: ${file} is a file, not a folder`);
    const dangling = join(root, 'dangling');
    symlinkSync(join(root, 'nowhere'), dangling);
    expect((await expectRefused({ directory: dangling })).message).toBe(`cannot export into ${dangling}: it is a symbolic link to nothing`);
    expect((await expectRefused({ directory: join(dangling, 'below') })).message).toBe(`cannot export into ${join(dangling, 'below')}: ${dangling} is a symbolic link to nothing`);
    const linkToFile = join(root, 'link-to-file');
    symlinkSync(file, linkToFile);
    expect((await expectRefused({ directory: linkToFile })).message).toBe(`cannot export into ${linkToFile}: it is a file, not a folder`);
  });

  it('refuses a directory given with a trailing separator as without one: a file, a link to a file, a dangling link (the check passed them)', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a folder');
    const linkToFile = join(root, 'link-to-file');
    symlinkSync(file, linkToFile);
    const dangling = join(root, 'dangling');
    symlinkSync(join(root, 'nowhere'), dangling);
    const cases = [
      { directory: `${file}/`, says: 'it is a file, not a folder' },
      { directory: `${file}//`, says: 'it is a file, not a folder' },
      { directory: `${linkToFile}/`, says: 'it is a file, not a folder' },
      { directory: `${dangling}/`, says: 'it is a symbolic link to nothing' },
    ];
    for (const { directory, says } of cases) {
      // Refused by the check itself, before the books are read (the CLI's early check included).
      const early = await refusal(checkAuditExportDirectory({ directory }));
      expect({ code: early.code, field: early.field, value: early.value, message: early.message }).toEqual({ code: 'invalid_input', field: 'directory', value: directory, message: `cannot export into ${directory}: ${says}` });
      expect((await expectRefused({ directory })).message).toBe(`cannot export into ${directory}: ${says}`);
    }
    // A folder given with one still takes the export.
    const folder = join(root, 'folder');
    mkdirSync(folder);
    const { manifest } = await exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: `${folder}/`, formats: ['breaks_csv'] });
    expect(manifest.files.map((item) => item.name)).toEqual(['breaks.csv']);
    expect(readdirSync(folder).sort()).toEqual(['breaks.csv', 'manifest.json']);
  });

  it('refuses a directory that is not a path (not a string, empty, holding a NUL), naming directory, before anything is written', async () => {
    for (const directory of ['', 'out\0put', join(root, 'a\0b')]) {
      const error = await expectRefused({ directory, value: JSON.stringify(directory) });
      expect(error.message).toBe(`directory must be a path, got ${JSON.stringify(directory)}`);
    }
  });

  it('refuses every file name of the export present as a file, a folder or a link (dangling or not), never following it', async () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'target.csv'), 'someone else’s file');
    const kinds: readonly { kind: string; make: (path: string) => void; says: string }[] = [
      { kind: 'file', make: (path) => writeFileSync(path, 'an earlier export'), says: 'already holds' },
      { kind: 'folder', make: (path) => mkdirSync(path), says: 'as a folder' },
      { kind: 'link to a file', make: (path) => symlinkSync(join(elsewhere, 'target.csv'), path), says: 'as a symbolic link' },
      { kind: 'dangling link', make: (path) => symlinkSync(join(elsewhere, 'not-there.csv'), path), says: 'as a symbolic link' },
      { kind: 'link to a folder', make: (path) => symlinkSync(elsewhere, path), says: 'as a symbolic link' },
    ];
    for (const format of AUDIT_FILE_FORMATS) {
      for (const name of [AUDIT_FILE_NAMES[format], AUDIT_MANIFEST_NAME]) {
        for (const { kind, make, says } of kinds) {
          const directory = join(root, `${format}-${name}-${kind.replaceAll(' ', '-')}`);
          mkdirSync(directory);
          make(join(directory, name));
          const error = await expectRefused({ directory, formats: [format] });
          expect(error.message, `${name} as a ${kind}`).toContain(name);
          expect(error.message, `${name} as a ${kind}`).toContain(says);
        }
      }
    }
    // The existing message for an earlier export's file is kept word for word (the CLI prints it).
    const earlier = join(root, 'earlier');
    mkdirSync(earlier);
    writeFileSync(join(earlier, 'journal.csv'), 'the earlier export');
    expect((await expectRefused({ directory: earlier })).message).toBe(`directory ${earlier} already holds journal.csv; an audit export never overwrites one`);
    const linked = join(root, 'linked');
    mkdirSync(linked);
    symlinkSync(join(elsewhere, 'not-there.csv'), join(linked, 'journal.csv'));
    expect((await expectRefused({ directory: linked })).message).toBe(
      `cannot export into ${linked}: it holds journal.csv as a symbolic link; an audit export never writes through one nor overwrites a file`,
    );
  });

  it('writes beside a file of a format it was not asked for, which the manifest does not name', async () => {
    const directory = join(root, 'beside');
    mkdirSync(directory);
    writeFileSync(join(directory, 'journal.hledger'), 'not part of this export');
    const { manifest } = await exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory, formats: ['journal_csv'] });
    expect(manifest.files.map((file) => file.name)).toEqual(['journal.csv']);
    expect(readdirSync(directory).sort()).toEqual(['journal.csv', 'journal.hledger', 'manifest.json']);
    expect(readFileSync(join(directory, 'journal.hledger'), 'utf8')).toBe('not part of this export');
  });

  it('refuses, naming directory, a data file that another process created after the check (the first one, or a later one), removing only its own files', async () => {
    for (const name of ['journal.csv', 'breaks.csv']) {
      const directory = join(root, `race-${name}`);
      mkdirSync(directory);
      const theirs = join(directory, name);
      let raced = false;
      const race = () => {
        if (raced) return;
        raced = true;
        // Synchronous: the file exists before the export goes on.
        writeFileSync(theirs, 'another process', { flag: 'wx' });
      };
      // journal.csv: while the export reads the books, before it creates its first file;
      // breaks.csv: once journal.csv is written.
      const db = name === 'journal.csv' ? withQueryHook(books.db, race) : books.db;
      const error = await refusal(
        exportAudit({ db, entity: 'defi', ...RANGE, directory, formats: ['journal_csv', 'breaks_csv'], ...(name === 'breaks.csv' ? { onProgress: race } : {}) }),
      );
      expect(raced).toBe(true);
      expect({ code: error.code, field: error.field, value: error.value }).toEqual({ code: 'invalid_input', field: 'directory', value: directory });
      expect(error.message).toBe(`cannot export into ${directory}: ${name} appeared in it while the export ran (EEXIST); an audit export never overwrites a file`);
      expect(readdirSync(directory)).toEqual([name]);
      expect(readFileSync(theirs, 'utf8')).toBe('another process');
    }
  });

  it('refuses, naming directory, a file put in the folder’s place (or above it) after the check', async () => {
    const booksBefore = await snapshotDatabase(books.db as never);
    const cases = [
      { directory: join(root, 'taken'), blocker: join(root, 'taken'), errno: 'EEXIST' },
      { directory: join(root, 'parent', 'child'), blocker: join(root, 'parent'), errno: 'ENOTDIR' },
    ];
    for (const { directory, blocker, errno } of cases) {
      let raced = false;
      const db = withQueryHook(books.db, () => {
        if (raced) return;
        raced = true;
        writeFileSync(blocker, 'another process', { flag: 'wx' });
      });
      const error = await refusal(exportAudit({ db, entity: 'defi', ...RANGE, directory }));
      expect(raced).toBe(true);
      expect({ code: error.code, field: error.field, value: error.value }).toEqual({ code: 'invalid_input', field: 'directory', value: directory });
      expect(error.message).toBe(`cannot export into ${directory}: it, or a folder above it, became something else than a folder while the export ran (${errno})`);
      expect(readFileSync(blocker, 'utf8')).toBe('another process');
    }
    expect(tree(root)).toEqual(cases.map(({ blocker }) => `${relative(root, blocker)} ${createHash('sha256').update('another process').digest('hex')}`).sort());
    expect(await snapshotDatabase(books.db as never)).toBe(booksBefore);
  });
});

/**
 * The folders of an audit export: the one it writes into and the one its external sort spills to,
 * checked before anything is written. The export creates each file exclusively, so it never
 * overwrites a file nor writes through a symbolic link whatever these checks say; they make the
 * refusal a typed `invalid_input` naming the option (a plain file in the folder's place, or a
 * name of the export already taken, would otherwise fail at the exclusive create as an
 * `export_failed` quoting EEXIST or ENOTDIR, with no field). Names are looked at with `lstat`,
 * never followed: a dangling link named like an export file would read as missing.
 */
import type { Stats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { describeValue } from '@earnbook/ledger';
import { ReconcileError } from '../errors.js';
import { isFolderPath } from '../folder-path.js';

/** The errno code of a failed file operation (`ENOENT`, `EEXIST`, …), if it has one. */
function errnoOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Failures of looking at a path that say the path given is unusable (too long, a loop of links,
 * no permission): the caller's to change, so `invalid_input`. Others (EIO) are `export_failed`.
 */
const PATH_ERRNOS: ReadonlySet<string> = new Set(['ENAMETOOLONG', 'ELOOP', 'EACCES', 'EPERM', 'EINVAL']);

function refused(directory: string, message: string, cause?: unknown): ReconcileError {
  return new ReconcileError('invalid_input', message, { field: 'directory', value: directory, ...(cause === undefined ? {} : { cause }) });
}

function inspectFailure(directory: string, path: string, error: unknown): ReconcileError {
  const errno = errnoOf(error);
  const message = `cannot export into ${directory}: ${path === directory ? 'it' : path} cannot be looked at (${(error as Error).message})`;
  if (errno !== undefined && PATH_ERRNOS.has(errno)) return refused(directory, message, error);
  return new ReconcileError('export_failed', message, { field: 'directory', value: directory, cause: error });
}

/** What is at `path`, the link itself at its end (never followed); undefined when nothing is. */
async function entryAt(directory: string, path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw inspectFailure(directory, path, error);
  }
}

function kindOf(entry: Stats): string {
  if (entry.isSymbolicLink()) return 'a symbolic link';
  if (entry.isDirectory()) return 'a folder';
  if (entry.isFile()) return 'a file';
  return 'a special file';
}

/**
 * Checks an export's `directory` option: a non-empty path without a NUL character (the file
 * system refuses one as an argument error, which is the caller's input, not a failed export).
 */
export function checkDirectoryPath(value: unknown): string {
  if (!isFolderPath(value)) {
    throw new ReconcileError('invalid_input', `directory must be a path, got ${describeValue(value)}`, { field: 'directory', value: describeValue(value) });
  }
  return value;
}

/**
 * `directory` without its trailing separators (`out/` is `out`; the root stays), so that the walk
 * up starts at its own last component: the parent of `file/` is the folder holding `file`, so
 * `file` itself (a file, a link to one, a dangling link) was never looked at. Nothing else is
 * normalized: `link/..` is where the file system takes it, not where the text suggests.
 */
function withoutTrailingSeparators(directory: string): string {
  const windows = sep === '\\';
  const trimmed = directory.replace(windows ? /[\\/]+$/ : /\/+$/, '');
  // The root (`/`, or a drive's `C:\`) keeps its separator: without it, it names another folder.
  return trimmed === '' || (windows && /^[A-Za-z]:$/.test(trimmed)) ? directory : trimmed;
}

/**
 * Whether `directory` is a folder now (true) or can be made (false: missing, below an existing
 * folder); otherwise refused. It, or the nearest part of its path that exists, is looked at
 * through links (a link to a folder is a folder): a file or a dangling link there would make the
 * export's `mkdir` fail.
 */
async function folderExists(directory: string): Promise<boolean> {
  const start = withoutTrailingSeparators(directory);
  for (let path = start; ; ) {
    let found: Stats;
    try {
      found = await stat(path);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw inspectFailure(directory, path, error);
      // ENOENT: missing, or a link to nothing; ENOTDIR: a part further up is not a folder.
      if (errno === 'ENOENT' && (await entryAt(directory, path))?.isSymbolicLink() === true) {
        throw refused(directory, `cannot export into ${directory}: ${path === start ? 'it' : path} is a symbolic link to nothing`);
      }
      const parent = dirname(path);
      if (parent === path) return false;
      path = parent;
      continue;
    }
    if (found.isDirectory()) return path === start;
    throw refused(directory, `cannot export into ${directory}: ${path === start ? 'it' : path} is ${kindOf(found)}, not a folder`);
  }
}

/**
 * Refuses (`invalid_input`, field `directory`, the path as the value) a `directory` that exists
 * but is not a folder, lies below a file or a dangling link, or holds one of `names` as anything
 * at all: a file, a folder, a symbolic link (dangling or not), a special file.
 */
export async function checkExportDirectory(input: { readonly directory: string; readonly names: readonly string[] }): Promise<void> {
  const { directory } = input;
  if (!(await folderExists(directory))) return;
  for (const name of input.names) {
    const entry = await entryAt(directory, join(directory, name));
    if (entry === undefined) continue;
    if (entry.isFile()) throw refused(directory, `directory ${directory} already holds ${name}; an audit export never overwrites one`);
    if (entry.isSymbolicLink()) {
      throw refused(directory, `cannot export into ${directory}: it holds ${name} as a symbolic link; an audit export never writes through one nor overwrites a file`);
    }
    throw refused(directory, `cannot export into ${directory}: it holds ${name} as ${kindOf(entry)}; an audit export never overwrites one`);
  }
}

/**
 * The error of a create in `directory` that failed: EEXIST or ENOTDIR mean another process put
 * something in the way after {@link checkExportDirectory} (the creates are exclusive), refused as
 * that check refuses. `name` is the file being created; none for the folder itself.
 */
export function createFailure(input: { readonly directory: string; readonly name?: string; readonly error: unknown }): unknown {
  const { directory, name, error } = input;
  const errno = errnoOf(error);
  if (errno !== 'EEXIST' && errno !== 'ENOTDIR') return error;
  if (name === undefined || errno === 'ENOTDIR') {
    return refused(directory, `cannot export into ${directory}: it, or a folder above it, became something else than a folder while the export ran (${errno})`, error);
  }
  return refused(directory, `cannot export into ${directory}: ${name} appeared in it while the export ran (${errno}); an audit export never overwrites a file`, error);
}

/**
 * Checks the optional folder an export's external sort spills to: an existing folder (a link to
 * one too), or `invalid_input` naming `temporaryDirectory`. Undefined stays undefined (the sort
 * then uses the system's temporary folder).
 */
export async function checkTemporaryDirectory(value: unknown): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const invalid = (reason: string, cause?: unknown): never => {
    throw new ReconcileError('invalid_input', `temporaryDirectory must be an existing folder${reason}, got ${describeValue(value)}`, {
      field: 'temporaryDirectory',
      value: typeof value === 'string' ? value : describeValue(value),
      ...(cause === undefined ? {} : { cause }),
    });
  };
  if (typeof value !== 'string' || value.length === 0) return invalid('');
  let found: Stats;
  try {
    found = await stat(value);
  } catch (error) {
    return invalid(` (${errnoOf(error) ?? (error as Error).message})`, error);
  }
  if (!found.isDirectory()) return invalid(`, not ${kindOf(found)}`);
  return value;
}

/**
 * Checks of the text the CLI turns into file paths (`--out`, `--report-file`, `--config`,
 * `--database`, `--entity` in the default output folder, and the same from the environment or the
 * configuration), and the output folder of a command that writes the books before its files.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeValue, textDefect } from '@earnbook/ledger';
import { CliError } from './cli-error.js';

/** Characters of a path at most (Linux's PATH_MAX). */
export const PATH_LENGTH_MAX = 4096;

/**
 * Returns `value` when it can name a file: well-formed text of at most {@link PATH_LENGTH_MAX}
 * characters. A lone surrogate would silently name another file (Node writes it as U+FFFD) and
 * NUL fails deep inside the file system, so both are refused here as `invalid_flag` naming
 * `field`. The error shows `shown` (default `value`): a connection URL passes its redacted form.
 */
export function checkPath(value: string, field: string, shown: string = value): string {
  // An empty path resolves to the working folder: `--out ''` wrote an export there, and
  // `--config ''` ran with no configuration at all (a review, session 44).
  if (value === '') throw new CliError('invalid_flag', `${field} must name a path, got an empty text`, { field, value: describeValue(shown) });
  const defect = textDefect(value);
  if (defect !== undefined) throw new CliError('invalid_flag', `${field} must be a well-formed path, not hold ${defect}`, { field, value: describeValue(shown) });
  if (value.length > PATH_LENGTH_MAX) throw new CliError('invalid_flag', `${field} has ${value.length} characters, more than ${PATH_LENGTH_MAX}`, { field, value: describeValue(shown) });
  return value;
}

/**
 * An entity id as the CLI knows entities (the configuration's `entities[].id` and the keys of its
 * per-entity tables): lower-case letters, digits, `_` and `-`, at most 64 characters. Such an id
 * is also safe as one component of a path: no separator, no `.` or `..`.
 */
export const ENTITY_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Returns `value` when it is an entity id ({@link ENTITY_ID_PATTERN}); otherwise throws
 * `invalid_flag` naming `field`, the value shown escaped. Checked before the id is used for
 * anything, in particular before it becomes part of the default output folder: a NUL or a
 * separator in it would otherwise be blamed on `--out`, or name a folder elsewhere.
 */
export function checkEntityFlag(value: string, field: string): string {
  const defect = textDefect(value);
  if (defect !== undefined) throw new CliError('invalid_flag', `${field} must be well-formed text, not hold ${defect}, got ${describeValue(value)}`, { field, value: describeValue(value) });
  if (!ENTITY_ID_PATTERN.test(value)) {
    throw new CliError('invalid_flag', `${field} must be an entity id (lower-case letters, digits, "_" or "-", at most 64 characters), got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  return value;
}

/** An output folder made ready; `discard()` removes what {@link prepareOutputFolder} created. */
export interface OutputFolder {
  discard(): Promise<void>;
}

/**
 * Makes the output folder and proves it writable before a command writes the books, so that an
 * unusable `--out` (a file, a read-only place, a name too long) fails with nothing written. A run
 * that fails later calls `discard()`: the folders this call created are removed again.
 */
export async function prepareOutputFolder(path: string, field: string): Promise<OutputFolder> {
  let created: string | undefined;
  try {
    created = await mkdir(path, { recursive: true });
    const probe = join(path, `.earnbook-write-check-${process.pid}.tmp`);
    // Created anew, never opened through what holds the name: a symbolic link there (the name
    // is predictable) would have the check truncate a file out of the folder.
    await rm(probe, { force: true });
    await writeFile(probe, '', { flag: 'wx' });
    await rm(probe, { force: true });
  } catch (cause) {
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw new CliError('output_failed', `cannot write into the output folder ${path}: ${(cause as Error).message}`, { field, value: path, cause });
  }
  return {
    async discard() {
      if (created !== undefined) await rm(created, { recursive: true, force: true });
    },
  };
}

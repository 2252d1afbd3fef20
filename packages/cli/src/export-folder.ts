/**
 * The checks of `earnbook export --out` before the books are opened: the export writes only into
 * a folder (made if missing) and never over anything already there. The library refuses a file it
 * would overwrite (`invalid_input`) and creates each file exclusively, so nothing is ever
 * overwritten or written through a link; but a plain file in the folder's place, or a symbolic
 * link named like a file of the export (which the library's check follows, and finds missing when
 * it dangles), would reach the exclusive create and fail as `export_failed` with `EEXIST` or
 * `ENOTDIR` and no field. Both are refused here, naming `--out`.
 */
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from './cli-error.js';

/** Whether `path` is a symbolic link (never followed). */
async function isLink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError('output_failed', `cannot export into ${path}: ${(error as Error).message}`, { field: '--out', value: path, cause: error });
  }
}

/**
 * Refuses `directory` (the resolved `--out`) when it is not a folder nor a path to make one, or
 * when one of `names` in it is a symbolic link: `output_failed` naming `--out`.
 */
export async function checkExportFolder(directory: string, names: readonly string[]): Promise<void> {
  try {
    if (!(await stat(directory)).isDirectory()) throw new Error('not a folder');
  } catch (error) {
    // Missing: the export makes it. A file in its place or above it is refused now.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CliError('output_failed', `cannot export into ${directory}: ${(error as Error).message}`, { field: '--out', value: directory, cause: error });
  }
  for (const name of names) {
    if (await isLink(join(directory, name))) {
      throw new CliError('output_failed', `cannot export into ${directory}: it holds ${name} as a symbolic link; an audit export never writes through one nor overwrites a file: give a new --out`, { field: '--out', value: directory });
    }
  }
}

/**
 * Loads an optional native database driver (a peer dependency the partner installs for the
 * storage it uses), turning "not installed" into a typed error that says what to install.
 */
import { LedgerError } from '../errors.js';

/** The drivers the storage subpaths load, with the version range the ledger is tested with. */
export const DRIVER_VERSION_RANGES = Object.freeze({ 'better-sqlite3': '^12.6.2', pg: '^8.23.1' });

/** A driver package name. */
export type DriverName = keyof typeof DRIVER_VERSION_RANGES;

function isMissingPackage(error: unknown, name: DriverName): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  // Node says ERR_MODULE_NOT_FOUND for the package itself; a missing module *inside* an
  // installed driver is a broken install, not a missing driver, and is rethrown as it is.
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`);
}

/**
 * Runs `load` (a dynamic `import()` of the driver) and returns the module, or throws
 * `LedgerError('driver_missing')` naming the package to install when it is not installed.
 */
export async function loadDriver<T>(name: DriverName, subpath: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissingPackage(error, name)) throw error;
    throw new LedgerError(
      'driver_missing',
      `${subpath} needs the database driver ${name}, which is not installed: run \`npm install ${name}@"${DRIVER_VERSION_RANGES[name]}"\` (or pnpm/yarn add) in your project`,
      { field: 'driver', value: name, cause: error },
    );
  }
}

/**
 * A PostgreSQL install need not have `better-sqlite3` (an optional peer of the ledger): the
 * reconciler must import without it. A child process whose module resolution refuses that one
 * package imports the reconciler's entry point; only books in a SQLite file need the driver
 * (its worker threads open it when they start).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const PACKAGE_DIRECTORY = fileURLToPath(new URL('..', import.meta.url));

/** Registers a resolve hook that answers `better-sqlite3` as a missing package, as npm leaves it. */
const HOOK = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(specifier, context, next) {
  if (specifier === 'better-sqlite3') { const error = new Error("Cannot find package 'better-sqlite3'"); error.code = 'ERR_MODULE_NOT_FOUND'; throw error; }
  return next(specifier, context);
}\`));
`;

describe('the reconciler without the SQLite driver', () => {
  let directory: string;
  let hook: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-no-sqlite-'));
    hook = join(directory, 'no-sqlite.mjs');
    writeFileSync(hook, HOOK);
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const run = (code: string) => execFileSync(process.execPath, ['--import', 'tsx', '--import', hook, '--input-type=module', '-e', code], { cwd: PACKAGE_DIRECTORY, encoding: 'utf8' });

  it('imports, while the SQLite subpath itself answers a typed driver_missing', () => {
    const out = run(`
      const reconcile = await import('./src/index.ts');
      console.log('reconcile', typeof reconcile.Reconciler, typeof reconcile.openReportFile);
      try { await import('@earnbook/ledger/sqlite'); console.log('sqlite loaded'); } catch (error) { console.log('sqlite', error.code); }
    `);
    expect(out).toContain('reconcile function function');
    // The hook is in force: without it this would say "loaded", and the first line would prove nothing.
    expect(out).toContain('sqlite driver_missing');
  });
});

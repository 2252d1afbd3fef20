/**
 * Loads every public entry point of the installed packages under plain `node` and prints one
 * line each; with `pg` not installed, `@earnbook/ledger/postgres` must fail with the typed
 * `driver_missing` error naming the package.
 */
import { LedgerError } from '@earnbook/ledger';
import { EarnApiError, EarnClient } from '@earnbook/earn-client';
import { validateReport } from '@earnbook/reconcile';
import { CLI_VERSION } from '@earnbook/cli';
import { startSandbox } from '@earnbook/earn-sandbox';

const contract = await import('@earnbook/earn-client/contract');
console.log('contract', Object.keys(contract).length > 0 ? 'ok' : 'empty');
console.log('client', typeof EarnClient, typeof EarnApiError, 'reconcile', typeof validateReport, 'cli', CLI_VERSION, 'sandbox', typeof startSandbox);
for (const subpath of ['@earnbook/ledger/sqlite', '@earnbook/ledger/postgres']) {
  try {
    await import(subpath);
    console.log(subpath, 'loaded');
  } catch (error) {
    console.log(subpath, error instanceof LedgerError ? `${error.code} ${error.value ?? ''}: ${error.message}` : `untyped ${String(error)}`);
  }
}

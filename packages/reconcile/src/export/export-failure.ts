/**
 * How an export reports a failure after it has started writing: expected failures of the
 * package pass through, anything else (database, disk) becomes an `export_failed`
 * {@link ReconcileError} that keeps its cause. Broken invariants of the books are not wrapped:
 * they crash as the ledger's invariant errors.
 */
import { LedgerInvariantError } from '@earnbook/ledger';
import { ReconcileError } from '../errors.js';

/** The error to throw for a failure of the export of `what`. */
export function exportFailure(what: string, error: unknown): Error {
  if (error instanceof ReconcileError || error instanceof LedgerInvariantError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ReconcileError('export_failed', `${what} export failed: ${reason}`, { cause: error });
}

/** Any thrown value as an Error (for destroying streams with it). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

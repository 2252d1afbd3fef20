/**
 * A posting is whole or absent, also in a transaction the caller holds open
 * ({@link Ledger.transact}). A posting refused before it writes (bad input, a balance rule, an
 * idempotency conflict: a `LedgerError`) leaves the transaction as it was, and the caller may
 * catch it and go on. A posting that fails once it has begun writing (a driver error, a unique
 * index refusing a row, a broken invariant on reading back) may have left part of its rows in the
 * transaction. Catching that error must not let the transaction commit: the transaction is marked
 * here, and `transact` then refuses to post in it or to commit it (it rolls back).
 *
 * On PostgreSQL this also covers any failed statement: the server aborts the transaction, and a
 * `COMMIT` of an aborted transaction rolls back without an error, so a caller who caught the
 * failure would have been told nothing was lost.
 */
import { LedgerError } from './errors.js';

/** The first failure that left each open transaction (a Kysely instance bound to it) with part of a posting. */
const partialWrites = new WeakMap<object, unknown>();

/** Runs the writing part of a posting in `trx`: if it fails, `trx` is marked and may no longer commit. */
export async function writeWhole<T>(trx: object, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    markPartialWrite(trx, error);
    throw error;
  }
}

/** Marks `trx` as holding part of a posting (the first failure is kept). */
export function markPartialWrite(trx: object, error: unknown): void {
  if (!partialWrites.has(trx)) partialWrites.set(trx, error);
}

/** Throws `transaction_aborted` when a posting failed part-way in `trx`: it must roll back. */
export function assertNoPartialWrite(trx: object): void {
  if (!partialWrites.has(trx)) return;
  const failure = partialWrites.get(trx);
  const what = failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure);
  throw new LedgerError('transaction_aborted', `a posting failed part-way in this transaction, which is rolled back and takes no more postings (${what})`, {
    field: 'transact',
    value: failure instanceof Error ? failure.name : typeof failure,
    cause: failure,
  });
}

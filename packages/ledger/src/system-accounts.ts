/**
 * Postings that need their currency's system accounts (the Earn mirror's bookings, interest,
 * margin, fees and settlements): the accounts are opened with the posting, so that a refused
 * posting leaves no account behind. Where every system account of (entity, currency) is already
 * known (committed, the common case) nothing is read or opened and the posting goes its usual
 * way (group commit for `post`). Otherwise the posting's input is checked first, then the
 * accounts are opened in the posting's own transaction, after a savepoint that a refusal rolls
 * back to: the caller's scope may catch the refusal and commit the rest of its work.
 */
import type { Kysely } from 'kysely';
import { SYSTEM_ACCOUNT_KINDS } from './chart.js';
import type { AccountDirectory, SystemAccountKind } from './accounts.js';
import type { PostingInput } from './posting.js';
import type { LedgerDatabase } from './db/schema.js';
import { releaseSavepoint, rollbackToSavepoint, savepoint } from './db/repository.js';
import { markPartialWrite } from './partial-writes.js';
import type { PostResult, PostingScope } from './ledger-types.js';

/** The ids of every system account of one (entity, currency), by kind. */
export type SystemAccountIds = Readonly<Record<SystemAccountKind, number>>;

/**
 * Ids that stand for the system accounts while a posting's input is checked before they are
 * opened: distinct, valid as ids, and never given to a caller's account in practice (the largest
 * safe integers). The checked posting is never written.
 */
export const PLACEHOLDER_SYSTEM_ACCOUNT_IDS: SystemAccountIds = Object.freeze(
  Object.fromEntries(SYSTEM_ACCOUNT_KINDS.map((kind, index) => [kind, Number.MAX_SAFE_INTEGER - index])) as Record<SystemAccountKind, number>,
);

/** What {@link postOpeningSystemAccounts} needs of the ledger. */
export interface OpeningContext {
  readonly accounts: AccountDirectory;
  /** Opens (or finds) every system account of (entity, currency) in `db`. */
  readonly open: (entity: string, currency: string, db: Kysely<LedgerDatabase>) => Promise<SystemAccountIds>;
}

/**
 * Opens the system accounts `missing` lacks and posts `build(ids)` in `scope`, after a savepoint:
 * if the posting (or the opening) fails, the transaction goes back to the savepoint, so the
 * accounts it opened are gone, and the account cache forgets them. A failure that cannot be
 * rolled back to the savepoint leaves the scope unable to commit (`transaction_aborted`).
 */
export async function postOpeningSystemAccounts(
  context: OpeningContext,
  scope: PostingScope,
  target: { readonly entity: string; readonly currency: string; readonly missing: readonly SystemAccountKind[] },
  build: (ids: SystemAccountIds) => PostingInput,
): Promise<PostResult> {
  await savepoint(scope.db, 'system_accounts');
  let result: PostResult;
  try {
    const ids = await context.open(target.entity, target.currency, scope.db);
    result = await scope.post(build(ids));
  } catch (error) {
    context.accounts.forgetPending(scope.db, target.entity, target.currency, target.missing);
    try {
      await rollbackToSavepoint(scope.db, 'system_accounts');
    } catch (rollback) {
      // Accounts that cannot be rolled back must not commit: the transaction may no longer.
      markPartialWrite(scope.db, rollback);
    }
    throw error;
  }
  try {
    await releaseSavepoint(scope.db, 'system_accounts');
  } catch (error) {
    markPartialWrite(scope.db, error);
    throw error;
  }
  return result;
}

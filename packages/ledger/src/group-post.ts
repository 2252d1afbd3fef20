/**
 * How a group of concurrent `post()` calls commits (see {@link CommitQueue}): first all of them
 * in one transaction with the bulk statements, per entity, in arrival order. If one of them is
 * refused (a {@link LedgerError}: insufficient balance, idempotency conflict, …), that attempt
 * rolls back and the group commits again in one transaction with a savepoint per posting, so the
 * refused ones get their own error and the others their result: one bad posting costs the others
 * one more commit, never their outcome. So does a posting that fails any other way (a unique
 * index refusing a provider id another process committed meanwhile, a trigger, a driver error):
 * its error is its own. A failure of the transaction itself (a savepoint or the commit failing)
 * and a broken invariant (`LedgerInvariantError`: the books are inconsistent) are every posting's.
 */
import type { Kysely } from 'kysely';
import { LedgerError, LedgerInvariantError } from './errors.js';
import type { ItemOutcome } from './commit-queue.js';
import type { NormalizedPosting } from './posting.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import { releaseSavepoint, rollbackToSavepoint, savepoint } from './db/repository.js';

/** A result of an idempotent write, as the ledger answers it. */
interface GroupResult {
  readonly status: 'created' | 'exists';
  readonly transaction: { readonly id: number };
}

/** What committing a group needs from the ledger. */
export interface GroupPostContext<R extends GroupResult> {
  readonly db: Kysely<LedgerDatabase>;
  readonly dialect: LedgerDialect;
  /** Posts postings of one entity in `trx` (the ledger's bulk path). */
  readonly postBatch: (trx: Kysely<LedgerDatabase>, postings: readonly NormalizedPosting[]) => Promise<R[]>;
}

async function postByEntity<R extends GroupResult>(context: GroupPostContext<R>, trx: Kysely<LedgerDatabase>, postings: readonly NormalizedPosting[]): Promise<R[]> {
  const results: R[] = new Array<R>(postings.length);
  for (const entity of new Set(postings.map((posting) => posting.entity))) {
    const indexes = postings.flatMap((posting, index) => (posting.entity === entity ? [index] : []));
    const part = await context.postBatch(trx, indexes.map((index) => postings[index] as NormalizedPosting));
    indexes.forEach((index, at) => {
      const result = part[at];
      if (result !== undefined) results[index] = result;
    });
  }
  return results;
}

/** Commits a group; one outcome per posting, in order. */
export async function commitPostingGroup<R extends GroupResult>(context: GroupPostContext<R>, postings: readonly NormalizedPosting[]): Promise<ItemOutcome<R>[]> {
  try {
    // A key posted twice in the group is `created` for the first caller, `exists` for the later ones (postBatch).
    const results = await context.dialect.writeTransaction(context.db, (trx) => postByEntity(context, trx, postings));
    return results.map((value) => ({ ok: true, value }));
  } catch (error) {
    // A lone posting refused by the ledger's rules keeps that answer. One that failed another way
    // is tried once more below: a provider id that another process committed meanwhile (a unique
    // index refusing it, on PostgreSQL) is then read and answered as a typed refusal.
    // A broken invariant is no posting's own: the books are inconsistent, every caller is told.
    if (error instanceof LedgerInvariantError || (postings.length === 1 && error instanceof LedgerError)) return postings.map(() => ({ ok: false, error }));
  }
  return context.dialect.writeTransaction(context.db, async (trx) => {
    const outcomes: ItemOutcome<R>[] = [];
    for (const posting of postings) {
      await savepoint(trx, 'group_item');
      try {
        const [result] = await context.postBatch(trx, [posting]);
        await releaseSavepoint(trx, 'group_item');
        outcomes.push(result === undefined ? { ok: false, error: new Error('a posting of a group returned nothing') } : { ok: true, value: result });
      } catch (error) {
        if (error instanceof LedgerInvariantError) throw error;
        // Rolled back to its savepoint: whatever part of it was written is gone (on PostgreSQL the
        // rollback also ends the aborted state a failed statement left).
        await rollbackToSavepoint(trx, 'group_item');
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  });
}

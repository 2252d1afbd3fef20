/**
 * A broken invariant (`LedgerInvariantError`: the books are inconsistent) is never isolated as one
 * posting's failure: every caller of the group gets it and nothing of the group commits. The
 * ledger's bulk path is replaced by one that breaks the invariant on a chosen posting; the
 * transactions and savepoints are the dialect's own, on a real database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerError, LedgerInvariantError } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { commitPostingGroup } from '../src/group-post.js';
import type { NormalizedPosting } from '../src/posting.js';
import { DIALECTS, freshLedger } from './dialects.js';

interface Result {
  readonly status: 'created' | 'exists';
  readonly transaction: { readonly id: number };
}

describe.each(DIALECTS)('group commit and a broken invariant on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
  });
  afterEach(async () => close());

  const postings = (names: readonly string[]) => names.map((name) => ({ entity: 'defi', idempotencyKey: name }) as unknown as NormalizedPosting);
  const nameOf = (posting: NormalizedPosting) => posting.idempotencyKey;

  it('fails every caller of the group when the group breaks an invariant', async () => {
    const calls: string[][] = [];
    const outcomes = await commitPostingGroup<Result>(
      {
        db: ledger.db,
        dialect: ledger.dialect,
        postBatch: async (_trx, group) => {
          calls.push(group.map(nameOf));
          if (group.some((posting) => nameOf(posting) === 'broken')) throw new LedgerInvariantError('transaction 7 reads back 1 of 2 entries');
          return group.map((_posting, index) => ({ status: 'created' as const, transaction: { id: index + 1 } }));
        },
      },
      postings(['a', 'broken', 'c']),
    );
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([false, false, false]);
    for (const outcome of outcomes) expect(outcome.ok === false && outcome.error).toBeInstanceOf(LedgerInvariantError);
    // Not tried again one by one: the others would have committed beside an inconsistency.
    expect(calls).toEqual([['a', 'broken', 'c']]);
  });

  it('stops the one-by-one commit when a posting breaks an invariant there', async () => {
    const calls: string[][] = [];
    const run = commitPostingGroup<Result>(
      {
        db: ledger.db,
        dialect: ledger.dialect,
        postBatch: async (_trx, group) => {
          calls.push(group.map(nameOf));
          // The group attempt is refused by a rule, so the group goes one by one; then `broken` breaks an invariant.
          if (group.length > 1) throw new LedgerError('insufficient_balance', 'refused', { field: 'entries', value: '1' });
          if (nameOf(group[0] as NormalizedPosting) === 'broken') throw new LedgerInvariantError('transaction 7 reads back 1 of 2 entries');
          return [{ status: 'created' as const, transaction: { id: 1 } }];
        },
      },
      postings(['a', 'broken', 'c']),
    );
    await expect(run).rejects.toBeInstanceOf(LedgerInvariantError);
    expect(calls).toEqual([['a', 'broken', 'c'], ['a'], ['broken']]);
  });

  it('isolates a posting that fails another way, and commits the others', async () => {
    const outcomes = await commitPostingGroup<Result>(
      {
        db: ledger.db,
        dialect: ledger.dialect,
        postBatch: async (_trx, group) => {
          if (group.some((posting) => nameOf(posting) === 'driver')) throw new Error('a driver error');
          return group.map(() => ({ status: 'created' as const, transaction: { id: 1 } }));
        },
      },
      postings(['a', 'driver', 'c']),
    );
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true]);
  });
});

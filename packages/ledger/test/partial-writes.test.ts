/**
 * A posting is whole or absent in a caller's transaction (`transact`): one that fails part-way
 * through its writes leaves the transaction unable to post or commit, even when the caller
 * catches the failure. The failure is real: a trigger in the database refuses one entry row, so
 * the rows written before it are in the open transaction when it fails.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { LedgerError } from '../src/index.js';
import type { Ledger, LedgerAccount, LinesInput, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { interestLines } from './support/compound.js';
import type { DialectName } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';
import { holdTransaction } from './support/hold.js';

/** The provider id and the amount whose entry rows the trigger refuses. */
const TRAPPED_PROVIDER_ID = 'trap';
const TRAPPED_AMOUNT = '7.000000000000000000';

/** A trigger that fails the insert of a journal entry with the trapped provider id or amount (either side). */
async function trapEntries(ledger: Ledger, dialect: DialectName): Promise<void> {
  if (dialect === 'sqlite') {
    await sql
      .raw(
        `create trigger trap_entry before insert on journal_entries when new.provider_id = '${TRAPPED_PROVIDER_ID}' or new.amount in ('${TRAPPED_AMOUNT}', '-${TRAPPED_AMOUNT}') begin select raise(abort, 'trapped entry'); end`,
      )
      .execute(ledger.db);
    return;
  }
  await sql
    .raw(
      `create function trap_entry() returns trigger language plpgsql as $$ begin if new.provider_id = '${TRAPPED_PROVIDER_ID}' or abs(new.amount::numeric) = ${TRAPPED_AMOUNT} then raise exception 'trapped entry'; end if; return new; end $$`,
    )
    .execute(ledger.db);
  await sql.raw('create trigger trap_entry before insert on journal_entries for each row execute function trap_entry()').execute(ledger.db);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Expects the `transaction_aborted` error whose cause is the trapped insert. */
function expectAborted(error: unknown): void {
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe('transaction_aborted');
  expect((error as LedgerError).field).toBe('transact');
  expect(String(((error as LedgerError).cause as Error | undefined)?.message)).toContain('trapped entry');
}

describe.each(DIALECTS)('postings whole in a caller transaction on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let funds: LedgerAccount;
  let earnAssets: LedgerAccount;
  let users: LedgerAccount[];

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    users = [];
    for (let i = 0; i < 3; i++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' }));
    // One deposit committed before, so that the snapshots hold rows of every table.
    await ledger.post(deposit(0, 'd0', '2'));
    await trapEntries(ledger, dialect);
  });
  afterEach(async () => close());

  const user = (index: number): number => {
    const account = users[index];
    if (account === undefined) throw new Error(`no user ${index}`);
    return account.id;
  };
  const deposit = (index: number, key: string, amount = '1'): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: user(index), side: 'credit', amount },
    ],
  });
  const interest = (lines: LinesInput['lines']): LinesInput => interestLines(earnAssets.id, lines);
  // The trapped line comes after one that is written: the transaction holds part of the posting when it fails.
  const trappedLines = (): LinesInput =>
    interest([
      { accountId: user(0), amount: '0.1', providerId: 'p-0' },
      { accountId: user(1), amount: '0.2', providerId: TRAPPED_PROVIDER_ID },
    ]);
  const snapshot = async () => snapshotDatabase(ledger.db as Kysely<unknown>);

  it('rolls back a transaction whose compound posting failed part-way, though the caller caught the failure', async () => {
    const before = await snapshot();
    let caught: unknown;
    const error = await rejection(
      ledger.transact(async (scope) => {
        await scope.post(deposit(1, 'd1'));
        caught = await rejection(scope.postLines(trappedLines()));
        return 'committed';
      }),
    );
    // The caller saw the driver's failure, not a LedgerError: rows of the posting were written.
    expect(caught).not.toBeInstanceOf(LedgerError);
    expect(String((caught as Error).message)).toContain('trapped entry');
    expectAborted(error);
    expect(await snapshot()).toBe(before);
    await ledger.verify({ entity: 'defi' });
  });

  it('rolls back a transaction whose posting failed part-way (post and postMany alike)', async () => {
    const before = await snapshot();
    for (const write of ['post', 'postMany'] as const) {
      const error = await rejection(
        ledger.transact(async (scope) => {
          await scope.post(deposit(1, `d1-${write}`));
          const trapped = deposit(2, `d2-${write}`, TRAPPED_AMOUNT);
          await (write === 'post' ? scope.post(trapped) : scope.postMany([deposit(2, `d3-${write}`), trapped])).catch(() => undefined);
        }),
      );
      expectAborted(error);
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses every posting after a part-way failure, then rolls back', async () => {
    const before = await snapshot();
    const refusals: unknown[] = [];
    const error = await rejection(
      ledger.transact(async (scope) => {
        await scope.postLines(trappedLines()).catch(() => undefined);
        refusals.push(await rejection(scope.post(deposit(1, 'd1'))));
        refusals.push(await rejection(scope.postMany([deposit(1, 'd2')])));
        refusals.push(await rejection(scope.postLines(interest([{ accountId: user(2), amount: '0.3', providerId: 'p-2' }]))));
      }),
    );
    expect(refusals).toHaveLength(3);
    for (const refusal of refusals) expectAborted(refusal);
    expectAborted(error);
    expect(await snapshot()).toBe(before);
  });

  it('still commits after a refusal decided before writing (a LedgerError the caller caught)', async () => {
    const overdraw: PostingInput = {
      entity: 'defi',
      kind: 'withdrawal',
      idempotencyKey: 'w-too-much',
      occurredAt: '2025-03-18T11:00:00Z',
      entries: [
        { accountId: user(0), side: 'debit', amount: '5' },
        { accountId: funds.id, side: 'credit', amount: '5' },
      ],
    };
    const result = await ledger.transact(async (scope) => {
      const refused = await rejection(scope.post(overdraw));
      const booked = await scope.postLines(interest([{ accountId: user(1), amount: '0.5', providerId: 'p-1' }]));
      return { refused, booked };
    });
    expect(result.refused).toBeInstanceOf(LedgerError);
    expect((result.refused as LedgerError).code).toBe('insufficient_balance');
    expect(result.booked.lines.map((line) => line.status)).toEqual(['created']);
    expect(await ledger.balance(user(0))).toBe('2.000000000000000000');
    expect(await ledger.balance(user(1))).toBe('0.500000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('writes nothing when a compound posting outside transact fails part-way', async () => {
    const before = await snapshot();
    const error = await rejection(ledger.postLines(trappedLines()));
    expect(String((error as Error).message)).toContain('trapped entry');
    expect(await snapshot()).toBe(before);
  });

  it('keeps a group of concurrent post() callers apart when one fails outside the ledger (a trigger here)', async () => {
    // Groups coalesce what waits; the trapped deposit fails in the database, not as a LedgerError.
    const outcomes = await Promise.allSettled([ledger.post(deposit(0, 'g0', '1')), ledger.post(deposit(1, 'g1', '7')), ledger.post(deposit(2, 'g2', '2')), ledger.post(deposit(1, 'g3', '3'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const failed = outcomes[1] as PromiseRejectedResult;
    expect(String((failed.reason as Error).message)).toContain('trapped entry');
    // The others are booked whole, the trapped one not at all.
    expect(await ledger.balance(user(0))).toBe('3.000000000000000000');
    expect(await ledger.balance(user(1))).toBe('3.000000000000000000');
    expect(await ledger.balance(user(2))).toBe('2.000000000000000000');
    await ledger.verify({ entity: 'defi' });
    // Alone, it is tried once more and fails again with its own error, writing nothing.
    const before = await snapshot();
    expect(String(((await rejection(ledger.post(deposit(2, 'g4', '7')))) as Error).message)).toContain('trapped entry');
    expect(await snapshot()).toBe(before);
  });

  // Another writer commits the same provider id (under another key) between this post's check and
  // its insert: PostgreSQL's unique index refuses the insert; tried once more, the post reads the
  // other's row and answers with the ledger's typed refusal, not the driver's error.
  it.skipIf(dialect !== 'postgres')('answers a provider id that another writer committed meanwhile with a typed error', async () => {
    const withProvider = (input: PostingInput, providerId: string): PostingInput => ({ ...input, providerId });
    const holder = await holdTransaction(ledger, (scope) => scope.post(withProvider(deposit(2, 'race-b', '2'), 'race-p')));
    const racing = rejection(ledger.post(withProvider(deposit(1, 'race-a', '1'), 'race-p')));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.release();
    const error = await racing;
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).field).toBe('providerId');
    expect(await ledger.balance(user(1))).toBe('0.000000000000000000');
    expect(await ledger.balance(user(2))).toBe('2.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });
});

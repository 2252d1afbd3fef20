/**
 * Reversing a compound transaction (`postLines`, up to LINES_PER_TRANSACTION_MAX lines and the
 * contra entry): one reversal of every entry, with the guarantees of any reversal — balances back,
 * the account rules, idempotency on its key, at most once. `post` keeps its own entry bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { ENTRIES_PER_TRANSACTION_MAX, LINES_PER_TRANSACTION_MAX, LedgerError, REVERSAL_ENTRIES_MAX } from '../src/index.js';
import type { Ledger, LedgerAccount, LinesInput, ReverseInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

async function expectLedgerError(promise: Promise<unknown>, code: string, field?: string): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
  if (field !== undefined) expect((error as LedgerError).field).toBe(field);
  return error as LedgerError;
}

describe.each(DIALECTS)('reversing a compound transaction on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let earnAssets: LedgerAccount;
  let funds: LedgerAccount;
  let users: LedgerAccount[];

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    // One transaction for all of them: a thousand accounts opened one commit each take long on PostgreSQL.
    users = await ledger.transact(async (scope) => {
      const opened: LedgerAccount[] = [];
      for (let i = 0; i < LINES_PER_TRANSACTION_MAX; i++) opened.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' }, scope.db));
      return opened;
    });
  });
  afterEach(async () => close());

  const interest = (count: number): LinesInput => ({
    entity: 'defi',
    kind: 'interest',
    occurredAt: '2025-03-19T00:00:00Z',
    side: 'credit',
    contraAccountId: earnAssets.id,
    lines: users.slice(0, count).map((user, i) => ({ accountId: user.id, amount: `0.${String(i + 1).padStart(4, '0')}`, providerId: `p-${i}` })),
  });
  const reversal = (transactionId: number, key = 'r1'): ReverseInput => ({ entity: 'defi', transactionId, idempotencyKey: key, occurredAt: '2025-03-20T00:00:00Z' });
  const snapshot = async () => snapshotDatabase(ledger.db as Kysely<unknown>);

  it('reverses a compound transaction of the most lines whole, once, idempotently', async () => {
    const booked = await ledger.postLines(interest(LINES_PER_TRANSACTION_MAX));
    const original = booked.transactionId ?? 0;
    const reversed = await ledger.reverse(reversal(original));
    expect(reversed.status).toBe('created');
    expect(reversed.transaction.kind).toBe('reversal');
    expect(reversed.transaction.reversesTransactionId).toBe(original);
    expect(reversed.transaction.entries).toHaveLength(REVERSAL_ENTRIES_MAX);
    expect(reversed.transaction.entries[0]?.side).toBe('credit');
    expect(reversed.transaction.entries.slice(1).every((entry) => entry.side === 'debit')).toBe(true);
    for (const user of [users[0], users[500], users[LINES_PER_TRANSACTION_MAX - 1]]) {
      expect(await ledger.balance(user?.id ?? 0)).toBe('0.000000000000000000');
      expect(await ledger.balanceAtEndOfDay(user?.id ?? 0, '2025-03-19')).not.toBe('0.000000000000000000');
      expect(await ledger.balanceAtEndOfDay(user?.id ?? 0, '2025-03-20')).toBe('0.000000000000000000');
    }
    expect(await ledger.balance(earnAssets.id)).toBe('0.000000000000000000');
    const before = await snapshot();
    const again = await ledger.reverse(reversal(original));
    expect(again.status).toBe('exists');
    expect(again.transaction).toEqual(reversed.transaction);
    await expectLedgerError(ledger.reverse(reversal(original, 'r2')), 'already_reversed', 'transactionId');
    await expectLedgerError(ledger.reverse({ ...reversal(original), occurredAt: '2025-03-21T00:00:00Z' }), 'idempotency_conflict', 'idempotencyKey');
    await expectLedgerError(ledger.reverse(reversal(reversed.transaction.id, 'r3')), 'invalid_input', 'transactionId');
    expect(await snapshot()).toBe(before);
    const report = await ledger.verify({ entity: 'defi' });
    expect(report.entries).toBe(2 * (LINES_PER_TRANSACTION_MAX + 1));
  });

  it('refuses a reversal that would leave a user negative, and bad input, writing nothing', async () => {
    const booked = await ledger.postLines(interest(100));
    const original = booked.transactionId ?? 0;
    const spender = users[70];
    // The 71st user spends part of the interest: the reversal may not take it back below zero.
    await ledger.post({
      entity: 'defi',
      kind: 'withdrawal',
      idempotencyKey: 'w-70',
      occurredAt: '2025-03-19T12:00:00Z',
      entries: [
        { accountId: spender?.id ?? 0, side: 'debit', amount: '0.005' },
        { accountId: funds.id, side: 'credit', amount: '0.005' },
      ],
    });
    const before = await snapshot();
    const refused = await expectLedgerError(ledger.reverse(reversal(original)), 'insufficient_balance', 'entries');
    expect(refused.context?.['accountId']).toBe(String(spender?.id));
    await expectLedgerError(ledger.reverse({ ...reversal(original), idempotencyKey: '' }), 'invalid_input', 'idempotencyKey');
    await expectLedgerError(ledger.reverse({ ...reversal(original), occurredAt: 'tomorrow' }), 'invalid_instant', 'occurredAt');
    await expectLedgerError(ledger.reverse(reversal(0)), 'unknown_transaction', 'transactionId');
    await expectLedgerError(ledger.reverse(reversal(original + 1_000)), 'unknown_transaction');
    expect(await snapshot()).toBe(before);
    // Once the user holds enough again, the same reversal goes through.
    await ledger.post({
      entity: 'defi',
      kind: 'deposit',
      idempotencyKey: 'd-70',
      occurredAt: '2025-03-19T13:00:00Z',
      entries: [
        { accountId: funds.id, side: 'debit', amount: '0.005' },
        { accountId: spender?.id ?? 0, side: 'credit', amount: '0.005' },
      ],
    });
    expect((await ledger.reverse(reversal(original))).transaction.entries).toHaveLength(101);
    expect(await ledger.balance(spender?.id ?? 0)).toBe('0.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('keeps the entry bound of post(): a posting of more entries is refused', async () => {
    const before = await snapshot();
    const half = ENTRIES_PER_TRANSACTION_MAX / 2 + 1;
    const entries = [
      ...users.slice(0, half).map((user) => ({ accountId: user.id, side: 'credit' as const, amount: '1' })),
      ...Array.from({ length: half }, () => ({ accountId: funds.id, side: 'debit' as const, amount: '1' })),
    ];
    await expectLedgerError(ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'wide', occurredAt: '2025-03-19T00:00:00Z', entries }), 'invalid_input', 'entries');
    await expectLedgerError(ledger.post({ entity: 'defi', kind: 'reversal', idempotencyKey: 'fake', occurredAt: '2025-03-19T00:00:00Z', entries: entries.slice(0, 2) }), 'invalid_input', 'kind');
    expect(await snapshot()).toBe(before);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerError, LedgerInvariantError } from '../src/index.js';
import type { LedgerAccount, Ledger, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

async function expectLedgerError(promise: Promise<unknown>, code: string, field?: string): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  const ledgerError = error as LedgerError;
  expect(ledgerError.code).toBe(code);
  if (field !== undefined) expect(ledgerError.field).toBe(field);
  return ledgerError;
}

describe.each(DIALECTS)('ledger on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let user: LedgerAccount;
  let funds: LedgerAccount;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
  });
  afterEach(async () => close());

  const deposit = (amount: string, key: string, occurredAt = '2025-03-18T10:00:00Z'): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt,
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: user.id, side: 'credit', amount },
    ],
  });
  const withdrawal = (amount: string, key: string, occurredAt = '2025-03-18T12:00:00Z'): PostingInput => ({
    entity: 'defi',
    kind: 'withdrawal',
    idempotencyKey: key,
    occurredAt,
    entries: [
      { accountId: user.id, side: 'debit', amount },
      { accountId: funds.id, side: 'credit', amount },
    ],
  });

  it('posts a balanced transaction and keeps balances', async () => {
    const result = await ledger.post(deposit('1.5', 'd1'));
    expect(result.status).toBe('created');
    expect(result.transaction.accountingDay).toBe('2025-03-18');
    expect(result.transaction.entries.map((e) => [e.side, e.amount])).toEqual([
      ['debit', '1.500000000000000000'],
      ['credit', '1.500000000000000000'],
    ]);
    expect(await ledger.balance(user.id)).toBe('1.500000000000000000');
    expect(await ledger.balance(funds.id)).toBe('-1.500000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('returns the original for a replayed key and refuses other content', async () => {
    const first = await ledger.post(deposit('2', 'same'));
    const again = await ledger.post(deposit('2.000', 'same'));
    expect(again.status).toBe('exists');
    expect(again.transaction).toEqual(first.transaction);
    await expectLedgerError(ledger.post(deposit('3', 'same')), 'idempotency_conflict', 'idempotencyKey');
    expect(await ledger.balance(user.id)).toBe('2.000000000000000000');
  });

  it('refuses a withdrawal beyond the user balance and writes nothing', async () => {
    await ledger.post(deposit('1', 'd1'));
    const error = await expectLedgerError(ledger.post(withdrawal('1.000000000000000001', 'w1')), 'insufficient_balance');
    expect(error.message).toContain('1.000000000000000000');
    expect(await ledger.transactionByKey('defi', 'w1')).toBeUndefined();
    expect(await ledger.balance(user.id)).toBe('1.000000000000000000');
    await ledger.post(withdrawal('1', 'w2'));
    expect(await ledger.balance(user.id)).toBe('0.000000000000000000');
  });

  it('rejects bad input naming the field and value, writing nothing', async () => {
    await expectLedgerError(ledger.post({ ...deposit('1', 'x'), entity: 'cefi' }), 'unknown_entity', 'entity');
    await expectLedgerError(ledger.post(deposit('1e3', 'x')), 'invalid_amount', 'entries[0].amount');
    await expectLedgerError(ledger.post(deposit(' 1', 'x')), 'invalid_amount', 'entries[0].amount');
    await expectLedgerError(ledger.post(deposit('0', 'x')), 'invalid_amount', 'entries[0].amount');
    await expectLedgerError(ledger.post(deposit('1.0000000000000000001', 'x')), 'invalid_amount', 'entries[0].amount');
    await expectLedgerError(ledger.post(deposit('1', 'x', '2025-03-18 10:00')), 'invalid_instant', 'occurredAt');
    await expectLedgerError(ledger.post(deposit('1', '')), 'invalid_input', 'idempotencyKey');
    await expectLedgerError(ledger.post({ ...deposit('1', 'x'), kind: 'gift' as never }), 'invalid_input', 'kind');
    await expectLedgerError(
      ledger.post({ ...deposit('1', 'x'), entries: [{ accountId: user.id, side: 'credit', amount: '1' }] }),
      'invalid_input',
      'entries',
    );
    await expectLedgerError(
      ledger.post({ ...deposit('1', 'x'), entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '0.5' }] }),
      'unbalanced_transaction',
      'entries',
    );
    await expectLedgerError(
      ledger.post({ ...deposit('1', 'x'), entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: 999_999, side: 'credit', amount: '1' }] }),
      'unknown_account',
      'entries[1].accountId',
    );
    expect(await ledger.transactionByKey('defi', 'x')).toBeUndefined();
    const report = await ledger.verify({ entity: 'defi' });
    expect(report.transactions).toBe(0);
  });

  it('keeps entities apart: no transaction mixes two entities', async () => {
    const lendingUser = await ledger.openAccount({ entity: 'lending', currency: 'BTC', code: 'user:b1', kind: 'user' });
    await expectLedgerError(
      ledger.post({ ...deposit('1', 'mix'), entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: lendingUser.id, side: 'credit', amount: '1' }] }),
      'mixed_entities',
      'entries[1].accountId',
    );
    expect((await ledger.listAccounts({ entity: 'lending' })).map((a) => a.id)).toEqual([lendingUser.id]);
  });

  it('balances currencies separately', async () => {
    const eth = await ledger.openAccount({ entity: 'defi', currency: 'ETH', code: 'user:a2', kind: 'user' });
    await expectLedgerError(
      ledger.post({ ...deposit('1', 'cur'), entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: eth.id, side: 'credit', amount: '1' }] }),
      'unbalanced_transaction',
    );
  });

  it('stamps the accounting day in the entity zone and answers balances at the end of any day', async () => {
    // 23:30 UTC on 2025-03-18 is 00:30 on 2025-03-19 in Berlin.
    await ledger.post(deposit('1', 'd1', '2025-03-17T12:00:00Z'));
    const late = await ledger.post(deposit('2', 'd2', '2025-03-18T23:30:00Z'));
    expect(late.transaction.accountingDay).toBe('2025-03-19');
    await ledger.post(withdrawal('0.5', 'w1', '2025-03-21T08:00:00Z'));
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-16')).toBe('0.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-17')).toBe('1.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-18')).toBe('1.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-20')).toBe('3.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-21')).toBe('2.500000000000000000');
    await expectLedgerError(ledger.balanceAtEndOfDay(user.id, '2025-02-30'), 'invalid_day', 'day');
  });

  it('handles a back-dated posting: later days move, and a user day-end may not go negative', async () => {
    await ledger.post(deposit('1', 'd1', '2025-03-17T12:00:00Z'));
    await ledger.post(withdrawal('1', 'w1', '2025-03-19T12:00:00Z'));
    await ledger.post(deposit('5', 'late', '2025-03-18T12:00:00Z'));
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-18')).toBe('6.000000000000000000');
    expect(await ledger.balanceAtEndOfDay(user.id, '2025-03-19')).toBe('5.000000000000000000');
    await expectLedgerError(ledger.post(withdrawal('5.5', 'back', '2025-03-17T13:00:00Z')), 'insufficient_balance');
    await ledger.verify({ entity: 'defi' });
  });

  it('pages history with a stable cursor in both orders', async () => {
    for (let i = 1; i <= 7; i++) await ledger.post(deposit(`${i}`, `d${i}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await ledger.history(user.id, { limit: 3, cursor, order: 'asc' });
      seen.push(...page.items.map((item) => item.amount));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen.map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const newest = await ledger.history(user.id, { limit: 2 });
    expect(newest.items.map((item) => item.balanceAfter)).toEqual(['28.000000000000000000', '21.000000000000000000']);
    await expectLedgerError(ledger.history(user.id, { cursor: 'bogus' }), 'invalid_input', 'cursor');
    await expectLedgerError(ledger.history(user.id, { limit: 0 }), 'invalid_input', 'limit');
  });

  it('reverses once, linked to the original, under the account rules', async () => {
    const original = await ledger.post(deposit('1', 'd1'));
    const reversal = await ledger.reverse({ entity: 'defi', transactionId: original.transaction.id, idempotencyKey: 'r1', occurredAt: '2025-03-19T00:00:00Z' });
    expect(reversal.transaction.kind).toBe('reversal');
    expect(reversal.transaction.reversesTransactionId).toBe(original.transaction.id);
    expect(await ledger.balance(user.id)).toBe('0.000000000000000000');
    expect((await ledger.reverse({ entity: 'defi', transactionId: original.transaction.id, idempotencyKey: 'r1', occurredAt: '2025-03-19T00:00:00Z' })).status).toBe('exists');
    await expectLedgerError(ledger.reverse({ entity: 'defi', transactionId: original.transaction.id, idempotencyKey: 'r2', occurredAt: '2025-03-19T00:00:00Z' }), 'already_reversed');
    const second = await ledger.post(deposit('1', 'd2'));
    await ledger.post(withdrawal('1', 'w2'));
    await expectLedgerError(ledger.reverse({ entity: 'defi', transactionId: second.transaction.id, idempotencyKey: 'r3', occurredAt: '2025-03-19T00:00:00Z' }), 'insufficient_balance');
    await expectLedgerError(ledger.post({ ...deposit('1', 'fake'), kind: 'reversal' }), 'invalid_input', 'kind');
  });

  it('refuses a provider id booked twice under different keys', async () => {
    await ledger.post({ ...deposit('1', 'k1'), providerId: 'p-1' });
    await expectLedgerError(ledger.post({ ...deposit('1', 'k2'), providerId: 'p-1' }), 'duplicate_provider_id', 'providerId');
  });

  it('makes journal rows immutable in the database itself', async () => {
    await ledger.post(deposit('1', 'd1'));
    await expect(ledger.db.updateTable('journal_entries').set({ amount: '5.000000000000000000' }).execute()).rejects.toThrow(/immutable/);
    await expect(ledger.db.deleteFrom('journal_transactions').execute()).rejects.toThrow(/immutable/);
  });

  it('detects a tampered balance in verify()', async () => {
    await ledger.post(deposit('1', 'd1'));
    await ledger.db.updateTable('ledger_accounts').set({ balance: '7.000000000000000000' }).where('id', '=', user.id).execute();
    await expect(ledger.verify({ entity: 'defi' })).rejects.toBeInstanceOf(LedgerInvariantError);
  });

  it('posts many in one transaction, all or nothing', async () => {
    await expectLedgerError(ledger.postMany([deposit('1', 'b1'), withdrawal('2', 'b2')]), 'insufficient_balance');
    expect(await ledger.balance(user.id)).toBe('0.000000000000000000');
    const results = await ledger.postMany([deposit('1', 'b1'), withdrawal('1', 'b2')]);
    expect(results.map((r) => r.status)).toEqual(['created', 'created']);
  });

  it('refuses to reopen an entity in another zone', async () => {
    const reopen = (await import('../src/index.js')).Ledger.open({ storage: { db: ledger.db, dialect: ledger.dialect }, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    await expectLedgerError(reopen, 'entity_configuration_changed');
  });
});

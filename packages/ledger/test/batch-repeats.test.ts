/**
 * A batch (`postMany`, `scope.postMany`) that names one idempotency key or one provider id twice:
 * a repeated key is `created` for its first posting and `exists` for the later ones, as `post()`
 * answers them; a provider id claimed by two keys of one batch is `duplicate_provider_id` naming
 * both keys (no transaction holds it yet), and the batch writes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { LedgerError } from '../src/index.js';
import type { Ledger, LedgerAccount, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

async function rejection(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

describe.each(DIALECTS)('keys and provider ids repeated in one batch on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let user: LedgerAccount;
  let lendingUser: LedgerAccount;
  let funds: LedgerAccount;
  let lendingFunds: LedgerAccount;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    lendingUser = await ledger.openAccount({ entity: 'lending', currency: 'BTC', code: 'user:a', kind: 'user' });
    lendingFunds = await ledger.systemAccount('lending', 'BTC', 'customer_funds');
  });
  afterEach(async () => close());

  const dep = (key: string, amount = '1', providerId?: string, entity: 'defi' | 'lending' = 'defi'): PostingInput => ({
    entity,
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    ...(providerId === undefined ? {} : { providerId }),
    entries: [
      { accountId: (entity === 'defi' ? funds : lendingFunds).id, side: 'debit', amount },
      { accountId: (entity === 'defi' ? user : lendingUser).id, side: 'credit', amount },
    ],
  });
  const snapshot = async () => snapshotDatabase(ledger.db as Kysely<unknown>);
  const transactions = async () => (await ledger.db.selectFrom('journal_transactions').select('id').execute()).length;

  it('answers created then exists for a key repeated in postMany, and writes it once', async () => {
    const results = await ledger.postMany([dep('k'), dep('k')]);
    expect(results.map((result) => result.status)).toEqual(['created', 'exists']);
    expect(results[1]?.transaction).toEqual(results[0]?.transaction);
    expect(await transactions()).toBe(1);
    expect(await ledger.balance(user.id)).toBe('1.000000000000000000');
    // Stored before, then twice again in one batch; a third key in between; another entity's batch part.
    const again = await ledger.postMany([dep('k'), dep('k2', '2'), dep('k'), dep('k2', '2'), dep('k', '1', undefined, 'lending'), dep('k', '1', undefined, 'lending')]);
    expect(again.map((result) => result.status)).toEqual(['exists', 'created', 'exists', 'exists', 'created', 'exists']);
    expect(again[0]?.transaction.id).toBe(results[0]?.transaction.id);
    expect(again[3]?.transaction.id).toBe(again[1]?.transaction.id);
    expect(again[5]?.transaction.id).toBe(again[4]?.transaction.id);
    expect(await transactions()).toBe(3);
    expect(await ledger.balance(user.id)).toBe('3.000000000000000000');
    await ledger.verify({ allEntities: true });
  });

  it('answers created then exists for a key repeated in scope.postMany', async () => {
    const results = await ledger.transact((scope) => scope.postMany([dep('k'), dep('k')]));
    expect(results.map((result) => result.status)).toEqual(['created', 'exists']);
    expect(results[1]?.transaction.id).toBe(results[0]?.transaction.id);
    expect(await transactions()).toBe(1);
    await ledger.verify({ entity: 'defi' });
  });

  it('refuses a repeated key with other content or bad input in the batch, writing nothing', async () => {
    await ledger.post(dep('seed'));
    const before = await snapshot();
    const conflict = await rejection(ledger.postMany([dep('k'), dep('k', '2')]));
    expect(conflict.code).toBe('idempotency_conflict');
    expect(conflict.context?.['differingField']).toBe('entries[0].amount');
    const bad = await rejection(ledger.postMany([dep('k'), dep('k', '-1')]));
    expect([bad.code, bad.field]).toEqual(['invalid_amount', 'entries[0].amount']);
    expect(await snapshot()).toBe(before);
  });

  it('names both keys of a provider id claimed twice in postMany, and writes nothing', async () => {
    await ledger.post(dep('seed'));
    const before = await snapshot();
    const error = await rejection(ledger.postMany([dep('k1', '1', 'p-1'), dep('k3', '3'), dep('k2', '2', 'p-1')]));
    expect([error.code, error.field, error.value]).toEqual(['duplicate_provider_id', 'providerId', 'p-1']);
    expect(error.context).toEqual({ idempotencyKey: 'k1', otherIdempotencyKey: 'k2' });
    expect(error.message).toContain('k1');
    expect(error.message).toContain('k2');
    expect(error.message).not.toContain('transaction 0');
    expect(await snapshot()).toBe(before);
    // Once booked, the provider id names its transaction.
    const booked = await ledger.postMany([dep('k1', '1', 'p-1')]);
    const later = await rejection(ledger.postMany([dep('k2', '2', 'p-1')]));
    expect(later.context).toEqual({ transactionId: String(booked[0]?.transaction.id), idempotencyKey: 'k1' });
  });

  it('refuses a provider id claimed twice in scope.postMany; the scope goes on and commits the rest', async () => {
    const before = await snapshot();
    const refused = await ledger.transact(async (scope) => {
      const error = await rejection(scope.postMany([dep('k1', '1', 'p-1'), dep('k2', '2', 'p-1')]));
      await scope.post(dep('k3', '3'));
      return error;
    });
    expect([refused.code, refused.field]).toEqual(['duplicate_provider_id', 'providerId']);
    expect(refused.context).toEqual({ idempotencyKey: 'k1', otherIdempotencyKey: 'k2' });
    expect(await snapshot()).not.toBe(before);
    expect(await ledger.transactionByKey('defi', 'k1')).toBeUndefined();
    expect(await ledger.balance(user.id)).toBe('3.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('gives concurrent post() callers of one provider id a created and a duplicate naming its transaction', async () => {
    const settled = await Promise.allSettled([ledger.post(dep('k1', '1', 'p-1')), ledger.post(dep('k2', '2', 'p-1')), ledger.post(dep('k1', '1', 'p-1'))]);
    expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const first = (settled[0] as PromiseFulfilledResult<{ status: string; transaction: { id: number } }>).value;
    const third = (settled[2] as PromiseFulfilledResult<{ status: string; transaction: { id: number } }>).value;
    expect([first.status, third.status]).toEqual(['created', 'exists']);
    expect(third.transaction.id).toBe(first.transaction.id);
    const error = (settled[1] as PromiseRejectedResult).reason as LedgerError;
    expect(error.code).toBe('duplicate_provider_id');
    expect(error.context?.['transactionId']).toBe(String(first.transaction.id));
  });
});

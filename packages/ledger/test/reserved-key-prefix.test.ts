/**
 * The ledger keys a compound posting `lines:<kind>:<first new provider id>` (postLines). A caller
 * key of that form took the key first, and the compound posting then failed on the unique index
 * with the driver's error (found in review, h2). Callers' keys may no longer start with `lines:`;
 * a transaction stored under such a key before (or by hand) is answered as an
 * `idempotency_conflict` naming the key.
 */
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { LedgerError, RESERVED_KEY_PREFIX } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T09:00:00Z';
const ROUNDS = 10;

describe.each(DIALECTS)('the reserved key prefix lines: (%s)', (dialect) => {
  async function books() {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const { ledger } = opened;
    const u1 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
    const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    const settlement = await ledger.systemAccount('defi', 'BTC', 'settlement');
    const adjustment = (key: string) => ({ entity: 'defi', kind: 'adjustment' as const, idempotencyKey: key, occurredAt: AT, entries: [
      { accountId: settlement.id, side: 'debit' as const, amount: '1' }, { accountId: assets.id, side: 'credit' as const, amount: '1' }] });
    const interestLine = (providerId: string) => ledger.postLines({ entity: 'defi', kind: 'interest', occurredAt: AT, side: 'credit', contraAccountId: assets.id, lines: [{ accountId: u1.id, amount: '1', providerId }] });
    return { ...opened, u1, assets, adjustment, interestLine };
  }

  it('post, postMany, transact and reverse refuse a caller key starting with lines:, naming idempotencyKey; nothing is written', async () => {
    const { ledger, close, adjustment } = await books();
    try {
      expect(RESERVED_KEY_PREFIX).toBe('lines:');
      const { transaction } = await ledger.post(adjustment('ok'));
      const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
      const attempts = [
        () => ledger.post(adjustment('lines:interest:X1')),
        () => ledger.postMany([adjustment('ok-2'), adjustment('lines:')]),
        () => ledger.transact((scope) => scope.post(adjustment('lines:fee:X2'))),
        () => ledger.reverse({ entity: 'defi', transactionId: transaction.id, idempotencyKey: 'lines:reversal:X3', occurredAt: AT }),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(LedgerError);
        expect(error).toMatchObject({ code: 'invalid_input', field: 'idempotencyKey' });
        expect((error as LedgerError).value).toMatch(/^"lines:/);
      }
      expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
      // Keys that merely contain the word, or another case, are the caller's.
      expect((await ledger.post(adjustment('my-lines:1'))).status).toBe('created');
      expect((await ledger.post(adjustment('Lines:1'))).status).toBe('created');
    } finally {
      await close();
    }
  });

  it("the ledger's own compound postings still take their lines: keys", async () => {
    const { ledger, close, interestLine } = await books();
    try {
      const result = await interestLine('X1');
      expect(result.lines[0]?.status).toBe('created');
      const stored = await ledger.transactionByKey('defi', 'lines:interest:X1');
      expect(stored?.id).toBe(result.transactionId);
      expect((await interestLine('X1')).lines[0]).toEqual({ status: 'exists', transactionId: result.transactionId });
      await ledger.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  });

  it('a transaction stored under the key a compound posting would take: an idempotency_conflict naming the key, not a driver error', async () => {
    const { ledger, close, interestLine } = await books();
    try {
      // As a caller's key stored before the prefix was reserved.
      await ledger.db
        .insertInto('journal_transactions')
        .values({ entity: 'defi', kind: 'adjustment', idempotency_key: 'lines:interest:X1', request_hash: 'legacy', occurred_at: AT, accounting_day: '2025-03-18', provider_id: null, reverses_transaction_id: null, description: null, metadata: null, created_at: AT })
        .execute();
      const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
      const error = await interestLine('X1').then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'idempotency_conflict', field: 'idempotencyKey', value: 'lines:interest:X1' });
      expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    } finally {
      await close();
    }
  });

  it('a lines: key through group commit at the same moment as the compound posting: never a driver error, one booking', async () => {
    const { ledger, close, adjustment, interestLine } = await books();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const [whole, lines] = await Promise.allSettled([ledger.post(adjustment(`lines:interest:Y${round}`)), interestLine(`Y${round}`)]);
        expect(whole.status === 'rejected' && whole.reason instanceof LedgerError && whole.reason.code === 'invalid_input').toBe(true);
        expect(lines.status === 'fulfilled' && lines.value.lines[0]?.status === 'created').toBe(true);
      }
      expect((await ledger.verify({ entity: 'defi' })).transactions).toBe(ROUNDS);
    } finally {
      await close();
    }
  });
});

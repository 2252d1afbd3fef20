/**
 * Claim locks and `transact` scopes (found in review, session 23). An entity-wide claim that every
 * compound posting took before its kind's made this a deadlock on PostgreSQL: a scope posts a
 * whole deposit carrying a provider id (its kind's claim, shared), then compound interest lines;
 * meanwhile a compound deposit posting takes the entity-wide claim and waits on the deposit
 * claim; the scope's interest lines then wait on the entity-wide claim. PostgreSQL found the
 * deadlock after `deadlock_timeout` (1 s) and the write was run again: both committed, a second
 * late. Now compound postings take their own kind's claim only, and neither waits on the other
 * beyond the scope's commit.
 */
import { describe, expect, it } from 'vitest';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T09:00:00Z';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!DIALECTS.includes('postgres'))('claim lock order in a transact scope (postgres)', () => {
  it('a scope posting a deposit then interest lines, beside a compound deposit posting: both commit without a deadlock', async () => {
    const { ledger, close } = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const u1 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
      const u2 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u2', kind: 'user' });
      const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
      const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
      let runs = 0;
      const scoped = ledger.transact(async (scope) => {
        runs++;
        await scope.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'd1', providerId: 'D1', occurredAt: AT, entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: u1.id, side: 'credit', amount: '1' }] });
        // The compound deposit below starts meanwhile and waits on the deposit claim.
        await sleep(400);
        return scope.postLines({ entity: 'defi', kind: 'interest', occurredAt: AT, side: 'credit', contraAccountId: assets.id, lines: [{ accountId: u1.id, amount: '0.1', providerId: 'I1' }] });
      });
      await sleep(150);
      const started = Date.now();
      const compound = ledger.postLines({ entity: 'defi', kind: 'deposit', occurredAt: AT, side: 'credit', contraAccountId: funds.id, lines: [{ accountId: u2.id, amount: '2', providerId: 'D2' }] });
      const outcomes = await Promise.allSettled([scoped, compound]);
      const waitedMs = Date.now() - started;
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(runs).toBe(1);
      // Without a deadlock the compound posting ends ~250 ms after it starts (the scope's commit);
      // a deadlock costs PostgreSQL's deadlock_timeout (1 s) before either moves.
      expect(waitedMs).toBeLessThan(900);
      expect((await ledger.verify({ entity: 'defi' })).transactions).toBe(3);
    } finally {
      await close();
    }
  });
});

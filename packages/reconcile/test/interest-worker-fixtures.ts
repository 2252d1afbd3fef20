/**
 * What the interest worker's tests share (`interest-worker.test.ts` on a SQLite file,
 * `interest-worker-postgres.test.ts` on PostgreSQL): the day, its zone and terms, the clock, a
 * logger that keeps warnings, the day's books, and what two runs of one day must agree on.
 */
import type { EarnBooks, LedgerLogger } from '@earnbook/ledger';
import type { ReconcileResult } from '../src/index.js';

export const ZONE = 'Europe/Berlin';
export const DAY = '2025-03-18';
export const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
export const NOW = new Date('2025-03-19T06:00:00Z');

/** A logger that keeps what is warned. */
export function recordingLogger(): LedgerLogger & { warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return { warnings, info() {}, debug() {}, error() {}, warn: (object: Record<string, unknown>) => void warnings.push(object) };
}

/** What two runs of the same day must agree on (the stamps aside: both run at {@link NOW}). */
export function outcome(result: ReconcileResult) {
  return { breaks: result.breaks, positions: result.positions, synced: result.synced, instructions: result.instructions, clean: result.clean };
}

/** The day's books: the product, `accounts` Earn accounts with a deposit each the day before, and one deposit of the day. */
export async function bookTheDay(books: EarnBooks, accounts: number): Promise<void> {
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
  for (let i = 0; i < accounts; i++) {
    await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: `${i + 1}.25`, occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: `k${i}`, providerData: { id: `b${i}` } });
  }
  await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'day', amount: '3', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'kd', providerData: { id: 'day' } });
}

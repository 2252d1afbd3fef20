/**
 * The books several reconcile tests start from: product `btc` (BTC, 3.5 % on the whole balance,
 * partner margin at its own 1 %), user `u0` with Earn account `a0`, and a deposit of 2 BTC on
 * 2025-03-18 (booking `b0`).
 */
import type { EarnBooks } from '@earnbook/ledger';

/** The product's terms. */
export const ONE_ACCOUNT_TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

/** Records the product, the user, the account and the deposit in `books` (entity `defi`). */
export async function seedOneAccount(books: EarnBooks): Promise<void> {
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: ONE_ACCOUNT_TERMS });
  await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
  await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
  await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '2', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
}

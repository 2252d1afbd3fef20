/**
 * The accounting-cycle benchmarks' one scenario, shared by the SQLite and the PostgreSQL bench so
 * that both measure the same books: three marginal tiers with an own-APY partner margin, one
 * accounting day, balances spread over the three bands, batches of 1,000 accounts.
 */
export const TERMS = {
  tierMode: 'marginal',
  tiers: [
    { fromAmount: '0', toAmount: '1', apy: '0.045' },
    { fromAmount: '1', toAmount: '10', apy: '0.03' },
    { fromAmount: '10', toAmount: null, apy: '0.01' },
  ],
  partnerMargin: { mode: 'own-apy', apy: '0.005' },
} as const;
export const DAY = '2025-03-18';
export const CREDITED_DAY = '2025-03-19';
export const CREATED_AT = '2025-03-18T00:00:00.000Z';
/** Accounts per cycle batch (and per raw transaction). */
export const BATCH_SIZE = 1_000;

/** The deposit of account `index`: spread over the three bands, 0.001 … 20 BTC. */
export function balanceUnitsOf(index: number): bigint {
  return BigInt((index % 20_000) + 1) * 10n ** 15n;
}

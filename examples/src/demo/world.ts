/**
 * What the demo's provider offers: two products per legal entity in four currencies, with
 * marginal tiers and partner margins, and the minimum settlement agreed for one currency.
 */
import type { SandboxProductInput } from '@earnbook/earn-sandbox';

/** A product of the demo, with the size of a typical booking in it. */
export interface DemoProduct extends SandboxProductInput {
  /** Bookings draw whole units below this, plus up to 8 decimals. */
  readonly wholeMax: number;
}

/** The demo's products: DeFi offers ETH and USDC, Lending offers BTC and USDT. */
export const DEMO_PRODUCTS: readonly DemoProduct[] = Object.freeze([
  {
    id: 'eth-defi-yield',
    entity: 'defi',
    name: 'ETH DeFi yield',
    currency: 'ETH',
    wholeMax: 12,
    terms: { tierMode: 'marginal', tiers: [{ fromAmount: '0', toAmount: '10', apy: '0.04' }, { fromAmount: '10', toAmount: null, apy: '0.025' }], partnerMargin: { mode: 'own-apy', apy: '0.005' } },
  },
  {
    id: 'usdc-defi-yield',
    entity: 'defi',
    name: 'USDC DeFi yield',
    currency: 'USDC',
    wholeMax: 4_000,
    terms: {
      tierMode: 'marginal',
      tiers: [{ fromAmount: '0', toAmount: '1000', apy: '0.06' }, { fromAmount: '1000', toAmount: '5000', apy: '0.05' }, { fromAmount: '5000', toAmount: null, apy: '0.03' }],
      partnerMargin: { mode: 'rate-difference', productApy: '0.07' },
    },
  },
  {
    id: 'btc-lending',
    entity: 'lending',
    name: 'BTC fixed interest',
    currency: 'BTC',
    wholeMax: 2,
    terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.005' } },
  },
  {
    id: 'usdt-lending',
    entity: 'lending',
    name: 'USDT lending',
    currency: 'USDT',
    wholeMax: 4_000,
    terms: { tierMode: 'marginal', tiers: [{ fromAmount: '0', toAmount: '2500', apy: '0.08' }, { fromAmount: '2500', toAmount: null, apy: '0.05' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } },
  },
] satisfies DemoProduct[]);

/**
 * Minimum settlement per entity and currency, agreed with the provider: a smaller netted amount is
 * carried to the next day. Both sides must use the same figures.
 */
export const DEMO_SETTLEMENT_THRESHOLDS: Readonly<Record<string, Readonly<Record<string, string>>>> = Object.freeze({ lending: Object.freeze({ BTC: '0.5' }) });

/** The partner's wallets, per entity and currency, named in its settlement instructions. */
export const DEMO_WALLETS: Readonly<Record<string, Readonly<Record<string, string>>>> = Object.freeze({
  defi: Object.freeze({ ETH: '0xpartnerdefieth', USDC: '0xpartnerdefiusdc' }),
  lending: Object.freeze({ BTC: 'bc1partnerlendingbtc', USDT: '0xpartnerlendingusdt' }),
});

/** The legal entities. */
export const DEMO_ENTITIES: readonly string[] = Object.freeze(['defi', 'lending']);

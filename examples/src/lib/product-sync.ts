/**
 * Step 2 of the provider's solution architecture: the partner keeps its own copy of the product
 * list (the union over both entities) and serves it from there. The terms are stored with each
 * product so that the reconciler can recompute the interest the provider pays.
 */
import type { EarnFacade, Product } from '@earnbook/earn-client';
import type { EarnBooks, InterestTermsInput } from '@earnbook/ledger';

/**
 * The ledger's interest terms of a product as the API describes it. The contract's
 * `rate-difference` margin names the product's total rate in `apy`; the ledger calls it
 * `productApy`.
 */
export function productTerms(product: Product): InterestTermsInput {
  const margin = product.partnerMargin;
  return {
    tiers: product.interest.tiers.map((tier) => ({ fromAmount: tier.fromAmount, toAmount: tier.toAmount, apy: tier.apy })),
    tierMode: product.interest.tierMode,
    partnerMargin: margin === null || margin === undefined ? null : margin.mode === 'rate-difference' ? { mode: 'rate-difference', productApy: margin.apy } : { mode: 'own-apy', apy: margin.apy },
  };
}

/** A product of the partner's copy, with the entity that offers it. */
export interface SyncedProduct {
  readonly entity: string;
  readonly productId: string;
  readonly currency: string;
  readonly name: string;
}

/**
 * Copies the union product list of both entities into the partner's books as versions effective
 * on `effectiveDay` (idempotent: the same terms again are `exists`).
 */
export async function syncProducts(input: { readonly earn: EarnFacade; readonly books: EarnBooks; readonly effectiveDay: string }): Promise<SyncedProduct[]> {
  const synced: SyncedProduct[] = [];
  for (const { entityId, product } of await input.earn.listProducts()) {
    await input.books.recordProduct({ entity: entityId, providerProductId: product.id, currency: product.currency, name: product.name, effectiveDay: input.effectiveDay, terms: productTerms(product) });
    synced.push(Object.freeze({ entity: entityId, productId: product.id, currency: product.currency, name: product.name }));
  }
  return synced;
}

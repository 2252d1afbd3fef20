/**
 * A product whose terms compute interest finer than the ledger keeps its currency (terms at the
 * default 18 decimals, `currencyScales: { BTC: 8 }`) cannot be booked: its lines are refused by
 * the posting. The cycle found that out only at the first such line, as `invalid_amount` on
 * `lines[0].amount` (a field the caller never wrote), after committing the batches before it
 * (review h4). It is now refused before anything is written, naming the product's terms.scale;
 * the projection (what the reconciler compares with the provider's figures) still computes it.
 */
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, projectAccountingCycle, runAccountingCycle } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const flat = (extra: Record<string, unknown> = {}) => ({ tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], ...extra });

describe.each(DIALECTS)('a product finer than the ledger keeps its currency, on %s', (dialect) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('is refused by the cycle before anything is written, naming its terms.scale', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }], currencyScales: { BTC: 8 } });
    close = opened.close;
    const books = new EarnBooks(opened.ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'eth', currency: 'ETH', name: 'ETH', effectiveDay: '2025-01-01', terms: flat() });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: flat() });
    await books.registerUser({ partnerUserId: 'p', earnUsers: [{ entity: 'defi', earnUserId: 'u' }] });
    // The ETH account comes first in account order: its batch is booked before the BTC one.
    for (const [id, product, currency] of [['a-eth', 'eth', 'ETH'], ['a-btc', 'btc', 'BTC']] as const) {
      await books.openEarnAccount({ entity: 'defi', earnAccountId: id, earnUserId: 'u', providerProductId: product, currency });
      await books.recordDeposit({ entity: 'defi', earnAccountId: id, providerBookingId: `b-${id}`, amount: '1', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: `k-${id}`, providerData: {} });
    }
    const before = await snapshotDatabase(opened.ledger.db as Kysely<unknown>);
    const error = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 1, commitLines: 1 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'products.btc.terms.scale', value: '18' });
    expect(await snapshotDatabase(opened.ledger.db as Kysely<unknown>)).toBe(before);
    // The projection still computes the product's figures at its own scale.
    const lines = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    expect(lines.map((line) => [line.earnAccountId, line.userInterest])).toEqual([
      ['a-eth', '0.000094254925873501'],
      ['a-btc', '0.000094254925873501'],
    ]);
    // A version at the ledger's scale is booked.
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-03-18', terms: flat({ scale: 8 }) });
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 1, commitLines: 1 });
    expect(summary.interestBooked).toBe(2);
    expect(summary.totals.get('BTC')?.userInterest).toBe('0.000094250000000000');
    await opened.ledger.verify({ entity: 'defi' });
  });
});

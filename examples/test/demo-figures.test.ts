/**
 * The demo's daily figures (`readDailySeries`) only read the books: a currency with a product but
 * no booking shows a zero outstanding balance, and reading it opens no settlement account (it
 * opened one before, a write by a page that only shows figures). On SQLite and PostgreSQL, with a
 * snapshot of the whole database before and after.
 */
import { describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import { DIALECTS, freshLedger } from '../../packages/ledger/test/dialects.js';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';
import { readDailySeries } from '../src/demo/figures.js';

const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null } as const;

describe.each(DIALECTS)('the demo figures on %s', (dialect) => {
  it('read a never-booked currency as zero and write nothing', async () => {
    const { ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(ledger);
      for (const currency of ['BTC', 'ETH']) await books.recordProduct({ entity: 'defi', providerProductId: currency.toLowerCase(), currency, name: currency, effectiveDay: '2025-01-01', terms: TERMS });
      await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: 'btc-0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId: 'btc-0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
      const before = await snapshotDatabase(ledger.db as never);
      const series = await readDailySeries({ ledger, entities: ['defi'], currencies: new Map([['defi', ['BTC', 'ETH']]]), days: ['2025-03-18', '2025-03-19'] });
      expect(await snapshotDatabase(ledger.db as never)).toBe(before);
      expect(series.map((entry) => `${entry.currency} ${[...entry.outstanding].map(([day, value]) => `${day}=${value}`).join(' ')}`)).toEqual([
        'BTC 2025-03-18=-1.000000000000000000 2025-03-19=-1.000000000000000000',
        'ETH 2025-03-18=0.000000000000000000 2025-03-19=0.000000000000000000',
      ]);
    } finally {
      await close();
    }
  });
});

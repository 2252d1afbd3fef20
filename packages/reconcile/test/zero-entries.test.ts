/**
 * Interest of zero (an account with a dust or empty balance) is reported but never booked: the
 * day stays clean, end to end, and nothing is booked for it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, providerEntriesByIds } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';

const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] };

describe.each(DIALECTS)('a reported entry of zero on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 2; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '2', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
  });
  afterEach(async () => close());

  it('leaves the day clean and books nothing for it, also when run again', async () => {
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', DAY);
    const zero = { id: '00000000-0000-4000-8000-0000000000a1', type: 'Interest', currency: 'BTC', amount: '0.000000000000000000', createdAt: '2025-03-19T00:00:00.000Z', accountId: 'a1' };
    report.transactions.push(zero);
    const first = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(first.breaks).toEqual([]);
    expect(first.clean).toBe(true);
    expect(await providerEntriesByIds(ledger, { entity: 'defi', providerIds: [zero.id] })).toEqual([]);
    const again = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(again.reportStatus).toBe('exists');
    expect(again.breaks).toEqual([]);
    await ledger.verify({ entity: 'defi' });
  });
});

/**
 * Interest the report dates inside its own day (23:59 rather than just after midnight) is booked at
 * the start of the next day: booked into the day, it changed the day's closing balance, and a run
 * of the same report again recomputed different interest (an `interest_mismatch` on a report that
 * was clean the first time).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, providerEntriesByIds } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('interest dated in its own day on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 2; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: `${i + 2}`, occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: `k${i}`, providerData: { id: `b${i}` } });
    }
  });
  afterEach(async () => close());

  it('is booked at the start of the next day, and the same report run again stays clean', async () => {
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', DAY);
    // 23:59 in Berlin on the day itself (22:59Z in March, UTC+1).
    for (const entry of report.transactions) if (entry.type === 'Interest') entry.createdAt = '2025-03-18T22:59:00.000Z';
    const first = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(first.breaks).toEqual([]);
    expect(first.synced.interest).toBe(2);
    const ids = report.transactions.filter((entry) => entry.type === 'Interest').map((entry) => String(entry['id']));
    const booked = await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ids });
    expect(booked.map((entry) => [entry.accountingDay, entry.interestDay])).toEqual([
      ['2025-03-19', DAY],
      ['2025-03-19', DAY],
    ]);
    const again = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(again.reportStatus).toBe('exists');
    expect(again.breaks).toEqual([]);
    expect(again.synced.interest).toBe(0);
    await ledger.verify({ entity: 'defi' });
  });
});

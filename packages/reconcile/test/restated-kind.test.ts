/**
 * Which kind a later version's amount difference gets. The provider restating an entry (a figure
 * other than every earlier version's) is a `restated_entry`; a later version that reports the same
 * figure an earlier one did repeats that disagreement under its kind, so a person's resolution of
 * it still covers it. Before, every difference in a version after the first was a
 * `restated_entry`: an unchanged, accepted `amount_mismatch` came back as a new open break when the
 * provider re-issued the day (found in review, session 22).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, runAccountingCycle, toUnits } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const DAY = '2025-03-18';
const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('the kind of an amount difference in later versions (%s)', (dialect) => {
  let books: EarnBooks;
  let close: () => Promise<void>;
  let reconciler: Reconciler;
  let v1: ReportJson;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    books = new EarnBooks(opened.ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: TERMS });
    for (let i = 0; i < 2; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `b${i}`, amount: String(i + 1), occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: `k${i}`, providerData: {} });
    }
    reconciler = await Reconciler.open({ books, toleranceUnits: { BTC: '100' } });
    v1 = await buildReport(books, 'defi', DAY);
    // The partner's own cycle booked the day's interest, under the report's ids.
    await runAccountingCycle({ books, entity: 'defi', day: DAY, now: () => new Date('2025-03-19T01:00:00Z') });
  });
  afterEach(async () => close());

  /** The report with a0's interest moved by `units` from the books' figure, as version `id`. */
  function version(id: string, units: bigint): ReportJson {
    const report = structuredClone(v1);
    report.id = id;
    const a0 = report.transactions.find((entry) => entry['type'] === 'Interest' && entry['accountId'] === 'a0');
    if (a0 === undefined) throw new Error('no interest of a0');
    a0['amount'] = formatUnits(toUnits(String(a0['amount'])) + units);
    return report;
  }

  it('an unchanged disagreement keeps its kind in version 2, and the resolution of version 1 covers it', async () => {
    const first = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v1', 5n)) });
    expect(first.breaks.map((b) => b.kind)).toEqual(['amount_mismatch']);
    await reconciler.resolveBreak({ breakId: first.breaks[0]!.id, reason: 'accepted' });
    const second = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v2', 5n)) });
    expect(second.reportVersion).toBe(2);
    expect(second.breaks).toEqual([]);
  });

  it('another figure in version 2 is the provider restating the entry; repeated in version 3 it stays restated and covered', async () => {
    await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v1', 5n)) });
    const second = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v2', 7n)) });
    expect(second.breaks.map((b) => [b.kind, b.actual])).toEqual([['restated_entry', expect.any(String)]]);
    await reconciler.resolveBreak({ breakId: second.breaks[0]!.id, reason: 'accepted' });
    const third = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v3', 7n)) });
    expect(third.reportVersion).toBe(3);
    expect(third.breaks).toEqual([]);
    // Back to version 1's figure: version 1's kind, and its (open) break is found again.
    const fourth = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(version('v4', 5n)) });
    expect(fourth.breaks.map((b) => b.kind)).toEqual(['amount_mismatch']);
  });
});

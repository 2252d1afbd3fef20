import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import type { ReportSummary } from '@earnbook/earn-client/contract';
import { ReconcileError, Reconciler, chooseDayReport, findDayReport, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

const summary = (id: string, createdAt: string, accountingDay = DAY, type = 'Report'): ReportSummary => ({ id, type, accountingDay, createdAt });

async function* listed(summaries: readonly ReportSummary[]): AsyncIterable<ReportSummary> {
  for (const item of summaries) yield item;
}

describe('the rule of which report of a day to reconcile', () => {
  it('takes the newest Report of the day by createdAt (offsets compared as instants), the later-listed on a tie', () => {
    expect(chooseDayReport([summary('a', '2025-03-19T01:00:00Z'), summary('b', '2025-03-19T02:00:00+02:00')], DAY)).toEqual({ chosen: summary('a', '2025-03-19T01:00:00Z'), candidates: 2, listed: 2 });
    expect(chooseDayReport([summary('a', '2025-03-19T01:00:00Z'), summary('b', '2025-03-19T01:00:00Z')], DAY).chosen?.id).toBe('b');
    expect(chooseDayReport([summary('v2', '2025-03-20T09:00:00Z'), summary('v1', '2025-03-19T01:00:00Z')], DAY).chosen?.id).toBe('v2');
  });

  it('ignores other days and other report types, and answers no choice when none is left', () => {
    const other = [summary('x', '2025-03-20T01:00:00Z', '2025-03-19'), summary('y', '2025-03-20T01:00:00Z', DAY, 'Statement')];
    expect(chooseDayReport(other, DAY)).toEqual({ chosen: undefined, candidates: 0, listed: 2 });
    expect(chooseDayReport([], DAY)).toEqual({ chosen: undefined, candidates: 0, listed: 0 });
  });

  it('walks an async list with the same rule, and refuses a list longer than its bound', async () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z'), summary('z', '2025-03-19T06:00:00Z', '2025-03-17')];
    expect(await findDayReport({ summaries: listed(list), day: DAY, source: 'defi' })).toEqual(chooseDayReport(list, DAY));
    const refused = await findDayReport({ summaries: listed(list), day: DAY, source: 'defi', summariesMax: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReconcileError);
    expect(refused).toMatchObject({ code: 'no_report', field: 'reports', value: 'defi' });
  });
});

describe.each(DIALECTS)('restatements reconciled through the rule on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner-wallet' } } });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
  });
  afterEach(async () => close());

  /** The provider's side: its report list and the report each id downloads. */
  async function reconcileListed(list: readonly ReportSummary[], reports: ReadonlyMap<string, ReportJson>) {
    const found = await findDayReport({ summaries: listed(list), day: DAY, source: 'defi' });
    const report = found.chosen === undefined ? undefined : reports.get(found.chosen.id);
    if (report === undefined) throw new Error('the rule chose no listed report');
    return reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
  }

  it('reconciles the newest version of a restated day once, and a re-run or another list order changes nothing', async () => {
    const original = await buildReport(books, 'defi', DAY);
    const wrong = structuredClone(original);
    wrong.id = 'v1';
    wrong.balances[0] = { currency: 'BTC', outstandingBalance: '-1' };
    const restated = structuredClone(original);
    restated.id = 'v2';
    const reports = new Map([['v1', wrong], ['v2', restated]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    const v2 = summary('v2', '2025-03-19T07:00:00Z');

    const first = await reconcileListed([v1], reports);
    expect(first.reportVersion).toBe(1);
    expect(first.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);

    const second = await reconcileListed([v1, v2], reports);
    expect(second.reportId).toBe('v2');
    expect(second.reportVersion).toBe(2);
    expect(second.clean).toBe(true);
    expect(second.resolvedBreaks).toBe(1);
    const transactions = (await ledger.verify({ allEntities: true })).transactions;

    for (const list of [[v1, v2], [v2, v1]]) {
      const again = await reconcileListed(list, reports);
      expect(again.reportId).toBe('v2');
      expect(again.reportStatus).toBe('exists');
      expect(again.reportVersion).toBe(2);
      expect(again.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    }
    expect((await ledger.verify({ allEntities: true })).transactions).toBe(transactions);
    expect((await books.processedReports({ entity: 'defi', accountingDay: DAY })).map((row) => row.reportId)).toEqual(['v1', 'v2']);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import type { ReportSummary } from '@earnbook/earn-client/contract';
import { ReconcileError, Reconciler, findDayReports, loadReportObject, planDayReports } from '../src/index.js';
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

describe('the rule of which reports of a day to reconcile', () => {
  const plan = (summaries: readonly ReportSummary[], processedReportIds: readonly string[] = []) => planDayReports({ summaries, day: DAY, processedReportIds });
  const ids = (summaries: readonly ReportSummary[]) => summaries.map((item) => item.id);

  it('orders the versions of the day by createdAt (offsets compared as instants), list order on a tie', () => {
    const listedLate = [summary('a', '2025-03-19T01:00:00Z'), summary('b', '2025-03-19T02:00:00+02:00')];
    expect(plan(listedLate)).toEqual({ toReconcile: [listedLate[1], listedLate[0]], newest: listedLate[0], candidates: 2, listed: 2 });
    expect(plan([summary('a', '2025-03-19T01:00:00Z'), summary('b', '2025-03-19T01:00:00Z')]).newest?.id).toBe('b');
  });

  it('reconciles the versions newer than the newest processed one, never an older one over a newer', () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z'), summary('v3', '2025-03-19T09:00:00Z')];
    expect(ids(plan(list).toReconcile)).toEqual(['v1', 'v2', 'v3']);
    expect(ids(plan(list, ['v1']).toReconcile)).toEqual(['v2', 'v3']);
    // v1 was never processed, but v2 was: v1 is older and is left alone.
    expect(ids(plan(list, ['v2']).toReconcile)).toEqual(['v3']);
    // Everything processed: the newest again (a no-op that answers the day's result).
    expect(ids(plan(list, ['v1', 'v2', 'v3']).toReconcile)).toEqual(['v3']);
    expect(ids(plan(list, ['v3']).toReconcile)).toEqual(['v3']);
  });

  it('ignores other days and other report types, and plans nothing when none is left', () => {
    const other = [summary('x', '2025-03-20T01:00:00Z', '2025-03-19'), summary('y', '2025-03-20T01:00:00Z', DAY, 'Statement')];
    expect(plan(other, ['x'])).toEqual({ toReconcile: [], newest: undefined, candidates: 0, listed: 2 });
    expect(plan([])).toEqual({ toReconcile: [], newest: undefined, candidates: 0, listed: 0 });
  });

  it('walks an async list with the same rule, and refuses a list longer than its bound', async () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z'), summary('z', '2025-03-19T06:00:00Z', '2025-03-17')];
    expect(await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', processedReportIds: ['v1'] })).toEqual(plan(list, ['v1']));
    const refused = await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', summariesMax: 2 }).catch((error: unknown) => error);
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

  /** One run of a job: the rule picks the versions to reconcile from the provider's list, oldest first. */
  async function reconcileListed(list: readonly ReportSummary[], reports: ReadonlyMap<string, ReportJson>) {
    const processed = await books.processedReports({ entity: 'defi', accountingDay: DAY });
    const found = await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', processedReportIds: processed.map((row) => row.reportId) });
    const results = [];
    for (const chosen of found.toReconcile) {
      const report = reports.get(chosen.id);
      if (report === undefined) throw new Error(`the rule chose ${chosen.id}, which the provider does not serve`);
      results.push(await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }));
    }
    return results;
  }

  it('records each restatement as the next version and classifies the changed entry; a re-run or another list order changes nothing', async () => {
    const original = await buildReport(books, 'defi', DAY);
    const first = structuredClone(original);
    first.id = 'v1';
    const restated = structuredClone(original);
    restated.id = 'v2';
    const interest = restated.transactions.find((entry) => entry['type'] === 'Interest');
    if (interest !== undefined) interest['amount'] = '0.5';
    const reports = new Map([['v1', first], ['v2', restated]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    const v2 = summary('v2', '2025-03-19T07:00:00Z');

    // Both versions listed at the first run (the provider restated before the job ran): both, in order.
    const night = await reconcileListed([v2, v1], reports);
    expect(night.map((result) => [result.reportId, result.reportVersion, result.reportStatus])).toEqual([['v1', 1, 'created'], ['v2', 2, 'created']]);
    expect(night[0]?.clean).toBe(true);
    expect(night[1]?.breaks.map((found) => found.kind)).toContain('restated_entry');
    const transactions = (await ledger.verify({ allEntities: true })).transactions;

    for (const list of [[v1, v2], [v2, v1]]) {
      const again = await reconcileListed(list, reports);
      expect(again.map((result) => [result.reportId, result.reportVersion, result.reportStatus])).toEqual([['v2', 2, 'exists']]);
      expect(again[0]?.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    }
    expect((await ledger.verify({ allEntities: true })).transactions).toBe(transactions);
    expect((await books.processedReports({ entity: 'defi', accountingDay: DAY })).map((row) => row.reportId)).toEqual(['v1', 'v2']);
  });

  it('reconciles a restatement published after the first run as the next version, and clears the break it fixes', async () => {
    const original = await buildReport(books, 'defi', DAY);
    const wrong = structuredClone(original);
    wrong.id = 'v1';
    wrong.balances[0] = { currency: 'BTC', outstandingBalance: '-1' };
    const fixed = structuredClone(original);
    fixed.id = 'v2';
    const reports = new Map([['v1', wrong], ['v2', fixed]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    const v2 = summary('v2', '2025-03-19T07:00:00Z');

    const [first] = await reconcileListed([v1], reports);
    expect(first?.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);
    const [second, extra] = await reconcileListed([v1, v2], reports);
    expect(extra).toBeUndefined();
    expect(second).toMatchObject({ reportId: 'v2', reportVersion: 2, clean: true, resolvedBreaks: 1 });
  });
});

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
    expect(plan(listedLate)).toEqual({ toReconcile: [listedLate[0]], newest: listedLate[0], superseded: [listedLate[1]], candidates: 2, listed: 2 });
    expect(plan([summary('a', '2025-03-19T01:00:00Z'), summary('b', '2025-03-19T01:00:00Z')]).newest?.id).toBe('b');
  });

  it.each(['2025-03-19T10:00:00+01', '2025-03-19T10:00:00.5+0100', '2025-03-19 09:00:00z'])('reads an offset or form the contract allows (%s) as its instant: that version is the newest', (createdAt) => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', createdAt)];
    expect(ids(plan(list).toReconcile)).toEqual(['v2']);
    expect(ids(plan(list).superseded)).toEqual(['v1']);
  });

  it('reconciles the newest version only; older versions never processed are superseded', () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z'), summary('v3', '2025-03-19T09:00:00Z')];
    // Three versions at the first run: the newest is the statement of record.
    expect(ids(plan(list).toReconcile)).toEqual(['v3']);
    expect(ids(plan(list).superseded)).toEqual(['v1', 'v2']);
    // v1 was processed, v2 and v3 appeared since: v3 is the restatement, v2 is superseded.
    expect(ids(plan(list, ['v1']).toReconcile)).toEqual(['v3']);
    expect(ids(plan(list, ['v1']).superseded)).toEqual(['v2']);
    expect(ids(plan(list, ['v2']).superseded)).toEqual(['v1']);
    // The newest processed: reconciled again (a no-op that answers the day's result).
    expect(ids(plan(list, ['v1', 'v2', 'v3']).toReconcile)).toEqual(['v3']);
    expect(plan(list, ['v1', 'v2', 'v3']).superseded).toEqual([]);
    expect(ids(plan(list, ['v3']).toReconcile)).toEqual(['v3']);
    // The processed ids change only the audit list, never the choice.
    expect(plan(list, ['v1']).newest).toEqual(plan(list).newest);
  });

  it('ignores other days and other report types, and plans nothing when none is left', () => {
    const other = [summary('x', '2025-03-20T01:00:00Z', '2025-03-19'), summary('y', '2025-03-20T01:00:00Z', DAY, 'Statement')];
    expect(plan(other, ['x'])).toEqual({ toReconcile: [], newest: undefined, superseded: [], candidates: 0, listed: 2 });
    expect(plan([])).toEqual({ toReconcile: [], newest: undefined, superseded: [], candidates: 0, listed: 0 });
  });

  it('walks an async list with the same rule, and refuses a list longer than its bound', async () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z'), summary('z', '2025-03-19T06:00:00Z', '2025-03-17')];
    expect(await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', processedReportIds: ['v1'] })).toEqual(plan(list, ['v1']));
    const refused = await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', summariesMax: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReconcileError);
    expect(refused).toMatchObject({ code: 'no_report', field: 'reports', value: 'defi' });
  });

  it('refuses a list longer than its bound whatever source names it, and a bound that is not a number, as typed errors (raw TypeErrors before)', async () => {
    const list = [summary('v1', '2025-03-19T01:00:00Z'), summary('v2', '2025-03-19T05:00:00Z')];
    const hostileText = {
      toString: () => {
        throw new Error('hostile toString');
      },
    };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const source of [Symbol('defi'), hostileText, proxy]) {
      const refused = await findDayReports({ summaries: listed(list), day: DAY, source: source as never, summariesMax: 1 }).catch((error: unknown) => error);
      expect(refused, String(refused)).toBeInstanceOf(ReconcileError);
      expect(refused).toMatchObject({ code: 'no_report', field: 'reports' });
      expect(typeof (refused as ReconcileError).value).toBe('string');
    }
    for (const summariesMax of [proxy, '2', Number.NaN, Number.POSITIVE_INFINITY, 0, -1, 1.5]) {
      const refused = await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', summariesMax: summariesMax as never }).catch((error: unknown) => error);
      expect(refused, String(refused)).toBeInstanceOf(ReconcileError);
      expect(refused).toMatchObject({ code: 'invalid_input', field: 'summariesMax' });
    }
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

  /** One run of a job, as the CLI and the nightly job run it: the rule's choice is downloaded and reconciled. */
  async function reconcileListed(list: readonly ReportSummary[], reports: ReadonlyMap<string, ReportJson>) {
    const processed = await books.processedReports({ entity: 'defi', accountingDay: DAY });
    const found = await findDayReports({ summaries: listed(list), day: DAY, source: 'defi', processedReportIds: processed.map((row) => row.reportId) });
    const results = [];
    for (const chosen of found.toReconcile) {
      const report = reports.get(chosen.id);
      if (report === undefined) throw new Error(`the rule chose ${chosen.id}, which the provider does not serve`);
      results.push(await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }));
    }
    return { results, superseded: found.superseded.map((item) => item.id) };
  }

  /** The day's true report as `id`, its first interest entry shifted to `interest` if given. */
  async function version(id: string, interest?: string): Promise<ReportJson> {
    const report = structuredClone(await buildReport(books, 'defi', DAY));
    report.id = id;
    const entry = report.transactions.find((item) => item['type'] === 'Interest');
    if (interest !== undefined && entry !== undefined) entry['amount'] = interest;
    return report;
  }
  const outcome = (results: readonly { reportId: string; reportVersion: number; reportStatus: string }[]) => results.map((result) => [result.reportId, result.reportVersion, result.reportStatus]);

  it('two versions published at once: only the newest is reconciled, as version 1; the older is superseded', async () => {
    const reports = new Map([['v1', await version('v1', '0.5')], ['v2', await version('v2')]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    const v2 = summary('v2', '2025-03-19T01:00:00Z');
    const night = await reconcileListed([v1, v2], reports);
    expect(outcome(night.results)).toEqual([['v2', 1, 'created']]);
    expect(night.superseded).toEqual(['v1']);
    expect(night.results[0]?.clean).toBe(true);
    expect((await books.processedReports({ entity: 'defi', accountingDay: DAY })).map((row) => row.reportId)).toEqual(['v2']);
  });

  it('a restatement published after the first run is reconciled as version 2 with its changed entry; a re-run or another list order changes nothing', async () => {
    const reports = new Map([['v1', await version('v1')], ['v2', await version('v2', '0.5')]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    const v2 = summary('v2', '2025-03-19T07:00:00Z');
    const first = await reconcileListed([v1], reports);
    expect(outcome(first.results)).toEqual([['v1', 1, 'created']]);
    expect(first.results[0]?.clean).toBe(true);

    const second = await reconcileListed([v2, v1], reports);
    expect(outcome(second.results)).toEqual([['v2', 2, 'created']]);
    expect(second.superseded).toEqual([]);
    expect(second.results[0]?.breaks.map((found) => found.kind)).toContain('restated_entry');
    const transactions = (await ledger.verify({ allEntities: true })).transactions;

    for (const list of [[v1, v2], [v2, v1]]) {
      const again = await reconcileListed(list, reports);
      expect(outcome(again.results)).toEqual([['v2', 2, 'exists']]);
      expect(again.results[0]?.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
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

    const [first] = (await reconcileListed([v1], reports)).results;
    expect(first?.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);
    const [second, extra] = (await reconcileListed([v1, v2], reports)).results;
    expect(extra).toBeUndefined();
    expect(second).toMatchObject({ reportId: 'v2', reportVersion: 2, clean: true, resolvedBreaks: 1 });
  });

  it('a re-run with nothing new reconciles the processed newest again and books nothing', async () => {
    const reports = new Map([['v1', await version('v1')]]);
    const v1 = summary('v1', '2025-03-19T01:00:00Z');
    await reconcileListed([v1], reports);
    const transactions = (await ledger.verify({ allEntities: true })).transactions;
    const again = await reconcileListed([v1], reports);
    expect(outcome(again.results)).toEqual([['v1', 1, 'exists']]);
    expect(again.results[0]?.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    expect((await ledger.verify({ allEntities: true })).transactions).toBe(transactions);
  });
});

/**
 * Nesting depth of reports read in memory (`parseReport`, `loadReportObject`): the same limit as
 * the streamed read (`REPORT_DEPTH_MAX`, the top-level object being level 1), a typed
 * `invalid_report` beyond it, never a `RangeError` from the call stack however deep.
 */
import { describe, expect, it } from 'vitest';
import { REPORT_DEPTH_MAX, ReconcileError, loadReportObject, parseReport } from '../src/index.js';

const HEADER = { id: '00000000-0000-4000-8000-000000000000', type: 'Report', entity: 'defi', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: '2025-03-19T00:01:00.000Z' };

/** A report whose one entry's `memo` nests `levels` arrays: the memo's innermost array is at level 3 + levels. */
function reportText(levels: number): string {
  const entry = `{"id":"00000000-0000-4000-8000-000000000001","type":"Interest","currency":"BTC","amount":"0.1","createdAt":"2025-03-18T12:00:00Z","accountId":"a1","memo":${'['.repeat(levels)}${']'.repeat(levels)}}`;
  return JSON.stringify({ ...HEADER, transactions: ['ENTRY'], balances: [{ currency: 'BTC', outstandingBalance: '-1.5' }] }).replace('"ENTRY"', entry);
}

const readers = {
  parseReport: (text: string) => parseReport(text, 'test'),
  loadReportObject: (text: string) => loadReportObject(JSON.parse(text) as unknown, 'test'),
};

describe.each(Object.entries(readers))('%s', (_name, read) => {
  it('takes a report nested exactly to the limit', () => {
    expect(read(reportText(REPORT_DEPTH_MAX - 3)).report.transactions).toHaveLength(1);
  });

  it.each([REPORT_DEPTH_MAX - 2, 5_000, 100_000])('refuses %i levels in an entry with a typed error naming where', (levels) => {
    let error: unknown;
    try {
      read(reportText(levels));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_report', field: 'report', value: 'test' });
    expect((error as ReconcileError).path).toBe('/transactions/0/memo/0/0/0/0/0');
    expect((error as ReconcileError).message.length).toBeLessThan(200);
  });
});

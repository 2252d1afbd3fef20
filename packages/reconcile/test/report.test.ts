import { describe, expect, it } from 'vitest';
import { loadReportObject, parseReport } from '../src/index.js';

const report = {
  id: 'r-1',
  type: 'Report',
  accountingDay: '2025-03-18',
  timeZone: 'UTC',
  generatedAt: '2025-03-19T00:01:00.000Z',
  transactions: [{ id: '00000000-0000-4000-8000-000000000001', type: 'Interest', currency: 'BTC', amount: '0.000000173182690071', createdAt: '2025-03-19T00:01:55.703Z', accountId: 'a1' }],
  balances: [{ currency: 'BTC', outstandingBalance: '-1.5' }],
};

describe('report content hash', () => {
  it('is the same for a report object and a file holding its compact JSON', () => {
    expect(loadReportObject(report).contentHash).toBe(parseReport(JSON.stringify(report), 'report.json').contentHash);
  });

  it('differs when the content differs', () => {
    const other = { ...report, balances: [{ currency: 'BTC', outstandingBalance: '-1.6' }] };
    expect(loadReportObject(other).contentHash).not.toBe(loadReportObject(report).contentHash);
  });
});

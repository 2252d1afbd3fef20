import { describe, expect, it } from 'vitest';
import { ReconcileError, loadReportObject, parseReport } from '../src/index.js';

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

  // A review (session 44): the object was validated and used, its JSON hashed.
  it('covers what is used: an object whose JSON says another report is used as its JSON says', () => {
    const changed: Record<string, unknown> = { ...report, balances: [{ currency: 'BTC', outstandingBalance: '-999' }], toJSON: () => report };
    const loaded = loadReportObject(changed);
    expect(loaded.contentHash).toBe(loadReportObject(report).contentHash);
    expect(loaded.report).toEqual(loadReportObject(report).report);
    expect(loaded.report.balances[0]?.outstandingBalance).toBe('-1.5');
  });

  it('covers what is used: a getter answering otherwise on each read, the value hashed is the value used', () => {
    let reads = 0;
    const entry = { ...report.transactions[0] };
    Object.defineProperty(entry, 'amount', { enumerable: true, get: () => `0.${++reads}` });
    const loaded = loadReportObject({ ...report, transactions: [entry] });
    const used = loaded.report.transactions[0]?.amount;
    expect(loaded.contentHash).toBe(loadReportObject({ ...report, transactions: [{ ...report.transactions[0], amount: used }] }).contentHash);
  });

  it.each([
    ['a BigInt in an unknown header field', { ...report, note: 10n }, 'report.note'],
    ['a BigInt in an entry', { ...report, transactions: [{ ...report.transactions[0], amount: 10n }] }, 'report.transactions[0].amount'],
    ['a toJSON that throws', { ...report, toJSON: () => { throw new Error('no'); } }, 'report'],
  ])('refuses %s as invalid_report naming the part, not a raw TypeError', (_name, input, field) => {
    let caught: unknown;
    try {
      loadReportObject(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ReconcileError);
    expect(caught).toMatchObject({ code: 'invalid_report', field });
  });

  it('refuses a value JSON drops where the contract needs it (an undefined amount)', () => {
    expect(() => loadReportObject({ ...report, transactions: [{ ...report.transactions[0], amount: undefined }] })).toThrow(ReconcileError);
  });
});

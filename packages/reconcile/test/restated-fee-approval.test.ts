/**
 * Fee approval looks at the reported fee too, not only the booked one. The sync never books a
 * provider id the books already hold, so a fee restated in a later version keeps version 1's
 * booked figure: approving against that alone let a fee restated from 0.001 to 500 settle
 * without anyone approving it. The day's fees to approve are, per currency, the larger of the
 * booked and the reported; the streaming run and the in-memory `diffDay` agree.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, diffDay, loadReportObject } from '../src/index.js';
import type { ReconcileResult } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import type { ReportJson } from './report-builder.js';
import { diffInput, mutationDay } from './diff-day.js';

const DAY = '2025-03-18';
const FEE_ID = '00000000-0000-4000-8000-0000000000fe';

/** The report as version `id` with the day's one fee at `amount`; the outstanding balance is version 1's (the books' figure). */
function withFee(report: ReportJson, id: string, amount: string): ReportJson {
  const copy = structuredClone(report);
  copy.id = id;
  copy.transactions.push({ id: FEE_ID, type: 'Fee', currency: 'BTC', amount, createdAt: '2025-03-18T20:00:00Z' });
  const balance = copy.balances[0];
  if (balance === undefined) throw new Error('no balance');
  balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - toUnits('0.001'));
  return copy;
}

const approvals = (result: ReconcileResult) => result.breaks.filter((found) => found.kind === 'approval_required');

describe.each(DIALECTS)('approval of a restated fee on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  it('asks for approval of the restated figure, holds the currency, and takes a person approval of that figure only', async () => {
    const reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner' } }, feeApprovalLimits: { defi: { BTC: '10' } } });
    const run = (report: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const good = await buildReport(books, 'defi', DAY);

    const first = await run(withFee(good, 'v1', '0.001'));
    expect(first.clean).toBe(true);
    expect(first.synced.fee).toBe(1);
    const issued = first.instructions[0];
    expect(issued).toMatchObject({ direction: 'to_provider', status: 'pending' });

    // Version 2 restates the fee: the books keep 0.001 (a known provider id is not booked again).
    const v2 = withFee(good, 'v2', '500');
    const second = await run(v2);
    expect(second.reportVersion).toBe(2);
    expect(second.synced.fee).toBe(0);
    expect(second.breaks.map((found) => [found.kind, found.expected, found.actual])).toEqual([
      ['restated_entry', '0.001000000000000000', '500.000000000000000000'],
      ['approval_required', '10.000000000000000000', '500.000000000000000000'],
    ]);
    expect(second.instructions).toEqual([{ ...issued, status: 'held', statusReason: 'held by report version 2: fees of 500.000000000000000000 await approval (approval_required)' }]);

    // A person approves 500: a run of version 2 again asks nothing more, and the currency is issued again.
    await reconciler.resolveBreak({ breakId: approvals(second)[0]?.id ?? 0, reason: 'restated fee of 500 approved by finance' });
    const third = await run(v2);
    expect(approvals(third)).toEqual([]);
    expect(third.instructions).toEqual([issued]);

    // Version 3 restates it to 600: the approval of 500 does not cover it.
    const fourth = await run(withFee(good, 'v3', '600'));
    expect(fourth.reportVersion).toBe(3);
    expect(approvals(fourth).map((found) => [found.actual, found.status])).toEqual([['600.000000000000000000', 'open']]);
    expect(fourth.instructions).toEqual([{ ...issued, status: 'held', statusReason: 'held by report version 3: fees of 600.000000000000000000 await approval (approval_required)' }]);
  });
});

describe('approval of a restated fee in diffDay (pure)', () => {
  /** A day whose books hold a fee of 0.001 and whose report (version 2) states `reported`, limit 10. */
  function restatedDay(reported: string) {
    const day = mutationDay();
    day.version = 2;
    day.feeLimitUnits = toUnits('10');
    day.local.push({ transactionId: 9_999, kind: 'fee', providerId: 'fee-1', accountingDay: DAY, interestDay: DAY, amountUnits: toUnits('0.001'), currency: 'BTC', earnAccountId: null });
    day.transactions.push({ id: 'fee-1', type: 'Fee', currency: 'BTC', amount: reported, createdAt: '2025-03-18T20:00:00Z' });
    const balance = day.balances[0];
    if (balance === undefined) throw new Error('no balance');
    day.outstanding.set('BTC', (day.outstanding.get('BTC') ?? 0n) - toUnits('0.001'));
    balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - toUnits('0.001'));
    return diffDay(diffInput(day));
  }

  it('asks for approval of the reported figure when it is above the booked one', () => {
    expect(restatedDay('500').map((found) => [found.kind, found.actual])).toEqual([
      ['restated_entry', '500.000000000000000000'],
      ['approval_required', '500.000000000000000000'],
    ]);
  });

  it('keeps the booked figure when the report restates the fee lower, and asks nothing under the limit', () => {
    expect(restatedDay('0.0001').map((found) => found.kind)).toEqual(['restated_entry']);
  });

  it('takes the larger figure per fee: one fee restated down does not hide another restated up', () => {
    // Booked 4 and 6 (10, at the limit); reported 9 and 1 (10 too): per fee, 9 + 6 = 15 to approve.
    const day = mutationDay();
    day.version = 2;
    day.feeLimitUnits = toUnits('10');
    for (const [id, booked, reported] of [['fee-a', '4', '9'], ['fee-b', '6', '1']] as const) {
      day.local.push({ transactionId: id === 'fee-a' ? 9_998 : 9_999, kind: 'fee', providerId: id, accountingDay: DAY, interestDay: DAY, amountUnits: toUnits(booked), currency: 'BTC', earnAccountId: null });
      day.transactions.push({ id, type: 'Fee', currency: 'BTC', amount: reported, createdAt: '2025-03-18T20:00:00Z' });
    }
    const approval = diffDay(diffInput(day)).filter((found) => found.kind === 'approval_required');
    expect(approval.map((found) => found.actual)).toEqual(['15.000000000000000000']);
  });
});

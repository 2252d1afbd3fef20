/**
 * A break's identity and its figure: a break that comes back after a run closed it is reported
 * again, and a person's resolution covers the figure it was given, not any later one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, breakDraft, loadReportObject } from '../src/index.js';
import { breakFigure } from '../src/diff.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';

/** `report` as another version of the day: a new id (so a new content) and the given outstanding balance shift. */
function version(report: ReportJson, id: string, outstandingShift = '0'): ReportJson {
  const copy = structuredClone(report);
  copy.id = id;
  const balance = copy.balances[0];
  if (balance === undefined) throw new Error('no balance');
  balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) + toUnits(outstandingShift));
  return copy;
}

/** `report` with a fee of `amount` under `id`, netted into its outstanding balance as the provider does. */
function withFee(report: ReportJson, id: string, amount: string): ReportJson {
  const copy = version(report, report.id, formatUnits(-toUnits(amount)));
  copy.transactions.push({ id, type: 'Fee', currency: 'BTC', amount, createdAt: '2025-03-18T23:00:00Z' });
  return copy;
}

describe('breakFigure', () => {
  it('is the expected and actual values, injectively; for approval_required the fees alone, not the limit', () => {
    const mismatch = (expected: string | null, actual: string | null) => breakFigure(breakDraft('amount_mismatch', { providerId: 'x', expected, actual }));
    expect(mismatch('1', '2')).toBe(mismatch('1', '2'));
    expect(mismatch('1', '2')).not.toBe(mismatch('2', '1'));
    expect(mismatch('1","2', null)).not.toBe(mismatch('1', '2'));
    expect(mismatch(null, '2')).not.toBe(mismatch('', '2'));
    const approval = (limit: string, fees: string) => breakFigure(breakDraft('approval_required', { currency: 'BTC', expected: limit, actual: fees }));
    expect(approval('0', '5')).toBe(approval('1', '5'));
    expect(approval('0', '5')).not.toBe(approval('0', '6'));
    // The identity does not hold the figure: one open row follows it.
    expect(breakDraft('amount_mismatch', { providerId: 'x', expected: '1' }).fingerprint).toBe(breakDraft('amount_mismatch', { providerId: 'x', expected: '2' }).fingerprint);
  });
});

describe.each(DIALECTS)('breaks that come back, and what a resolution covers, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner' } } });
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  const run = (report: ReportJson, with_ = reconciler) => with_.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });

  it('reports a break again when a later version brings it back after a run closed it, as a new row beside the closed one', async () => {
    const good = await buildReport(books, 'defi', DAY);
    const first = await run(version(good, 'v1', '-0.5'));
    expect(first.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);
    const closed = first.breaks[0];
    if (closed === undefined) throw new Error('no break');

    const fixed = await run(version(good, 'v2'));
    expect(fixed).toMatchObject({ reportVersion: 2, clean: true, resolvedBreaks: 1 });

    // The same wrong figure again, in a third version.
    const back = await run(version(good, 'v3', '-0.5'));
    expect(back.reportVersion).toBe(3);
    expect(back.clean).toBe(false);
    expect(back.breaks.map((found) => [found.kind, found.expected, found.actual, found.reportVersion])).toEqual([['outstanding_balance_mismatch', closed.expected, closed.actual, 3]]);
    expect(back.breaks[0]?.id).not.toBe(closed.id);
    // The instruction v2 issued is held again: the disputed figure is not paid.
    expect(back.instructions.map((instruction) => instruction.status)).toEqual(['held']);
    // The closed row stays as it was: the audit trail keeps both.
    const all = await reconciler.breaks({ entity: 'defi', day: DAY });
    expect(all.map((found) => [found.id, found.status, found.resolvedBy])).toEqual([
      [closed.id, 'resolved', 'run'],
      [back.breaks[0]?.id, 'open', null],
    ]);
    expect(all[0]?.resolutionReason).toBe('no longer found when reconciling report version 2');

    // Running the latest version again is idempotent: the same open row, nothing added or changed.
    const again = await run(version(good, 'v3', '-0.5'));
    expect(again.reportStatus).toBe('exists');
    expect(again.breaks.map((found) => found.id)).toEqual(back.breaks.map((found) => found.id));
    expect(await reconciler.breaks({ entity: 'defi', day: DAY })).toEqual(all);
  });

  it('a person\'s resolution of one outstanding balance figure does not cover another', async () => {
    const good = await buildReport(books, 'defi', DAY);
    const first = await run(version(good, 'v1', '-0.5'));
    await reconciler.resolveBreak({ breakId: first.breaks[0]?.id ?? 0, reason: 'checked with the provider' });
    expect(await reconciler.breaks({ entity: 'defi', day: DAY, status: 'resolved' })).toMatchObject([{ resolvedBy: 'person', resolutionReason: 'checked with the provider' }]);
    expect((await run(version(good, 'v2', '-0.25'))).breaks.map((found) => [found.kind, found.actual])).toEqual([['outstanding_balance_mismatch', formatUnits(toUnits(good.balances[0]?.outstandingBalance ?? '0') - toUnits('0.25'))]]);
  });

  it('keeps a resolved break of the same figure resolved, but a person cannot resolve a closed break again', async () => {
    const good = await buildReport(books, 'defi', DAY);
    const first = await run(version(good, 'v1', '-0.5'));
    const fixed = await run(version(good, 'v2'));
    expect(fixed.clean).toBe(true);
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.resolveBreak({ breakId: first.breaks[0]?.id ?? 0, reason: 'late' })).rejects.toMatchObject({ code: 'invalid_transition', field: 'breakId' });
    await expect(reconciler.resolveBreak({ breakId: first.breaks[0]?.id ?? 0, reason: ' ' })).rejects.toMatchObject({ code: 'invalid_input', field: 'reason' });
    await expect(reconciler.resolveBreak({ breakId: 0, reason: 'x' })).rejects.toMatchObject({ code: 'invalid_input', field: 'breakId' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('a person approves the fees of one figure: other fees of the day need a new approval, the approved figure stays approved', async () => {
    const good = await buildReport(books, 'defi', DAY);
    const small = withFee({ ...good, id: 'v1' }, '00000000-0000-4000-8000-0000000000f1', '0.001');
    const first = await run(small);
    expect(first.breaks.map((found) => [found.kind, found.actual])).toEqual([['approval_required', '0.001000000000000000']]);
    expect(first.instructions).toEqual([]);
    const approved = await reconciler.resolveBreak({ breakId: first.breaks[0]?.id ?? 0, reason: 'fee of 0.001 approved by finance' });
    expect(approved).toMatchObject({ status: 'resolved', resolvedBy: 'person' });

    // A restatement adds fees: 500 in all. The approval of 0.001 does not cover them.
    const large = withFee({ ...small, id: 'v2' }, '00000000-0000-4000-8000-0000000000f2', '499.999');
    const second = await run(large);
    expect(second.reportVersion).toBe(2);
    expect(second.clean).toBe(false);
    expect(second.breaks.map((found) => [found.kind, found.actual])).toEqual([['approval_required', '500.000000000000000000']]);
    expect(second.breaks[0]?.id).not.toBe(approved.id);
    // Held: no instruction follows the unapproved fees.
    expect(second.instructions.filter((instruction) => instruction.status === 'pending')).toEqual([]);
    // Idempotent while nothing changes.
    const again = await run(large);
    expect(again.breaks.map((found) => found.id)).toEqual(second.breaks.map((found) => found.id));

    // Once a person approves 500, a run instructs with them.
    await reconciler.resolveBreak({ breakId: second.breaks[0]?.id ?? 0, reason: 'fees of 500 approved by finance' });
    const instructed = await run(large);
    expect(instructed.clean).toBe(true);
    const position = instructed.positions[0];
    expect(instructed.instructions).toMatchObject([{ direction: 'to_provider', status: 'pending', amount: formatUnits(-toUnits(position?.settled ?? '0')) }]);
    expect(toUnits(position?.payables ?? '0')).toBe(toUnits('2') + toUnits('500'));

    // A person's approval covers its figure whatever the limit becomes: a lower limit asks nothing new.
    const strict = await Reconciler.open({ books, feeApprovalLimits: { defi: { BTC: '0.0001' } } });
    expect((await run(large, strict)).clean).toBe(true);
    expect(await reconciler.breaks({ entity: 'defi', day: DAY, status: 'open' })).toEqual([]);
  });

  it('a figure a person resolved earlier stays covered when a later version states it again, and the open break of the other figure closes', async () => {
    const good = await buildReport(books, 'defi', DAY);
    const first = await run(version(good, 'v1', '-0.5'));
    const resolved = await reconciler.resolveBreak({ breakId: first.breaks[0]?.id ?? 0, reason: 'provider confirmed the figure' });
    const second = await run(version(good, 'v2', '-0.25'));
    const other = second.breaks[0];
    expect(other?.kind).toBe('outstanding_balance_mismatch');
    const third = await run(version(good, 'v3', '-0.5'));
    expect(third).toMatchObject({ clean: true, resolvedBreaks: 1 });
    // A disputed outstanding balance is never paid, even when its break was resolved by hand.
    expect(third.instructions.filter((instruction) => instruction.status === 'pending')).toEqual([]);
    expect((await reconciler.breaks({ entity: 'defi', day: DAY })).map((found) => [found.id, found.status, found.resolvedBy, found.resolutionReason])).toEqual([
      [resolved.id, 'resolved', 'person', 'provider confirmed the figure'],
      [other?.id, 'resolved', 'run', `found in report version 3 with the figure a person resolved in break ${resolved.id}`],
    ]);
  });
});

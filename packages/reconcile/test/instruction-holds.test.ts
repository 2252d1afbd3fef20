/**
 * A pending settlement instruction never outlives the figure it was issued for: a restated day
 * that settles nothing cancels it, a held currency (a disputed outstanding balance, fees awaiting
 * approval) holds it, and neither can be sent or confirmed until a run issues it again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { ReconcilerOptions } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';

/** `report` as another version: a new id, and a fee of `fee` netted into its outstanding balance as the provider does. */
function restated(report: ReportJson, id: string, fee?: string): ReportJson {
  const copy = structuredClone(report);
  copy.id = id;
  if (fee === undefined) return copy;
  copy.transactions.push({ id: `00000000-0000-4000-8000-${Buffer.from(id).toString('hex').padStart(12, '0').slice(-12)}`, type: 'Fee', currency: 'BTC', amount: fee, createdAt: '2025-03-18T23:00:00Z' });
  const balance = copy.balances[0];
  if (balance === undefined) throw new Error('no balance');
  balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - toUnits(fee));
  return copy;
}

describe.each(DIALECTS)('settlement instructions held and cancelled on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  const open = (options: Omit<ReconcilerOptions, 'books'> = {}) => Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner' } }, ...options });
  const run = (reconciler: Reconciler, report: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
  const snapshot = () => snapshotDatabase(ledger.db as never);

  /** Deposit 5 the day before and withdraw 3 on the day: with the 2 deposited, the provider owes about 1. */
  async function providerOwes(): Promise<void> {
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b-17', amount: '5', occurredAt: '2025-03-17T08:00:00Z', idempotencyKey: 'k-17', providerData: {} });
    await books.recordWithdrawal({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'w-18', amount: '3', occurredAt: '2025-03-18T12:00:00Z', idempotencyKey: 'w-18', providerData: {} });
  }

  it('cancels a pending instruction when a restatement settles nothing, keeping its figure, and issues it again once the day settles', async () => {
    await providerOwes();
    const reconciler = await open({ settlementThresholds: { defi: { BTC: '0.5' } }, feeApprovalLimits: { defi: { BTC: '10' } } });
    const v1 = await buildReport(books, 'defi', DAY);
    const first = await run(reconciler, v1);
    expect(first.clean).toBe(true);
    const issued = first.instructions[0];
    expect(first.instructions).toMatchObject([{ direction: 'from_provider', status: 'pending' }]);
    expect(toUnits(issued?.amount ?? '0')).toBeGreaterThan(toUnits('1'));

    // A fee of 0.7: about 0.3 outstanding, under the threshold of 0.5: carried, nothing settles.
    const v2 = restated(v1, 'v2', '0.7');
    const second = await run(reconciler, v2);
    expect(second.clean).toBe(true);
    const position = second.positions[0];
    expect(position).toMatchObject({ settled: '0.000000000000000000' });
    expect(position?.carriedOut).toBe(position?.outstanding);
    expect(toUnits(position?.carriedOut ?? '0')).toBeGreaterThan(toUnits('0.3'));
    expect(second.instructions).toEqual([
      {
        ...issued,
        status: 'cancelled',
        statusReason: `cancelled by report version 2: the outstanding balance of ${position?.outstanding} is carried to the next day (below the settlement threshold)`,
      },
    ]);
    // Not payable: the money the position carries forward cannot also be confirmed today.
    const before = await snapshot();
    await expect(reconciler.confirm({ instructionId: issued?.id ?? 0, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition', field: 'instructionId' });
    await expect(reconciler.markSent({ instructionId: issued?.id ?? 0, transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition' });
    // Running the same version again changes nothing.
    const again = await run(reconciler, v2);
    expect(again.instructions).toEqual(second.instructions);
    expect(await ledger.transactionByKey('defi', `settlement:defi:BTC:${DAY}`)).toBeUndefined();
    expect((await snapshot()).replace(/"computed_at":"[^"]*"/g, '')).toBe(before.replace(/"computed_at":"[^"]*"/g, ''));

    // A lower threshold settles the 0.3: the cancelled instruction is pending again, with that figure.
    const lower = await open({ settlementThresholds: { defi: { BTC: '0.1' } }, feeApprovalLimits: { defi: { BTC: '10' } } });
    const third = await run(lower, v2);
    expect(third.instructions).toEqual([{ ...issued, status: 'pending', amount: position?.outstanding }]);
    expect(await lower.confirm({ instructionId: issued?.id ?? 0, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef01' })).toMatchObject({ status: 'confirmed', amount: position?.outstanding });
  });

  it('holds a pending instruction while a restatement disputes the outstanding balance: it cannot be sent, and it is issued again once a version agrees', async () => {
    const reconciler = await open();
    const v1 = await buildReport(books, 'defi', DAY);
    const first = await run(reconciler, v1);
    const issued = first.instructions[0];
    expect(first.instructions).toMatchObject([{ direction: 'to_provider', status: 'pending' }]);

    const disputed = restated(v1, 'v2');
    const balance = disputed.balances[0];
    if (balance === undefined) throw new Error('no balance');
    balance.outstandingBalance = '-7';
    const second = await run(reconciler, disputed);
    expect(second.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);
    expect(second.instructions).toEqual([{ ...issued, status: 'held', statusReason: 'held by report version 2: the outstanding balance is disputed (outstanding_balance_mismatch)' }]);
    expect(second.instructions.filter((instruction) => instruction.status === 'pending')).toEqual([]);

    const before = await snapshot();
    await expect(reconciler.markSent({ instructionId: issued?.id ?? 0, transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition', field: 'instructionId', value: String(issued?.id) });
    await expect(reconciler.confirm({ instructionId: issued?.id ?? 0, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition' });
    // Bad input is refused before the status is looked at.
    await expect(reconciler.markSent({ instructionId: issued?.id ?? 0, transactionHash: 'x' })).rejects.toMatchObject({ code: 'invalid_input', field: 'transactionHash' });
    await expect(reconciler.markSent({ instructionId: -1, transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_input', field: 'instructionId' });
    await expect(reconciler.markSent({ instructionId: 999, transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'unknown_settlement' });
    expect(await snapshot()).toBe(before);

    // Resolving the break by hand does not release a disputed figure.
    await reconciler.resolveBreak({ breakId: second.breaks[0]?.id ?? 0, reason: 'looked at it' });
    expect((await run(reconciler, disputed)).instructions).toMatchObject([{ status: 'held' }]);

    // A version that agrees with the books issues it again.
    const third = await run(reconciler, restated(v1, 'v3'));
    expect(third.clean).toBe(true);
    expect(third.instructions).toEqual([issued]);
    expect(await reconciler.markSent({ instructionId: issued?.id ?? 0, transactionHash: '0xfeedbeef01' })).toMatchObject({ status: 'sent' });
  });

  it('holds an incoming instruction while disputed: it cannot be confirmed', async () => {
    await providerOwes();
    const reconciler = await open();
    const v1 = await buildReport(books, 'defi', DAY);
    const issued = (await run(reconciler, v1)).instructions[0];
    expect(issued).toMatchObject({ direction: 'from_provider', status: 'pending' });
    const disputed = restated(v1, 'v2');
    disputed.balances[0] = { currency: 'BTC', outstandingBalance: '7' };
    expect((await run(reconciler, disputed)).instructions).toMatchObject([{ id: issued?.id, status: 'held' }]);
    const before = await snapshot();
    await expect(reconciler.confirm({ instructionId: issued?.id ?? 0, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition', field: 'instructionId' });
    expect(await snapshot()).toBe(before);
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC' })).not.toBe('0.000000000000000000');
  });

  it('holds a pending instruction while restated fees await approval, and issues it with them once a person approves them and a run follows', async () => {
    const reconciler = await open({ feeApprovalLimits: { defi: { BTC: '10' } } });
    const v1 = await buildReport(books, 'defi', DAY);
    const issued = (await run(reconciler, v1)).instructions[0];
    const v2 = restated(v1, 'v2', '500');
    const second = await run(reconciler, v2);
    expect(second.breaks.map((found) => [found.kind, found.actual])).toEqual([['approval_required', '500.000000000000000000']]);
    expect(second.instructions).toEqual([{ ...issued, status: 'held', statusReason: 'held by report version 2: fees of 500.000000000000000000 await approval (approval_required)' }]);
    await reconciler.resolveBreak({ breakId: second.breaks[0]?.id ?? 0, reason: 'fees approved by finance' });
    // Still held until a run issues it again.
    expect((await reconciler.instructions({ entity: 'defi' }))[0]?.status).toBe('held');
    const third = await run(reconciler, v2);
    expect(third.clean).toBe(true);
    const position = third.positions[0];
    expect(third.instructions).toEqual([{ ...issued, status: 'pending', amount: formatUnits(-toUnits(position?.settled ?? '0')) }]);
    expect(toUnits(third.instructions[0]?.amount ?? '0')).toBe(toUnits(issued?.amount ?? '0') + toUnits('500'));
  });

  it('a sent instruction is never held or cancelled: a restated figure is a break', async () => {
    const reconciler = await open();
    const v1 = await buildReport(books, 'defi', DAY);
    const issued = (await run(reconciler, v1)).instructions[0];
    await reconciler.markSent({ instructionId: issued?.id ?? 0, transactionHash: '0xfeedbeef01' });
    const disputed = restated(v1, 'v2');
    disputed.balances[0] = { currency: 'BTC', outstandingBalance: '-7' };
    const second = await run(reconciler, disputed);
    expect(second.instructions).toMatchObject([{ status: 'sent', amount: issued?.amount }]);
    expect(second.breaks.map((found) => found.kind)).toEqual(['outstanding_balance_mismatch']);
  });
});

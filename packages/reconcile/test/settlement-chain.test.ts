/**
 * Settlement across days when an earlier day is restated after a later one was reconciled
 * (review of session 25). What a day carries out is the next day's carried-in figure, so over a
 * sequence of days `settled + carried out = net + carried in` must chain without a gap: a figure
 * a re-run no longer has must not stay behind for the next day to carry in, and an instruction
 * issued from a carried-in figure the day before has since settled itself must not stay payable.
 * Fees in ETH, a currency without Earn accounts, so that only the entries below move ETH.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import type { ReportJson } from './report-builder.js';

const [D1, D2, D3] = ['2025-03-18', '2025-03-19', '2025-03-20'] as const;
const ZERO = '0.000000000000000000';

/** A report of `day` holding ETH fees, with the outstanding balance the provider states. */
function report(input: { day: string; id: string; fees?: readonly { id: string; amount: string }[]; outstanding?: string }): ReportJson {
  return {
    id: input.id,
    type: 'Report',
    entity: 'defi',
    accountingDay: input.day,
    timeZone: 'UTC',
    generatedAt: `${input.day}T23:59:59Z`,
    transactions: (input.fees ?? []).map((fee) => ({ id: fee.id, type: 'Fee', currency: 'ETH', amount: fee.amount, createdAt: `${input.day}T11:00:00Z` })),
    balances: input.outstanding === undefined ? [] : [{ currency: 'ETH', outstandingBalance: input.outstanding }],
  };
}

const FEE_A = { id: '00000000-0000-4000-8000-0000000000a1', amount: '0.5' };
const FEE_B = { id: '00000000-0000-4000-8000-0000000000b1', amount: '0.6' };

describe.each(DIALECTS)('settlement chained over days when an earlier day is restated, on %s', (dialect) => {
  let ledger: Ledger;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    // Below 1 ETH the outstanding balance is carried; fees up to 10 ETH need no approval.
    reconciler = await Reconciler.open({ books: new EarnBooks(ledger), settlementThresholds: { defi: { ETH: '1' } }, feeApprovalLimits: { defi: { ETH: '10' } }, wallets: { defi: { ETH: '0xpartner' } } });
  });
  afterEach(async () => close());

  const run = (day: string, json: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day, report: loadReportObject(json) });
  /** The stored ETH position of a day, its amounts canonical (PostgreSQL and SQLite spell them alike). */
  const storedPosition = async (day: string) => {
    const row = await reconciler.db.selectFrom('settlement_positions').select(['carried_in', 'outstanding', 'settled', 'carried_out']).where('entity', '=', 'defi').where('currency', '=', 'ETH').where('accounting_day', '=', day).executeTakeFirst();
    return row === undefined ? undefined : Object.fromEntries(Object.entries(row).map(([column, value]) => [column, formatUnits(toUnits(String(value)))]));
  };

  it('a re-run whose currency no longer has a position leaves no carried figure behind for the next day', async () => {
    // D1 carries 0.5 out (under the threshold); D2 has no ETH entry and carries it on.
    expect((await run(D1, report({ day: D1, id: 'd1-v1', fees: [FEE_A], outstanding: '-0.5' }))).clean).toBe(true);
    expect((await run(D2, report({ day: D2, id: 'd2-v1', outstanding: '-0.5' }))).clean).toBe(true);
    expect(await storedPosition(D2)).toMatchObject({ carried_in: '-0.500000000000000000', carried_out: '-0.500000000000000000' });

    // D1 restated with a second fee: 1.1 settles on D1 itself, nothing is carried into D2.
    const restated = await run(D1, report({ day: D1, id: 'd1-v2', fees: [FEE_A, FEE_B], outstanding: '-1.1' }));
    expect(restated.clean).toBe(true);
    expect(restated.instructions).toMatchObject([{ currency: 'ETH', direction: 'to_provider', amount: '1.100000000000000000', status: 'pending' }]);
    // The provider restates D2 too: nothing outstanding. The run has nothing in ETH on D2.
    expect((await run(D2, report({ day: D2, id: 'd2-v2' }))).clean).toBe(true);
    expect(await storedPosition(D2)).toEqual({ carried_in: ZERO, outstanding: ZERO, settled: ZERO, carried_out: ZERO });

    // D3: nothing happened in ETH since D1 settled everything; nothing is carried in.
    const third = await run(D3, report({ day: D3, id: 'd3-v1' }));
    expect(third.breaks).toEqual([]);
    expect(third.positions.filter((position) => position.currency === 'ETH' && position.carriedIn !== ZERO)).toEqual([]);
  });

  it('a pending instruction of a day whose currency no longer has a position is cancelled by the re-run, not left payable', async () => {
    // D1 carries 0.5; a reconciler with a lower threshold settles it on D2 (an instruction of 0.5).
    expect((await run(D1, report({ day: D1, id: 'd1-v1', fees: [FEE_A], outstanding: '-0.5' }))).clean).toBe(true);
    const lower = await Reconciler.open({ books: new EarnBooks(ledger), settlementThresholds: { defi: { ETH: '0.1' } }, feeApprovalLimits: { defi: { ETH: '10' } }, wallets: { defi: { ETH: '0xpartner' } } });
    const second = await lower.reconcileDay({ entity: 'defi', day: D2, report: loadReportObject(report({ day: D2, id: 'd2-v1', outstanding: '-0.5' })) });
    expect(second.instructions).toMatchObject([{ amount: '0.500000000000000000', status: 'pending' }]);
    // D1 again under the lower threshold: D1 settles its own 0.5, and D2 has nothing in ETH.
    const first = await lower.reconcileDay({ entity: 'defi', day: D1, report: loadReportObject(report({ day: D1, id: 'd1-v1', fees: [FEE_A], outstanding: '-0.5' })) });
    expect(first.instructions).toMatchObject([{ amount: '0.500000000000000000', status: 'pending' }]);
    const again = await lower.reconcileDay({ entity: 'defi', day: D2, report: loadReportObject(report({ day: D2, id: 'd2-v2' })) });
    // The 0.5 is paid once: D2's instruction is no longer payable.
    expect(again.instructions).toMatchObject([{ id: second.instructions[0]?.id, status: 'cancelled' }]);
    expect(await storedPosition(D2)).toEqual({ carried_in: ZERO, outstanding: ZERO, settled: ZERO, carried_out: ZERO });
  });

  it('a restated day whose carried-out figure changes holds the next day\'s pending instruction until that day is reconciled again', async () => {
    const FEE_C = { id: '00000000-0000-4000-8000-0000000000c1', amount: '0.7' };
    // D1 carries 0.5; D2 adds 0.6 and settles 1.1, the 0.5 carried in included.
    await run(D1, report({ day: D1, id: 'd1-v1', fees: [FEE_A], outstanding: '-0.5' }));
    const second = await run(D2, report({ day: D2, id: 'd2-v1', fees: [FEE_B], outstanding: '-1.1' }));
    expect(second.instructions).toMatchObject([{ direction: 'to_provider', amount: '1.100000000000000000', status: 'pending' }]);
    const d2Instruction = second.instructions[0]?.id ?? 0;
    // D1 restated with a fee of 0.7: 1.2 settles on D1 itself, the 0.5 D2 carried in with it.
    const restated = await run(D1, report({ day: D1, id: 'd1-v2', fees: [FEE_A, FEE_C], outstanding: '-1.2' }));
    expect(restated.instructions).toMatchObject([{ direction: 'to_provider', amount: '1.200000000000000000', status: 'pending' }]);
    // D2's 1.1 holds a 0.5 that D1 now pays: it must not be payable as it stands.
    const [d2] = await reconciler.instructions({ entity: 'defi', day: D2 });
    expect(d2).toMatchObject({ id: d2Instruction, status: 'held' });
    expect(d2?.statusReason).toContain(`reconcile ${D2} again`);
    await expect(reconciler.markSent({ instructionId: d2Instruction, transactionHash: '0xfeedbeef01' })).rejects.toMatchObject({ code: 'invalid_transition', field: 'instructionId' });
    // The provider's restated D2 (0.6, under the threshold: carried) is reconciled: the instruction is cancelled.
    const d2Again = await run(D2, report({ day: D2, id: 'd2-v2', fees: [FEE_B], outstanding: '-0.6' }));
    expect(d2Again.clean).toBe(true);
    expect(d2Again.instructions).toMatchObject([{ id: d2Instruction, status: 'cancelled' }]);
    // Settled and carried add up to the fees of the two days: 1.2 + 0.6 = 0.5 + 0.7 + 0.6.
    expect(await storedPosition(D1)).toMatchObject({ settled: '-1.200000000000000000', carried_out: ZERO });
    expect(await storedPosition(D2)).toMatchObject({ carried_in: ZERO, settled: ZERO, carried_out: '-0.600000000000000000' });
  });
});

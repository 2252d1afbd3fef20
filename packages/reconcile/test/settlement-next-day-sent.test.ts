/**
 * A day restated after the next day's instruction was already sent or confirmed (review of
 * session 25). The next day's sent instruction moved the figure it carried in from the day before;
 * a restatement of that day that now settles the same money itself must not issue a payable
 * instruction for it in silence: the restated day opens an `outstanding_balance_mismatch` naming
 * the next day's instruction, and its own instruction is held. Fees in ETH, a currency without
 * Earn accounts, so that only the entries below move ETH.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import type { ReportJson } from './report-builder.js';

const [D1, D2] = ['2025-03-18', '2025-03-19'] as const;

/** A report of `day` holding ETH fees, with the outstanding balance the provider states. */
function report(input: { day: string; id: string; fees: readonly { id: string; amount: string }[]; outstanding: string }): ReportJson {
  return {
    id: input.id,
    type: 'Report',
    entity: 'defi',
    accountingDay: input.day,
    timeZone: 'UTC',
    generatedAt: `${input.day}T23:59:59Z`,
    transactions: input.fees.map((fee) => ({ id: fee.id, type: 'Fee', currency: 'ETH', amount: fee.amount, createdAt: `${input.day}T11:00:00Z` })),
    balances: [{ currency: 'ETH', outstandingBalance: input.outstanding }],
  };
}

const FEE_A = { id: '00000000-0000-4000-8000-0000000000a1', amount: '0.5' };
const FEE_B = { id: '00000000-0000-4000-8000-0000000000b1', amount: '0.6' };
const FEE_C = { id: '00000000-0000-4000-8000-0000000000c1', amount: '0.7' };

describe.each(DIALECTS)('a day restated after the next day\'s instruction was sent, on %s', (dialect) => {
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

  /** D1 carries 0.5; D2 adds 0.6 and settles 1.1 (the 0.5 included), and that instruction is sent (and confirmed). */
  async function sentNextDay(input: { confirmed: boolean }): Promise<number> {
    expect((await run(D1, report({ day: D1, id: 'd1-v1', fees: [FEE_A], outstanding: '-0.5' }))).clean).toBe(true);
    const second = await run(D2, report({ day: D2, id: 'd2-v1', fees: [FEE_B], outstanding: '-1.1' }));
    expect(second.instructions).toMatchObject([{ direction: 'to_provider', amount: '1.100000000000000000', status: 'pending' }]);
    const id = second.instructions[0]?.id ?? 0;
    await reconciler.markSent({ instructionId: id, transactionHash: '0xfeedbeef01' });
    if (input.confirmed) await reconciler.confirm({ instructionId: id, occurredAt: `2025-03-20T10:00:00Z` });
    return id;
  }

  it.each([{ confirmed: false }, { confirmed: true }])('the restated day opens a break naming the next day\'s instruction and holds its own (confirmed: $confirmed)', async ({ confirmed }) => {
    const d2Instruction = await sentNextDay({ confirmed });
    // D1 restated with a fee of 0.7: 1.2 settles on D1 itself, the 0.5 D2's instruction already moves included.
    const restated = await run(D1, report({ day: D1, id: 'd1-v2', fees: [FEE_A, FEE_C], outstanding: '-1.2' }));
    expect(restated.clean).toBe(false);
    const breaks = restated.breaks.filter((found) => found.kind === 'outstanding_balance_mismatch');
    expect(breaks).toHaveLength(1);
    expect(breaks[0]).toMatchObject({ currency: 'ETH', providerId: `instruction:${d2Instruction}`, details: { instructionId: d2Instruction, nextDay: D2 } });
    // D1's own 1.2 is not payable while D2's sent 1.1 moves 0.5 of it: held, it is not issued.
    expect(restated.instructions.filter((instruction) => instruction.status === 'pending')).toEqual([]);
    expect(await reconciler.instructions({ entity: 'defi', day: D1 })).toEqual([]);
    // The next day's instruction is as it was sent.
    const [d2] = await reconciler.instructions({ entity: 'defi', day: D2 });
    expect(d2).toMatchObject({ id: d2Instruction, status: confirmed ? 'confirmed' : 'sent', amount: '1.100000000000000000' });
  });

  it('a restatement that leaves the carried figure as it was opens no break', async () => {
    await sentNextDay({ confirmed: false });
    // D1 restated with the same fee under the same figure (a new report id): D2 carried in what D1 carries out.
    const restated = await run(D1, report({ day: D1, id: 'd1-v2', fees: [FEE_A], outstanding: '-0.5' }));
    expect(restated.breaks).toEqual([]);
    expect(restated.instructions).toEqual([]);
  });
});

/**
 * A re-run of the report the day already reflects is a strict no-op (review of session 25): the
 * audit trail says when each figure was computed (`settlement_positions.computed_at`, exported in
 * `settlements.csv`), so a scheduler's retry an hour later must not restamp figures it did not
 * change. A run that does change a figure stamps it with its own time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import type { ReportJson } from './report-builder.js';

const DAY = '2025-03-18';

function report(input: { id: string; fees: readonly { id: string; amount: string }[]; outstanding: string }): ReportJson {
  return {
    id: input.id,
    type: 'Report',
    entity: 'defi',
    accountingDay: DAY,
    timeZone: 'UTC',
    generatedAt: `${DAY}T23:59:59Z`,
    transactions: input.fees.map((fee) => ({ id: fee.id, type: 'Fee', currency: 'ETH', amount: fee.amount, createdAt: `${DAY}T11:00:00Z` })),
    balances: [{ currency: 'ETH', outstandingBalance: input.outstanding }],
  };
}

const FEE_A = { id: '00000000-0000-4000-8000-0000000000a1', amount: '0.5' };
const FEE_B = { id: '00000000-0000-4000-8000-0000000000b1', amount: '0.6' };

describe.each(DIALECTS)('re-running the same report, on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let clock: Date;
  let reconciler: Reconciler;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    clock = new Date('2025-03-19T02:00:00.000Z');
    // Below 1 ETH the outstanding balance is carried: a position without an instruction, and one with.
    reconciler = await Reconciler.open({ books: new EarnBooks(ledger), now: () => clock, settlementThresholds: { defi: { ETH: '1' } }, feeApprovalLimits: { defi: { ETH: '10' } }, wallets: { defi: { ETH: '0xpartner' } } });
  });
  afterEach(async () => close());

  const run = (json: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(json) });
  const computedAt = async () => (await reconciler.db.selectFrom('settlement_positions').select('computed_at').where('entity', '=', 'defi').where('accounting_day', '=', DAY).executeTakeFirst())?.computed_at;

  it.each([
    { name: 'a carried position', fees: [FEE_A], outstanding: '-0.5' },
    { name: 'a settled position with its instruction', fees: [FEE_A, FEE_B], outstanding: '-1.1' },
  ])('writes nothing when the same report is reconciled again later ($name)', async ({ fees, outstanding }) => {
    expect((await run(report({ id: 'v1', fees, outstanding }))).reportStatus).toBe('created');
    expect(await computedAt()).toBe('2025-03-19T02:00:00.000Z');
    const before = await snapshotDatabase(ledger.db as never);
    clock = new Date('2025-03-19T03:30:00.000Z');
    const again = await run(report({ id: 'v1', fees, outstanding }));
    expect(again.reportStatus).toBe('exists');
    expect(await computedAt()).toBe('2025-03-19T02:00:00.000Z');
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('stamps a position again when a run changes its figures', async () => {
    await run(report({ id: 'v1', fees: [FEE_A], outstanding: '-0.5' }));
    clock = new Date('2025-03-19T03:30:00.000Z');
    const restated = await run(report({ id: 'v2', fees: [FEE_A, FEE_B], outstanding: '-1.1' }));
    expect(restated.reportVersion).toBe(2);
    expect(await computedAt()).toBe('2025-03-19T03:30:00.000Z');
  });
});

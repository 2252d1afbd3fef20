/** Storing a day's settlement positions (split from `day-run.ts`). */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { ReportHeader } from './report-entry.js';
import type { SettlementPosition } from './settlement.js';
import * as repository from './db/repository.js';

/** The figures of a stored position, in units (null for a missing reported figure). */
const POSITION_FIGURES = ['payables', 'receivables', 'net', 'carried_in', 'outstanding', 'settled', 'carried_out', 'reported_outstanding'] as const;

/** Whether a stored position holds the same figures as the one a run computed (amounts compared as numbers: PostgreSQL and SQLite spell them differently). */
function sameFigures(stored: repository.PositionRow, next: repository.PositionRow): boolean {
  return POSITION_FIGURES.every((column) => {
    const [a, b] = [stored[column], next[column]];
    return a === null || b === null ? a === b : toUnits(String(a)) === toUnits(String(b));
  });
}

/**
 * Stores the day's positions. A position whose figures are those already stored is not written:
 * `computed_at` says when a figure was computed, so a re-run that computes the same figures (the
 * same report again, a scheduler's retry) leaves it, and the books, as they were.
 */
export async function storePositions(
  db: ReturnType<typeof repository.withReconcileTables>,
  input: { entity: string; day: string; positions: readonly SettlementPosition[]; stored: readonly repository.PositionRow[]; header: ReportHeader; now: string },
): Promise<void> {
  const reported = new Map(input.header.balances.map((balance) => [balance.currency, formatUnits(toUnits(balance.outstandingBalance))]));
  // The day's positions as planDay read them, in this transaction: nothing has written them since.
  const stored = new Map(input.stored.map((row) => [row.currency, row]));
  for (const position of input.positions) {
    const row: repository.PositionRow = {
      entity: input.entity,
      currency: position.currency,
      accounting_day: input.day,
      payables: position.payables,
      receivables: position.receivables,
      net: position.net,
      carried_in: position.carriedIn,
      outstanding: position.outstanding,
      settled: position.settled,
      carried_out: position.carriedOut,
      reported_outstanding: reported.get(position.currency) ?? null,
      computed_at: input.now,
    };
    const before = stored.get(position.currency);
    if (before === undefined || !sameFigures(before, row)) await repository.upsertPosition(db, row);
  }
}

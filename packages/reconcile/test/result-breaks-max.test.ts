/**
 * A result lists at most `resultBreaksMax` of the day's open breaks and counts them all: a day on
 * which every account differs returns the first of them, not the day (the rest are paged with
 * `Reconciler.breaks`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import type { Kysely } from 'kysely';
import { BREAK_KINDS, RESULT_BREAKS_MAX_DEFAULT, RESULT_BREAKS_MAX_LIMIT, ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const DAY = '2025-03-18';

/** The day's report with `count` deposits the books lack (each a `missing_in_ledger`) and a wrong outstanding balance. */
async function reportWithBreaks(books: EarnBooks, count: number): Promise<ReportJson> {
  const report = await buildReport(books, 'defi', DAY);
  for (let index = 0; index < count; index++) {
    const id = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
    report.transactions.push({ id, type: 'Deposit', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T09:00:00Z', accountId: 'a0', bookingId: id });
  }
  const balance = report.balances[0];
  if (balance === undefined) throw new Error('no balance');
  balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) + toUnits('5'));
  return report;
}

describe.each(DIALECTS)('resultBreaksMax, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  it('lists the first breaks of the day in the full result\'s order and counts them all', async () => {
    const report = await reportWithBreaks(books, 7);
    const few = await Reconciler.open({ books, resultBreaksMax: 3 });
    const listed = await few.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const all = await few.breaks({ entity: 'defi', day: DAY, status: 'open' });
    expect(listed.openBreaks).toBe(all.length);
    expect(listed.openBreaks).toBeGreaterThan(7);
    expect(listed.breaks).toHaveLength(3);
    expect(listed.clean).toBe(false);
    expect(listed.breakCounts.missing_in_ledger).toBe(7);
    expect(listed.breakCounts.outstanding_balance_mismatch).toBe(1);
    expect(Object.keys(listed.breakCounts)).toEqual([...BREAK_KINDS]);
    expect(Object.values(listed.breakCounts).reduce((sum, count) => sum + count, 0)).toBe(listed.openBreaks);
    // The disputed currency is told although its break is not among the three listed.
    expect(listed.breaks.some((found) => found.kind === 'outstanding_balance_mismatch')).toBe(false);
    expect(listed.disputedCurrencies).toEqual(['BTC']);

    // The same report again with the default: every open break, the first three the ones listed.
    const full = await (await Reconciler.open({ books })).reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(full.breaks).toHaveLength(listed.openBreaks);
    expect(full.breaks.slice(0, 3)).toEqual(listed.breaks);
    expect(full.breaks.map((found) => found.kind)).toEqual(BREAK_KINDS.flatMap((kind) => full.breaks.filter((found) => found.kind === kind).map(() => kind)));
    expect(new Set(full.breaks.map((found) => found.id))).toEqual(new Set(all.map((found) => found.id)));
    expect(full).toMatchObject({ openBreaks: listed.openBreaks, breakCounts: listed.breakCounts, disputedCurrencies: ['BTC'], resolvedBreaks: 0 });

    const none = await (await Reconciler.open({ books, resultBreaksMax: 0 })).reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(none).toMatchObject({ breaks: [], openBreaks: listed.openBreaks, clean: false });
  });

  it('is clean with no break: nothing listed, every count zero, no disputed currency', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const result = await (await Reconciler.open({ books, resultBreaksMax: 0 })).reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(result).toMatchObject({ breaks: [], openBreaks: 0, clean: true, disputedCurrencies: [] });
    expect(Object.values(result.breakCounts).every((count) => count === 0)).toBe(true);
  });

  it.each([-1, 1.5, Number.NaN, RESULT_BREAKS_MAX_LIMIT + 1, '10', null])('refuses resultBreaksMax %s, naming it, and writes nothing', async (value) => {
    await Reconciler.open({ books });
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const refused = await Reconciler.open({ books, resultBreaksMax: value as number }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ReconcileError);
    expect(refused).toMatchObject({ code: 'invalid_input', field: 'resultBreaksMax' });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });

  it('defaults to 10,000', () => {
    expect(RESULT_BREAKS_MAX_DEFAULT).toBe(10_000);
  });
});

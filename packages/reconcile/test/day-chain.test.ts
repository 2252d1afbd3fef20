/**
 * Days are reconciled in order: what a day settles carries over from the day before (amounts
 * under the settlement threshold), so a day whose previous day the books never reconciled, once
 * an earlier day was, is refused before anything is read or written. An entity's first day, a
 * back-filled day with nothing reconciled before it, and a re-run of a day already reconciled
 * are not refused.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, nextAccountingDay, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const [D1, D2, D3, D4] = ['2025-03-18', '2025-03-19', '2025-03-20', '2025-03-21'] as const;

describe.each(DIALECTS)('reconciling the days of an entity in order on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    // A settlement threshold above the day's flows: every day carries its position to the next.
    reconciler = await Reconciler.open({ books, settlementThresholds: { defi: { BTC: '100' } } });
    carried.clear();
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  /** Per day, what the books carried out of it, as the provider carries it into the next day's report. */
  const carried = new Map<string, Record<string, bigint>>();
  const reconcile = async (day: string) => {
    const previous = [...carried.entries()].filter(([known]) => nextAccountingDay(known) === day).map(([, amounts]) => amounts)[0] ?? {};
    const result = await reconciler.reconcileDay({ entity: 'defi', day, report: loadReportObject(await buildReport(books, 'defi', day, { carriedIn: previous })) });
    carried.set(day, Object.fromEntries(result.positions.map((position) => [position.currency, toUnits(position.carriedOut)])));
    return result;
  };

  it('refuses a day whose previous day was skipped, naming the day and what to run, writing nothing; in order it goes through', async () => {
    expect((await reconcile(D1)).clean).toBe(true);
    const report = loadReportObject(await buildReport(books, 'defi', D3));
    const before = await snapshotDatabase(ledger.db as never);
    const error = await reconciler.reconcileDay({ entity: 'defi', day: D3, report }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_transition', field: 'day', value: D3 });
    expect((error as Error).message).toBe(
      `defi ${D3} cannot be reconciled before ${D2}: the books were last reconciled for ${D1}, and what ${D3} settles carries over from the day before; reconcile ${D2} first (earnbook reconcile --from ${D2} --to ${D3} --fetch)`,
    );
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    // Two days missing: the message names the range.
    await expect(reconciler.reconcileDay({ entity: 'defi', day: D4, report: loadReportObject(await buildReport(books, 'defi', D4)) })).rejects.toThrow(`reconcile ${D2} to ${D3} first`);
    expect((await reconcile(D2)).clean).toBe(true);
    const third = await reconcile(D3);
    expect(third.clean).toBe(true);
    // The chain carried D1's and D2's positions into D3.
    const btc = third.positions.find((position) => position.currency === 'BTC');
    expect(btc).toBeDefined();
    expect(btc?.carriedIn).not.toBe('0.000000000000000000');
  });

  it('takes an entity\'s first day, a back-filled day with nothing before it, and a re-run of a day reconciled already', async () => {
    // The first day the books reconcile may be any day.
    const report3 = loadReportObject(await buildReport(books, 'defi', D3));
    expect((await reconciler.reconcileDay({ entity: 'defi', day: D3, report: report3 })).reportStatus).toBe('created');
    // A day before it, with nothing reconciled before that one: a back-fill.
    expect((await reconcile(D1)).reportStatus).toBe('created');
    // D3 again while D2 is still missing: reconciled already, so a re-run goes through.
    expect((await reconciler.reconcileDay({ entity: 'defi', day: D3, report: report3 })).reportStatus).toBe('exists');
    expect((await reconcile(D2)).reportStatus).toBe('created');
  });
});

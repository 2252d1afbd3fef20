/**
 * Two runs of the same day at once on PostgreSQL, as a scheduler's retry beside a slow first run
 * would start them: two processes (here two pools on one schema), each with its own reconciler.
 * The later one waits for the first to commit and answers the day as processed; before, both
 * wrote and the later one failed on a unique index with the driver's raw error.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, nextAccountingDay } from '@earnbook/ledger';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, PG_URL, dropSchema } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

describe.runIf(DIALECTS.includes('postgres'))('two runs of one day at once (PostgreSQL, two pools)', () => {
  it('the later run waits for the first and answers the day as processed; nothing is booked twice', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const open = async () => Ledger.open({ storage: await openPostgresDatabase({ connectionString: PG_URL, schema }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const first = await open();
    const second = await open();
    try {
      const books = new EarnBooks(first);
      await seedOneAccount(books);
      const reconcilers = [await Reconciler.open({ books }), await Reconciler.open({ books: new EarnBooks(second) })];
      let day = '2025-03-18';
      for (let round = 0; round < 6; round++, day = nextAccountingDay(day)) {
        const report = loadReportObject(await buildReport(books, 'defi', day));
        const results = await Promise.all(reconcilers.map((reconciler) => reconciler.reconcileDay({ entity: 'defi', day, report })));
        expect(results.map((result) => result.reportStatus).sort(), day).toEqual(['created', 'exists']);
        expect(results.every((result) => result.clean)).toBe(true);
        // One run booked the day's interest and margin, the other nothing.
        expect(results.map((result) => result.synced.interest).sort(), day).toEqual([0, 1]);
        expect(results[0]?.instructions.map((instruction) => instruction.id)).toEqual(results[1]?.instructions.map((instruction) => instruction.id));
      }
      await first.verify({ entity: 'defi' });
    } finally {
      await first.close();
      await second.close();
      await dropSchema(schema);
    }
  }, 120_000);
});

/**
 * A run of a day beside a person marking the day's instruction sent (review of session 25), on
 * PostgreSQL, where the two are separate transactions on separate connections (SQLite's write
 * transaction holds the whole file, so there they queue). The person's `markSent` commits
 * between the run's read of the instruction and its update: the run must take the instruction
 * as sent (a restated figure is then an `outstanding_balance_mismatch`), never crash on an
 * assertion. The person's step is held open in a transaction of another connection so that it
 * commits exactly in that window, as `markSent`'s one statement may.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { DIALECTS, PG_URL, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const DAY = '2025-03-18';

describe.runIf(DIALECTS.includes('postgres'))('a run beside markSent of its day\'s instruction (PostgreSQL)', () => {
  let ledger: Ledger;
  let schema: string | undefined;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    schema = opened.schema;
    close = opened.close;
  });
  afterEach(async () => close());

  /** Waits until a backend of this database waits for a lock (the run, on the row the other transaction holds). */
  async function lockWaited(db: Kysely<unknown>): Promise<void> {
    for (let tries = 0; tries < 200; tries++) {
      const { rows } = await sql<{ waiting: string }>`SELECT count(*) AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
      if (Number(rows[0]?.waiting) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('the run never waited for the instruction row');
  }

  it('the run takes the instruction as sent and reports the restated figure as a break, instead of an assertion failure', async () => {
    const books = new EarnBooks(ledger);
    await seedOneAccount(books);
    const reconciler = await Reconciler.open({ books, feeApprovalLimits: { defi: { BTC: '10' } } });
    const v1 = await buildReport(books, 'defi', DAY);
    const issued = (await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(v1) })).instructions[0];
    expect(issued).toMatchObject({ direction: 'to_provider', status: 'pending' });
    // Version 2 adds a fee of 0.1: the run would move the pending instruction to the new figure.
    const v2 = structuredClone(v1);
    v2.id = 'v2';
    v2.transactions.push({ id: '00000000-0000-4000-8000-0000000000f1', type: 'Fee', currency: 'BTC', amount: '0.1', createdAt: `${DAY}T20:00:00Z` });
    const balance = v2.balances[0];
    if (balance === undefined) throw new Error('no balance');
    balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - toUnits('0.1'));

    // The person's connection: another pool on the same schema, as another process would hold.
    const person = (await openPostgresDatabase({ connectionString: PG_URL, ...(schema === undefined ? {} : { schema }) })).db as unknown as Kysely<unknown>;
    try {
      let running: Promise<{ result: Awaited<ReturnType<Reconciler['reconcileDay']>> } | { error: unknown }> | undefined;
      await person.transaction().execute(async (trx) => {
        await sql`UPDATE settlement_instructions SET status = 'sent', transaction_hash = '0xfeedbeef01' WHERE id = ${issued?.id} AND status = 'pending'`.execute(trx);
        running = reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(v2) }).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        // Committed once the run waits for the row.
        await lockWaited(person);
      });
      const settled = await running;
      expect(settled !== undefined && 'error' in settled ? String(settled.error) : undefined).toBeUndefined();
      const result = settled !== undefined && 'result' in settled ? settled.result : undefined;
      expect(result?.instructions).toMatchObject([{ id: issued?.id, status: 'sent', amount: issued?.amount, transactionHash: '0xfeedbeef01' }]);
      expect(result?.breaks.map((found) => [found.kind, found.providerId])).toContainEqual(['outstanding_balance_mismatch', `instruction:${issued?.id}`]);
    } finally {
      await person.destroy();
    }
  }, 60_000);
});

/**
 * Reconciling an already processed version of a day that a newer version superseded is refused,
 * writing nothing: the day keeps the newest version's breaks, positions and instructions. The
 * newest version again stays idempotent.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';

describe.each(DIALECTS)('an older processed version reconciled again on %s', (dialect) => {
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

  const run = (report: ReportJson, day = DAY) => reconciler.reconcileDay({ entity: 'defi', day, report: loadReportObject(report) });
  const snapshot = () => snapshotDatabase(ledger.db as never);

  /** v1, the day as the books have it; v2, a restatement of its interest (restated_entry and interest_mismatch). */
  async function twoVersions(): Promise<{ v1: ReportJson; v2: ReportJson }> {
    const v1 = await buildReport(books, 'defi', DAY);
    v1.id = 'v1';
    const v2 = structuredClone(v1);
    v2.id = 'v2';
    const interest = v2.transactions.find((entry) => entry['type'] === 'Interest');
    if (interest === undefined) throw new Error('no interest');
    interest['amount'] = '0.5';
    return { v1, v2 };
  }

  it('refuses version 1 once version 2 is reconciled, naming the report and the newest version, and writes nothing', async () => {
    const { v1, v2 } = await twoVersions();
    expect((await run(v1)).clean).toBe(true);
    const second = await run(v2);
    expect(second.reportVersion).toBe(2);
    expect(second.breaks.map((found) => found.kind)).toEqual(['restated_entry', 'interest_mismatch']);

    const before = await snapshot();
    const refusal = await run(v1).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ReconcileError);
    expect(refusal).toMatchObject({ code: 'invalid_transition', field: 'reportId', value: 'v1' });
    expect((refusal as Error).message).toContain('version 1');
    expect((refusal as Error).message).toContain('superseded by version 2 (report v2)');
    expect(await snapshot()).toBe(before);
    expect(await reconciler.breaks({ entity: 'defi', day: DAY, status: 'open' })).toEqual(second.breaks);
    expect(await reconciler.instructions({ entity: 'defi', day: DAY })).toEqual(second.instructions);

    // The newest version again: as before, idempotent.
    const again = await run(v2);
    expect(again).toMatchObject({ reportStatus: 'exists', reportVersion: 2, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    expect(again.breaks).toEqual(second.breaks);
    expect(again.instructions).toEqual(second.instructions);
    expect(again.positions).toEqual(second.positions);
  });

  it('refuses every older version once a third is reconciled, and still checks the report first', async () => {
    const { v1, v2 } = await twoVersions();
    await run(v1);
    await run(v2);
    const v3 = structuredClone(v1);
    v3.id = 'v3';
    const third = await run(v3);
    expect(third).toMatchObject({ reportVersion: 3, reportStatus: 'created' });
    const before = await snapshot();
    await expect(run(v2)).rejects.toMatchObject({ code: 'invalid_transition', field: 'reportId', value: 'v2', message: expect.stringContaining('superseded by version 3 (report v3)') });
    await expect(run(v1)).rejects.toMatchObject({ code: 'invalid_transition', value: 'v1' });
    // A report of another day is refused as such, before its version is looked at.
    await expect(run(v1, '2025-03-19')).rejects.toMatchObject({ code: 'wrong_day' });
    expect(await snapshot()).toBe(before);
    expect((await run(v3)).reportStatus).toBe('exists');
  });

  it('refuses an older version of a day reconciled before the day kept its version (an upgraded database), from the ledger\'s processed versions', async () => {
    const { v1, v2 } = await twoVersions();
    await run(v1);
    await run(v2);
    // As if the day had been reconciled before migration 0005: no row of its own.
    await sql`delete from reconciled_days`.execute(ledger.db as Kysely<unknown>);
    const before = await snapshot();
    await expect(run(v1)).rejects.toMatchObject({ code: 'invalid_transition', value: 'v1', message: expect.stringContaining('superseded by version 2 (report v2)') });
    expect(await snapshot()).toBe(before);
    // The newest again writes the day's row.
    expect((await run(v2)).reportStatus).toBe('exists');
    const rows = await sql<{ report_id: string; report_version: number }>`select report_id, report_version from reconciled_days`.execute(ledger.db as Kysely<unknown>);
    expect(rows.rows.map((row) => [row.report_id, Number(row.report_version)])).toEqual([['v2', 2]]);
  });
});

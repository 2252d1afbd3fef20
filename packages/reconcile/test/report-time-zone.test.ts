/**
 * The report's time zone is compared with the entity's as a zone, not as text: the ledger keeps
 * an alias as written (`Asia/Kolkata`, `US/Pacific`), and a provider may name the same zone by
 * another alias (`Asia/Calcutta`, `America/Los_Angeles`). Every accounting day is then the same,
 * so the report is the entity's; a zone with other rules is still refused, writing nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const DAY = '2025-03-18';

/** The entity's zone as the ledger keeps it, an alias of it the report may name, and a zone with other rules. */
const ZONES = [
  { entity: 'Asia/Kolkata', alias: 'Asia/Calcutta', other: 'Asia/Dhaka' },
  { entity: 'US/Pacific', alias: 'America/Los_Angeles', other: 'America/Denver' },
  { entity: 'America/Los_Angeles', alias: 'us/pacific', other: 'US/Mountain' },
] as const;

describe.each(DIALECTS)('the report time zone against the entity on %s', (dialect) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it.each(ZONES)('accepts a report in an alias of $entity and refuses $other', async (zones) => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: zones.entity }] });
    close = opened.close;
    const books = new EarnBooks(opened.ledger);
    await seedOneAccount(books);
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', DAY);
    const run = (timeZone: string) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject({ ...report, timeZone }) });

    const before = await snapshotDatabase(opened.ledger.db as never);
    await expect(run(zones.other)).rejects.toMatchObject({ code: 'wrong_entity', field: 'timeZone', value: zones.other });
    expect(await snapshotDatabase(opened.ledger.db as never)).toBe(before);

    const result = await run(zones.alias);
    expect(result.report.header.timeZone).toBe(zones.alias);
    expect(result.clean).toBe(true);
    expect(result.breaks).toEqual([]);
  });
});

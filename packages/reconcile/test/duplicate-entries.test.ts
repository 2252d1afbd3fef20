/**
 * Every occurrence of a repeated report entry id is reported. The drafts of one identity collapse
 * into one stored break (the first draft of a fingerprint wins), so with three entries under one
 * id the third one's amount was dropped: one `duplicate_in_report` with the second entry's amount
 * alone (found in review, session h1). The break now counts the extra occurrences and sums their
 * amounts. The merge held every entry of one key at once, so a report repeating one id a million
 * times held them all: more than REPORT_ENTRIES_PER_KEY_MAX entries under one key refuse the report.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, diffDay, loadReportObject } from '../src/index.js';
import type { ReportEntry } from '../src/index.js';
import { REPORT_ENTRIES_PER_KEY_MAX, keyGroups } from '../src/key-groups.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import { diffInput, mutationDay } from './diff-day.js';

const DAY = '2025-03-18';
const TABLES = ['ledger_accounts', 'journal_transactions', 'journal_entries', 'account_day_balances', 'earn_bookings', 'processed_reports', 'reconcile_breaks', 'settlement_positions', 'settlement_instructions'];

/** Every row of the books and of reconcile's tables, in a stable order. */
async function snapshot(ledger: Ledger): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(ledger.db);
    tables[table] = rows.rows.map((row) => JSON.stringify(row)).sort();
  }
  return tables;
}

describe('duplicate_in_report (pure diff)', () => {
  it('three entries under one id: one break counting both extra occurrences, their amounts summed', () => {
    const day = mutationDay();
    const deposit = day.transactions.find((entry) => entry.type === 'Deposit');
    day.transactions.push({ ...deposit!, amount: '0.3' }, { ...deposit!, amount: '0.5' });
    const duplicates = diffDay(diffInput(day)).filter((b) => b.kind === 'duplicate_in_report');
    expect(duplicates).toHaveLength(1);
    expect(duplicates[0]?.actual).toBe('0.800000000000000000');
    expect(duplicates[0]?.details['occurrences']).toBe(2);
    expect((duplicates[0]?.details['entries'] as { amount: string }[]).map((entry) => entry.amount)).toEqual(['0.3', '0.5']);
  });

  it('one extra entry keeps its amount as the figure', () => {
    const day = mutationDay();
    const deposit = day.transactions.find((entry) => entry.type === 'Deposit');
    day.transactions.push({ ...deposit!, amount: '0.3' });
    const duplicates = diffDay(diffInput(day)).filter((b) => b.kind === 'duplicate_in_report');
    expect(duplicates.map((b) => [b.actual, b.details['occurrences']])).toEqual([['0.300000000000000000', 1]]);
  });
});

describe.each(DIALECTS)('duplicate_in_report, stored (%s)', (dialect) => {
  let books: EarnBooks;
  let close: () => Promise<void>;
  let reconciler: Reconciler;
  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    books = new EarnBooks(opened.ledger);
    await seedOneAccount(books);
    reconciler = await Reconciler.open({ books });
  });
  afterEach(async () => close());

  it('three entries under one id: the stored break holds both extra amounts; a fourth changes its figure', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const deposit = report.transactions.find((entry) => entry['type'] === 'Deposit');
    report.transactions.push({ ...deposit, amount: '0.3' }, { ...deposit, amount: '0.5' });
    const first = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const duplicates = first.breaks.filter((b) => b.kind === 'duplicate_in_report');
    expect(duplicates.map((b) => [b.actual, b.details['occurrences']])).toEqual([['0.800000000000000000', 2]]);
    // A restatement with one more copy is another figure: the open break follows it.
    report.id = `${report.id}-v2`;
    report.transactions.push({ ...deposit, amount: '0.2' });
    const second = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const again = second.breaks.filter((b) => b.kind === 'duplicate_in_report');
    expect(again.map((b) => [b.id, b.actual, b.details['occurrences']])).toEqual([[duplicates[0]?.id, '1.000000000000000000', 3]]);
  });
});

describe('entries under one key are bounded while merged', () => {
  it('keyGroups refuses a key with more than REPORT_ENTRIES_PER_KEY_MAX report entries before reading them all', async () => {
    let pulled = 0;
    const entry = { id: '00000000-0000-4000-8000-000000000001', type: 'Interest', currency: 'BTC', amount: '1', createdAt: '2025-03-18T12:00:00Z' };
    async function* report(): AsyncGenerator<ReportEntry[]> {
      // 200,000 entries under one id, made as they are asked for.
      for (let batch = 0; batch < 200; batch++) {
        pulled += 1_000;
        yield Array.from({ length: 1_000 }, () => ({ ...entry }));
      }
    }
    const error = await (async () => {
      for await (const _ of keyGroups(report(), [])) void _;
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_report', field: 'id', value: entry.id });
    expect(pulled).toBeLessThanOrEqual(REPORT_ENTRIES_PER_KEY_MAX + 1_000);
  });
});

describe.each(DIALECTS)('a key repeated beyond the limit writes nothing (%s)', (dialect) => {
  it('refuses the report typed, naming the id, and leaves the books as they were', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(opened.ledger);
      await seedOneAccount(books);
      const reconciler = await Reconciler.open({ books });
      const report = await buildReport(books, 'defi', DAY);
      const interest = report.transactions.find((entry) => entry['type'] === 'Interest');
      for (let copy = 0; copy < REPORT_ENTRIES_PER_KEY_MAX; copy++) report.transactions.push({ ...interest });
      const before = await snapshot(opened.ledger);
      const error = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code: 'invalid_report', field: 'id', value: interest?.['id'] });
      expect(await snapshot(opened.ledger)).toEqual(before);
    } finally {
      await opened.close();
    }
  });
});

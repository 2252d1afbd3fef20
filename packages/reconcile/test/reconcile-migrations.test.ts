/**
 * Reconcile's later migrations upgrade a database made by the earlier ones in place: the rows
 * stay (same ids), new columns are filled from what the rows say, and the new constraints hold.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Migrator, sql } from 'kysely';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, breakFingerprint, loadReportObject } from '../src/index.js';
import type { BreakKind } from '../src/index.js';
import { RECONCILE_MIGRATION_LOCK_TABLE, RECONCILE_MIGRATION_TABLE, reconcileMigrations } from '../src/db/migrations.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const DAY = '2025-03-18';

describe.each(DIALECTS)('reconcile migrations upgrade in place on %s', (dialect) => {
  let ledger: Ledger;
  let schema: string | undefined;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    schema = opened.schema;
    close = opened.close;
  });
  afterEach(async () => close());

  /** Applies reconcile's migrations up to and including `last`, as an older release did. */
  async function migrateUpTo(last: string): Promise<void> {
    const all = reconcileMigrations(ledger.dialect);
    const names = Object.keys(all);
    const kept = Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((name) => [name, all[name]]));
    expect(Object.keys(kept)).toContain(last);
    await ledger.dialect.migrate(ledger.db as Kysely<unknown>, async (connection, { disableTransactions }) => {
      const migrator = new Migrator({
        db: connection,
        disableTransactions,
        provider: { getMigrations: async () => kept as never },
        migrationTableName: RECONCILE_MIGRATION_TABLE,
        migrationLockTableName: RECONCILE_MIGRATION_LOCK_TABLE,
        ...(schema === undefined ? {} : { migrationTableSchema: schema }),
      });
      const { error } = await migrator.migrateToLatest();
      if (error !== undefined) throw error;
    });
  }

  const db = () => ledger.db as Kysely<unknown>;
  // Without explicit ids: PostgreSQL's sequence would not know them.
  const insertBreak = (currency: string, status: string, reason: string | null) =>
    sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, provider_id, earn_account_id, currency, expected, actual, details, status, resolution_reason, resolution_transaction_id, report_version, created_at, resolved_at)
        values ('defi', ${DAY}, 'margin_mismatch', ${`["margin_mismatch",null,null,"${currency}"]`}, null, null, ${currency}, '1', '2', '{}', ${status}, ${reason}, null, 1, '2025-03-19T01:00:00.000Z', ${status === 'open' ? null : '2025-03-19T02:00:00.000Z'})`.execute(db());

  it('0003: breaks keep their ids and rows, learn who resolved them, and may have many rows of one identity but one open', async () => {
    await migrateUpTo('0002_injective_fingerprints');
    await insertBreak('BTC', 'open', null);
    await insertBreak('ETH', 'resolved', 'no longer found when reconciling report version 2');
    await insertBreak('XRP', 'resolved', 'agreed with the provider');
    // Before 0003, one row per identity.
    await expect(insertBreak('ETH', 'open', null)).rejects.toThrow();

    const reconciler = await Reconciler.open({ books: new EarnBooks(ledger) });
    const rows = await reconciler.breaks({ entity: 'defi' });
    expect(rows.map((row) => [row.id, row.currency, row.status, row.resolvedBy, row.resolutionReason])).toEqual([
      [1, 'BTC', 'open', null, null],
      [2, 'ETH', 'resolved', 'run', 'no longer found when reconciling report version 2'],
      [3, 'XRP', 'resolved', 'person', 'agreed with the provider'],
    ]);
    // A second row of a resolved identity is allowed; a second open row of one identity is not.
    await sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, currency, details, status, report_version, created_at) values ('defi', ${DAY}, 'margin_mismatch', '["margin_mismatch",null,null,"ETH"]', 'ETH', '{}', 'open', 3, 'now')`.execute(db());
    await expect(sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, currency, details, status, report_version, created_at) values ('defi', ${DAY}, 'margin_mismatch', '["margin_mismatch",null,null,"BTC"]', 'BTC', '{}', 'open', 3, 'now')`.execute(db())).rejects.toThrow();
    // An open row has no resolver, and a resolver is a run or a person.
    await expect(sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, currency, details, status, resolved_by, report_version, created_at) values ('defi', ${DAY}, 'margin_mismatch', 'x', 'BTC', '{}', 'resolved', 'robot', 3, 'now')`.execute(db())).rejects.toThrow();
    await expect(sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, currency, details, status, resolved_by, report_version, created_at) values ('defi', ${DAY}, 'margin_mismatch', 'y', 'BTC', '{}', 'open', 'run', 3, 'now')`.execute(db())).rejects.toThrow();
    const ids = (await reconciler.breaks({ entity: 'defi' })).map((row) => row.id);
    // The new row's id follows the old ones (PostgreSQL's sequence also spent one on the refused insert).
    expect(ids.slice(0, 3)).toEqual([1, 2, 3]);
    expect(ids).toHaveLength(4);
    expect(ids[3]).toBeGreaterThan(3);
    // Opening again applies nothing twice.
    await Reconciler.open({ books: new EarnBooks(ledger) });
    expect((await reconciler.breaks({ entity: 'defi' })).map((row) => row.id)).toEqual(ids);
  });
  it('0004: instructions keep their ids and rows, and may be held or cancelled with a reason', async () => {
    await migrateUpTo('0003_break_occurrences');
    const insertInstruction = (currency: string, status: string, hash: string | null) =>
      sql`insert into settlement_instructions (entity, currency, accounting_day, direction, amount, wallet, status, transaction_hash, ledger_transaction_id, created_at, updated_at)
          values ('defi', ${currency}, ${DAY}, 'to_provider', '1.500000000000000000', 'bc1', ${status}, ${hash}, null, '2025-03-19T01:00:00.000Z', '2025-03-19T01:00:00.000Z')`.execute(db());
    await insertInstruction('BTC', 'pending', null);
    await insertInstruction('ETH', 'sent', '0xfeedbeef01');
    // Before 0004, no other status.
    await expect(insertInstruction('XRP', 'held', null)).rejects.toThrow();

    const reconciler = await Reconciler.open({ books: new EarnBooks(ledger) });
    const before = await reconciler.instructions({ entity: 'defi' });
    expect(before.map((row) => [row.currency, row.status, row.amount, row.transactionHash, row.statusReason])).toEqual([
      ['BTC', 'pending', '1.500000000000000000', null, undefined],
      ['ETH', 'sent', '1.500000000000000000', '0xfeedbeef01', undefined],
    ]);
    expect(before.map((row) => row.id)).toEqual([1, 2]);
    const setStatus = (currency: string, status: string, reason: string | null) => sql`update settlement_instructions set status = ${status}, status_reason = ${reason} where currency = ${currency}`.execute(db());
    await setStatus('BTC', 'held', 'held by report version 2: disputed');
    await setStatus('BTC', 'cancelled', 'cancelled by report version 3: nothing to settle');
    // A held or cancelled one says why; no other does; no status outside the lifecycle.
    await expect(setStatus('BTC', 'held', null)).rejects.toThrow();
    await expect(setStatus('BTC', 'pending', 'why')).rejects.toThrow();
    await expect(setStatus('BTC', 'lost', null)).rejects.toThrow();
    // One instruction per (entity, currency, day) still.
    await expect(insertInstruction('ETH', 'pending', null)).rejects.toThrow();
    expect((await reconciler.instructions({ entity: 'defi' })).map((row) => [row.id, row.status, row.statusReason])).toEqual([
      [1, 'cancelled', 'cancelled by report version 3: nothing to settle'],
      [2, 'sent', undefined],
    ]);
  });
  it('0005: adds the days\' reconciled versions, empty (runs fall back on the ledger\'s processed versions)', async () => {
    await migrateUpTo('0004_instruction_holds');
    await expect(sql`select count(*) from reconciled_days`.execute(db())).rejects.toThrow();
    await Reconciler.open({ books: new EarnBooks(ledger) });
    expect((await sql<{ n: number }>`select count(*) as n from reconciled_days`.execute(db())).rows.map((row) => Number(row.n))).toEqual([0]);
    const insertDay = (version: number) => sql`insert into reconciled_days (entity, accounting_day, report_id, content_hash, report_version, reconciled_at) values ('defi', ${DAY}, 'r', 'h', ${version}, 'now')`.execute(db());
    await expect(insertDay(0)).rejects.toThrow();
    await insertDay(1);
    // One row per (entity, day).
    await expect(insertDay(2)).rejects.toThrow();
  });

  it('0006: the entry kind joins the fingerprints the details name it for; a re-run of the old day finds its old breaks', async () => {
    type Row = { id: number; kind: BreakKind; provider_id: string | null; earn_account_id: string | null; currency: string | null; details: string; fingerprint: string; status: string };
    const selectRows = async () => (await sql<Row>`select id, kind, provider_id, earn_account_id, currency, details, fingerprint, status from reconcile_breaks order by id`.execute(db())).rows.map((row) => ({ ...row, id: Number(row.id) }));
    const shared = '00000000-0000-4000-8000-0000000000aa';
    const books = new EarnBooks(ledger);
    const reconciler = await Reconciler.open({ books, feeApprovalLimits: { defi: { BTC: '10' } } });
    await seedOneAccount(books);
    await books.recordPartnerMargin({ entity: 'defi', currency: 'BTC', providerEntryId: shared, amount: '0.2', occurredAt: '2025-03-18T23:00:00Z', interestDay: DAY });
    await books.recordFee({ entity: 'defi', currency: 'BTC', providerEntryId: shared, amount: '0.3', occurredAt: '2025-03-18T23:00:00Z', interestDay: DAY });
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.find((entry) => entry['type'] === 'Deposit')!['amount'] = '2.1';
    report.transactions.push({ id: '00000000-0000-4000-8000-0000000000bb', type: 'Bonus', currency: 'BTC', amount: '1', createdAt: '2025-03-18T09:00:00Z' });
    const input = () => ({ entity: 'defi', day: DAY, report: loadReportObject(structuredClone(report)) });
    const first = await reconciler.reconcileDay(input());
    const amount = first.breaks.find((b) => b.kind === 'amount_mismatch')!;
    expect(amount.details).toMatchObject({ kind: 'deposit' });
    await reconciler.resolveBreak({ breakId: amount.id, reason: 'accepted' });
    const current = await selectRows();
    expect(current.map((row) => row.kind).sort()).toEqual(['amount_mismatch', 'missing_in_report', 'missing_in_report', 'outstanding_balance_mismatch', 'unknown_entry_type']);

    // The database as the release before 0006 left it: fingerprints without the entry kind, no
    // kind in the details of a matched entry's mismatch, and one row for the margin's and the
    // fee's breaks, which shared an identity (the store kept the first).
    const fee = current.find((row) => row.kind === 'missing_in_report' && row.fingerprint.includes('"fee"'))!;
    await sql`delete from reconcile_breaks where id = ${fee.id}`.execute(db());
    for (const row of current) {
      const details = JSON.parse(row.details) as Record<string, unknown>;
      if (row.kind !== 'missing_in_report') delete details['kind'];
      const fingerprint = breakFingerprint({ kind: row.kind, providerId: row.provider_id, earnAccountId: row.earn_account_id, currency: row.currency });
      await sql`update reconcile_breaks set fingerprint = ${fingerprint}, details = ${JSON.stringify(details)} where id = ${row.id}`.execute(db());
    }
    // 0006 and the migrations after it, as pending again (0007 only adds an index, if missing).
    await sql`delete from ${sql.table(RECONCILE_MIGRATION_TABLE)} where name >= '0006_entry_kind_fingerprints'`.execute(db());
    const old = await selectRows();
    expect(old.map((row) => row.fingerprint)).toContain(`["missing_in_report","${shared}",null,"BTC"]`);

    await Reconciler.open({ books });
    const migrated = new Map((await selectRows()).map((row) => [row.id, row.fingerprint]));
    const before = new Map(current.map((row) => [row.id, row.fingerprint]));
    for (const row of old) {
      // The details name the kind of a missing entry; a mismatch of a matched entry named only its
      // transaction (it keeps the old form until a run adopts it); the others are about no entry.
      if (row.kind === 'missing_in_report') expect(migrated.get(row.id)).toBe(`["missing_in_report","${shared}",null,"BTC","partner_margin"]`);
      else if (row.kind === 'amount_mismatch') expect(migrated.get(row.id)).toBe(row.fingerprint);
      else expect(migrated.get(row.id)).toBe(before.get(row.id));
    }

    // Run again: every old row is found (same ids), the person's resolution still covers the
    // amount, and the fee's break, which the old identity had dropped, is a new row.
    const again = await reconciler.reconcileDay(input());
    const openIds = first.breaks.filter((b) => b.id !== amount.id && b.id !== fee.id).map((b) => b.id);
    expect(again.breaks.filter((b) => b.id <= Math.max(...before.keys())).map((b) => b.id).sort()).toEqual(openIds.sort());
    expect(again.breaks.map((b) => b.kind)).not.toContain('amount_mismatch');
    const added = again.breaks.filter((b) => !openIds.includes(b.id));
    expect(added.map((b) => [b.kind, b.providerId, b.details['kind'], b.expected])).toEqual([['missing_in_report', shared, 'fee', '0.300000000000000000']]);
    const after = await selectRows();
    expect(after.filter((row) => row.id !== added[0]!.id).map((row) => [row.id, row.fingerprint, row.status])).toEqual(current.filter((row) => row.id !== fee.id).map((row) => [row.id, row.fingerprint, row.status]));
  });
});

/**
 * Books an older release made (reconcile's migrations up to 0006, with breaks) upgrade in place to
 * the page indexes: 0007 (entity, id) and 0008 (entity, accounting_day, id) are created on the
 * existing table, the rows stay, and the breaks list in pages as before.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Migrator, sql } from 'kysely';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler } from '../src/index.js';
import { RECONCILE_MIGRATION_LOCK_TABLE, RECONCILE_MIGRATION_TABLE, reconcileMigrations } from '../src/db/migrations.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';

describe.each(DIALECTS)('page indexes on books of an older release on %s', (dialect) => {
  let ledger: Ledger;
  let schema: string | undefined;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    schema = opened.schema;
    close = opened.close;
  });
  afterEach(async () => close());

  const db = () => ledger.db as Kysely<unknown>;

  async function migrateUpTo(last: string): Promise<void> {
    const all = reconcileMigrations(ledger.dialect);
    const names = Object.keys(all);
    const kept = Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((name) => [name, all[name]]));
    expect(Object.keys(kept)).toContain(last);
    await ledger.dialect.migrate(db(), async (connection, { disableTransactions }) => {
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

  async function breakIndexes(): Promise<string[]> {
    const rows =
      dialect === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'reconcile_breaks' and name not like 'sqlite_%'`.execute(db())).rows
        : (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'reconcile_breaks' and schemaname = ${schema ?? 'public'}`.execute(db())).rows;
    return rows.map((row) => row.name).sort();
  }

  it('0007 and 0008 add their indexes to a table that holds breaks; the rows stay and list in pages', async () => {
    await migrateUpTo('0006_entry_kind_fingerprints');
    const days = ['2025-03-18', '2025-03-17', '2025-03-18', '2025-03-19', '2025-03-17', '2025-03-18'];
    for (const [index, day] of days.entries()) {
      for (const entity of ['defi', 'lending']) {
        await sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, provider_id, earn_account_id, currency, expected, actual, details, status, resolved_by, resolution_reason, resolution_transaction_id, report_version, created_at, resolved_at)
          values (${entity}, ${day}, 'margin_mismatch', ${`["margin_mismatch",null,null,"BTC",${index}]`}, null, null, 'BTC', '1', '2', '{}', 'open', null, null, null, 1, '2025-03-21T00:00:00.000Z', null)`.execute(db());
      }
    }
    const before = (await sql`select * from reconcile_breaks order by id`.execute(db())).rows;
    expect(await breakIndexes()).not.toContain('reconcile_breaks_entity_day_id');
    expect(await breakIndexes()).not.toContain('reconcile_breaks_entity_id');

    const reconciler = await Reconciler.open({ books: new EarnBooks(ledger) });
    expect(await breakIndexes()).toEqual(expect.arrayContaining(['reconcile_breaks_entity_day_id', 'reconcile_breaks_entity_id']));
    expect((await sql`select * from reconcile_breaks order by id`.execute(db())).rows).toEqual(before);
    const applied = (await sql<{ name: string }>`select name from ${sql.table(schema === undefined ? RECONCILE_MIGRATION_TABLE : `${schema}.${RECONCILE_MIGRATION_TABLE}`)} order by name`.execute(db())).rows.map((row) => row.name);
    expect(applied).toEqual(Object.keys(reconcileMigrations(ledger.dialect)));

    const whole = await reconciler.breaks({ entity: 'defi' });
    expect(whole.map((item) => item.accountingDay)).toEqual([...days].sort());
    const pages: number[] = [];
    for (let afterId = 0; ; ) {
      const page = await reconciler.breaks({ entity: 'defi', afterId, limit: 2 });
      pages.push(...page.map((item) => item.id));
      if (page.length < 2) break;
      afterId = page[1]!.id;
    }
    expect(pages).toEqual(whole.map((item) => item.id));
    // Opening again finds nothing pending and changes nothing.
    await Reconciler.open({ books: new EarnBooks(ledger) });
    expect((await sql`select * from reconcile_breaks order by id`.execute(db())).rows).toEqual(before);
  });
});

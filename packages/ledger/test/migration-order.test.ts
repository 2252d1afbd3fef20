/**
 * Kysely orders the applied migrations it finds by their recorded timestamp (the migrating
 * process's clock) and refuses books whose order by time is not the order by name, as
 * "corrupted migrations". Books migrated in two steps by hosts whose clocks disagree (0001–0004
 * by an older version on a host whose clock ran ahead, the rest later by a newer version on
 * another) hold every migration, in the right order by name, but could no longer be opened
 * (review h4). They open now, and their migrations are left as they are; books with a true gap
 * (a later migration applied, an earlier one not) are still refused.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../src/index.js';
import type { LedgerStorage } from '../src/index.js';
import { LEDGER_MIGRATION_TABLE, ledgerMigrations } from '../src/db/migrations.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const ENTITIES = [{ id: 'defi', timeZone: 'UTC' }];

async function migrationRows(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ name: string; timestamp: string }>`select name, timestamp from ${sql.table(LEDGER_MIGRATION_TABLE)} order by name`.execute(db);
  return JSON.stringify(rows);
}

describe.each(DIALECTS)('applied migrations recorded out of order on %s', (dialect) => {
  let storage: LedgerStorage | undefined;
  afterEach(async () => {
    if (storage === undefined) return;
    await storage.db.destroy();
    await dropSchema(storage.schema);
    storage = undefined;
  });

  it('open when every migration is known and applied in order by name (timestamps from clocks that disagree)', async () => {
    storage = await freshStorage(dialect);
    const first = await Ledger.open({ storage, entities: ENTITIES });
    const account = await first.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
    // The first four were recorded an hour after the rest, as by a host whose clock ran ahead.
    for (const name of ['0001_initial', '0002_interest_residues', '0003_provider_id_index', '0004_earn_account_order_index']) {
      await sql`update ${sql.table(LEDGER_MIGRATION_TABLE)} set timestamp = ${'2099-01-01T01:00:00.000Z'} where name = ${name}`.execute(storage.db);
    }
    await sql`update ${sql.table(LEDGER_MIGRATION_TABLE)} set timestamp = ${'2099-01-01T00:00:00.000Z'} where name > ${'0004_earn_account_order_index'}`.execute(storage.db);
    const migrations = await migrationRows(storage.db as Kysely<unknown>);
    const before = await snapshotDatabase(storage.db as Kysely<unknown>);
    const reopened = await Ledger.open({ storage, entities: ENTITIES });
    expect((await reopened.account(account.id)).code).toBe('user:a');
    expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
    expect(await migrationRows(storage.db as Kysely<unknown>)).toBe(migrations);
  });

  it('open and apply the pending migrations when the applied ones are recorded out of order', async () => {
    storage = await freshStorage(dialect);
    await Ledger.open({ storage, entities: ENTITIES });
    const names = Object.keys(ledgerMigrations(storage.dialect));
    const pending = names.slice(-4);
    expect(pending).toEqual(['0012_account_identity', '0013_statement_reference_checks', '0014_account_pages_index', '0015_account_rows_room']);
    // As if the last four migrations were still pending: their effects removed with their records
    // (0013's on PostgreSQL: its statement checks; the keys it dropped need not come back, it drops
    // only those it finds; 0015's: the account table's fill factor).
    await sql.raw('DROP INDEX ledger_accounts_entity_id').execute(storage.db);
    for (const statement of storage.dialect.name === 'postgres'
      ? [
          'DROP TRIGGER ledger_accounts_keep_identity ON ledger_accounts',
          'DROP TRIGGER earn_accounts_keep_identity ON earn_accounts',
          ...['journal_entries', 'account_day_balances', 'interest_residues'].map((table) => `DROP TRIGGER ${table}_references ON ${table}`),
          'DROP TRIGGER account_day_balances_keep_account ON account_day_balances',
          'DROP TRIGGER interest_residues_keep_account ON interest_residues',
          'ALTER TABLE ledger_accounts SET (fillfactor = 70)',
        ]
      : ['DROP TRIGGER ledger_accounts_keep_identity', 'DROP TRIGGER ledger_accounts_no_delete', 'DROP TRIGGER earn_accounts_no_update', 'DROP TRIGGER earn_accounts_no_delete']) {
      await sql.raw(statement).execute(storage.db);
    }
    for (const name of pending) await sql`delete from ${sql.table(LEDGER_MIGRATION_TABLE)} where name = ${name}`.execute(storage.db);
    await sql`update ${sql.table(LEDGER_MIGRATION_TABLE)} set timestamp = ${'2099-01-01T00:00:00.000Z'} where name = ${'0001_initial'}`.execute(storage.db);
    const reopened = await Ledger.open({ storage, entities: ENTITIES });
    const { rows } = await sql<{ name: string }>`select name from ${sql.table(LEDGER_MIGRATION_TABLE)} order by name`.execute(storage.db);
    expect(rows.map((row) => row.name)).toEqual(names);
    // The re-applied migration is in force again: an account keeps its identity.
    const account = await reopened.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:b', kind: 'user' });
    await expect(sql`update ledger_accounts set code = ${'user:c'} where id = ${account.id}`.execute(storage.db)).rejects.toThrow(/keep their identity/);
    if (storage.dialect.name === 'postgres') {
      const { rows: options } = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = 'ledger_accounts'::regclass`.execute(storage.db);
      expect(options[0]?.reloptions).toContain('fillfactor=45');
    }
  });

  it('with a gap (a later migration applied, an earlier one not) are still refused, and nothing is written', async () => {
    storage = await freshStorage(dialect);
    await Ledger.open({ storage, entities: ENTITIES });
    await sql`delete from ${sql.table(LEDGER_MIGRATION_TABLE)} where name = ${'0005_provider_entry_order_index'}`.execute(storage.db);
    const before = await snapshotDatabase(storage.db as Kysely<unknown>);
    const migrations = await migrationRows(storage.db as Kysely<unknown>);
    const error = await Ledger.open({ storage, entities: ENTITIES }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/corrupted migrations/);
    expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
    expect(await migrationRows(storage.db as Kysely<unknown>)).toBe(migrations);
  });
});

/**
 * `Ledger.open({ migrate: false })` opens books that have every migration of this version, and
 * refuses books behind it (`migration_required`, naming the migrations) or ahead of it
 * (`books_too_new`) before anything is written; `ledgerMigrationState` tells which migrations the
 * books have. The CLI opens existing books this way unless `--migrate` is given.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError, ledgerMigrationState } from '../src/index.js';
import type { LedgerStorage } from '../src/index.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

/**
 * The newest migrations, and the index the first makes: what the tests take back to age the books
 * (0015 sets a PostgreSQL storage parameter alone, which applying it again sets again).
 */
const LAST = { names: ['0014_account_pages_index', '0015_account_rows_room'], index: 'ledger_accounts_entity_id' };
const ENTITIES = [{ id: 'defi', timeZone: 'UTC' }];

describe.each(DIALECTS)('opening without migrating on %s', (dialect) => {
  let storage: LedgerStorage;
  let ledger: Ledger;
  beforeEach(async () => {
    storage = await freshStorage(dialect);
    ledger = await Ledger.open({ storage, entities: ENTITIES });
  });
  afterEach(async () => {
    await ledger.close();
    await dropSchema(storage.schema);
  });
  const db = () => storage.db as Kysely<unknown>;
  const state = () => ledgerMigrationState(db(), storage.dialect, storage.schema === undefined ? {} : { schema: storage.schema });

  it('opens current books, and refuses books behind this version naming what they lack, writing nothing', async () => {
    expect((await state()).pending).toEqual([]);
    const current = await Ledger.open({ storage, entities: ENTITIES, migrate: false });
    expect([...current.entities.keys()]).toEqual(['defi']);
    await sql`drop index ${sql.ref(LAST.index)}`.execute(db());
    for (const name of LAST.names) await sql`delete from earnbook_ledger_migration where name = ${name}`.execute(db());
    const aged = await state();
    expect(aged.pending).toEqual(LAST.names);
    expect(aged.applied).toContain('0001_initial');
    for (const name of LAST.names) expect(aged.applied).not.toContain(name);
    const before = await snapshotDatabase(db());
    // A new entity in the options would be recorded by an open that went on.
    const refused = await Ledger.open({ storage, entities: [...ENTITIES, { id: 'lending', timeZone: 'Europe/Berlin' }], migrate: false }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LedgerError);
    expect(refused).toMatchObject({ code: 'migration_required', field: 'migrate', context: { pendingMigrations: LAST.names.join(', ') } });
    expect((refused as Error).message).toContain(LAST.names.join(', '));
    expect(await snapshotDatabase(db())).toBe(before);
    // Migrating (the default) brings them to this version.
    await Ledger.open({ storage, entities: ENTITIES });
    expect((await state()).pending).toEqual([]);
  });

  it('tells books a newer version migrated as books_too_new; opening them without migrating stays the caller\'s choice', async () => {
    await sql`insert into earnbook_ledger_migration (name, timestamp) values (${'9999_from_the_future'}, ${'2030-01-01T00:00:00.000Z'})`.execute(db());
    await expect(state()).rejects.toMatchObject({ code: 'books_too_new', context: { unknownMigrations: '9999_from_the_future' } });
    await expect(Ledger.open({ storage, entities: ENTITIES })).rejects.toMatchObject({ code: 'books_too_new' });
    const opened = await Ledger.open({ storage, entities: ENTITIES, migrate: false });
    expect(opened.entities.has('defi')).toBe(true);
  });

  it('refuses a migrate option that is no boolean before opening anything', async () => {
    const before = await snapshotDatabase(db());
    await expect(Ledger.open({ storage, entities: [...ENTITIES, { id: 'lending', timeZone: 'UTC' }], migrate: 'false' as unknown as boolean })).rejects.toMatchObject({ code: 'invalid_input', field: 'migrate', value: '"false"' });
    expect(await snapshotDatabase(db())).toBe(before);
  });

  it('counts every migration as pending on a database without the ledger tables', async () => {
    const empty = await freshStorage(dialect);
    try {
      const fresh = await ledgerMigrationState(empty.db as Kysely<unknown>, empty.dialect, empty.schema === undefined ? {} : { schema: empty.schema });
      expect(fresh.applied).toEqual([]);
      expect(fresh.pending[0]).toBe('0001_initial');
      for (const name of LAST.names) expect(fresh.pending).toContain(name);
    } finally {
      await empty.db.destroy();
      await dropSchema(empty.schema);
    }
  });
});

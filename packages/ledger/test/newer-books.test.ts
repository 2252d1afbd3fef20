/**
 * Books that a newer version of the ledger migrated (a migration this version does not know is
 * recorded as applied) are refused with a typed error naming the migration, and nothing is
 * written. Kysely answered them with a plain `Error('corrupted migrations: previously executed
 * migration … is missing')`, which reads as damage, not as a version to upgrade (review h4).
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import type { LedgerStorage } from '../src/index.js';
import { LEDGER_MIGRATION_TABLE } from '../src/db/migrations.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

describe.each(DIALECTS)('books of a newer version on %s', (dialect) => {
  let storage: LedgerStorage | undefined;
  afterEach(async () => {
    if (storage === undefined) return;
    await storage.db.destroy();
    await dropSchema(storage.schema);
    storage = undefined;
  });

  it('are refused naming the unknown migration, and nothing is written', async () => {
    storage = await freshStorage(dialect);
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    await sql`insert into ${sql.table(LEDGER_MIGRATION_TABLE)} (name, timestamp) values (${'0099_from_the_future'}, ${'2030-01-01T00:00:00.000Z'})`.execute(ledger.db);
    const before = await snapshotDatabase(storage.db as Kysely<unknown>);
    const error = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'books_too_new', field: 'storage', value: '"0099_from_the_future"' });
    expect((error as LedgerError).message).toMatch(/newer version/);
    expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
    // Opening without migrating is the caller's choice, as before.
    const unmigrated = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }], migrate: false });
    expect(unmigrated.entities.has('defi')).toBe(true);
  });
});

/**
 * `Ledger.open` records the entities it names all or none (session 25): opening a new entity beside
 * one stored with another zone is refused with `entity_configuration_changed`, and the new entity
 * is not left behind (it was written before the stored one was compared). Books that keep every
 * named entity still open without a write.
 */
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
}

describe.each(DIALECTS)('Ledger.open records its entities all or none, on %s', (dialect) => {
  it('writes no new entity when another one named is stored with another zone', async () => {
    const storage = await freshStorage(dialect);
    try {
      await Ledger.open({ storage, entities: [{ id: 'lending', timeZone: 'UTC' }] });
      const before = await snapshotDatabase(storage.db as Kysely<unknown>);
      // 'defi' is new and comes first; 'lending' is stored in UTC.
      const error = await caught(Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Asia/Tokyo' }] }));
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'entity_configuration_changed', field: 'entities.timeZone', value: 'Asia/Tokyo' });
      expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
      // The books still open with what they keep.
      const again = await Ledger.open({ storage });
      expect([...again.entities.keys()]).toEqual(['lending']);
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });

  it('records several new entities at once, and reopens stored ones without a write', async () => {
    const storage = await freshStorage(dialect);
    try {
      await Ledger.open({ storage, entities: [{ id: 'lending', timeZone: 'UTC' }] });
      const opened = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'utc' }, { id: 'third', timeZone: 'Asia/Tokyo' }] });
      expect([...opened.entities.keys()]).toEqual(['defi', 'lending', 'third']);
      const rows = await storage.db.selectFrom('ledger_entities').select(['id', 'time_zone']).orderBy('id').execute();
      expect(rows).toEqual([
        { id: 'defi', time_zone: 'Europe/Berlin' },
        { id: 'lending', time_zone: 'UTC' },
        { id: 'third', time_zone: 'Asia/Tokyo' },
      ]);
      const before = await snapshotDatabase(storage.db as Kysely<unknown>);
      await Ledger.open({ storage, migrate: false, entities: [{ id: 'third', timeZone: 'Asia/Tokyo' }, { id: 'defi', timeZone: 'Europe/Berlin' }] });
      expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });
});

/**
 * Opening books: books that must exist are never created by mistake, and books opened without
 * naming their entities are opened with the ones they keep.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { DIALECTS, PG_URL, dropSchema, freshStorage } from './dialects.js';

const directory = mkdtempSync(join(tmpdir(), 'earnbook-open-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function caught(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

async function tableCount(dialect: string, db: Ledger['db']): Promise<number> {
  if (dialect === 'sqlite') {
    const { rows } = await (await import('kysely')).sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table'`.execute(db);
    return Number(rows[0]?.n ?? -1);
  }
  const { rows } = await (await import('kysely')).sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = current_schema()`.execute(db);
  return Number(rows[0]?.n ?? -1);
}

async function storedZones(db: Ledger['db']): Promise<{ id: string; time_zone: string }[]> {
  return db.selectFrom('ledger_entities').select(['id', 'time_zone']).orderBy('id').execute();
}

describe.each(DIALECTS)('Ledger.open on %s', (dialect) => {
  it('with ifMissing: "fail" refuses empty storage with books_not_found and writes nothing', async () => {
    const storage = await freshStorage(dialect);
    try {
      const error = await caught(Ledger.open({ storage, ifMissing: 'fail', entities: [{ id: 'defi', timeZone: 'UTC' }] }));
      expect(error.code).toBe('books_not_found');
      expect(error.field).toBe('storage');
      expect(await tableCount(dialect, storage.db)).toBe(0);
      expect((await caught(Ledger.open({ storage, ifMissing: 'maybe' as 'fail' }))).field).toBe('ifMissing');
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });

  it('without entities opens the stored ones (a non-UTC book too), and with ifMissing: "fail" opens existing books', async () => {
    const storage = await freshStorage(dialect);
    try {
      const first = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Asia/Tokyo' }] });
      expect([...first.entities.keys()]).toEqual(['defi', 'lending']);
      const again = await Ledger.open({ storage, ifMissing: 'fail' });
      expect([...again.entities.values()]).toEqual([
        { id: 'defi', timeZone: 'Europe/Berlin' },
        { id: 'lending', timeZone: 'Asia/Tokyo' },
      ]);
      // Naming them still checks them against the stored zones.
      expect((await caught(Ledger.open({ storage, ifMissing: 'fail', entities: [{ id: 'defi', timeZone: 'UTC' }] }))).code).toBe('entity_configuration_changed');
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });

  it('stores a zone in its canonical spelling and reopens it under any spelling of the same zone', async () => {
    const storage = await freshStorage(dialect);
    try {
      const first = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'europe/berlin' }, { id: 'lending', timeZone: 'ASIA/TOKYO' }] });
      expect([...first.entities.values()]).toEqual([
        { id: 'defi', timeZone: 'Europe/Berlin' },
        { id: 'lending', timeZone: 'Asia/Tokyo' },
      ]);
      expect(await storedZones(storage.db)).toEqual([
        { id: 'defi', time_zone: 'Europe/Berlin' },
        { id: 'lending', time_zone: 'Asia/Tokyo' },
      ]);
      const again = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'asia/tokyo' }] });
      expect(again.entity('lending').timeZone).toBe('Asia/Tokyo');
      // Another zone is still refused, however it is spelled.
      const moved = await caught(Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'europe/paris' }] }));
      expect(moved).toMatchObject({ code: 'entity_configuration_changed', field: 'entities.timeZone', value: 'Europe/Paris' });
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });

  it('reopens books that stored a zone in another spelling, leaving the stored row as it is', async () => {
    const storage = await freshStorage(dialect);
    try {
      await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
      // Books recorded before zones were stored canonically hold the spelling their caller typed.
      await storage.db.updateTable('ledger_entities').set({ time_zone: 'europe/berlin' }).where('id', '=', 'defi').execute();
      const named = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
      expect(named.entity('defi').timeZone).toBe('Europe/Berlin');
      const stored = await Ledger.open({ storage, ifMissing: 'fail' });
      expect(stored.entity('defi').timeZone).toBe('Europe/Berlin');
      expect(await storedZones(storage.db)).toEqual([{ id: 'defi', time_zone: 'europe/berlin' }]);
      expect((await caught(Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] }))).code).toBe('entity_configuration_changed');
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });

  it('without entities on new storage still creates the default books', async () => {
    const storage = await freshStorage(dialect);
    try {
      const ledger = await Ledger.open({ storage });
      expect([...ledger.entities.keys()]).toEqual(['defi', 'lending']);
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    }
  });
});

describe('books that must exist are not created as a side effect', () => {
  it.runIf(DIALECTS.includes('postgres'))('PostgreSQL: createSchema: false leaves a missing schema missing', async () => {
    const schema = `t_missing_${randomBytes(4).toString('hex')}`;
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, createSchema: false });
    try {
      expect((await caught(Ledger.open({ storage: opened, ifMissing: 'fail' }))).code).toBe('books_not_found');
    } finally {
      await opened.db.destroy();
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query('select 1 from information_schema.schemata where schema_name = $1', [schema]);
      expect(rows).toHaveLength(0);
    } finally {
      await client.end();
    }
  });

  it.runIf(DIALECTS.includes('sqlite'))('SQLite: ifMissing "fail" on an existing empty file adds no table', async () => {
    const filename = join(directory, 'empty.sqlite');
    const { db } = openSqliteDatabase({ filename });
    try {
      expect((await caught(Ledger.open({ storage: { db, dialect: (await import('../src/db/sqlite/index.js')).sqliteLedgerDialect }, ifMissing: 'fail' }))).code).toBe('books_not_found');
      expect(await tableCount('sqlite', db)).toBe(0);
    } finally {
      await db.destroy();
    }
    expect(existsSync(filename)).toBe(true);
  });
});

describe('opening books that keep their entities writes nothing (SQLite file)', () => {
  it('a second connection opens them while the first holds the write lock, and names the file', async () => {
    const filename = join(directory, `held-${randomBytes(4).toString('hex')}.sqlite`);
    const first = await Ledger.open({ storage: openSqliteDatabase({ filename }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      expect(first.dialect.databaseFile).toBe(filename);
      expect(openSqliteDatabase({ filename: ':memory:' }).dialect.databaseFile).toBeUndefined();
      await first.transact(async () => {
        // The first connection holds the write lock (BEGIN IMMEDIATE): a write here would fail at once.
        const second = await Ledger.open({ storage: openSqliteDatabase({ filename, busyTimeoutMs: 0 }), entities: [{ id: 'defi', timeZone: 'UTC' }], migrate: false });
        try {
          expect(second.entity('defi').timeZone).toBe('UTC');
        } finally {
          await second.close();
        }
        // A new entity must be written, so that open waits for the lock: with no wait, it fails.
        const storage = openSqliteDatabase({ filename, busyTimeoutMs: 0 });
        try {
          await expect(Ledger.open({ storage, entities: [{ id: 'lending', timeZone: 'UTC' }], migrate: false })).rejects.toThrow(/locked|busy/i);
        } finally {
          await storage.db.destroy();
        }
      });
    } finally {
      await first.close();
    }
  });
});

/**
 * Inputs a review (session 44) found answered with raw errors instead of typed ones naming the
 * field: a clock that is no clock (after the migration had built the books), a Date-like instant,
 * a read's kind or id list that is no such thing, an entity list holding null.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, LedgerError, earnAccountsByIds, providerEntriesByIds, providerEntriesOfDayInBookOrder } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

async function refusal(run: () => Promise<unknown>): Promise<LedgerError> {
  const error = await run().then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

describe('Ledger.open with a clock or an entity list that is not one', () => {
  it.each([
    ['a number', 5],
    ['a clock answering text', () => 'x'],
    ['a clock answering a proxy of a Date', () => new Proxy(new Date(), {})],
    ['a clock answering an invalid Date', () => new Date(Number.NaN)],
  ])('now as %s is invalid_input naming now, before any table is made', async (_name, now) => {
    const storage = openSqliteDatabase({ filename: ':memory:' });
    try {
      const error = await refusal(() => Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }], now: now as () => Date }));
      expect(error).toMatchObject({ code: 'invalid_input', field: 'now' });
      const tables = await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table'`.execute(storage.db);
      expect(Number(tables.rows[0]?.n)).toBe(0);
    } finally {
      await storage.db.destroy();
    }
  });

  it('an entity list holding null is invalid_input naming the element', async () => {
    const storage = openSqliteDatabase({ filename: ':memory:' });
    try {
      expect(await refusal(() => Ledger.open({ storage, entities: [null as never] }))).toMatchObject({ code: 'invalid_input', field: 'entities[0]' });
    } finally {
      await storage.db.destroy();
    }
  });
});

describe.each(DIALECTS)('reads and postings given what they cannot take (%s)', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] }));
  });
  afterEach(async () => close());

  it('a read whose kind, id list or input is no such thing is invalid_input naming the field', async () => {
    const books = new EarnBooks(ledger);
    expect(await refusal(() => ledger.transactionByProviderId('defi', {} as never, 'x'))).toMatchObject({ code: 'invalid_input', field: 'kind' });
    expect(await refusal(() => books.transactionOf({ entity: 'defi', kind: [] as never, providerId: 'x' }))).toMatchObject({ code: 'invalid_input', field: 'kind' });
    expect(await refusal(() => providerEntriesByIds(ledger, { entity: 'defi', providerIds: 'abc' as never }))).toMatchObject({ code: 'invalid_input', field: 'providerIds' });
    expect(await refusal(() => providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['a', {}] as never }))).toMatchObject({ code: 'invalid_input', field: 'providerIds[1]' });
    expect(await refusal(() => providerEntriesOfDayInBookOrder(ledger, null as never))).toMatchObject({ code: 'invalid_input', field: 'input' });
    expect(await refusal(() => earnAccountsByIds(ledger, { entity: 'defi' } as never))).toMatchObject({ code: 'invalid_input', field: 'earnAccountIds' });
    expect(await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['none'] })).toEqual([]);
  });

  it.each([
    ['a proxy of a Date', () => new Proxy(new Date('2025-03-18T10:00:00Z'), {})],
    ['an object made from Date.prototype', () => Object.create(Date.prototype) as Date],
  ])('an occurredAt that is %s is invalid_instant naming it, nothing written', async (_name, make) => {
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const error = await refusal(() => ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'k', occurredAt: make(), entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] }));
    expect(error).toMatchObject({ code: 'invalid_instant', field: 'occurredAt' });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

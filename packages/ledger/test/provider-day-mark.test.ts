/**
 * The day mark (`providerEntriesDayMark`) and the read snapshot (`Ledger.readSnapshot`) the
 * reconciler relies on to keep a day it read on a worker thread: the mark moves with every line
 * booked on the day and every Earn account opened, and not otherwise; reads inside a snapshot
 * agree with each other while another connection books.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, LedgerError, providerEntriesDayMark, providerEntriesOfDayInBookOrder, sameProviderDayMark } from '../src/index.js';
import type { ProviderDayMark } from '../src/index.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };
const DAY = '2025-03-18';
const ENTITIES = [{ id: 'defi', timeZone: 'UTC' }];

describe.each(DIALECTS)('the day mark and the read snapshot on %s', (dialect) => {
  let directory: string;
  /** Two ledgers on the same books: a SQLite file opened twice, or one PostgreSQL schema (its pool has several connections). */
  let ledger: Ledger;
  let other: Ledger;
  let books: EarnBooks;
  let schema: string | undefined;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-mark-test-'));
    const filename = join(directory, 'books.sqlite');
    const storage = await freshStorage(dialect, { filename });
    schema = storage.schema;
    ledger = await Ledger.open({ storage, entities: ENTITIES });
    other = dialect === 'sqlite' ? await Ledger.open({ storage: await freshStorage('sqlite', { filename }), entities: ENTITIES }) : ledger;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'u1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'u1', providerProductId: 'btc', currency: 'BTC' });
  });
  afterEach(async () => {
    if (other !== ledger) await other.close();
    await ledger.close();
    await dropSchema(schema);
    rmSync(directory, { recursive: true, force: true });
  });

  const deposit = (on: EarnBooks, id: string, occurredAt = '2025-03-18T10:00:00Z') =>
    on.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: id, amount: '1.5', occurredAt, idempotencyKey: `k-${id}`, providerData: {} });
  const mark = (day = DAY): Promise<ProviderDayMark> => providerEntriesDayMark(ledger, { entity: 'defi', day });

  it('moves with every line booked on the day and every Earn account opened, and with nothing else', async () => {
    const empty = await mark();
    expect(empty).toEqual({ lines: 0, earnAccounts: 1 });
    await deposit(books, 'b1');
    const one = await mark();
    // Exactly the deposit's journal lines.
    expect(one.lines).toBe((await ledger.transactionByKey('defi', 'k-b1'))?.entries.length);
    expect(one.earnAccounts).toBe(1);
    expect(sameProviderDayMark(one, empty)).toBe(false);
    // Another day's booking, a repeated booking (idempotent) and reads leave the day's mark as it was.
    await deposit(books, 'b2', '2025-03-19T10:00:00Z');
    await deposit(books, 'b1');
    await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10 });
    expect(sameProviderDayMark(await mark(), one)).toBe(true);
    // A compound line of interest credited on the day moves it, as does an Earn account opened.
    await books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'i1', amount: '0.1', occurredAt: '2025-03-18T00:00:00Z', interestDay: '2025-03-17' });
    const interest = await mark();
    expect(interest.lines).toBeGreaterThan(one.lines);
    await books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'u2' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'u2', providerProductId: 'btc', currency: 'BTC' });
    expect(await mark()).toEqual({ lines: interest.lines, earnAccounts: 2 });
  });

  it('reads inside a snapshot agree while another connection books; after it, the booking shows', async () => {
    await deposit(books, 'b1');
    const perDeposit = (await mark()).lines;
    const { before, during, entries } = await ledger.readSnapshot(async (db) => {
      const before = await providerEntriesDayMark(ledger, { entity: 'defi', day: DAY }, db);
      await deposit(new EarnBooks(other), 'b2');
      const during = await providerEntriesDayMark(ledger, { entity: 'defi', day: DAY }, db);
      const page = await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10 }, db);
      return { before, during, entries: page.entries.map((entry) => entry.providerId) };
    });
    expect(during).toEqual(before);
    expect(entries).toEqual(['b1']);
    const after = await mark();
    expect(after.lines).toBe(before.lines + perDeposit);
    expect((await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10 })).entries.map((entry) => entry.providerId)).toEqual(['b1', 'b2']);
  });

  it('refuses an unknown entity and a malformed day with typed errors naming the field', async () => {
    await expect(providerEntriesDayMark(ledger, { entity: 'nope', day: DAY })).rejects.toMatchObject({ name: 'LedgerError', field: 'entity' });
    await expect(providerEntriesDayMark(ledger, { entity: 'defi', day: '2025-02-30' })).rejects.toBeInstanceOf(LedgerError);
    await expect(providerEntriesDayMark(ledger, { entity: 'defi', day: '2025-02-30' })).rejects.toMatchObject({ field: 'day', value: '"2025-02-30"' });
  });
});

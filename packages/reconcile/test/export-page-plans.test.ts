/**
 * The journal and balances exports read their pages, not the books, whatever the planner knows.
 * On the nightly bench's 1M-account books, right after the night's bookings: a page of the
 * journal read the rest of the day through the day index and sorted it (PostgreSQL with the day
 * missing from its statistics, and SQLite, which keeps none), 254.6 s and 58.4 s for the day's 1M
 * lines; PostgreSQL's balances page merge-joined the end-of-day rows from the first account up to
 * the page (52-60 s for 1M accounts). The journal now walks the primary key from the cursor when
 * the range's ids are dense ({@link walkJournalByEntryId}), and PostgreSQL joins each page's rows
 * one by one. Every form answers the same rows; on PostgreSQL the rows read are counted with
 * `pg_stat_xact_user_tables`, on SQLite the plan is read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { Ledger, postingRuleEntries } from '@earnbook/ledger';
import type { LedgerDatabase, PostingInput } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { exportBalancesCsv, exportJournalCsv } from '../src/export/index.js';
import { balancesPageBuilt, journalPageBuilt, journalPageQuery, selectJournalEntryBounds, walkJournalByEntryId } from '../src/export/export-queries.js';
import { postgresBalancesPage, postgresJournalPage } from '../src/export/export-queries-postgres.js';
import { rowsRead } from '../../ledger/test/pg-rows-read.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const D1 = '2025-03-17';
const D2 = '2025-03-18';
const D3 = '2025-03-19';

/** Opens `count` user accounts of an entity in BTC, rows written in bulk; returns their ids. */
async function openUsers(db: Kysely<LedgerDatabase>, entity: string, prefix: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let start = 0; start < count; start += 500) {
    const rows = Array.from({ length: Math.min(500, count - start) }, (_, offset) => ({
      entity, currency: 'BTC', code: `user:${prefix}${start + offset}`, kind: 'user', normal_side: 'credit' as const, balance: '0', last_day: null, entry_count: 0, created_at: '2025-03-01T00:00:00.000Z',
    }));
    ids.push(...(await db.insertInto('ledger_accounts').values(rows).returning('id').execute()).map((row) => row.id));
  }
  return ids;
}

/** A deposit of 1 BTC to a user account on a day, keyed by `key`. */
async function depositor(ledger: Ledger, entity: string) {
  const system = Object.fromEntries(await Promise.all((['customer_funds', 'earn_assets', 'settlement'] as const).map(async (kind) => [kind, (await ledger.systemAccount(entity, 'BTC', kind)).id] as const)));
  return (user: number, day: string, key: string): PostingInput => ({
    entity, kind: 'deposit', idempotencyKey: key, providerId: key, occurredAt: `${day}T10:00:00Z`,
    entries: postingRuleEntries('deposit', { ...system, user }, '1'),
  });
}

async function postAll(ledger: Ledger, postings: readonly PostingInput[]): Promise<void> {
  for (let start = 0; start < postings.length; start += 500) await ledger.postMany(postings.slice(start, start + 500));
}

/** The entry ids of an export's journal.csv, in file order. */
async function exportedEntryIds(db: Kysely<LedgerDatabase>, input: { entity?: string; fromDay: string; toDay: string; pageSize: number }): Promise<number[]> {
  const memory = memoryOutput();
  const scope = input.entity === undefined ? { allEntities: true as const } : { entity: input.entity };
  await exportJournalCsv({ db, ...scope, fromDay: input.fromDay, toDay: input.toDay, pageSize: input.pageSize, output: memory.output });
  // entry_id is the 7th column; no quoted text before it holds a comma here.
  return memory.bytes().toString('utf8').trim().split('\r\n').slice(1).map((line) => Number(line.split(',')[6]));
}

describe('walkJournalByEntryId', () => {
  it('walks a dense range, and a range with gaps while its pages would read more through the day index', () => {
    expect(walkJournalByEntryId({ first: 1, last: 1_000, entries: 1_000 }, 100)).toBe(true);
    expect(walkJournalByEntryId({ first: 1, last: 2_000, entries: 1_000 }, 1_000)).toBe(true);
    expect(walkJournalByEntryId({ first: 1, last: 2_001, entries: 1_000 }, 1_000)).toBe(false);
    // A day of 22 entries, one of them booked back-dated 10,000 entries later: the index.
    expect(walkJournalByEntryId({ first: 1, last: 10_022, entries: 22 }, 5)).toBe(false);
    // A day of 1M lines with a back-dated line 30M entries later: 200 pages of 1M through the index cost more.
    expect(walkJournalByEntryId({ first: 1, last: 31_000_000, entries: 1_000_000 }, 5_000)).toBe(true);
  });
});

describe.each(DIALECTS)('export pages on %s', (dialect) => {
  let books: TestBooks;
  beforeEach(async () => {
    books = await openTestBooks(dialect);
  });
  afterEach(async () => books.close());
  const db = () => books.db as unknown as Kysely<LedgerDatabase>;

  it('journal.csv: dense and sparse ranges, two entities interleaved, a back-dated posting: every entry of the scope once, in id order, at every page size', async () => {
    const { ledger } = books;
    const defi = await openUsers(db(), 'defi', 'd', 40);
    const lending = await openUsers(db(), 'lending', 'l', 40);
    const deposit = { defi: await depositor(ledger, 'defi'), lending: await depositor(ledger, 'lending') };
    // D1 first, then D2 of both entities interleaved, then one posting back-dated to D1 (D1 sparse).
    await postAll(ledger, defi.slice(0, 11).map((user, i) => deposit.defi(user, D1, `a${i}`)));
    await postAll(ledger, defi.flatMap((user, i) => [deposit.defi(user, D2, `b${i}`), deposit.lending(lending[i] ?? 0, D2, `c${i}`)]));
    await ledger.post(deposit.defi(defi[39] ?? 0, D1, 'late'));
    const stored = await db().selectFrom('journal_entries').select(['id', 'entity', 'accounting_day']).orderBy('id').execute();
    const expected = (entity: string | undefined, fromDay: string, toDay: string) =>
      stored.filter((row) => (entity === undefined || row.entity === entity) && row.accounting_day >= fromDay && row.accounting_day <= toDay).map((row) => row.id);
    for (const [entity, fromDay, toDay] of [['defi', D1, D1], ['defi', D2, D2], ['lending', D2, D2], [undefined, D2, D2], ['defi', D1, D3], [undefined, D1, D3]] as const) {
      const want = expected(entity, fromDay, toDay);
      expect(want.length).toBeGreaterThan(0);
      for (const pageSize of [1, 3, 7, 100]) {
        expect(await exportedEntryIds(db(), { ...(entity === undefined ? {} : { entity }), fromDay, toDay, pageSize })).toEqual(want);
      }
    }
    // Both kinds of range were taken: at pages of 100, D1 of defi is sparse, D2 of defi dense.
    const bounds = async (entity: string, day: string) => (await selectJournalEntryBounds(db(), { entity }, { fromDay: day, toDay: day }))!;
    expect(walkJournalByEntryId(await bounds('defi', D1), 100)).toBe(false);
    expect(walkJournalByEntryId(await bounds('defi', D2), 100)).toBe(true);
    expect(await exportedEntryIds(db(), { entity: 'defi', fromDay: '2025-04-01', toDay: '2025-04-30', pageSize: 10 })).toEqual([]);
  });

  it('journal and balances pages: every form answers the same rows', async () => {
    const { ledger } = books;
    const users = await openUsers(db(), 'defi', 'u', 30);
    const deposit = await depositor(ledger, 'defi');
    await postAll(ledger, users.map((user, i) => deposit(user, i % 2 === 0 ? D1 : D2, `k${i}`)));
    await postAll(ledger, users.slice(0, 10).map((user, i) => deposit(user, D3, `m${i}`)));
    const scope = { entity: 'defi' };
    const range = { fromDay: D1, toDay: D2 };
    const bounds = (await selectJournalEntryBounds(db(), scope, range))!;
    for (const afterId of [0, bounds.first, bounds.first + 7, bounds.last - 1]) {
      const page = { scope, range, afterId, lastId: bounds.last, pageSize: 9 };
      const built = await journalPageBuilt(db(), { ...page, byEntryId: false });
      expect(built.length).toBeGreaterThan(0);
      expect(await journalPageBuilt(db(), { ...page, byEntryId: true })).toEqual(built);
      if (dialect === 'postgres') expect(await postgresJournalPage(db(), page)).toEqual(built);
    }
    for (const day of [D1, D2, D3, '2025-03-01']) {
      for (const afterId of [0, users[5] ?? 0]) {
        const page = { scope, day, afterId, pageSize: 12 };
        const built = await balancesPageBuilt(db(), page);
        expect(built.length).toBe(12);
        if (dialect === 'postgres') expect(await postgresBalancesPage(db(), page)).toEqual(built);
      }
    }
  });
});

describe('the journal page on SQLite', () => {
  it('walks the primary key from the cursor for a dense range, with no sort', async () => {
    const { db, dialect, native } = openSqliteDatabase({ filename: ':memory:' });
    const ledger = await Ledger.open({ storage: { db, dialect } });
    try {
      const users = await openUsers(db, 'defi', 'u', 20);
      const deposit = await depositor(ledger, 'defi');
      await postAll(ledger, users.map((user, i) => deposit(user, D2, `k${i}`)));
      const plan = (byEntryId: boolean) => {
        const compiled = journalPageQuery(db, { scope: { entity: 'defi' }, range: { fromDay: D2, toDay: D2 }, afterId: 0, lastId: 1_000, pageSize: 10, byEntryId }).compile();
        return (native.prepare(`explain query plan ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as { detail: string }[]).map((row) => row.detail).join('\n');
      };
      expect(plan(true)).toMatch(/SEARCH e USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/);
      expect(plan(true)).not.toMatch(/TEMP B-TREE/);
      // What it replaces (and what a sparse range still takes): the day index, then a sort.
      expect(plan(false)).toMatch(/journal_entries_entity_day_book[\s\S]*USE TEMP B-TREE FOR ORDER BY/);
    } finally {
      await ledger.close();
    }
  });
});

describe.runIf(DIALECTS.includes('postgres'))('export pages on PostgreSQL books analyzed before the day', () => {
  it('the journal of a day the statistics do not hold, and the balances, read their pages; the query builder forms read the rest of the books per page', async () => {
    const books = await openTestBooks('postgres');
    try {
      const ledger = books.ledger;
      const db = books.db as unknown as Kysely<LedgerDatabase>;
      const schema = (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema ?? '';
      for (const table of ['journal_transactions', 'journal_entries', 'account_day_balances', 'ledger_accounts']) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(db);
      const users = await openUsers(db, 'defi', 'u', 1_500);
      const deposit = await depositor(ledger, 'defi');
      await postAll(ledger, users.map((user, i) => deposit(user, D1, `a${i}`)));
      await sql`analyze`.execute(db);
      // D2 is booked after the statistics were taken: they hold none of its rows.
      await postAll(ledger, users.map((user, i) => deposit(user, D2, `b${i}`)));
      const dayEntries = Number((await db.selectFrom('journal_entries').select((eb) => eb.fn.countAll().as('n')).where('accounting_day', '=', D2).executeTakeFirstOrThrow()).n);
      const pageSize = 200;
      await db.transaction().execute(async (trx) => {
        const journalTables = ['journal_entries', 'journal_transactions', 'ledger_accounts'];
        let exported: number[] = [];
        const journalRead = await rowsRead(trx, schema, journalTables, async () => (exported = await exportedEntryIds(trx, { entity: 'defi', fromDay: D2, toDay: D2, pageSize })));
        expect(exported).toHaveLength(dayEntries);
        // Bounds (each entry and its transaction once), then each page's rows and their joins.
        expect(journalRead).toBeLessThanOrEqual(6 * dayEntries);
        const bounds = (await selectJournalEntryBounds(trx, { entity: 'defi' }, { fromDay: D2, toDay: D2 }))!;
        const builtRead = await rowsRead(trx, schema, journalTables, async () => {
          let afterId = bounds.first - 1;
          for (;;) {
            const page = await journalPageBuilt(trx, { scope: { entity: 'defi' }, range: { fromDay: D2, toDay: D2 }, afterId, lastId: bounds.last, pageSize, byEntryId: false });
            if (page.length < pageSize) break;
            afterId = Number(page[page.length - 1]?.entry_id);
          }
        });
        expect(builtRead).toBeGreaterThan(3 * journalRead);

        const balancesRead = await rowsRead(trx, schema, ['account_day_balances'], async () => {
          const memory = memoryOutput();
          const result = await exportBalancesCsv({ db: trx, entity: 'defi', day: D2, pageSize, output: memory.output });
          expect(result.rows).toBeGreaterThanOrEqual(users.length);
        });
        // One latest day row per account (and its neighbour the index walk passes), not the table per page.
        expect(balancesRead).toBeLessThanOrEqual(3 * (users.length + 10));
      });
    } finally {
      await books.close();
    }
  });
});

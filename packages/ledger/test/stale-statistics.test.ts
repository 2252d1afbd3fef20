/**
 * A batch's lookups on PostgreSQL (its keys, its provider ids on transactions and on compound
 * lines, its entries read back) read what they look up and answer what the query builder's forms
 * answer, whatever the planner's statistics say. A young journal that was never analyzed
 * (autovacuum off, or not yet come round) made `column in (…500 values…)` plan as a scan of
 * the entity's whole index, or of every entry in id order: each batch then read everything
 * booked before it, and `postMany` slowed down as the journal grew.
 *
 * Counted with `pg_stat_xact_user_tables` (this transaction's own reads), so that the test
 * asserts rows read, not time.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { postgresPostingBulk } from '../src/db/postgres/posting-bulk.js';
import { postgresJournalBulk } from '../src/db/postgres/journal-bulk.js';
import * as repository from '../src/db/repository.js';
import { rowsRead } from './pg-rows-read.js';
import { DIALECTS, PG_URL, dropSchema } from './dialects.js';

/** Transactions in the journal before the lookups: enough for a scan to show. */
const JOURNAL = 6_000;
/** Values looked up: a batch's worth. */
const LOOKED_UP = 300;
/** Lines of compound postings carrying provider ids, and how many of them are looked up. */
const LINES = 2_000;
const LINES_LOOKED_UP = 100;


describe.runIf(DIALECTS.includes('postgres'))('batch lookups on a journal without statistics (PostgreSQL)', () => {
  it('read the rows looked up, not the journal; the query builder forms they replace read all of it', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      // Never analyzed whatever the server's autovacuum does (this machine's is off; a server
      // with it on could analyze the journal while the test fills it).
      for (const table of ['journal_transactions', 'journal_entries']) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(storage.db);
      const from = (await ledger.systemAccount('defi', 'BTC', 'treasury')).id;
      const to = (await ledger.systemAccount('defi', 'BTC', 'settlement')).id;
      const posting = (index: number): PostingInput => ({
        entity: 'defi',
        kind: 'adjustment',
        idempotencyKey: `k-${index}`,
        providerId: `p-${index}`,
        occurredAt: '2025-03-18T10:00:00Z',
        entries: [
          { accountId: from, side: 'debit', amount: '1' },
          { accountId: to, side: 'credit', amount: '1' },
        ],
      });
      const ids: number[] = [];
      for (let start = 0; start < JOURNAL; start += 500) {
        const results = await ledger.postMany(Array.from({ length: 500 }, (_, offset) => posting(start + offset)));
        ids.push(...results.map((result) => result.transaction.id));
      }
      // Provider ids on entries too (compound postings): lines of interest to user accounts, l-0 … l-(LINES - 1).
      const assets = (await ledger.systemAccount('defi', 'BTC', 'earn_assets')).id;
      const users: number[] = [];
      for (let i = 0; i < 10; i++) users.push((await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' })).id);
      for (let start = 0; start < LINES; start += 500) {
        await ledger.postLines({
          entity: 'defi',
          kind: 'interest',
          occurredAt: '2025-03-19T00:00:00Z',
          side: 'credit',
          contraAccountId: assets,
          lines: Array.from({ length: 500 }, (_, offset) => ({ accountId: users[(start + offset) % users.length] ?? 0, amount: '0.001', providerId: `l-${start + offset}` })),
        });
      }
      const stats = await sql<{ analyzed: boolean }>`
        select (last_analyze is not null or last_autoanalyze is not null) as analyzed from pg_stat_user_tables where schemaname = ${schema} and relname = 'journal_transactions'`.execute(storage.db);
      expect(stats.rows[0]?.analyzed, 'the journal must have no statistics for this test to mean anything').toBe(false);

      const picked = Array.from({ length: LOOKED_UP }, (_, n) => (n * 17) % JOURNAL);
      const keys = picked.map((index) => `k-${index}`);
      const providerIds = [...picked.map((index) => `p-${index}`), ...picked.slice(0, LINES_LOOKED_UP).map((index) => `l-${(index * 7) % LINES}`)];
      const transactionIds = picked.map((index) => ids[index] ?? 0);
      await storage.db.transaction().execute(async (trx) => {
        let found: unknown[] = [];
        const byKeys = await rowsRead(trx, schema, ['journal_transactions'], async () => (found = await postgresPostingBulk.selectTransactionsByKeys(trx, 'defi', keys)));
        expect(found).toHaveLength(LOOKED_UP);
        expect(byKeys).toBeLessThanOrEqual(LOOKED_UP);
        let byProviderEntries = 0;
        const byProvider = await rowsRead(trx, schema, ['journal_transactions'], async () => {
          byProviderEntries = await rowsRead(trx, schema, ['journal_entries'], async () => (found = await postgresPostingBulk.selectTransactionsByProviderIds(trx, 'defi', providerIds)));
        });
        expect(found).toHaveLength(LOOKED_UP + LINES_LOOKED_UP);
        // Each transaction-level id read once; each line read once, and its transaction once.
        expect(byProvider).toBeLessThanOrEqual(LOOKED_UP + LINES_LOOKED_UP);
        expect(byProviderEntries).toBeLessThanOrEqual(LINES_LOOKED_UP);
        const entries = await rowsRead(trx, schema, ['journal_entries'], async () => (found = await postgresPostingBulk.selectEntriesOfTransactions(trx, transactionIds)));
        expect(found).toHaveLength(2 * LOOKED_UP);
        expect(entries).toBeLessThanOrEqual(2 * LOOKED_UP);

        // The same answers as the query builder's forms, which the other dialects' paths share.
        const sorted = <T>(rows: readonly T[]) => rows.map((row) => JSON.stringify(row)).sort();
        expect(sorted(await postgresPostingBulk.selectTransactionsByKeys(trx, 'defi', keys))).toEqual(sorted(await repository.selectTransactionsByKeys(trx, 'defi', keys)));
        expect(sorted(await postgresPostingBulk.selectTransactionsByProviderIds(trx, 'defi', providerIds))).toEqual(sorted(await repository.selectTransactionsByProviderIds(trx, 'defi', providerIds)));
        expect(await postgresPostingBulk.selectEntriesOfTransactions(trx, transactionIds)).toEqual(await repository.selectEntriesOfTransactions(trx, transactionIds));
        expect(await postgresPostingBulk.selectTransactionsByKeys(trx, 'defi', [])).toEqual([]);
        expect(await postgresPostingBulk.selectTransactionsByProviderIds(trx, 'defi', [])).toEqual([]);
        expect(await postgresPostingBulk.selectEntriesOfTransactions(trx, [])).toEqual([]);

        // The cycle's range probe reads an index range of each table, not the journal: ids that
        // sort between the lines' (l-…) and the transactions' (p-…) find nothing, with no row read.
        const range = postgresJournalBulk.anyProviderIdInRange;
        if (range === undefined) throw new Error('the PostgreSQL bulk statements have no range probe');
        let inRange = true;
        let rangeEntries = 0;
        const rangeTransactions = await rowsRead(trx, schema, ['journal_transactions'], async () => {
          rangeEntries = await rowsRead(trx, schema, ['journal_entries'], async () => (inRange = await range(trx, { entity: 'defi', kind: 'adjustment', providerIds: ['m-0', 'm-9'] })));
        });
        expect(inRange).toBe(false);
        expect(rangeTransactions + rangeEntries).toBeLessThanOrEqual(2);
        expect(await range(trx, { entity: 'defi', kind: 'adjustment', providerIds: ['p-10', 'p-11'] })).toBe(true);
        expect(await range(trx, { entity: 'defi', kind: 'interest', providerIds: ['l-10', 'l-11'] })).toBe(true);

        // The test tells the two apart: the `in (…)` forms scan the journal here.
        const oldByKeys = await rowsRead(trx, schema, ['journal_transactions'], () => repository.selectTransactionsByKeys(trx, 'defi', keys));
        const oldEntries = await rowsRead(trx, schema, ['journal_entries'], () => repository.selectEntriesOfTransactions(trx, transactionIds));
        expect(oldByKeys + oldEntries).toBeGreaterThan(JOURNAL);
      });
    } finally {
      await ledger.close();
      await dropSchema(schema);
    }
  }, 60_000);

  it('the pool the ledger opens runs without JIT, which compiled the read-back of a batch on each call (10-20 ms)', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 3 });
    const publicStorage = await openPostgresDatabase({ connectionString: PG_URL });
    try {
      // Every connection of the pool, each on its first query.
      const shown = await Promise.all(
        Array.from({ length: 3 }, () => storage.db.connection().execute(async (connection) => (await sql<{ jit: string; search_path: string }>`select current_setting('jit') as jit, current_setting('search_path') as search_path, pg_sleep(0.05)`.execute(connection)).rows[0])),
      );
      expect(shown.map((row) => ({ jit: row?.jit, search_path: row?.search_path }))).toEqual(Array.from({ length: 3 }, () => ({ jit: 'off', search_path: schema })));
      const shownPublic = await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(publicStorage.db);
      expect(shownPublic.rows[0]?.jit).toBe('off');
    } finally {
      await storage.db.destroy();
      await publicStorage.db.destroy();
      await dropSchema(schema);
    }
  });
});

/**
 * A batch's lookups on PostgreSQL (its keys, its provider ids, its entries read back) read what
 * they look up, whatever the planner's statistics say. A young journal that was never analyzed
 * (autovacuum off, or not yet come round) made `column in (…500 values…)` plan as a scan of
 * the entity's whole index, or of every entry in id order: each batch then read everything
 * booked before it, and `postMany` slowed down as the journal grew.
 *
 * Counted with `pg_stat_xact_user_tables` (this transaction's own reads), so that the test
 * asserts rows read, not time.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { postgresPostingBulk } from '../src/db/postgres/posting-bulk.js';
import * as repository from '../src/db/repository.js';
import type { LedgerDatabase } from '../src/db/schema.js';
import { DIALECTS, PG_URL, dropSchema } from './dialects.js';

/** Transactions in the journal before the lookups: enough for a scan to show. */
const JOURNAL = 6_000;
/** Values looked up: a batch's worth. */
const LOOKED_UP = 300;

type Db = Kysely<LedgerDatabase>;

/** Rows `work` read of `table` in the current transaction: sequential and through indexes. */
async function rowsRead(trx: Db, schema: string, table: string, work: () => Promise<unknown>): Promise<number> {
  const count = async () => {
    const result = await sql<{ rows: string }>`
      select (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text as rows from pg_stat_xact_user_tables where schemaname = ${schema} and relname = ${table}`.execute(trx);
    return Number(result.rows[0]?.rows ?? 0);
  };
  const before = await count();
  await work();
  return (await count()) - before;
}

describe.runIf(DIALECTS.includes('postgres'))('batch lookups on a journal without statistics (PostgreSQL)', () => {
  it('read the rows looked up, not the journal; the query builder forms they replace read all of it', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
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
      const stats = await sql<{ analyzed: boolean }>`
        select (last_analyze is not null or last_autoanalyze is not null) as analyzed from pg_stat_user_tables where schemaname = ${schema} and relname = 'journal_transactions'`.execute(storage.db);
      expect(stats.rows[0]?.analyzed, 'the journal must have no statistics for this test to mean anything').toBe(false);

      const picked = Array.from({ length: LOOKED_UP }, (_, n) => (n * 17) % JOURNAL);
      const keys = picked.map((index) => `k-${index}`);
      const providerIds = picked.map((index) => `p-${index}`);
      const transactionIds = picked.map((index) => ids[index] ?? 0);
      await storage.db.transaction().execute(async (trx) => {
        let found: unknown[] = [];
        const byKeys = await rowsRead(trx, schema, 'journal_transactions', async () => (found = await postgresPostingBulk.selectTransactionsByKeys(trx, 'defi', keys)));
        expect(found).toHaveLength(LOOKED_UP);
        expect(byKeys).toBeLessThanOrEqual(LOOKED_UP);
        const byProvider = await rowsRead(trx, schema, 'journal_transactions', async () => (found = await postgresPostingBulk.selectTransactionsByProviderIds(trx, 'defi', providerIds)));
        expect(found).toHaveLength(LOOKED_UP);
        expect(byProvider).toBeLessThanOrEqual(LOOKED_UP);
        const entries = await rowsRead(trx, schema, 'journal_entries', async () => (found = await postgresPostingBulk.selectEntriesOfTransactions(trx, transactionIds)));
        expect(found).toHaveLength(2 * LOOKED_UP);
        expect(entries).toBeLessThanOrEqual(2 * LOOKED_UP);

        // The test tells the two apart: the `in (…)` forms scan the journal here.
        const oldByKeys = await rowsRead(trx, schema, 'journal_transactions', () => repository.selectTransactionsByKeys(trx, 'defi', keys));
        const oldEntries = await rowsRead(trx, schema, 'journal_entries', () => repository.selectEntriesOfTransactions(trx, transactionIds));
        expect(oldByKeys + oldEntries).toBeGreaterThan(JOURNAL);
      });
    } finally {
      await ledger.close();
      await dropSchema(schema);
    }
  }, 60_000);

  it('the pool the ledger opens runs without JIT, which compiled the read-back of a batch on each call (10-20 ms)', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    try {
      const shown = await sql<{ jit: string; search_path: string }>`select current_setting('jit') as jit, current_setting('search_path') as search_path`.execute(storage.db);
      expect(shown.rows[0]).toEqual({ jit: 'off', search_path: schema });
    } finally {
      await storage.db.destroy();
      await dropSchema(schema);
    }
  });
});

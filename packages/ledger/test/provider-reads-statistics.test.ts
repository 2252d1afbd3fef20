/**
 * The reconciler's reads of provider entries on PostgreSQL (a day's page in book order, a lookup
 * by provider ids) read the rows they answer with, whatever the planner's statistics say, and
 * answer what the query builder's forms (SQLite's) answer. With statistics taken when the day
 * already held its bookings (a partner's books analyzed during the day, the nightly bench's books
 * analyzed once built), those forms planned hash joins: each page of 5,000 read the whole
 * journal, every transaction and every Earn account, and each lookup of 500 ids every whole
 * transaction (0.12-0.46 s a page and 7-17 ms a lookup on a 200k-account nightly's books).
 *
 * Counted with `pg_stat_xact_user_tables` (this transaction's own reads), so that the test
 * asserts rows read, not time.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, postingRuleEntries, providerEntriesByIds, providerEntriesOfDayInBookOrder } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { dayPageInBookOrderBuilt, providerEntriesByIdsBuilt, selectProviderEntriesByIds, selectProviderEntriesOfDayInBookOrder } from '../src/db/provider-entries-repository.js';
import { rowsRead } from './pg-rows-read.js';
import { DIALECTS, PG_URL, dropSchema } from './dialects.js';

/** Earn accounts, each with one deposit of the day: enough for a scan to show. */
const ACCOUNTS = 4_000;
/** Rows of a page, and provider ids of a lookup. */
const PAGE = 500;
const LOOKED_UP = 300;
const DAY = '2025-03-18';
const TABLES = ['journal_entries', 'journal_transactions', 'earn_accounts'] as const;


/** Opens {@link ACCOUNTS} Earn accounts (rows written in bulk, as an import would) and books one deposit of the day on each. */
async function bookTheDay(ledger: Ledger, books: EarnBooks): Promise<void> {
  const db = ledger.db;
  const createdAt = '2025-03-01T00:00:00.000Z';
  const index = Array.from({ length: ACCOUNTS }, (_, i) => i);
  await db.insertInto('partner_users').values(index.map((i) => ({ partner_user_id: `p${i}`, created_at: createdAt }))).execute();
  await db.insertInto('earn_users').values(index.map((i) => ({ entity: 'defi', earn_user_id: `u${i}`, partner_user_id: `p${i}`, created_at: createdAt }))).execute();
  const accounts = await db
    .insertInto('ledger_accounts')
    .values(index.map((i) => ({ entity: 'defi', currency: 'BTC', code: `user:a${i}`, kind: 'user', normal_side: 'credit', balance: '0', last_day: null, entry_count: 0, created_at: createdAt })))
    .returning(['id', 'code'])
    .execute();
  const ledgerIds = new Map(accounts.map((row) => [row.code, row.id]));
  await db
    .insertInto('earn_accounts')
    .values(index.map((i) => ({ entity: 'defi', earn_account_id: `a${i}`, earn_user_id: `u${i}`, provider_product_id: 'btc', currency: 'BTC', ledger_account_id: ledgerIds.get(`user:a${i}`) ?? 0, created_at: createdAt })))
    .execute();
  const system = Object.fromEntries(
    await Promise.all((['customer_funds', 'earn_assets', 'settlement'] as const).map(async (kind) => [kind, (await ledger.systemAccount('defi', 'BTC', kind)).id] as const)),
  );
  const deposit = (i: number): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: `d${i}`,
    providerId: `dep-${String(i).padStart(5, '0')}`,
    occurredAt: `${DAY}T10:00:00Z`,
    entries: postingRuleEntries('deposit', { ...system, user: ledgerIds.get(`user:a${i}`) ?? 0 }, '1'),
  });
  for (let start = 0; start < ACCOUNTS; start += 500) await ledger.postMany(Array.from({ length: 500 }, (_, offset) => deposit(start + offset)));
  expect((await books.earnAccount({ entity: 'defi', earnAccountId: 'a7' }))?.ledgerAccountId).toBe(ledgerIds.get('user:a7'));
}

describe.runIf(DIALECTS.includes('postgres'))('provider-entry reads on books analyzed with the day in them (PostgreSQL)', () => {
  it('a page of the day and a lookup by ids read their own rows; the query builder forms read the books whole', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(ledger);
      await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null } });
      await bookTheDay(ledger, books);
      await sql`analyze`.execute(storage.db);

      const lookedUp = Array.from({ length: LOOKED_UP }, (_, n) => `dep-${String((n * 13) % ACCOUNTS).padStart(5, '0')}`);
      await storage.db.transaction().execute(async (trx) => {
        // The second page (after a key), as every page of the night but the first.
        const first = await selectProviderEntriesOfDayInBookOrder(trx, ledger.dialect, { entity: 'defi', day: DAY, after: null, limit: PAGE, kinds: null });
        const last = first[first.length - 1];
        if (last === undefined) throw new Error('the day has no provider entries');
        const input = { entity: 'defi', day: DAY, after: { transactionId: last.id, entryId: last.entry_id }, limit: PAGE, kinds: null };
        let page: unknown[] = [];
        const pageRead = await rowsRead(trx, schema, TABLES, async () => (page = await selectProviderEntriesOfDayInBookOrder(trx, ledger.dialect, input)));
        expect(page).toHaveLength(PAGE);
        // A deposit has four entries (one relevant), each read with its transaction and Earn
        // account: about 4 + 4 + 1 rows per entry of the page.
        expect(pageRead).toBeLessThanOrEqual(10 * PAGE);
        let found: unknown[] = [];
        const lookupRead = await rowsRead(trx, schema, TABLES, async () => (found = await selectProviderEntriesByIds(trx, ledger.dialect, { entity: 'defi', providerIds: lookedUp })));
        expect(found).toHaveLength(LOOKED_UP);
        expect(lookupRead).toBeLessThanOrEqual(10 * LOOKED_UP);

        // The same answers as the query builder's forms (SQLite's), which read the books whole here.
        let built: unknown[] = [];
        const builtPageRead = await rowsRead(trx, schema, TABLES, async () => (built = await dayPageInBookOrderBuilt(trx, input)));
        expect(page).toEqual(built);
        const builtLookupRead = await rowsRead(trx, schema, TABLES, async () => (built = await providerEntriesByIdsBuilt(trx, ledger.dialect, { entity: 'defi', providerIds: lookedUp })));
        expect(found).toEqual(built);
        // The test tells the two apart: each reads more rows than the day's journal holds (measured: 24,006 and 24,018 against 4,500 and 1,800).
        expect(builtPageRead).toBeGreaterThan(ACCOUNTS * 4);
        expect(builtLookupRead).toBeGreaterThan(ACCOUNTS * 4);
      });

      // Through the public API, the whole day and a lookup of ids booked on entries and on none.
      let after = null;
      let seen = 0;
      do {
        const page = await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after, limit: 1_500 });
        seen += page.entries.length;
        after = page.next;
      } while (after !== null);
      expect(seen).toBe(ACCOUNTS);
      const entries = await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['dep-00001', 'missing', 'dep-03999'] });
      expect(entries.map((entry) => [entry.providerId, entry.earnAccountId, entry.amount])).toEqual([
        ['dep-00001', 'a1', '1.000000000000000000'],
        ['dep-03999', 'a3999', '1.000000000000000000'],
      ]);
    } finally {
      await ledger.close();
      await dropSchema(schema);
    }
  }, 120_000);
});

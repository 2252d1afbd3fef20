/**
 * PostgreSQL: a night's balance updates leave every account row on its page (HOT updates, no new
 * index entry), night after night, even on pages packed to the fill factor, since migration 0015
 * gave each page of `ledger_accounts` room for a second version of every row it holds; at 0006's
 * fill factor of 70, 135 of these 240 rows moved to another page (and into each index again) on
 * the first night (figures in `db/migrations.ts`).
 *
 * The test has a database of its own: a page is pruned of the night before's old versions only
 * once no snapshot of its database is older than them, and the other test files' transactions,
 * in other schemas of the shared database, would hold some at random moments.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, runAccountingCycle } from '../src/index.js';
import { ACCOUNT_ROWS_FILL_FACTOR_PERCENT } from '../src/db/migrations.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL } from './dialects.js';

const ACCOUNTS = 240;

async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

describe.runIf(DIALECTS.includes('postgres'))('account rows updated in place (PostgreSQL)', () => {
  const database = `earnbook_t_${randomBytes(6).toString('hex')}`;
  let ledger: Ledger | undefined;
  afterEach(async () => {
    await ledger?.close();
    ledger = undefined;
    await onServer(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it('keeps every user account row on its page through two nights of the cycle', async () => {
    await onServer(`CREATE DATABASE ${database}`);
    const url = new URL(PG_URL);
    url.pathname = `/${database}`;
    const storage = await openPostgresDatabase({ connectionString: url.toString() });
    ledger = await Ledger.open({ storage: { db: storage.db, dialect: storage.dialect }, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const db = ledger.db;
    const { rows: options } = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = 'ledger_accounts'::regclass`.execute(db);
    expect(options[0]?.reloptions).toContain(`fillfactor=${ACCOUNT_ROWS_FILL_FACTOR_PERCENT}`);

    const books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] } });
    for (let i = 0; i < ACCOUNTS; i++) {
      // Earn account ids of the length of the provider's (UUIDs): the row's length is the code's.
      const earnAccountId = `a${String(i).padStart(35, '0')}`;
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId, providerBookingId: `d${i}`, amount: `${i + 1}.5`, occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: `d${i}`, providerData: {} });
    }
    // Pages packed to the fill factor, as a bulk load of accounts or a restore of a dump writes
    // them. (Opened and funded one by one, each page also held its rows' older versions while it
    // filled: at 70 it holds few enough rows to have room for a second version of each.)
    await sql`vacuum full ledger_accounts`.execute(db);
    // Each user account row's page, and how many such pages there are.
    const pages = async () =>
      (await sql<{ id: string; page: string }>`select id, (ctid::text::point)[0]::bigint as page from ledger_accounts where kind = 'user' order by id`.execute(db)).rows.map((row) => `${row.id}@${row.page}`);
    const before = await pages();
    expect(before).toHaveLength(ACCOUNTS);
    expect(new Set(before.map((row) => row.split('@')[1])).size).toBeGreaterThan(4);

    for (const day of ['2025-03-18', '2025-03-19']) {
      const summary = await runAccountingCycle({ books, entity: 'defi', day, batchSize: 100 });
      expect(summary.interestBooked).toBe(ACCOUNTS);
      expect(await pages(), `after the cycle of ${day}`).toEqual(before);
    }
    const verified = await ledger.verify({ entity: 'defi' });
    expect(verified.accounts).toBeGreaterThan(ACCOUNTS);
  });
});

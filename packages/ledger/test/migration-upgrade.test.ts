/**
 * The one migration set upgrades books in place (0001–0004 to today, 0011's one index of
 * transactions by provider id among them): a database migrated to the schema before
 * compound postings (0001–0004), holding deposits and interest booked the old way (one
 * transaction per account), opens with today's ledger, keeps every figure, passes verify(), and
 * a cycle run on it sees the interest booked the old way as booked; a booking after the upgrade
 * (balance shards on PostgreSQL, 0008) adds to the balances kept from before.
 */
import { Migrator, sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, computeDailyInterestUnits, formatUnits, interestKey, localEntryId, parseInterestTerms, runAccountingCycle } from '../src/index.js';
import type { LedgerDatabase, LedgerStorage } from '../src/index.js';
import { LEDGER_MIGRATION_LOCK_TABLE, LEDGER_MIGRATION_TABLE, ledgerMigrations } from '../src/db/migrations.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import { holdTransaction } from './support/hold.js';

const BEFORE_COMPOUND_POSTINGS = ['0001_initial', '0002_interest_residues', '0003_provider_id_index', '0004_earn_account_order_index'];
const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };
const CREATED_AT = '2025-03-18T00:00:00.000Z';
const ONE = 10n ** 18n;

async function migrateToOldSchema(storage: LedgerStorage): Promise<void> {
  const all = ledgerMigrations(storage.dialect);
  const old = Object.fromEntries(BEFORE_COMPOUND_POSTINGS.map((name) => [name, all[name]]).filter((pair): pair is [string, NonNullable<(typeof all)[string]>] => pair[1] !== undefined));
  expect(Object.keys(old)).toEqual(BEFORE_COMPOUND_POSTINGS);
  await storage.dialect.migrate(storage.db as Kysely<unknown>, async (db, { disableTransactions }) => {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => old },
      disableTransactions,
      migrationTableName: LEDGER_MIGRATION_TABLE,
      migrationLockTableName: LEDGER_MIGRATION_LOCK_TABLE,
      ...(storage.schema === undefined ? {} : { migrationTableSchema: storage.schema }),
    });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
  });
}

/** Books as the old code wrote them: two 1 BTC deposits, and a0's interest for the 18th as its own transaction. */
async function writeOldBooks(db: Kysely<LedgerDatabase>, interestUnits: bigint): Promise<void> {
  const interest = formatUnits(interestUnits);
  await db.insertInto('ledger_entities').values({ id: 'defi', time_zone: 'UTC', created_at: CREATED_AT }).execute();
  const account = async (code: string, kind: string, normal: 'debit' | 'credit', balance: bigint, lastDay: string, entries: number) =>
    (
      await db
        .insertInto('ledger_accounts')
        .values({ entity: 'defi', currency: 'BTC', code, kind, normal_side: normal, balance: formatUnits(balance), last_day: lastDay, entry_count: entries, created_at: CREATED_AT })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const funds = await account('customer_funds', 'customer_funds', 'credit', -2n * ONE, '2025-03-18', 2);
  const assets = await account('earn_assets', 'earn_assets', 'debit', interestUnits, '2025-03-19', 1);
  const a0 = await account('user:a0', 'user', 'credit', ONE + interestUnits, '2025-03-19', 2);
  const a1 = await account('user:a1', 'user', 'credit', ONE, '2025-03-18', 1);
  const transaction = async (kind: string, key: string, providerId: string, at: string, day: string) =>
    (
      await db
        .insertInto('journal_transactions')
        .values({ entity: 'defi', kind, idempotency_key: key, request_hash: key.padEnd(64, '0'), occurred_at: at, accounting_day: day, provider_id: providerId, reverses_transaction_id: null, description: null, metadata: null, created_at: CREATED_AT })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const entry = (transactionId: number, accountId: number, amount: string, after: string, day: string) => ({ transaction_id: transactionId, entity: 'defi', account_id: accountId, currency: 'BTC', amount, balance_after: after, accounting_day: day });
  const d0 = await transaction('deposit', 'dep-a0', 'b0', '2025-03-18T09:00:00.000Z', '2025-03-18');
  const d1 = await transaction('deposit', 'dep-a1', 'b1', '2025-03-18T10:00:00.000Z', '2025-03-18');
  const i0 = await transaction('interest', interestKey('defi', '2025-03-18', 'a0'), localEntryId('defi', '2025-03-18', 'interest', 'a0'), '2025-03-19T00:00:00.000Z', '2025-03-19');
  await db
    .insertInto('journal_entries')
    .values([
      entry(d0, funds, '1.000000000000000000', '-1.000000000000000000', '2025-03-18'),
      entry(d0, a0, '-1.000000000000000000', '1.000000000000000000', '2025-03-18'),
      entry(d1, funds, '1.000000000000000000', '-2.000000000000000000', '2025-03-18'),
      entry(d1, a1, '-1.000000000000000000', '1.000000000000000000', '2025-03-18'),
      entry(i0, assets, interest, interest, '2025-03-19'),
      entry(i0, a0, formatUnits(-interestUnits), formatUnits(ONE + interestUnits), '2025-03-19'),
    ])
    .execute();
  await db
    .insertInto('account_day_balances')
    .values([
      { account_id: funds, accounting_day: '2025-03-18', balance: '-2.000000000000000000' },
      { account_id: a0, accounting_day: '2025-03-18', balance: '1.000000000000000000' },
      { account_id: a1, accounting_day: '2025-03-18', balance: '1.000000000000000000' },
      { account_id: assets, accounting_day: '2025-03-19', balance: interest },
      { account_id: a0, accounting_day: '2025-03-19', balance: formatUnits(ONE + interestUnits) },
    ])
    .execute();
}

describe.each(DIALECTS)('schema upgrade on %s', (dialect) => {
  let cleanup: () => Promise<void> = async () => undefined;
  afterEach(async () => cleanup());

  it('upgrades books of the previous schema in place: figures kept, verify passes, the cycle sees old interest as booked', async () => {
    const storage = await freshStorage(dialect);
    cleanup = async () => {
      await storage.db.destroy();
      await dropSchema(storage.schema);
    };
    await migrateToOldSchema(storage);
    const interestUnits = computeDailyInterestUnits({ balanceUnits: ONE, terms: parseInterestTerms(TERMS) }).userInterestUnits;
    expect(interestUnits > 0n).toBe(true);
    await writeOldBooks(storage.db, interestUnits);

    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    cleanup = async () => {
      await ledger.close();
      await dropSchema(storage.schema);
    };
    expect(await ledger.verify({ entity: 'defi' })).toEqual({ accounts: 4, transactions: 3, entries: 6 });
    const a0 = await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: 'user:a0' });
    expect(await ledger.balanceAtEndOfDay(a0?.id ?? 0, '2025-03-18')).toBe('1.000000000000000000');
    // 0010: the day read walks the entries in book order; the provider id order indexes are gone, the idempotency ones stay.
    const indexes = (
      storage.dialect.name === 'postgres'
        ? await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = ${storage.schema ?? 'public'}`.execute(ledger.db)
        : await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(ledger.db)
    ).rows.map((row) => row.name);
    // 0014: accounts in pages of id order.
    expect(indexes).toEqual(expect.arrayContaining(['journal_entries_entity_provider', 'journal_transactions_entity_provider', 'journal_transactions_entity_day', 'journal_entries_entity_day_book', 'ledger_accounts_entity_id']));
    expect(indexes).not.toContain('journal_entries_day_entity_provider');
    expect(indexes).not.toContain('journal_transactions_entity_day_provider');
    // 0011: one index of transactions by provider id, unique per kind, led by the provider id.
    expect(indexes).not.toContain('journal_transactions_entity_provider_id');
    const providerIndex = (
      storage.dialect.name === 'postgres'
        ? await sql<{ definition: string }>`select indexdef as definition from pg_indexes where schemaname = ${storage.schema ?? 'public'} and indexname = 'journal_transactions_entity_provider'`.execute(ledger.db)
        : await sql<{ definition: string }>`select sql as definition from sqlite_master where name = 'journal_transactions_entity_provider'`.execute(ledger.db)
    ).rows[0]?.definition;
    expect(providerIndex).toMatch(/UNIQUE INDEX .*\(\s*"?entity"?,\s*"?provider_id"?,\s*"?kind"?\s*\).*WHERE.*provider_id.* IS NOT NULL/i);
    if (storage.dialect.name === 'postgres') {
      // 0015: room on each page of the account table for a new version of every row.
      const { rows: options } = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = 'ledger_accounts'::regclass`.execute(ledger.db);
      expect(options[0]?.reloptions).toContain('fillfactor=45');
    }
    const old = await ledger.transactionByProviderId('defi', 'interest', localEntryId('defi', '2025-03-18', 'interest', 'a0'));
    expect(old?.entries.map((entry) => entry.providerId)).toEqual([null, null]);

    const books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: TERMS });
    for (const id of ['a0', 'a1']) {
      await books.registerUser({ partnerUserId: `p-${id}`, earnUsers: [{ entity: 'defi', earnUserId: `u-${id}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: id, earnUserId: `u-${id}`, providerProductId: 'btc', currency: 'BTC' });
    }
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', now: () => new Date('2025-03-19T00:05:00Z') });
    expect([summary.interestBooked, summary.interestAlreadyBooked]).toEqual([1, 1]);
    expect(await ledger.balance(a0?.id ?? 0)).toBe(formatUnits(ONE + interestUnits));
    const a1 = await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1' });
    expect(await ledger.balanceAtEndOfDay(a1?.id ?? 0, '2025-03-19')).toBe(formatUnits(ONE + interestUnits));
    const completed = await ledger.db.selectFrom('accounting_cycles').select('completed_at').executeTakeFirstOrThrow();
    expect(completed.completed_at).toBe('2025-03-19T00:05:00.000Z');
    await ledger.verify({ entity: 'defi' });

    // Bookings on the upgraded books. A lone writer writes the rows kept from before; on
    // PostgreSQL a writer that finds a system account's row held by another transaction writes a
    // balance shard instead (0008): balances add both, before and after.
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b2', amount: '1', occurredAt: '2025-03-20T09:00:00Z', idempotencyKey: 'dep-a1-2', providerData: { id: 'b2' } });
    expect(await ledger.balance(funds.id)).toBe(formatUnits(-3n * ONE));
    expect(await ledger.balanceAtEndOfDay(funds.id, '2025-03-19')).toBe(formatUnits(-2n * ONE));
    expect(await ledger.balanceAtEndOfDay(funds.id, '2025-03-20')).toBe(formatUnits(-3n * ONE));
    expect(await ledger.balance(a1?.id ?? 0)).toBe(formatUnits(2n * ONE + interestUnits));
    if (dialect === 'postgres') {
      const holder = await holdTransaction(ledger, async (scope) =>
        scope.post({ entity: 'defi', kind: 'adjustment', idempotencyKey: 'hold', occurredAt: '2025-03-21T09:00:00Z', entries: [{ accountId: funds.id, side: 'debit', amount: '0.5' }, { accountId: (await ledger.systemAccount('defi', 'BTC', 'treasury')).id, side: 'credit', amount: '0.5' }] }),
      );
      await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b3', amount: '2', occurredAt: '2025-03-21T10:00:00Z', idempotencyKey: 'dep-a0-3', providerData: { id: 'b3' } });
      await holder.release();
      expect(await ledger.balance(funds.id)).toBe(formatUnits(-5n * ONE - ONE / 2n));
      expect(await ledger.balanceAtEndOfDay(funds.id, '2025-03-20')).toBe(formatUnits(-3n * ONE));
      expect(await ledger.balanceAtEndOfDay(funds.id, '2025-03-21')).toBe(formatUnits(-5n * ONE - ONE / 2n));
    }
    // balance_after is the running balance of the series the entry was written to: the account's
    // own row (the whole balance for a lone writer), or the shard of a writer that found it held.
    const history = await ledger.history(funds.id, { order: 'asc' });
    expect(history.items.map((item) => item.balanceAfter)).toEqual(
      [-ONE, -2n * ONE, -3n * ONE, ...(dialect === 'postgres' ? [-3n * ONE - ONE / 2n, -2n * ONE] : [])].map((units) => formatUnits(units)),
    );
    expect(await ledger.verify({ entity: 'defi' })).toEqual(dialect === 'postgres' ? { accounts: 9, transactions: 7, entries: 18 } : { accounts: 9, transactions: 5, entries: 12 });
  });
});

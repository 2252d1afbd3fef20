/**
 * verify() reads the books a range of accounts at a time: each range's entries' sums and own
 * end-of-day rows are read for every account of the range, reading no account row, and verify
 * keeps those of the entity's accounts (which it read for the range). The entity as a condition
 * of the day rows cost a probe per row (PostgreSQL: 5.2-5.3 ms a range of 1,000 at 300k
 * accounts, 1.6-2.5 ms without); its `exists` form PostgreSQL planned as a semi-join hashed over
 * every account of the entity (146 ms a range of 1,000 at 200k accounts). Counted with
 * `pg_stat_xact_user_tables`, so the test asserts rows read, not time; and verify() still tells
 * the entity's books from the other entity's in the same ranges.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Ledger, postingRuleEntries } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import * as repository from '../src/db/repository.js';
import { rowsRead } from './pg-rows-read.js';
import { DIALECTS, PG_URL, dropSchema } from './dialects.js';

const ACCOUNTS = 3_000;
const RANGE = 100;

describe.runIf(DIALECTS.includes('postgres'))('verify() reads of a range of accounts (PostgreSQL)', () => {
  it('read no account row, and answer what verify needs of every entity in the range', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    try {
      const db = ledger.db;
      const createdAt = '2025-03-01T00:00:00.000Z';
      const index = Array.from({ length: ACCOUNTS }, (_, i) => i);
      const accounts = await db
        .insertInto('ledger_accounts')
        .values(index.map((i) => ({ entity: i % 2 === 0 ? 'defi' : 'lending', currency: 'BTC', code: `user:a${i}`, kind: 'user', normal_side: 'credit' as const, balance: '0', last_day: null, entry_count: 0, created_at: createdAt })))
        .returning(['id', 'entity'])
        .execute();
      const system = { defi: await ledger.systemAccountIds('defi', 'BTC'), lending: await ledger.systemAccountIds('lending', 'BTC') };
      const deposits: PostingInput[] = accounts.map((account, i) => ({
        entity: account.entity,
        kind: 'deposit',
        idempotencyKey: `d${i}`,
        occurredAt: `2025-03-${i % 3 === 0 ? '17' : '18'}T10:00:00Z`,
        entries: postingRuleEntries('deposit', { ...system[account.entity as 'defi' | 'lending'], user: account.id }, '1'),
      }));
      for (let start = 0; start < deposits.length; start += 500) await ledger.postMany(deposits.slice(start, start + 500));
      await sql`analyze`.execute(db);
      const fromId = accounts[1_000]?.id ?? 0;
      const range = { fromId, toId: fromId + RANGE - 1 };
      await db.transaction().execute(async (trx) => {
        let sums: Awaited<ReturnType<typeof repository.sumEntriesPerAccountDay>> = [];
        let balances: Awaited<ReturnType<typeof repository.selectDayBalancesOfAccounts>> = [];
        const sumsRead = await rowsRead(trx, schema, ['ledger_accounts'], async () => (sums = await repository.sumEntriesPerAccountDay(trx, ledger.dialect, range)));
        const balancesRead = await rowsRead(trx, schema, ['ledger_accounts'], async () => (balances = await repository.selectDayBalancesOfAccounts(trx, range)));
        // Neither reads an account row (verify keeps the entity's in JavaScript).
        expect(sumsRead).toBe(0);
        expect(balancesRead).toBe(0);
        const inRange = accounts.filter((account) => account.id >= range.fromId && account.id <= range.toId);
        const ofDefi = new Set(inRange.filter((account) => account.entity === 'defi').map((account) => account.id));
        expect(ofDefi.size).toBe(RANGE / 2);
        // Every account of the range, either entity's: one row each (one day, one entity), its deposit.
        expect(sums.map((row) => row.account_id)).toEqual(inRange.map((account) => account.id).sort((a, b) => a - b));
        expect(sums.every((row) => row.total === '-1.000000000000000000' && row.entries === 1 && row.balance_shard === null)).toBe(true);
        // Every account of the range has one day row (one day each), either entity's.
        expect(balances.map((row) => row.account_id)).toEqual(inRange.map((account) => account.id).sort((a, b) => a - b));
      });
      // Each entity's users and its system accounts, checked apart and together.
      const systemOfEach = Object.keys(system.defi).length;
      expect((await ledger.verify({ entity: 'defi' })).accounts).toBe(ACCOUNTS / 2 + systemOfEach);
      expect((await ledger.verify({ entity: 'lending' })).accounts).toBe(ACCOUNTS / 2 + systemOfEach);
      expect((await ledger.verify({ allEntities: true })).accounts).toBe(ACCOUNTS + 2 * systemOfEach);
    } finally {
      await ledger.close();
      await dropSchema(schema);
    }
  });
});

/**
 * No hot rows on PostgreSQL: a writer that finds a system account's row held by another open
 * transaction writes that account in a balance shard of its own instead of waiting; balances now
 * and at the end of every day stay exact (the own row plus the shards), back-dating inside a
 * shard moves its later days, verify() finds a tampered shard or shard day row, and a lone writer
 * writes the own rows exactly as without shards. SQLite keeps one row per account (its writers
 * hold the whole file).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LedgerInvariantError, formatUnits, toUnits } from '../src/index.js';
import type { Ledger, LedgerAccount, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { holdTransaction } from './support/hold.js';

const WAIT_MS_MAX = 5_000;

describe.each(DIALECTS)('balance shards on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let users: LedgerAccount[];
  let funds: LedgerAccount;
  let assets: LedgerAccount;
  let settlement: LedgerAccount;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    users = [];
    for (const code of ['user:a', 'user:b', 'user:c', 'user:holder']) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code, kind: 'user' }));
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    settlement = await ledger.systemAccount('defi', 'BTC', 'settlement');
  });
  afterEach(async () => close());

  const user = (index: number): LedgerAccount => {
    const account = users[index];
    if (account === undefined) throw new Error(`no user ${index}`);
    return account;
  };

  const deposit = (to: LedgerAccount, amount: string, key: string, occurredAt: string): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt,
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: to.id, side: 'credit', amount },
      { accountId: assets.id, side: 'debit', amount },
      { accountId: settlement.id, side: 'credit', amount },
    ],
  });

  /**
   * Runs `work` while another transaction holds the system accounts' rows (it posted a 0.5
   * deposit on 2025-03-01 and waits). On SQLite the holder would hold the whole file, so `work`
   * runs alone there.
   */
  async function whileHeld<T>(work: () => Promise<T>): Promise<T> {
    if (dialect === 'sqlite') return work();
    const holder = await holdTransaction(ledger, (scope) => scope.post(deposit(user(3), '0.5', `hold-${Math.random()}`, '2025-03-01T09:00:00Z')));
    try {
      return await work();
    } finally {
      await holder.release();
    }
  }

  it('lets a writer post to system accounts another open transaction holds, without waiting', async () => {
    // Warm the account cache, as a running back office has it.
    await ledger.post(deposit(user(2), '0.5', 'warm', '2025-02-28T09:00:00Z'));
    const first = await holdTransaction(ledger, (scope) => scope.post(deposit(user(0), '1', 'first', '2025-03-18T09:00:00Z')));
    const second = ledger.postMany([deposit(user(1), '2', 'second', '2025-03-18T10:00:00Z')]).then(() => 'committed' as const);
    const outcome = await Promise.race([second, new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), WAIT_MS_MAX))]);
    await first.release();
    await second;
    // SQLite serialises writers on the file (BEGIN IMMEDIATE): there the second one waits.
    expect(outcome).toBe(dialect === 'postgres' ? 'committed' : 'waited');
    expect(await ledger.balance(funds.id)).toBe(formatUnits(-3_500_000_000_000_000_000n));
    expect(await ledger.balance(assets.id)).toBe(formatUnits(3_500_000_000_000_000_000n));
    expect(await ledger.balanceAtEndOfDay(settlement.id, '2025-02-28')).toBe(formatUnits(-500_000_000_000_000_000n));
    expect(await ledger.balanceAtEndOfDay(settlement.id, '2025-03-18')).toBe(formatUnits(-3_500_000_000_000_000_000n));
    await ledger.verify({ entity: 'defi' });
    const series = await ledger.db.selectFrom('journal_entries').select(['balance_shard', 'balance_after']).where('account_id', '=', funds.id).orderBy('id').execute();
    // The lone writer and the holder write the own row (whole balance); the second writer its shard.
    expect(series.map((row) => [row.balance_shard === null ? 'own' : 'shard', formatUnits(toUnits(String(row.balance_after)))])).toEqual(
      dialect === 'postgres'
        ? [['own', formatUnits(-500_000_000_000_000_000n)], ['own', formatUnits(-1_500_000_000_000_000_000n)], ['shard', formatUnits(-2_000_000_000_000_000_000n)]]
        : [['own', formatUnits(-500_000_000_000_000_000n)], ['own', formatUnits(-1_500_000_000_000_000_000n)], ['own', formatUnits(-3_500_000_000_000_000_000n)]],
    );
  }, 30_000);

  it('keeps every end-of-day balance exact when postings in a shard are back-dated', async () => {
    await ledger.post(deposit(user(2), '0.5', 'warm', '2025-02-28T09:00:00Z'));
    const days = ['2025-03-10', '2025-03-12', '2025-03-11', '2025-03-09', '2025-03-12', '2025-03-10'];
    const expected = new Map<string, bigint>([['2025-02-28', toUnits('0.5')]]);
    // Two transactions while the rows are held: each writes one shard, back-dating inside it.
    await whileHeld(async () => {
      for (const part of [days.slice(0, 3), days.slice(3)]) {
        await ledger.transact(async (scope) => {
          for (const day of part) {
            const index = days.indexOf(day);
            const amount = `${expected.size}.25`;
            await scope.post(deposit(user(index % 3), amount, `dep-${day}-${expected.size}-${Math.random()}`, `${day}T12:00:00Z`));
            expected.set(`${day}#${expected.size}`, toUnits(amount));
          }
        });
      }
    });
    if (dialect === 'postgres') expected.set('2025-03-01#holder', toUnits('0.5'));
    let running = 0n;
    for (const day of ['2025-02-28', '2025-03-01', '2025-03-08', '2025-03-09', '2025-03-10', '2025-03-11', '2025-03-12', '2025-03-13']) {
      for (const [key, units] of expected) if (key.slice(0, 10) === day) running += units;
      expect(await ledger.balanceAtEndOfDay(assets.id, day), day).toBe(formatUnits(running));
      expect(await ledger.balanceAtEndOfDay(funds.id, day), day).toBe(formatUnits(-running));
    }
    expect(await ledger.balance(settlement.id)).toBe(formatUnits(-running));
    const shards = await ledger.db.selectFrom('journal_entries').select('balance_shard').distinct().where('account_id', '=', funds.id).where('balance_shard', 'is not', null).execute();
    expect(shards.length).toBe(dialect === 'postgres' ? 2 : 0);
    expect(await ledger.verify({ entity: 'defi' })).toEqual({ accounts: 7, transactions: dialect === 'postgres' ? 8 : 7, entries: dialect === 'postgres' ? 32 : 28 });
  });

  it('finds a tampered shard balance and a tampered shard day row in verify()', async () => {
    await ledger.post(deposit(user(0), '1', 'a', '2025-03-17T09:00:00Z'));
    await whileHeld(async () => {
      await ledger.post(deposit(user(0), '1', 'b', '2025-03-18T09:00:00Z'));
      await ledger.post(deposit(user(1), '1', 'c', '2025-03-19T09:00:00Z'));
    });
    await ledger.verify({ entity: 'defi' });
    if (dialect !== 'postgres') return;
    await sql`update account_balance_shards set balance = balance + 1 where account_id = ${assets.id}`.execute(ledger.db);
    await expect(ledger.verify({ entity: 'defi' })).rejects.toBeInstanceOf(LedgerInvariantError);
    await sql`update account_balance_shards set balance = balance - 1 where account_id = ${assets.id}`.execute(ledger.db);
    await ledger.verify({ entity: 'defi' });
    await sql`update account_shard_day_balances set balance = balance + 1 where account_id = ${assets.id} and accounting_day = '2025-03-18'`.execute(ledger.db);
    await expect(ledger.verify({ entity: 'defi' })).rejects.toBeInstanceOf(LedgerInvariantError);
  });
});

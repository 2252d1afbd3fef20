import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { sql } from 'kysely';
import { EarnBooks, Ledger, LedgerError, cycleInterestEntryId, localEntryId, projectAccountingCycle, roundDecimal, runAccountingCycle, toDecimal, toUnits } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL, freshLedger } from './dialects.js';

const ZONE = 'Europe/Berlin';
const flat = (apy: string, extra: Record<string, unknown> = {}) => ({ tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy }], partnerMargin: null, ...extra });

async function setUp(books: EarnBooks, accounts: number, terms: unknown = flat('0.035')) {
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
  for (let i = 0; i < accounts; i++) {
    await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
  }
}

const booking = (account: string, amount: string, id: string, occurredAt: string) => ({
  entity: 'defi',
  earnAccountId: account,
  providerBookingId: id,
  amount,
  occurredAt,
  idempotencyKey: id,
  providerData: { id },
});

describe.each(DIALECTS)('accounting cycle on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
  });
  afterEach(async () => close());

  const balanceOf = async (account: string) => ledger.balance((await books.earnAccount({ entity: 'defi', earnAccountId: account })).ledgerAccountId);

  it('reproduces the seed: 1 BTC at 3.5% is 1.00009425493 after one day', async () => {
    await setUp(books, 1);
    await books.recordDeposit(booking('a0', '1', 'd1', '2025-03-18T09:00:00Z'));
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    expect(summary.creditedAt).toBe('2025-03-18T23:00:00.000Z');
    expect(summary.interestBooked).toBe(1);
    expect(roundDecimal(toDecimal(await balanceOf('a0')), { scale: 11, roundingMode: 'half-up' })).toBe('1.00009425493');
    const interest = (await ledger.history((await books.earnAccount({ entity: 'defi', earnAccountId: 'a0' })).ledgerAccountId)).items[0];
    expect(interest?.kind).toBe('interest');
    expect(interest?.accountingDay).toBe('2025-03-19');
  });

  it('reproduces the seed: 0.5 BTC at 3% compounds to 0.50004049, 0.50008099, 0.500121489', async () => {
    await setUp(books, 1, flat('0.03'));
    await books.recordDeposit(booking('a0', '0.5', 'd1', '2025-03-18T09:00:00Z'));
    const expected = [
      ['2025-03-18', 8, '0.50004049'],
      ['2025-03-19', 8, '0.50008099'],
      ['2025-03-20', 9, '0.500121489'],
    ] as const;
    for (const [day, scale, figure] of expected) {
      await runAccountingCycle({ books, entity: 'defi', day });
      expect(roundDecimal(toDecimal(await balanceOf('a0')), { scale, roundingMode: 'half-up' })).toBe(figure);
    }
  });

  it('pays nothing on a zero balance and nothing the day after a full withdrawal', async () => {
    await setUp(books, 2);
    await books.recordDeposit(booking('a0', '1', 'd1', '2025-03-18T09:00:00Z'));
    await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    const all = await balanceOf('a0');
    await books.recordWithdrawal(booking('a0', all, 'w1', '2025-03-19T09:00:00Z'));
    const day2 = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-19' });
    expect(day2.interestBooked).toBe(0);
    expect(await balanceOf('a0')).toBe('0.000000000000000000');
    expect(await balanceOf('a1')).toBe('0.000000000000000000');
  });

  it('counts a deposit at 23:59:59.999 local for that day and one at 00:00 local for the next', async () => {
    await setUp(books, 2);
    // Berlin is UTC+1 on 2025-03-18: local midnight of the 19th is 23:00Z.
    await books.recordDeposit(booking('a0', '1', 'd1', '2025-03-18T22:59:59.999Z'));
    await books.recordDeposit(booking('a1', '1', 'd2', '2025-03-18T23:00:00.000Z'));
    const lines = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    expect(lines.map((line) => [line.earnAccountId, line.balance])).toEqual([
      ['a0', '1.000000000000000000'],
      ['a1', '0.000000000000000000'],
    ]);
    expect(lines[1]?.userInterest).toBe('0.000000000000000000');
  });

  it('books once when run twice, and accrues partner margin per currency', async () => {
    await setUp(books, 3, flat('0.035', { partnerMargin: { mode: 'own-apy', apy: '0.01' } }));
    for (let i = 0; i < 3; i++) await books.recordDeposit(booking(`a${i}`, `${i + 1}`, `d${i}`, '2025-03-18T09:00:00Z'));
    const first = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2 });
    const second = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2 });
    expect(first.interestBooked).toBe(3);
    expect(second.interestBooked).toBe(0);
    expect(second.interestAlreadyBooked).toBe(3);
    expect(second.totals.get('BTC')).toEqual(first.totals.get('BTC'));
    const margin = await books.transactionOf({ entity: 'defi', kind: 'partner_margin', providerId: (await ledger.transactionByKey('defi', 'cycle:margin:defi:2025-03-18:BTC'))?.providerId ?? '' });
    expect(margin?.entries[0]?.amount).toBe(first.totals.get('BTC')?.partnerMargin);
    await ledger.verify({ entity: 'defi' });
  });

  it('books the margin of a currency the ledger keeps with 8 decimals (currencyScales)', async () => {
    const scaled = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }], currencyScales: { BTC: 8 } });
    try {
      const scaledBooks = new EarnBooks(scaled.ledger);
      await setUp(scaledBooks, 2, flat('0.035', { partnerMargin: { mode: 'own-apy', apy: '0.01' }, scale: 8 }));
      for (let i = 0; i < 2; i++) await scaledBooks.recordDeposit(booking(`a${i}`, `${10 * (i + 1)}`, `d${i}`, '2025-03-18T09:00:00Z'));
      const summary = await runAccountingCycle({ books: scaledBooks, entity: 'defi', day: '2025-03-18' });
      expect(summary.interestBooked).toBe(2);
      const margin = summary.totals.get('BTC')?.partnerMargin;
      expect(margin).toMatch(/^0\.\d{8}0{10}$/);
      const income = await scaled.ledger.systemAccount('defi', 'BTC', 'partner_margin_income');
      expect(await scaled.ledger.balance(income.id)).toBe(margin);
      await scaled.ledger.verify({ entity: 'defi' });
    } finally {
      await scaled.close();
    }
  });

  it('uses the product version in force on the day', async () => {
    await setUp(books, 1);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-19', terms: flat('0') });
    await books.recordDeposit(booking('a0', '1', 'd1', '2025-03-18T09:00:00Z'));
    const before = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    const after = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-19' });
    expect(before[0]?.userInterest).not.toBe('0.000000000000000000');
    expect(after[0]?.userInterest).toBe('0.000000000000000000');
  });

  it('carries residues per account when the terms ask for it', async () => {
    await setUp(books, 1, flat('0.035', { residueMode: 'carry', roundingMode: 'down', scale: 8 }));
    await books.recordDeposit(booking('a0', '0.00001', 'd1', '2025-03-18T09:00:00Z'));
    // 0.00001 BTC earns ~9.4e-10 a day: below 1e-8, so nothing is posted until residues add up.
    let posted = 0;
    for (let i = 0; i < 12; i++) {
      const day = `2025-03-${String(18 + i).padStart(2, '0')}`;
      posted += (await runAccountingCycle({ books, entity: 'defi', day })).interestBooked;
    }
    expect(posted).toBe(1);
    expect(await balanceOf('a0')).toBe('0.000010010000000000');
  });

  it('rejects bad input', async () => {
    await setUp(books, 1);
    await expect(runAccountingCycle({ books, entity: 'defi', day: '2025-13-01' })).rejects.toMatchObject({ code: 'invalid_day', field: 'day' });
    await expect(runAccountingCycle({ books, entity: 'nope', day: '2025-03-01' })).rejects.toMatchObject({ code: 'unknown_entity' });
    await expect(runAccountingCycle({ books, entity: 'defi', day: '2025-03-01', batchSize: 0 })).rejects.toBeInstanceOf(LedgerError);
    await books.recordDeposit(booking('a0', '1', 'd1', '2025-03-18T09:00:00Z'));
    const before = await snapshotDatabase(ledger.db as never);
    for (const commitLines of [0, -1, 1.5, 1_000_001, Number.NaN]) {
      await expect(runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', commitLines })).rejects.toMatchObject({ code: 'invalid_input', field: 'commitLines' });
    }
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('writes several batches to a commit and books each account once, with ids in account order', async () => {
    await setUp(books, 7);
    for (let i = 0; i < 7; i++) await books.recordDeposit(booking(`a${i}`, `${i + 1}`, `d${i}`, '2025-03-18T09:00:00Z'));
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2, commitLines: 5 });
    expect([summary.accounts, summary.interestBooked]).toEqual([7, 7]);
    const lines = await ledger.db
      .selectFrom('journal_entries')
      .select(['account_id', 'provider_id'])
      .where('provider_id', 'is not', null)
      .orderBy('id')
      .execute();
    expect(lines.map((line) => line.provider_id)).toEqual(lines.map((line) => cycleInterestEntryId('2025-03-18', line.account_id)));
    expect(lines.map((line) => line.provider_id)).toEqual(lines.map((line) => line.provider_id).sort());
    const again = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 3, commitLines: 1 });
    expect([again.interestBooked, again.interestAlreadyBooked]).toEqual([0, 7]);
    await ledger.verify({ entity: 'defi' });
  });

  /**
   * Runs the cycle of six accounts in batches of two (one transaction) with `prepare` done first,
   * and returns its failure; every rejection nobody handled in the meantime is collected (on
   * PostgreSQL the next batch is read while one is booked: a failure of either must not leave the
   * other's promise rejected unhandled).
   */
  async function failedRun(prepare: () => Promise<void>, onLines?: () => void): Promise<{ error: unknown; unhandled: unknown[]; before: string; after: string }> {
    for (let i = 0; i < 6; i++) await books.recordDeposit(booking(`a${i}`, `${i + 1}`, `d${i}`, '2025-03-18T09:00:00Z'));
    await prepare();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const before = await snapshotDatabase(ledger.db as never);
      const error = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2, ...(onLines === undefined ? {} : { onLines }) }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      // A rejection nobody handles is reported once the microtasks drain: give it a turn.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { error, unhandled, before, after: await snapshotDatabase(ledger.db as never) };
    } finally {
      process.off('unhandledRejection', listener);
    }
  }

  const ledgerIdOf = async (account: string) => (await books.earnAccount({ entity: 'defi', earnAccountId: account })).ledgerAccountId;

  it('writes nothing when a batch fails to book while the next one is read', async () => {
    await setUp(books, 6);
    const { error, unhandled, before, after } = await failedRun(async () => {
      // The second batch's first line (a2) is refused by the database.
      const trapped = cycleInterestEntryId('2025-03-18', await ledgerIdOf('a2'));
      if (dialect === 'sqlite') {
        await sql.raw(`create trigger trap before insert on journal_entries when new.provider_id = '${trapped}' begin select raise(abort, 'trapped line'); end`).execute(ledger.db);
      } else {
        await sql.raw(`create function trap() returns trigger language plpgsql as $$ begin if new.provider_id = '${trapped}' then raise exception 'trapped line'; end if; return new; end $$`).execute(ledger.db);
        await sql.raw('create trigger trap before insert on journal_entries for each row execute function trap()').execute(ledger.db);
      }
    });
    expect(String((error as Error | undefined)?.message) + String(((error as { cause?: Error } | undefined)?.cause)?.message)).toContain('trapped line');
    expect(after).toBe(before);
    expect(unhandled).toEqual([]);
  });

  it('writes nothing when the next batch fails to read while one is booked', async () => {
    await setUp(books, 6, flat('0.035', { residueMode: 'carry', roundingMode: 'down', scale: 8 }));
    const { error, unhandled, before, after } = await failedRun(async () => {
      // The third batch's first account (a4) carries a residue that cannot be read.
      await sql`insert into interest_residues (account_id, accounting_day, user_residue, margin_residue) values (${await ledgerIdOf('a4')}, '2025-03-17', 'not a number', '0')`.execute(ledger.db);
    });
    expect(error).toMatchObject({ code: 'invalid_amount', field: 'userResidue' });
    expect(after).toBe(before);
    expect(unhandled).toEqual([]);
  });

  it('writes nothing, and throws what onLines threw, when it throws while the batch before is being written', async () => {
    await setUp(books, 6);
    let calls = 0;
    // On PostgreSQL the second batch is then in flight (its write sent, its read-back to come).
    const onLines = () => {
      calls++;
      if (calls === 3) throw new Error('onLines refused the third batch');
    };
    const { error, unhandled, before, after } = await failedRun(async () => undefined, onLines);
    expect((error as Error | undefined)?.message).toBe('onLines refused the third batch');
    expect(after).toBe(before);
    expect(unhandled).toEqual([]);
    // The connection is left as it should be: the day's run books every account afterwards.
    expect((await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2 })).interestBooked).toBe(6);
    await ledger.verify({ entity: 'defi' });
  });

  it('finishes a day begun with the ids of earlier versions under those ids, booking no account twice', async () => {
    await setUp(books, 5);
    for (let i = 0; i < 5; i++) await books.recordDeposit(booking(`a${i}`, `${i + 1}`, `d${i}`, '2025-03-18T09:00:00Z'));
    // What an earlier version's run left when it stopped after its first batch: the first two
    // accounts' interest under `localEntryId` ids.
    const projected = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
    const earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    await ledger.postLines({
      entity: 'defi',
      kind: 'interest',
      occurredAt: '2025-03-18T23:00:00.000Z',
      side: 'credit',
      contraAccountId: earnAssets.id,
      metadata: { interestDay: '2025-03-18' },
      lines: projected.slice(0, 2).map((line) => ({ accountId: line.ledgerAccountId, amount: line.userInterest, providerId: localEntryId('defi', '2025-03-18', 'interest', line.earnAccountId) })),
    });
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 2 });
    expect([summary.interestBooked, summary.interestAlreadyBooked]).toEqual([3, 2]);
    const ids = await ledger.db.selectFrom('journal_entries').select('provider_id').where('provider_id', 'is not', null).orderBy('id').execute();
    expect(ids.map((row) => row.provider_id)).toEqual(projected.map((line) => localEntryId('defi', '2025-03-18', 'interest', line.earnAccountId)));
    for (let i = 0; i < 5; i++) expect(toUnits(await balanceOf(`a${i}`))).toBe(BigInt(i + 1) * 10n ** 18n + toUnits(projected[i]?.userInterest ?? '0'));
    await ledger.verify({ entity: 'defi' });
  });
});

/**
 * Waits until `count` backends wait on the `holder` connection's locks, or on a backend that
 * waits on them (other test files may wait on locks of their own meanwhile).
 */
async function untilWaiting(holder: pg.Client, count: number, failure: string): Promise<void> {
  const waiting = async () =>
    Number(
      (
        await holder.query<{ n: string }>(
          `select count(*)::text as n from pg_stat_activity w
           where pg_backend_pid() = any(pg_blocking_pids(w.pid))
              or exists (select 1 from pg_stat_activity v where pg_backend_pid() = any(pg_blocking_pids(v.pid)) and v.pid = any(pg_blocking_pids(w.pid)))`,
        )
      ).rows[0]?.n ?? 0,
    );
  for (let tries = 0; (await waiting()) < count; tries++) {
    if (tries > 200) throw new Error(failure);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(DIALECTS.includes('postgres'))('two runs of one cycle at once (PostgreSQL, two ledgers on one schema)', () => {
  it('book each account once: both wait on the same account, then the later finds the lines of the earlier and answers exists', async () => {
    const first = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: ZONE }] });
    const schema = first.schema;
    if (schema === undefined) throw new Error('a PostgreSQL test ledger has a schema');
    const storage = await openPostgresDatabase({ connectionString: PG_URL, schema });
    const second = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: ZONE }] });
    // A third connection holds the first account's row until both runs wait on a lock: they overlap for sure.
    const holder = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    try {
      const books = new EarnBooks(first.ledger);
      await setUp(books, 30);
      for (let i = 0; i < 30; i++) await books.recordDeposit(booking(`a${i}`, '1', `d${i}`, '2025-03-18T09:00:00Z'));
      const held = (await books.earnAccount({ entity: 'defi', earnAccountId: 'a0' })).ledgerAccountId;
      await holder.query('begin');
      await holder.query(`select id from ${schema}.ledger_accounts where id = $1 for update`, [held]);
      const options = { entity: 'defi', day: '2025-03-18', batchSize: 5, commitLines: 10 };
      const runs = Promise.all([runAccountingCycle({ ...options, books }), runAccountingCycle({ ...options, books: new EarnBooks(second) })]);
      await untilWaiting(holder, 2, 'the two runs never both waited on a lock');
      await holder.query('commit');
      const [a, b] = await runs;
      expect(a.interestBooked + b.interestBooked).toBe(30);
      expect(a.interestBooked + a.interestAlreadyBooked).toBe(30);
      expect(b.interestBooked + b.interestAlreadyBooked).toBe(30);
      for (let i = 0; i < 30; i++) {
        const account = (await books.earnAccount({ entity: 'defi', earnAccountId: `a${i}` })).ledgerAccountId;
        expect((await first.ledger.history(account)).items.filter((item) => item.kind === 'interest')).toHaveLength(1);
      }
      await first.ledger.verify({ entity: 'defi' });
    } finally {
      await holder.end();
      await second.close();
      await first.close();
    }
  }, 60_000);
});

describe.runIf(DIALECTS.includes('postgres'))('a run beside other writers of its accounts (PostgreSQL)', () => {
  // The run locks each batch's account rows as it reads them, after the claim lock of the
  // entity's interest ids, and its earn_assets row at its first posting: deposits (whole
  // postings: their system accounts go to balance shards) and compound interest lines of the
  // same accounts (the same claim lock first) run beside it without a deadlock. A third
  // connection holds the claim lock until the lines wait on it and the run behind them: a run
  // that locked its first batch before the claim lock deadlocked with the lines (earn_assets,
  // then the batch's first account) here.
  it('deposits and compound interest lines of the same accounts all commit; each account earns the cycle once', async () => {
    const { ledger, close } = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: ZONE }] });
    const holder = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    try {
      const books = new EarnBooks(ledger);
      const n = 40;
      await setUp(books, n);
      for (let i = 0; i < n; i++) await books.recordDeposit(booking(`a${i}`, '1', `d${i}`, '2025-03-18T09:00:00Z'));
      const projected = await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' });
      const ids = await Promise.all(Array.from({ length: n }, async (_, i) => (await books.earnAccount({ entity: 'defi', earnAccountId: `a${i}` })).ledgerAccountId));
      const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
      await holder.query('begin');
      await holder.query(`select pg_advisory_xact_lock(hashtext('earnbook.provider_id_claims'), hashtext('defi/interest'))`);
      const lines = (async () => {
        for (let part = 0; part < 4; part++) {
          const accounts = ids.slice(part * 10, part * 10 + 10).reverse();
          await ledger.postLines({ entity: 'defi', kind: 'interest', occurredAt: '2025-03-19T12:00:00Z', side: 'credit', contraAccountId: assets.id, lines: accounts.map((accountId) => ({ accountId, amount: '0.001', providerId: `R${accountId}` })) });
        }
      })();
      await untilWaiting(holder, 1, 'the lines never waited on the claim lock');
      // Each batch as the run hands it over: a transaction PostgreSQL broke out of a deadlock is run again, and hands its batches over twice.
      const handed: string[] = [];
      const onLines = (batch: readonly { earnAccountId: string }[]) => handed.push(batch.map((line) => line.earnAccountId).join());
      const cycle = runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 5, commitLines: 10, onLines });
      await untilWaiting(holder, 2, 'the run never waited on a lock');
      const deposits = (async () => {
        for (let i = n - 1; i >= 0; i--) await books.recordDeposit(booking(`a${i}`, '1', `late${i}`, '2025-03-19T10:00:00Z'));
      })();
      await holder.query('commit');
      const outcomes = await Promise.allSettled([cycle, deposits, lines]);
      expect(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? 'ok' : String(outcome.reason)))).toEqual(['ok', 'ok', 'ok']);
      const summary = await cycle;
      expect([summary.accounts, summary.interestBooked, summary.interestAlreadyBooked]).toEqual([n, n, 0]);
      expect(handed).toHaveLength(n / 5);
      expect(new Set(handed).size).toBe(handed.length);
      for (let i = 0; i < n; i++) {
        const interest = toUnits(projected[i]?.userInterest ?? '0');
        expect(interest).toBeGreaterThan(0n);
        expect(toUnits(await ledger.balance(ids[i] ?? 0))).toBe(2n * 10n ** 18n + interest + 10n ** 15n);
        const entries = (await ledger.history(ids[i] ?? 0)).items.filter((item) => item.kind === 'interest');
        expect(entries).toHaveLength(2);
      }
      await ledger.verify({ entity: 'defi' });
    } finally {
      await holder.end();
      await close();
    }
  }, 60_000);
});

describe('cycle interest entry ids', () => {
  it('are UUID-shaped and sort by day, then ledger account', () => {
    expect(cycleInterestEntryId('2025-03-18', 1)).toBe('00004ec5-0000-8000-8001-000000000000');
    expect(cycleInterestEntryId('2025-03-18', 2 ** 40 - 1)).toBe('00004ec5-ffff-8fff-8fff-000000000000');
    expect(cycleInterestEntryId('2025-03-18', 1)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-8[0-9a-f]{3}-0{12}$/);
    const day = fc.integer({ min: Date.UTC(2000, 0, 1) / 86_400_000, max: Date.UTC(2099, 11, 31) / 86_400_000 }).map((n) => new Date(n * 86_400_000).toISOString().slice(0, 10));
    const account = fc.integer({ min: 1, max: 2 ** 40 - 1 });
    fc.assert(
      fc.property(day, account, day, account, (d1, a1, d2, a2) => {
        const [x, y] = [cycleInterestEntryId(d1, a1), cycleInterestEntryId(d2, a2)];
        const expected = d1 === d2 ? Math.sign(a1 - a2) : d1 < d2 ? -1 : 1;
        expect(x < y ? -1 : x > y ? 1 : 0).toBe(expected);
      }),
    );
  });

  it('refuses an account id out of range and a bad day', () => {
    for (const id of [0, -1, 1.5, 2 ** 40, Number.NaN]) expect(() => cycleInterestEntryId('2025-03-18', id)).toThrow(expect.objectContaining({ code: 'invalid_input', field: 'ledgerAccountId' }));
    expect(() => cycleInterestEntryId('2025-02-30', 1)).toThrow(expect.objectContaining({ code: 'invalid_day', field: 'day' }));
  });
});

describe('accounting cycle killed half-way (SQLite file, child process)', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-cycle-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('finishes on the next run with every account booked exactly once', async () => {
    const filename = join(directory, 'books.sqlite');
    const open = async () => {
      const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename }), entities: [{ id: 'defi', timeZone: ZONE }] });
      return { ledger, books: new EarnBooks(ledger) };
    };
    const accounts = 120;
    {
      const { ledger, books } = await open();
      await setUp(books, accounts);
      for (let i = 0; i < accounts; i++) await books.recordDeposit(booking(`a${i}`, '1', `d${i}`, '2025-03-18T09:00:00Z'));
      await ledger.close();
    }
    const script = fileURLToPath(new URL('./fixtures/cycle-runner.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, filename, '2025-03-18'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    let batches = 0;
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        batches += chunk.split('batch').length - 1;
        if (batches >= 4) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    await new Promise((resolve) => child.once('exit', resolve).once('close', resolve));
    const { ledger, books } = await open();
    try {
      const partial = await ledger.db.selectFrom('journal_transactions').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', 'interest').executeTakeFirstOrThrow();
      expect(Number(partial.n)).toBeGreaterThan(0);
      expect(Number(partial.n)).toBeLessThan(accounts / 10);
      // Whole commits only: two batches (two compound transactions) to a commit.
      expect(Number(partial.n) % 2).toBe(0);
      const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 50 });
      expect(summary.interestBooked + summary.interestAlreadyBooked).toBe(accounts);
      const perAccount = await ledger.db
        .selectFrom('journal_entries as e')
        .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
        .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
        .select(['a.code', (eb) => eb.fn.countAll<number>().as('n')])
        .where('t.kind', '=', 'interest')
        .where('a.kind', '=', 'user')
        .groupBy('a.code')
        .execute();
      expect(perAccount.length).toBe(accounts);
      expect(perAccount.every((row) => Number(row.n) === 1)).toBe(true);
      await ledger.verify({ entity: 'defi' });
    } finally {
      await ledger.close();
    }
  });
});

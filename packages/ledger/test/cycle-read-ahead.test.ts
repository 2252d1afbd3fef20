/**
 * The accounting cycle's read-ahead (a worker thread reads the next batch on a SQLite file): the
 * run books exactly what it books without it, also when the books move between two of its
 * transactions or its own callback writes inside one; on PostgreSQL the option changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EarnBooks, Ledger, LedgerError, formatUnits, runAccountingCycle } from '../src/index.js';
import { CycleReadAhead, packCycleBatch, unpackCycleBatch } from '../src/cycle-read-ahead.js';
import type { CycleBatch } from '../src/cycle-read.js';
import type { CycleReadAheadMode, LedgerLogger } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { DIALECTS, freshStorage } from './dialects.js';
import type { DialectName } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';

const DAY = '2025-03-18';
const ACCOUNTS = 120;
/** Tiers, a margin of its own APY and residues carried: every column the run books. */
const TERMS = {
  tierMode: 'whole-balance',
  tiers: [
    { fromAmount: '0', toAmount: '1', apy: '0.05' },
    { fromAmount: '1', toAmount: null, apy: '0.02' },
  ],
  partnerMargin: { mode: 'own-apy', apy: '0.01' },
  residueMode: 'carry',
};

interface Logged {
  readonly event?: string;
  readonly taken?: number;
  readonly readAgain?: number;
}

function capturingLogger(events: Logged[]): LedgerLogger {
  const keep = (fields: object) => {
    events.push(fields as Logged);
  };
  return { debug: keep, info: keep, warn: keep, error: keep };
}

/** What the run booked, account by account (amounts and balances), read through the ledger. */
async function bookedRows(ledger: Ledger, books: EarnBooks): Promise<string[]> {
  const rows: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: `a${i}` });
    const history = await ledger.history(account.ledgerAccountId);
    rows.push(`${i} ${await ledger.balance(account.ledgerAccountId)} ${history.items.map((item) => `${item.kind}:${item.accountingDay}:${item.amount}`).join(',')}`);
  }
  return rows;
}

describe.each(DIALECTS)('cycle read-ahead on %s', (dialect: DialectName) => {
  let directory: string;
  const closes: (() => Promise<void>)[] = [];
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-read-ahead-'));
  });
  afterEach(async () => {
    for (const close of closes.splice(0)) await close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** Books of ACCOUNTS Earn accounts with deposits of the day (a file on SQLite), and what the run logs. */
  /** Books of ACCOUNTS Earn accounts; on PostgreSQL through a pool of `poolSizeMax` connections. */
  async function books(name: string, poolSizeMax?: number): Promise<{ ledger: Ledger; books: EarnBooks; events: Logged[]; native: Database.Database | undefined }> {
    const events: Logged[] = [];
    const sqlite = dialect === 'sqlite' ? openSqliteDatabase({ filename: join(directory, `${name}.sqlite`) }) : undefined;
    const storage = sqlite ?? (await freshStorage(dialect, poolSizeMax === undefined ? {} : { poolSizeMax }));
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }], logger: capturingLogger(events) });
    closes.push(() => ledger.close());
    const earn = new EarnBooks(ledger);
    await earn.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: TERMS });
    for (let i = 0; i < ACCOUNTS; i++) {
      await earn.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await earn.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
      const amount = `${(i % 7) * 0.37 + 0.01}`.slice(0, 12);
      await earn.recordDeposit({ entity: 'defi', earnAccountId: `a${i}`, providerBookingId: `d${i}`, amount, occurredAt: `${DAY}T09:00:00Z`, idempotencyKey: `d${i}`, providerData: { id: `d${i}` } });
    }
    return { ledger, books: earn, events, native: sqlite?.native };
  }

  const readAheadEvent = (events: readonly Logged[]) => events.find((event) => event.event === 'cycle.read_ahead');

  it('books the same rows with the read-ahead as without it, over many transactions', async () => {
    const results: string[][] = [];
    for (const readAhead of ['never', 'always'] as const satisfies readonly CycleReadAheadMode[]) {
      const { ledger, books: earn, events } = await books(readAhead);
      const summary = await runAccountingCycle({ books: earn, entity: 'defi', day: DAY, batchSize: 5, commitLines: 10, readAhead });
      expect(summary.interestBooked).toBe(ACCOUNTS);
      results.push(await bookedRows(ledger, earn));
      if (dialect === 'sqlite' && readAhead === 'always') {
        // 24 batches in 12 transactions, then the empty read that ends the run: all but the first read ahead.
        expect(readAheadEvent(events)).toMatchObject({ taken: 24, readAgain: 0 });
      } else expect(readAheadEvent(events)).toBeUndefined();
    }
    expect(results[1]).toEqual(results[0]);
  });

  it('reads a batch again when the books moved between two of its transactions, and books what it would without the read-ahead', async () => {
    const results: string[][] = [];
    for (const readAhead of ['never', 'always'] as const) {
      // One connection on PostgreSQL, as SQLite has: with more, the deposit below raced the run's
      // next transaction (committed before it or after it read a12, which the pool decides): it
      // failed once under the whole suite's load (session 29).
      const { ledger, books: earn, events } = await books(`moved-${readAhead}`, 1);
      let batches = 0;
      let deposit: Promise<unknown> | undefined;
      // At the last batch of the first transaction (accounts a0-a9), a deposit of the day on a12,
      // an account of the next transaction's first batch: it waits for the connection and is
      // committed before the run's next transaction, after the worker read that batch.
      const onLines = () => {
        if (++batches === 2) deposit = earn.recordDeposit({ entity: 'defi', earnAccountId: 'a12', providerBookingId: 'late', amount: '5', occurredAt: `${DAY}T22:00:00Z`, idempotencyKey: 'late', providerData: { id: 'late' } });
      };
      await runAccountingCycle({ books: earn, entity: 'defi', day: DAY, batchSize: 5, commitLines: 10, readAhead, onLines });
      await deposit;
      results.push(await bookedRows(ledger, earn));
      if (dialect === 'sqlite' && readAhead === 'always') expect(readAheadEvent(events)?.readAgain).toBeGreaterThanOrEqual(1);
    }
    // a12's interest is on its balance with the late deposit (5 more): booked after it in both runs.
    const a12 = (rows: string[]) => rows.find((row) => row.startsWith('12 ')) ?? '';
    expect(a12(results[0] ?? [])).toContain('deposit:2025-03-18:5.000000000000000000');
    expect(results[1]).toEqual(results[0]);
  });

  it('stops reading ahead when its own callback writes through the run’s connection, and books what it would without it', async () => {
    if (dialect !== 'sqlite') return;
    const results: string[][] = [];
    for (const readAhead of ['never', 'always'] as const) {
      const { ledger, books: earn, events, native } = await books(`callback-${readAhead}`);
      const account = await earn.earnAccount({ entity: 'defi', earnAccountId: 'a7' });
      let batches = 0;
      // Inside the run's transaction, on its own connection: a change to a7's day balance (the
      // second batch, a5-a9, is read ahead while the first is booked).
      const onLines = () => {
        if (++batches === 1) native?.prepare('update account_day_balances set balance = ? where account_id = ? and accounting_day = ?').run('2.000000000000000000', account.ledgerAccountId, DAY);
      };
      await runAccountingCycle({ books: earn, entity: 'defi', day: DAY, batchSize: 5, commitLines: 10, readAhead, onLines });
      results.push(await bookedRows(ledger, earn));
      if (readAhead === 'always') expect(events.some((event) => event.event === 'cycle.read_ahead_failed')).toBe(true);
    }
    expect(results[1]).toEqual(results[0]);
  });

  it('refuses a readAhead that is not a mode, naming it, and writes nothing', async () => {
    const { ledger, books: earn } = await books('refused');
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    for (const readAhead of ['sometimes', true, 1, null]) {
      const run = runAccountingCycle({ books: earn, entity: 'defi', day: DAY, readAhead: readAhead as unknown as CycleReadAheadMode });
      await expect(run).rejects.toBeInstanceOf(LedgerError);
      await expect(run).rejects.toMatchObject({ code: 'invalid_input', field: 'readAhead' });
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

describe('cycle read-ahead parts', () => {
  const text = fc.string({ maxLength: 12 });
  const amount = fc.bigInt({ min: 0n, max: 10n ** 30n }).map((units) => formatUnits(units));
  const item = fc.record({
    line: fc.record({
      earnAccountId: text,
      ledgerAccountId: fc.integer({ min: 1, max: 2 ** 40 }),
      providerProductId: fc.constantFrom('btc', 'eth', ''),
      currency: fc.constantFrom('BTC', 'ETH'),
      balance: amount,
      userInterest: amount,
      partnerMargin: amount,
      userResidue: text,
      marginResidue: text,
    }),
    interestUnits: fc.bigInt({ min: 0n, max: 10n ** 40n }),
    marginUnits: fc.bigInt({ min: 0n, max: 10n ** 40n }),
    hasResidues: fc.boolean(),
  });
  const row = fc.record({
    id: fc.integer({ min: 1, max: 2 ** 40 }),
    entity: fc.constantFrom('defi', 'lending'),
    currency: fc.constantFrom('BTC', 'ETH'),
    code: text,
    kind: fc.constantFrom('user', 'earn_assets'),
    normal_side: fc.constantFrom('debit' as const, 'credit' as const),
    balance: amount,
    last_day: fc.option(fc.constantFrom('2025-03-17', '2025-03-18'), { nil: null }),
    entry_count: fc.integer({ min: 0, max: 2 ** 40 }),
  });

  it('a batch crosses to the run as columns and comes back equal (through a structured clone)', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 40 }), fc.uniqueArray(row, { selector: (value) => value.id, maxLength: 40 }), fc.option(fc.integer({ min: 1 }), { nil: undefined }), fc.boolean(), (items, rows, lastId, more) => {
        const batch = { items, accounts: new Map(rows.map((value) => [value.id, value])), lastId, more } as unknown as CycleBatch;
        expect(unpackCycleBatch(structuredClone(packCycleBatch(batch)))).toEqual(batch);
      }),
      { numRuns: 200 },
    );
  });

  it('a worker that cannot read the books answers a failure: the run reads itself, and it is logged', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-read-ahead-empty-'));
    const events: Logged[] = [];
    // A file that holds no books: the worker opens it, and its first read fails.
    const readAhead = new CycleReadAhead({ databaseFile: join(directory, 'empty.sqlite'), entity: 'defi', day: DAY, batchSize: 5, products: [] }, capturingLogger(events));
    try {
      await readAhead.ready;
      readAhead.request(0, 't1');
      expect(await readAhead.take(0, () => true)).toBeUndefined();
      expect(events.some((event) => event.event === 'cycle.read_ahead_failed')).toBe(true);
      // From then on nothing is asked of it.
      readAhead.request(0, 't1');
      expect(await readAhead.take(0, () => true)).toBeUndefined();
    } finally {
      await readAhead.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

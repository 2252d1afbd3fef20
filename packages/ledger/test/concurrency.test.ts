/**
 * Concurrent writers on shared accounts: ≥ 8 processes on PostgreSQL and 2 processes on one
 * SQLite WAL file race deposits and withdrawals on the same user accounts, on random accounting
 * days (so many postings are back-dated), and also post the same shared keys. Afterwards no
 * update is lost (each balance and each end-of-day balance equals what the writers report as
 * booked, and each account's `balance_after` chain is unbroken), no user balance was ever
 * negative, and each shared key was created exactly once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, formatUnits, toUnits } from '../src/index.js';
import { PG_URL, DIALECTS, dropSchema, freshLedger, freshStorage } from './dialects.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import type { WriterOptions } from './fixtures/writer.js';
import { ENTITY, ENTRIES_PER_BOOKING, RACE_DAYS, USER_CODES, openBookAccounts, sharedBooking } from './fixtures/scenario.js';
import type { RaceReport } from './fixtures/scenario.js';
import { killRunningWriters, spawnWriter } from './fixtures/spawn-writer.js';
import { createSharedLedger, dayBalancesOf } from './fixtures/storage.js';
import type { SharedLedger } from './fixtures/storage.js';

const SEED = Number(process.env['EARNBOOK_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const OPS = process.env['EARNBOOK_RACE_OPS'] === undefined ? undefined : Number(process.env['EARNBOOK_RACE_OPS']);
/** Per dialect: writer processes, operations per writer (`EARNBOOK_RACE_OPS` overrides), and every how many operations a shared key comes. */
const RACE = {
  postgres: { writers: 8, ops: OPS ?? 100, sharedEvery: 10 },
  sqlite: { writers: 2, ops: OPS ?? 150, sharedEvery: 10 },
} as const;
/** Starting eight Node processes and racing them is slow on a busy two-core machine. */
const RACE_TIMEOUT_MS = 240_000;

/** Runs the writers to completion, started together, and returns their reports. */
async function race(shared: SharedLedger, plan: { writers: number; ops: number; sharedEvery: number }): Promise<RaceReport[]> {
  const writers = Array.from({ length: plan.writers }, (_, writer) =>
    spawnWriter(shared.writerOptions, { mode: 'race', writer, ops: plan.ops, seed: SEED, sharedEvery: plan.sharedEvery }),
  );
  await Promise.all(writers.map((writer) => writer.waitForLine(/^ready$/)));
  for (const writer of writers) writer.child.stdin?.write('go\n');
  const exits = await Promise.all(writers.map((writer) => writer.exited));
  exits.forEach((exit, index) => expect(exit.code, `writer ${index}: ${writers[index]?.lines.find((line) => line.startsWith('error'))} ${exit.stderr}`).toBe(0));
  const lines = await Promise.all(writers.map((writer) => writer.waitForLine(/^result /)));
  return lines.map((line) => JSON.parse(line.slice('result '.length)) as RaceReport);
}

/** Checks the books against the writers' reports. */
async function checkBooks(ledger: Ledger, reports: readonly RaceReport[], sharedKeys: number, context: string): Promise<void> {
  const accounts = await openBookAccounts(ledger);
  // Each shared key: created by exactly one writer; every writer got the same transaction.
  for (let n = 0; n < sharedKeys; n++) {
    const key = sharedBooking(n).key;
    const answers = reports.flatMap((report) => report.shared.filter((answer) => answer.key === key));
    expect(answers.length, `${context}: ${key}`).toBe(reports.length);
    expect(answers.filter((answer) => answer.status === 'created').length, `${context}: ${key} created`).toBe(1);
    expect(new Set(answers.map((answer) => answer.transactionId)).size, `${context}: ${key}`).toBe(1);
  }
  // The model: per user and day, what was booked.
  const perUserDay = USER_CODES.map(() => new Map<string, bigint>());
  const add = (user: number, day: string, units: bigint) => {
    const days = perUserDay[user];
    if (days === undefined) throw new Error(`no user ${user}`);
    days.set(day, (days.get(day) ?? 0n) + units);
  };
  for (const report of reports) {
    for (const booked of report.booked) add(booked.user, booked.day, booked.kind === 'deposit' ? BigInt(booked.amountUnits) : -BigInt(booked.amountUnits));
  }
  for (let n = 0; n < sharedKeys; n++) {
    const booking = sharedBooking(n);
    add(booking.user, booking.occurredAt.slice(0, 10), booking.amountUnits);
  }
  const bookings = reports.reduce((sum, report) => sum + report.booked.length, 0) + sharedKeys;
  expect(reports.reduce((sum, report) => sum + report.refused, 0), `${context}: some withdrawals must have been refused`).toBeGreaterThan(0);
  const report = await ledger.verify({ entity: ENTITY });
  expect(report, context).toEqual({ accounts: 6, transactions: bookings, entries: bookings * ENTRIES_PER_BOOKING });
  let total = 0n;
  for (const [index, user] of accounts.users.entries()) {
    const days = perUserDay[index] ?? new Map<string, bigint>();
    let running = 0n;
    for (const day of RACE_DAYS) {
      running += days.get(day) ?? 0n;
      const endOfDay = await ledger.balanceAtEndOfDay(user.id, day);
      expect(endOfDay, `${context}: ${user.code} at the end of ${day}`).toBe(formatUnits(running));
      expect(toUnits(endOfDay) >= 0n, `${context}: ${user.code} at the end of ${day}`).toBe(true);
    }
    expect(await ledger.balance(user.id), `${context}: ${user.code}`).toBe(formatUnits(running));
    for (const row of await dayBalancesOf(ledger, user.id)) expect(toUnits(row.balance) >= 0n, `${context}: ${user.code} on ${row.day}`).toBe(true);
    total += running;
  }
  expect(await ledger.balance(accounts.customerFunds.id), context).toBe(formatUnits(-total));
  expect(await ledger.balance(accounts.earnAssets.id), context).toBe(formatUnits(total));
  expect(await ledger.balance(accounts.settlement.id), context).toBe(formatUnits(-total));
  // In posting order, each entry's balance_after is the previous one plus the entry, per balance
  // series (the account's own row, or on PostgreSQL each shard of a system account): an update
  // lost between two writers would break the chain. A user account is never below zero and has
  // one series only.
  for (const account of [...accounts.users, accounts.customerFunds, accounts.earnAssets, accounts.settlement]) {
    const rows = await ledger.db.selectFrom('journal_entries').select(['id', 'amount', 'balance_after', 'balance_shard']).where('account_id', '=', account.id).orderBy('id').execute();
    const balances = new Map<number | null, bigint>();
    for (const row of rows) {
      const signed = toUnits(String(row.amount));
      const balance = (balances.get(row.balance_shard) ?? 0n) + (account.normalSide === 'debit' ? signed : -signed);
      balances.set(row.balance_shard, balance);
      expect(formatUnits(toUnits(String(row.balance_after))), `${context}: ${account.code} entry ${row.id}`).toBe(formatUnits(balance));
      if (account.kind === 'user') expect(row.balance_shard === null && balance >= 0n, `${context}: ${account.code} entry ${row.id}`).toBe(true);
    }
  }
}

describe.each(DIALECTS)('concurrent writer processes on %s', (dialect) => {
  let shared: SharedLedger | undefined;
  afterEach(async () => {
    await killRunningWriters();
    await shared?.remove();
    shared = undefined;
  });

  it('race deposits and withdrawals on shared accounts without a lost update or a negative user balance', { timeout: RACE_TIMEOUT_MS }, async () => {
    const plan = RACE[dialect];
    const context = `EARNBOOK_SEED=${SEED}, ${dialect}, ${plan.writers} writers`;
    console.info(`concurrency: ${context}`);
    shared = await createSharedLedger(dialect);
    const setup = await shared.open();
    await openBookAccounts(setup);
    await setup.close();
    const reports = await race(shared, plan);
    const ledger = await shared.open();
    try {
      await checkBooks(ledger, reports, Math.ceil(plan.ops / plan.sharedEvery), context);
    } finally {
      await ledger.close();
    }
  });
});

describe.each(DIALECTS)('processes starting on fresh books at once on %s', (dialect) => {
  const removals: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await killRunningWriters();
    for (const remove of removals.splice(0)) await remove();
  });

  // Several instances of an application may start together on books nobody has opened yet; each
  // must open them (one migrates, the others wait and find the migrations applied).
  it('all open the ledger, whichever migrates', { timeout: RACE_TIMEOUT_MS }, async () => {
    const rounds = 4;
    const processes = 3;
    const targets: WriterOptions[] = [];
    for (let round = 0; round < rounds; round++) {
      if (dialect === 'sqlite') {
        const directory = mkdtempSync(join(tmpdir(), 'earnbook-open-'));
        removals.push(async () => rmSync(directory, { recursive: true, force: true }));
        targets.push({ dialect, filename: join(directory, 'ledger.sqlite') });
      } else {
        const schema = `t_${randomBytes(6).toString('hex')}`;
        removals.push(async () => dropSchema(schema));
        targets.push({ dialect, schema });
      }
    }
    const writers = Array.from({ length: processes }, () => spawnWriter(targets[0]!, { mode: 'open', targets }));
    await Promise.all(writers.map((writer) => writer.waitForLine(/^ready$/)));
    const outcomes: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const writer of writers) writer.child.stdin?.write(`go ${round}\n`);
      outcomes.push(...(await Promise.all(writers.map((writer) => writer.waitForLine(new RegExp(`^(opened|failed) ${round}\\b`))))));
    }
    expect(outcomes.filter((line) => line.startsWith('failed'))).toEqual([]);
    for (const writer of writers) writer.child.stdin?.end();
    await Promise.all(writers.map((writer) => writer.exited));
    for (const target of targets) {
      const ledger = await Ledger.open({ storage: target.dialect === 'sqlite' ? await freshStorage('sqlite', { filename: target.filename }) : await openPostgresDatabase({ connectionString: PG_URL, schema: target.schema }) });
      try {
        expect(await ledger.verify({ allEntities: true })).toEqual({ accounts: 6, transactions: 0, entries: 0 });
      } finally {
        await ledger.close();
      }
    }
  });
});

describe.runIf(DIALECTS.includes('postgres'))('ledgers in several PostgreSQL schemas of one database', () => {
  // Kysely's Migrator looks for its tables in every schema unless told which one: without the
  // storage's schema, a fresh schema was taken for migrated while another one held a ledger.
  it('migrates a fresh PostgreSQL schema while another schema holds a ledger', async () => {
    const first = await freshLedger('postgres');
    const storage = await freshStorage('postgres');
    try {
      const second = await Ledger.open({ storage });
      expect(await second.verify({ allEntities: true })).toEqual({ accounts: 0, transactions: 0, entries: 0 });
    } finally {
      await storage.db.destroy();
      await dropSchema(storage.schema);
      await first.close();
    }
  });
});

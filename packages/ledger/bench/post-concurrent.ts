/**
 * `ledger_post_concurrent_sqlite` and `ledger_post_concurrent_postgres`: 64 concurrent `post()`
 * callers in one process (a back office serving many HTTP requests), each booking deposits one
 * at a time; bookings/s and the p99 latency of one `post()`. Group commit makes the callers share
 * transactions. The baseline is the raw driver committing one deposit per transaction (what one
 * commit per call costs), measured in the same run on the same kind of books.
 */
import { join } from 'node:path';
import pg from 'pg';
import { Ledger } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { BENCH_EPOCH_MS, BookingRowPlanner, allDepositAccounts, depositInput, formatMeasure, formatRate, openDepositAccounts, prepareRawSqliteWriter, quantile, secondsSince, temporaryDirectory } from './lib.js';
import type { DepositAccounts } from './lib.js';
import { openPostgresLedger, postgresDeposits, rawPostgresBooking, withRawFloor, withSchema, writeRawPostgres, writeRawPostgresSharded } from './ledger-bookings.js';

/** Concurrent callers, as the issue asks. */
const CALLERS = 64;
/** Connections of the PostgreSQL Ledger's pool, and clients of its raw floor. */
const POSTGRES_POOL_SIZE = 2;
const DAY_MS = 86_400_000;

/** Runs `callers` loops of `perCaller` posts each; returns bookings/s and latencies (ms). */
async function runCallers(ledger: Ledger, accounts: DepositAccounts, options: { perCaller: number; keyPrefix: string; day: number }): Promise<{ rate: number; p99Ms: number; p50Ms: number }> {
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; i < options.perCaller; i++) {
        const index = caller * options.perCaller + i;
        const input = depositInput({ accounts, index, occurredAtMs: options.day + (index % 1000), keyPrefix: `${options.keyPrefix}-${caller}` });
        const start = process.hrtime.bigint();
        await ledger.post(input);
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }),
  );
  const seconds = secondsSince(started);
  latencies.sort((a, b) => a - b);
  return { rate: (CALLERS * options.perCaller) / seconds, p99Ms: quantile(latencies, 0.99), p50Ms: quantile(latencies, 0.5) };
}

/**
 * The raw driver writing the same deposits' rows (precomputed, untimed) on fresh books of its
 * own, `perTransaction` deposits a transaction; deposits/s. The deposits are the callers', in the
 * order their group commits take them (each caller's next one in turn) with each caller's keys:
 * keys and provider ids spread over the callers put each transaction's index entries at
 * {@link CALLERS} places, as the ledger's groups do (one sequence of keys would append them all
 * to one page, a cheaper job than the ledger's).
 */
async function rawSqliteRate(filename: string, options: { perCaller: number; userAccounts: number; perTransaction: number }): Promise<number> {
  const raw = openSqliteDatabase({ filename });
  const rawLedger = await Ledger.open({ storage: raw });
  try {
    const rawAccounts = await openDepositAccounts(rawLedger, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
    const planner = new BookingRowPlanner(allDepositAccounts(rawAccounts), 'UTC');
    const rows = [];
    for (let i = 0; i < options.perCaller; i++) {
      for (let caller = 0; caller < CALLERS; caller++) {
        const index = caller * options.perCaller + i;
        rows.push(planner.plan(depositInput({ accounts: rawAccounts, index, occurredAtMs: BENCH_EPOCH_MS + (index % 1000), keyPrefix: `raw-${caller}` }), new Date()));
      }
    }
    const write = prepareRawSqliteWriter(raw.native);
    const started = process.hrtime.bigint();
    for (let start = 0; start < rows.length; start += options.perTransaction) write(rows.slice(start, start + options.perTransaction));
    return rows.length / secondsSince(started);
  } finally {
    await rawLedger.close();
  }
}

/**
 * `ledger_post_concurrent_sqlite`. The ratio's baseline is the raw driver committing the same
 * rows in transactions of {@link CALLERS} deposits: what the best group commit of 64 callers
 * could do, since no group can hold more than the callers waiting. One transaction per deposit
 * (what one commit per call costs) is printed beside it.
 */
export async function benchPostConcurrentSqlite(options: { perCaller: number; userAccounts: number }): Promise<string[]> {
  const directory = temporaryDirectory('concurrent');
  try {
    const count = CALLERS * options.perCaller;
    const rawRate = await rawSqliteRate(join(directory.path, 'raw.db'), { perCaller: options.perCaller, userAccounts: options.userAccounts, perTransaction: 1 });
    const rawGroupRate = await rawSqliteRate(join(directory.path, 'raw-groups.db'), { perCaller: options.perCaller, userAccounts: options.userAccounts, perTransaction: CALLERS });

    const storage = openSqliteDatabase({ filename: join(directory.path, 'ledger.db') });
    const groups: number[] = [];
    const ledger = await Ledger.open({ storage, groupCommit: { onGroup: (size) => groups.push(size) } });
    const accounts = await openDepositAccounts(ledger, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
    await runCallers(ledger, accounts, { perCaller: Math.max(1, Math.floor(options.perCaller / 10)), keyPrefix: 'warm', day: BENCH_EPOCH_MS });
    groups.length = 0;
    const measured = await runCallers(ledger, accounts, { perCaller: options.perCaller, keyPrefix: 'dep', day: BENCH_EPOCH_MS + DAY_MS });
    const meanGroup = groups.reduce((sum, size) => sum + size, 0) / groups.length;
    await ledger.verify({ entity: 'defi' });
    await ledger.close();
    return [
      formatMeasure({
        name: 'ledger_post_concurrent_sqlite',
        value: measured.rate,
        unit: 'bookings/s',
        ratio: measured.rate / rawGroupRate,
        baseline: `${CALLERS} concurrent post() callers, one deposit each call, ${count} deposits, group commit defaults (mean group ${meanGroup.toFixed(1)} posts); p99 ${measured.p99Ms.toFixed(1)} ms, p50 ${measured.p50Ms.toFixed(1)} ms; baseline raw better-sqlite3 same rows, one transaction per ${CALLERS} deposits: ${formatRate(rawGroupRate, 'bookings/s')} (one transaction per deposit: ${formatRate(rawRate, 'bookings/s')}); targets >= 20000 bookings/s, p99 <= 50 ms`,
      }),
    ];
  } finally {
    directory.remove();
  }
}

/** `ledger_post_concurrent_postgres`: one Ledger (one pool) shared by the callers. */
export async function benchPostConcurrentPostgres(options: { perCaller: number; userAccounts: number; connectionString: string }): Promise<string[]> {
  const { connectionString } = options;
  const count = CALLERS * options.perCaller;
  const rawRate = await withSchema(connectionString, async (schema) => {
    const setup = await openPostgresLedger(connectionString, schema, { migrate: true });
    const accounts = await openDepositAccounts(setup, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
    const sides = new Map(allDepositAccounts(accounts).map((account) => [account.id, account.normalSide]));
    const planner = new BookingRowPlanner(allDepositAccounts(accounts), 'UTC');
    const writers = 8;
    const clients = Array.from({ length: writers }, () => new pg.Client({ connectionString, options: `-c search_path=${schema}` }));
    await Promise.all(clients.map((client) => client.connect()));
    try {
      const started = process.hrtime.bigint();
      await Promise.all(
        clients.map(async (client, writer) => {
          const bookings = postgresDeposits(accounts, { writer, writers, from: 0, count: Math.ceil(count / writers), keyPrefix: 'raw' }).map((input) => rawPostgresBooking(input, sides, planner));
          await writeRawPostgres(client, bookings, 1);
        }),
      );
      return (writers * Math.ceil(count / writers)) / secondsSince(started);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
      await setup.close();
    }
  });
  // The raw floor of the ledger's write shape (see writeRawPostgresSharded): as many clients as
  // the ledger's pool, each committing the same deposits' rows in transactions of CALLERS, its
  // system accounts' series in a shard of its own.
  const floorRate = await withRawFloor(connectionString, { writers: POSTGRES_POOL_SIZE, userAccounts: options.userAccounts }, async ({ accounts, clients, system }) => {
    const writers = clients.length;
    const perWriter = Math.ceil(count / writers);
    // Each client's own users (its planner's balances are theirs alone); keys spread as the
    // callers' are, so that a transaction's index entries land at as many places as a group's.
    const rows = clients.map((_, writer) => {
      const planner = new BookingRowPlanner(allDepositAccounts(accounts), 'UTC');
      return postgresDeposits(accounts, { writer, writers, from: 0, count: perWriter, keyPrefix: 'floor', keySpread: CALLERS }).map((input) => planner.plan(input, new Date()));
    });
    const started = process.hrtime.bigint();
    await Promise.all(
      clients.map(async (client, writer) => {
        const own = rows[writer] ?? [];
        for (let start = 0; start < own.length; start += CALLERS) await writeRawPostgresSharded(client, own.slice(start, start + CALLERS), { shard: writer, system });
      }),
    );
    return (writers * perWriter) / secondsSince(started);
  });
  const measured = await withSchema(connectionString, async (schema) => {
    const opened = await openPostgresLedger(connectionString, schema, { migrate: true });
    await opened.close();
    const { db, dialect } = await openPostgresDatabase({ connectionString, schema, poolSizeMax: POSTGRES_POOL_SIZE });
    const groups: number[] = [];
    const ledger = await Ledger.open({ storage: { db, dialect }, migrate: false, groupCommit: { onGroup: (size) => groups.push(size) } });
    try {
      const accounts = await openDepositAccounts(ledger, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
      await runCallers(ledger, accounts, { perCaller: Math.max(1, Math.floor(options.perCaller / 10)), keyPrefix: 'warm', day: Date.UTC(2025, 5, 1) });
      groups.length = 0;
      const result = await runCallers(ledger, accounts, { perCaller: options.perCaller, keyPrefix: 'dep', day: Date.UTC(2025, 5, 2) });
      await ledger.verify({ entity: 'defi' });
      return { ...result, meanGroup: groups.reduce((sum, size) => sum + size, 0) / groups.length };
    } finally {
      await ledger.close();
    }
  });
  return [
    formatMeasure({
      name: 'ledger_post_concurrent_postgres',
      value: measured.rate,
      unit: 'bookings/s',
      ratio: measured.rate / floorRate,
      baseline: `${CALLERS} concurrent post() callers on one Ledger (pool of ${POSTGRES_POOL_SIZE}), one deposit each call, ${count} deposits, group commit defaults (mean group ${measured.meanGroup.toFixed(1)} posts); p99 ${measured.p99Ms.toFixed(1)} ms, p50 ${measured.p50Ms.toFixed(1)} ms; baseline raw pg ${POSTGRES_POOL_SIZE} clients writing the same rows in the ledger's shape (a balance shard per client, one unnest statement per table, transactions of ${CALLERS} with keys spread as the callers', rows precomputed, no reads, no checks): ${formatRate(floorRate, 'bookings/s')}; raw pg 8 clients one transaction per deposit, locking the shared rows: ${formatRate(rawRate, 'bookings/s')}; targets >= 5000 bookings/s, p99 <= 50 ms`,
    }),
  ];
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('post-concurrent.ts')) {
  const perCaller = Number(process.argv[2] ?? 100);
  for (const line of await benchPostConcurrentSqlite({ perCaller, userAccounts: 1_000 })) console.log(line);
  const url = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  for (const line of await benchPostConcurrentPostgres({ perCaller, userAccounts: 1_000, connectionString: url })) console.log(line);
}

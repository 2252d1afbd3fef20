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
import { openPostgresLedger, postgresDeposits, rawPostgresBooking, withSchema, writeRawPostgres } from './ledger-bookings.js';

/** Concurrent callers, as the issue asks. */
const CALLERS = 64;
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

/** `ledger_post_concurrent_sqlite`. */
export async function benchPostConcurrentSqlite(options: { perCaller: number; userAccounts: number }): Promise<string[]> {
  const directory = temporaryDirectory('concurrent');
  try {
    const raw = openSqliteDatabase({ filename: join(directory.path, 'raw.db') });
    const rawLedger = await Ledger.open({ storage: raw });
    const rawAccounts = await openDepositAccounts(rawLedger, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
    const planner = new BookingRowPlanner(allDepositAccounts(rawAccounts), 'UTC');
    const count = CALLERS * options.perCaller;
    const rows = Array.from({ length: count }, (_, index) => planner.plan(depositInput({ accounts: rawAccounts, index, occurredAtMs: BENCH_EPOCH_MS + (index % 1000), keyPrefix: 'raw' }), new Date()));
    const write = prepareRawSqliteWriter(raw.native);
    const rawStart = process.hrtime.bigint();
    for (const row of rows) write([row]);
    const rawRate = count / secondsSince(rawStart);
    await rawLedger.close();

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
        ratio: measured.rate / rawRate,
        baseline: `${CALLERS} concurrent post() callers, one deposit each call, ${count} deposits, group commit defaults (mean group ${meanGroup.toFixed(1)} posts); p99 ${measured.p99Ms.toFixed(1)} ms, p50 ${measured.p50Ms.toFixed(1)} ms; baseline raw better-sqlite3 one transaction per deposit: ${formatRate(rawRate, 'bookings/s')}; targets >= 20000 bookings/s, p99 <= 50 ms`,
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
  const measured = await withSchema(connectionString, async (schema) => {
    const opened = await openPostgresLedger(connectionString, schema, { migrate: true });
    await opened.close();
    const { db, dialect } = await openPostgresDatabase({ connectionString, schema, poolSizeMax: 2 });
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
      ratio: measured.rate / rawRate,
      baseline: `${CALLERS} concurrent post() callers on one Ledger (pool of 2), one deposit each call, ${count} deposits, group commit defaults (mean group ${measured.meanGroup.toFixed(1)} posts); p99 ${measured.p99Ms.toFixed(1)} ms, p50 ${measured.p50Ms.toFixed(1)} ms; baseline raw pg 8 clients one transaction per deposit: ${formatRate(rawRate, 'bookings/s')}; targets >= 5000 bookings/s, p99 <= 50 ms`,
    }),
  ];
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('post-concurrent.ts')) {
  const perCaller = Number(process.argv[2] ?? 100);
  for (const line of await benchPostConcurrentSqlite({ perCaller, userAccounts: 1_000 })) console.log(line);
  const url = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  for (const line of await benchPostConcurrentPostgres({ perCaller, userAccounts: 1_000, connectionString: url })) console.log(line);
}

/**
 * `ledger.balanceAtEndOfDay` latency on a SQLite file holding ~1M journal entries, against the
 * same SELECT through a raw better-sqlite3 prepared statement.
 *
 * The books are built with the raw writer (prepared statements, one transaction per 10,000
 * deposits), writing exactly the rows the ledger writes for in-order deposits (the same rows the
 * bookings benchmark checks against the ledger). The ledger's invariant check then runs over the
 * whole file before anything is timed.
 */
import { join } from 'node:path';
import { Ledger } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { seededRandom } from '../test/fixtures/random.js';
import {
  BENCH_EPOCH_MS,
  BookingRowPlanner,
  allDepositAccounts,
  depositInput,
  formatMeasure,
  openDepositAccounts,
  prepareRawSqliteWriter,
  quantile,
  temporaryDirectory,
} from './lib.js';

/** Deposits written per raw transaction while building the books. */
const BUILD_CHUNK_BOOKINGS = 10_000;
const ENTRIES_PER_DEPOSIT = 4;
const DAY_MS = 86_400_000;

/** Options of {@link benchBalanceAtDay}. */
export interface BalanceAtDayOptions {
  /** Journal entries to build (4 per deposit). */
  readonly entries: number;
  readonly userAccounts: number;
  /** Accounting days the deposits span, in order. */
  readonly days: number;
  /** Timed (account, day) lookups per side. */
  readonly queries: number;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `ledger_balance_at_day_p50` and `ledger_balance_at_day_p99`, as ratios to the raw SELECT. */
export async function benchBalanceAtDay(options: BalanceAtDayOptions): Promise<string[]> {
  const directory = temporaryDirectory('balance');
  try {
    const filename = join(directory.path, 'books.db');
    const deposits = Math.ceil(options.entries / ENTRIES_PER_DEPOSIT);
    const builder = openSqliteDatabase({ filename });
    const setup = await Ledger.open({ storage: { db: builder.db, dialect: builder.dialect } });
    const accounts = await openDepositAccounts(setup, { entity: 'defi', currency: 'BTC', users: options.userAccounts });
    const planner = new BookingRowPlanner(allDepositAccounts(accounts), 'UTC');
    const write = prepareRawSqliteWriter(builder.native);
    const stepMs = (options.days * DAY_MS) / deposits;
    const createdAt = new Date();
    const buildStart = process.hrtime.bigint();
    for (let start = 0; start < deposits; start += BUILD_CHUNK_BOOKINGS) {
      const rows = [];
      for (let index = start; index < Math.min(start + BUILD_CHUNK_BOOKINGS, deposits); index++) {
        rows.push(planner.plan(depositInput({ accounts, index, occurredAtMs: BENCH_EPOCH_MS + Math.floor(index * stepMs), keyPrefix: 'books' }), createdAt));
      }
      write(rows);
    }
    const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
    const report = await setup.verify({ allEntities: true });
    builder.native.pragma('optimize');
    await setup.close();

    // A freshly opened ledger on the built file, as a back office would open it.
    const { db, dialect, native } = openSqliteDatabase({ filename });
    const ledger = await Ledger.open({ storage: { db, dialect } });
    const raw = native.prepare('select balance from account_day_balances where account_id = ? and accounting_day <= ? order by accounting_day desc limit 1').pluck();
    const accountIds = allDepositAccounts(accounts).map((account) => account.id);
    // Days from a week before the first deposit to a week after the last, so that some lookups precede any row.
    const firstDayMs = BENCH_EPOCH_MS - 7 * DAY_MS;
    const daySpan = options.days + 14;
    const pairs = (seed: number): [number, string][] => {
      // Seeded, so that runs query the same pairs.
      const next = seededRandom(seed);
      return Array.from({ length: options.queries }, () => [accountIds[Math.floor(next() * accountIds.length)] ?? 1, isoDay(firstDayMs + Math.floor(next() * daySpan) * DAY_MS)]);
    };
    // Warm-up with other pairs: JIT, the page cache and the ledger's account cache.
    for (const [accountId, day] of pairs(1)) {
      await ledger.balanceAtEndOfDay(accountId, day);
      raw.get(accountId, day);
    }
    const ledgerMs: number[] = [];
    const rawMs: number[] = [];
    let mismatches = 0;
    // Interleaved, so that both sides see the same machine load.
    for (const [accountId, day] of pairs(2)) {
      const ledgerStart = process.hrtime.bigint();
      const balance = await ledger.balanceAtEndOfDay(accountId, day);
      const rawStart = process.hrtime.bigint();
      const rawBalance = raw.get(accountId, day) as string | undefined;
      const rawEnd = process.hrtime.bigint();
      ledgerMs.push(Number(rawStart - ledgerStart) / 1e6);
      rawMs.push(Number(rawEnd - rawStart) / 1e6);
      if (balance !== (rawBalance ?? '0.000000000000000000')) mismatches++;
    }
    await ledger.close();
    if (mismatches > 0) throw new Error(`ledger_balance_at_day: ${mismatches} answers differ from the raw SELECT`);
    ledgerMs.sort((a, b) => a - b);
    rawMs.sort((a, b) => a - b);
    const setting = `SQLite file, ${report.entries} entries, ${report.accounts} accounts, ${options.days} days, ${options.queries} random (account, day) pairs after as many warm-up pairs; books built by the raw writer with the ledger's rows in ${buildSeconds.toFixed(1)} s`;
    return [0.5, 0.99].map((q) => {
      const ledgerValue = quantile(ledgerMs, q);
      const rawValue = quantile(rawMs, q);
      const name = `ledger_balance_at_day_p${Math.round(q * 100)}`;
      return formatMeasure({
        name,
        value: ledgerValue,
        unit: 'ms',
        ratio: ledgerValue / rawValue,
        baseline: `ratio = ledger ÷ raw, lower is better; baseline the same SELECT as a raw better-sqlite3 prepared statement: p${Math.round(q * 100)} ${rawValue.toPrecision(3)} ms; ${setting}${q === 0.99 ? '; target < 1 ms' : ''}`,
      });
    });
  } finally {
    directory.remove();
  }
}

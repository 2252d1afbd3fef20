/**
 * `pnpm bench`: runs every ledger benchmark and prints one line per measure,
 * `name: value unit ratio=r (baseline)`. Not a test: nothing here fails on a missed target.
 *
 * `EARNBOOK_BENCH_SCALE=small` runs reduced sizes; `EARNBOOK_BENCH_ONLY` (comma list of
 * `sqlite`, `postgres`, `balance`, `interest`, `cycle`, `cycle_postgres`, `concurrent`, `cycle_rss`) runs a subset; PostgreSQL is reached at
 * `EARNBOOK_PG_URL` (default the local trust-auth server).
 */
import { benchBalanceAtDay } from './balance-at-day.js';
import { benchInterestCompute } from './interest-compute.js';
import { benchInterestCycle } from './interest-cycle.js';
import { benchCyclePeakRss } from './cycle-peak-rss.js';
import { benchInterestCyclePostgres } from './interest-cycle-postgres.js';
import { benchPostConcurrentPostgres, benchPostConcurrentSqlite } from './post-concurrent.js';
import { benchLedgerBookingsPostgres, benchLedgerBookingsSqlite } from './ledger-bookings.js';
import { benchSizes, formatMeasure, peakRssMiB } from './lib.js';

const BENCHMARKS = ['sqlite', 'postgres', 'balance', 'interest', 'cycle', 'cycle_postgres', 'concurrent', 'cycle_rss'] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function selected(): ReadonlySet<BenchmarkName> {
  const only = process.env['EARNBOOK_BENCH_ONLY'];
  if (only === undefined || only.trim() === '') return new Set(BENCHMARKS);
  const names = only.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(BENCHMARKS as readonly string[]).includes(name)) throw new Error(`EARNBOOK_BENCH_ONLY has unknown benchmark ${name}; known: ${BENCHMARKS.join(', ')}`);
  }
  return new Set(names as BenchmarkName[]);
}

async function main(): Promise<void> {
  const sizes = benchSizes();
  const run = selected();
  const startMs = Date.now();
  // Lines are printed as each benchmark finishes, so a long run shows progress.
  const print = (lines: readonly string[]): void => {
    for (const line of lines) console.log(line);
  };
  if (run.has('sqlite')) {
    print(await benchLedgerBookingsSqlite({ bookings: sizes.sqliteBookings, singleBookings: sizes.sqliteSingleBookings, userAccounts: sizes.userAccounts }));
  }
  if (run.has('postgres')) {
    print(
      await benchLedgerBookingsPostgres({
        connectionString: PG_URL,
        writers: sizes.postgresWriters,
        seconds: sizes.postgresSeconds,
        warmupSeconds: sizes.postgresWarmupSeconds,
        userAccounts: sizes.postgresUserAccounts,
      }),
    );
  }
  if (run.has('balance')) {
    print(await benchBalanceAtDay({ entries: sizes.balanceEntries, userAccounts: sizes.balanceUserAccounts, days: sizes.balanceDays, queries: sizes.balanceQueries }));
  }
  if (run.has('interest')) print(await benchInterestCompute({ accounts: sizes.interestAccounts }));
  if (run.has('cycle')) print(await benchInterestCycle({ accounts: sizes.interestAccounts }));
  if (run.has('concurrent')) {
    const perCaller = sizes.scale === 'full' ? 200 : 30;
    print(await benchPostConcurrentSqlite({ perCaller, userAccounts: sizes.userAccounts }));
    print(await benchPostConcurrentPostgres({ perCaller, userAccounts: sizes.postgresUserAccounts, connectionString: PG_URL }));
  }
  if (run.has('cycle_postgres')) print(await benchInterestCyclePostgres({ accounts: sizes.interestAccounts, connectionString: PG_URL }));
  // The cycle's peak RSS at two sizes, each in a fresh process: 1M and 4M accounts (full).
  if (run.has('cycle_rss')) print(await benchCyclePeakRss({ smallAccounts: sizes.interestAccounts, largeAccounts: 4 * sizes.interestAccounts }));
  print([
    formatMeasure({
      name: 'ledger_bench_peak_rss',
      value: peakRssMiB(),
      unit: 'MiB',
      baseline: `process.resourceUsage().maxRSS of the whole run (${sizes.scale} sizes, ${((Date.now() - startMs) / 1000).toFixed(0)} s); no baseline`,
    }),
  ]);
}

await main();

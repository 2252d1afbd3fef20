/**
 * Benchmark `interest_accounts_per_s`: the compute-only rate of the daily interest run, for many
 * accounts under one product with three marginal tiers and an own-APY partner margin. No
 * database: balances are prepared in memory first, and only the interest computation is timed.
 *
 * Prints the bigint fast path (the public `computeDailyInterest`, strings in and out), its
 * integer core (`computeDailyInterestUnits`), the big.js reference path on a sample, and a raw
 * baseline of one bigint multiply and divide per account.
 *
 * Run directly with `npx tsx bench/interest-compute.ts [accounts]`.
 */
import { pathToFileURL } from 'node:url';
import { formatUnits } from '../src/money.js';
import { FINE_UNITS_PER_UNIT, computeDailyInterest, computeDailyInterestUnits, dailyRate, parseInterestTerms } from '../src/interest/index.js';
import { computeDailyInterestDecimal } from '../src/interest/interest-decimal.js';

/** Options for {@link benchInterestCompute}. */
export interface BenchInterestComputeOptions {
  /** Accounts in the run; the big.js sample is at most {@link DECIMAL_SAMPLE_ACCOUNTS_MAX} of them. */
  readonly accounts: number;
}

/** Accounts the slower big.js path is timed on. */
export const DECIMAL_SAMPLE_ACCOUNTS_MAX = 100_000;
/** Accounts computed untimed first, so that the timed loops run optimised code. */
const WARM_UP_ACCOUNTS = 300_000;
/** The target of the issue for the public path. */
const TARGET_ACCOUNTS_PER_S = 1_000_000;
const SCALE = 18;

/** A small deterministic generator (xorshift32) so that every run sees the same balances. */
function balanceGenerator(seed: number): () => bigint {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  // Balances from 0 to about 43 coins at full 18-decimal precision: across all three bands.
  return () => (BigInt(next()) * 10n ** 10n + BigInt(next())) % (43n * 10n ** 18n);
}

interface Timing {
  readonly line: string;
  readonly perSecond: number;
}

/**
 * Times a loop by wall clock and by this process's CPU time: on a shared machine the wall-clock
 * rate drops with other load, the CPU-time rate much less.
 */
function time(label: string, accounts: number, run: () => void): Timing {
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  run();
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const perSecond = Math.round((accounts / elapsedMs) * 1000);
  const perCpuSecond = Math.round((accounts / cpuMs) * 1000);
  return {
    line: `${label} ${perSecond} (${accounts} accounts in ${elapsedMs.toFixed(0)} ms wall; ${perCpuSecond} per CPU second)`,
    perSecond,
  };
}

/**
 * Runs the benchmark and returns the printed lines (the caller prints them).
 *
 * @example (await benchInterestCompute({ accounts: 1_000_000 })).forEach((line) => console.log(line));
 */
export async function benchInterestCompute(options: BenchInterestComputeOptions): Promise<string[]> {
  const accounts = options.accounts;
  const terms = parseInterestTerms({
    tiers: [
      { fromAmount: '0', toAmount: '1', apy: '0.05' },
      { fromAmount: '1', toAmount: '10', apy: '0.03' },
      { fromAmount: '10', toAmount: null, apy: '0.01' },
    ],
    tierMode: 'marginal',
    partnerMargin: { mode: 'own-apy', apy: '0.005' },
  });
  const next = balanceGenerator(20250319);
  const balanceUnits: bigint[] = Array.from({ length: accounts }, next);
  const balances: string[] = balanceUnits.map((units) => formatUnits(units, SCALE));
  const lines: string[] = [`interest_compute: ${accounts} accounts, 3 marginal tiers, own-apy margin, ${terms.roundingMode} rounding`];

  // Warm up the JIT and the rate cache on a slice of the same data.
  for (let index = 0; index < Math.min(accounts, WARM_UP_ACCOUNTS); index += 1) {
    computeDailyInterest({ balance: balances[index] ?? '0', terms });
    computeDailyInterestUnits({ balanceUnits: balanceUnits[index] ?? 0n, terms });
  }

  // A count of characters (not money) keeps the results alive without timing a bigint sum.
  let characters = 0;
  const strings = time('interest_accounts_per_s', accounts, () => {
    for (const balance of balances) characters += computeDailyInterest({ balance, terms }).userInterest.length;
  });

  let unitsTotal = 0n;
  const integers = time('interest_units_accounts_per_s', accounts, () => {
    for (const units of balanceUnits) unitsTotal += computeDailyInterestUnits({ balanceUnits: units, terms }).userInterestUnits;
  });

  // Raw baseline: one multiply and one divide per account, no tiers, margin, rounding rules or strings.
  const flatRate = dailyRate('0.03').rateScaled;
  let rawTotal = 0n;
  const raw = time('interest_raw_mul_div_per_s', accounts, () => {
    for (const units of balanceUnits) rawTotal += (units * flatRate) / FINE_UNITS_PER_UNIT;
  });

  const sample = balances.slice(0, Math.min(accounts, DECIMAL_SAMPLE_ACCOUNTS_MAX));
  let sampleFast = 0n;
  let sampleDecimal = 0n;
  for (const balance of sample.slice(0, 1000)) computeDailyInterestDecimal({ balance, terms });
  const decimal = time('interest_decimal_accounts_per_s', sample.length, () => {
    for (const balance of sample) sampleDecimal += BigInt(computeDailyInterestDecimal({ balance, terms }).userInterest.replace('.', ''));
  });
  for (const balance of sample) sampleFast += BigInt(computeDailyInterest({ balance, terms }).userInterest.replace('.', ''));
  if (sampleFast !== sampleDecimal) throw new Error(`bigint and big.js paths disagree on the sample: ${sampleFast} vs ${sampleDecimal}`);

  const ratio = (value: number, base: number): string => (value / base).toFixed(2);
  lines.length = 0;
  lines.push(
    `interest_accounts_per_s: ${integers.perSecond} accounts/s ratio=${ratio(integers.perSecond, raw.perSecond)} (baseline raw bigint multiply+divide per account, no tiers/margin/rounding: ${raw.perSecond}/s; measured: the integer core the accounting cycle runs, ${accounts} accounts, 3 marginal tiers, own-apy margin, ${terms.roundingMode} rounding; ${integers.line.split('(')[1]?.replace(')', '') ?? ''}; target ≥ ${TARGET_ACCOUNTS_PER_S}: ${integers.perSecond >= TARGET_ACCOUNTS_PER_S ? 'met' : 'NOT met'})`,
    `interest_accounts_per_s_strings: ${strings.perSecond} accounts/s ratio=${ratio(strings.perSecond, raw.perSecond)} (same baseline; the public decimal-string API: parse the balance and format two amounts per account)`,
    `interest_decimal_accounts_per_s: ${decimal.perSecond} accounts/s ratio=${ratio(decimal.perSecond, strings.perSecond)} (baseline the string path above; big.js reference path on a ${sample.length}-account sample, identical results)`,
    `interest_total_posted: ${formatUnits(unitsTotal, SCALE)} BTC ratio=n/a (checksum of the integer path; raw baseline total ${formatUnits(rawTotal, SCALE)}; ${characters} characters formatted)`,
  );
  return lines;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const accounts = process.argv[2] === undefined ? 1_000_000 : Number.parseInt(process.argv[2], 10);
  for (const line of await benchInterestCompute({ accounts })) console.log(line);
}

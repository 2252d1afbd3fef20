/**
 * The daily factor of an APY, `(1 + APY)^(1/daysPerYear)`, as an exact decimal.
 *
 * big.js has no fractional powers and a JS `number` has 16 significant digits, so the root is
 * taken on integers: with `1 + APY = M / 10^s`, the factor scaled by `10^DAILY_RATE_SCALE` is the
 * integer `daysPerYear`-th root of `M · 10^(DAILY_RATE_SCALE · daysPerYear − s)`, found by integer
 * Newton iteration (every step rounds down, so the result is exactly the floor of the real root).
 * The daily factor is therefore the true factor truncated to {@link DAILY_RATE_SCALE} decimals
 * (49 significant digits), and the daily rate is that factor minus one: a fixed decimal that every
 * computation path (big.js or bigint) multiplies by the same balance, so they agree exactly.
 */
import { LedgerError, describeValue } from '../errors.js';

/** The lowest APY accepted, as a decimal fraction: zero (no negative interest). */
export const APY_MIN = '0';
/** The highest APY accepted, as a decimal fraction: 10 = 1000 % a year; more is surely a typo. */
export const APY_MAX = '10';
/** Decimal places an APY may have (`"0.035"` has 3); 18 is far finer than any product rate. */
export const APY_SCALE_MAX = 18;
/** Characters an APY string may have before parsing is refused outright. */
export const APY_TEXT_LENGTH_MAX = 2 + 1 + APY_SCALE_MAX;
/**
 * Decimal places of the daily factor and the daily rate. At 48 places the truncation error of a
 * daily rate is below 1e-48, so even a balance of 10^24 coins is off by less than 1e-24, far below
 * one unit of an 18-decimal currency.
 */
export const DAILY_RATE_SCALE = 48;
/**
 * Days per year in the formula. The provider's formula divides by 365 every year, leap years
 * included; public material is silent on leap years, so 365 is the default and 366 (or a 360-day
 * convention) is an option of the interest terms.
 */
export const DAYS_PER_YEAR_DEFAULT = 365;
/** The smallest `daysPerYear` accepted (the 30/360 convention). */
export const DAYS_PER_YEAR_MIN = 360;
/** The largest `daysPerYear` accepted (a leap year). */
export const DAYS_PER_YEAR_MAX = 366;
/** Distinct (APY, days per year) pairs whose daily rates stay cached; the oldest is evicted. */
export const DAILY_RATE_CACHE_ENTRIES_MAX = 1024;

/** The daily rate of one APY, exact at {@link DAILY_RATE_SCALE} decimals. */
export interface DailyRate {
  /** The APY in canonical form (`"0.035"`). */
  readonly apy: string;
  /** Days per year the root was taken over. */
  readonly daysPerYear: number;
  /** `(1 + apy)^(1/daysPerYear)` truncated to 48 decimals, e.g. `"1.000094254925…"`. */
  readonly factor: string;
  /** `factor − 1`, e.g. `"0.000094254925…"` (48 decimals). */
  readonly rate: string;
  /** `rate · 10^48`, exact: the form the bigint fast path multiplies by. */
  readonly rateScaled: bigint;
}

/** Options for {@link dailyRate} and {@link dailyFactor}. */
export interface DailyRateOptions {
  /** Days per year of the root; default {@link DAYS_PER_YEAR_DEFAULT}. */
  readonly daysPerYear?: number;
  /** Dotted path of the APY in the caller's input, used in errors; default `"apy"`. */
  readonly field?: string;
}

const APY_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;
const APY_SCALE_FACTOR = 10n ** BigInt(APY_SCALE_MAX);
const APY_MAX_SCALED = 10n * APY_SCALE_FACTOR;
const RATE_ONE = 10n ** BigInt(DAILY_RATE_SCALE);

const cache = new Map<string, DailyRate>();

/**
 * Parses an APY (a decimal fraction string such as `"0.035"` for 3.5 %) into its value times
 * 10^{@link APY_SCALE_MAX}. Rejects non-strings, exponents, signs, more than 18 decimals, and
 * values outside [{@link APY_MIN}, {@link APY_MAX}] with a `LedgerError('invalid_input')` naming
 * `field`.
 *
 * @example parseApyScaled('0.035', 'tiers[0].apy') // 35000000000000000n
 */
export function parseApyScaled(input: unknown, field = 'apy'): bigint {
  const fail = (reason: string): never => {
    throw new LedgerError('invalid_input', `${field} ${reason}, got ${describeValue(input)}`, {
      field,
      value: describeValue(input),
    });
  };
  if (typeof input !== 'string') return fail('must be a decimal string such as "0.035"');
  if (input.length === 0 || input.length > APY_TEXT_LENGTH_MAX) return fail(`must be a decimal string of 1 to ${APY_TEXT_LENGTH_MAX} characters`);
  const match = APY_PATTERN.exec(input);
  if (match === null) return fail('must be a plain decimal fraction like "0.035" (no exponent, percent sign or spaces)');
  const [, sign = '', whole = '', fraction = ''] = match;
  if (fraction.length > APY_SCALE_MAX) return fail(`has more than ${APY_SCALE_MAX} decimal places`);
  if (sign === '-') return fail(`must be at least APY_MIN (${APY_MIN}), without a sign`);
  const scaled = BigInt(whole + fraction.padEnd(APY_SCALE_MAX, '0'));
  if (scaled > APY_MAX_SCALED) return fail(`must be at most APY_MAX (${APY_MAX}, i.e. 1000 %)`);
  return scaled;
}

/**
 * Parses an APY and returns it in canonical form: no sign, no leading zeros before the units
 * digit, no trailing zeros after the point (`"0.0350"` → `"0.035"`, `"1.0"` → `"1"`).
 */
export function parseApy(input: unknown, field = 'apy'): string {
  return formatApyScaled(parseApyScaled(input, field));
}

function formatApyScaled(scaled: bigint): string {
  const digits = scaled.toString().padStart(APY_SCALE_MAX + 1, '0');
  const whole = digits.slice(0, digits.length - APY_SCALE_MAX);
  const fraction = digits.slice(digits.length - APY_SCALE_MAX).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** Checks `daysPerYear` is an integer in [{@link DAYS_PER_YEAR_MIN}, {@link DAYS_PER_YEAR_MAX}]. */
export function assertDaysPerYear(daysPerYear: unknown, field = 'daysPerYear'): asserts daysPerYear is number {
  if (typeof daysPerYear !== 'number' || !Number.isInteger(daysPerYear) || daysPerYear < DAYS_PER_YEAR_MIN || daysPerYear > DAYS_PER_YEAR_MAX) {
    throw new LedgerError('invalid_input', `${field} must be an integer from ${DAYS_PER_YEAR_MIN} to ${DAYS_PER_YEAR_MAX}, got ${describeValue(daysPerYear)}`, {
      field,
      value: describeValue(daysPerYear),
    });
  }
}

/**
 * The floor of the `k`-th root of `n`, by integer Newton iteration from an overestimate `start`.
 * Each step is `x ← ((k − 1)·x + n / x^(k−1)) / k` with floor division; from any start at or above
 * the root the sequence decreases strictly until it reaches the floor of the root, where the next
 * step would not decrease. The result is checked exactly before it is returned.
 */
function integerRoot(n: bigint, k: number, start: bigint): bigint {
  const degree = BigInt(k);
  let x = start;
  for (;;) {
    const next = ((degree - 1n) * x + n / x ** (degree - 1n)) / degree;
    if (next >= x) break;
    x = next;
  }
  if (!(x ** degree <= n && (x + 1n) ** degree > n)) throw new Error(`integerRoot: ${k}-th root did not converge`);
  return x;
}

function computeDailyRate(apyScaled: bigint, daysPerYear: number): DailyRate {
  const days = BigInt(daysPerYear);
  // 1 + apy = onePlusApy / 10^18, so factor · 10^48 = (onePlusApy · 10^(48·days − 18))^(1/days).
  const onePlusApy = APY_SCALE_FACTOR + apyScaled;
  const radicand = onePlusApy * 10n ** (BigInt(DAILY_RATE_SCALE) * days - BigInt(APY_SCALE_MAX));
  // Bernoulli's inequality, (1 + apy/days)^days ≥ 1 + apy, makes 1 + apy/days (rounded up) a start
  // at or above the root, and a close one: Newton then converges in 5 steps at 3.5 %, 15 at 1000 %
  // (about 2 to 5 ms, once per rate).
  const denominator = APY_SCALE_FACTOR * days;
  const start = ((denominator + apyScaled) * RATE_ONE + denominator - 1n) / denominator;
  const factorScaled = integerRoot(radicand, daysPerYear, start);
  const rateScaled = factorScaled - RATE_ONE;
  return Object.freeze({
    apy: formatApyScaled(apyScaled),
    daysPerYear,
    factor: formatScaled(factorScaled),
    rate: formatScaled(rateScaled),
    rateScaled,
  });
}

function formatScaled(value: bigint): string {
  const digits = value.toString().padStart(DAILY_RATE_SCALE + 1, '0');
  return `${digits.slice(0, digits.length - DAILY_RATE_SCALE)}.${digits.slice(digits.length - DAILY_RATE_SCALE)}`;
}

/**
 * The daily rate `(1 + apy)^(1/daysPerYear) − 1` of an APY, exact at 48 decimals (the true value
 * truncated). Results are cached per canonical APY and `daysPerYear`, at most
 * {@link DAILY_RATE_CACHE_ENTRIES_MAX} of them; computing one takes a few milliseconds.
 *
 * @example dailyRate('0.035').rate // "0.000094254925873500524633928179175526415594917949"
 */
export function dailyRate(apy: string, options: DailyRateOptions = {}): DailyRate {
  const daysPerYear = options.daysPerYear ?? DAYS_PER_YEAR_DEFAULT;
  assertDaysPerYear(daysPerYear);
  const apyScaled = parseApyScaled(apy, options.field ?? 'apy');
  const key = `${apyScaled}/${daysPerYear}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const computed = computeDailyRate(apyScaled, daysPerYear);
  if (cache.size >= DAILY_RATE_CACHE_ENTRIES_MAX) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, computed);
  return computed;
}

/**
 * The daily factor `(1 + apy)^(1/daysPerYear)` of an APY as a decimal string with 48 decimals
 * (the true value truncated); see {@link dailyRate}.
 *
 * @example dailyFactor('0.03') // "1.000080986299053118469700763682749664397369429270"
 */
export function dailyFactor(apy: string, options: DailyRateOptions = {}): string {
  return dailyRate(apy, options).factor;
}

/**
 * Exact decimal money. This module alone owns big.js; everything else passes amounts as
 * canonical fixed-scale decimal strings (`"1.500000000000000000"`), never as JS numbers.
 *
 * Addition and subtraction run on bigint minor units (exact and fast); multiplication,
 * division and rounding (interest) run on big.js with a private configuration so that the
 * process-wide `Big` defaults of other libraries are never touched.
 */
import BigImport from 'big.js';
import type { Big as BigValue, BigConstructor } from 'big.js';
import { LedgerError, describeValue } from './errors.js';

/** The provider books every currency at 18 decimal places. */
export const AMOUNT_SCALE_DEFAULT = 18;
/** No currency may use more decimals than the storage keeps. */
export const AMOUNT_SCALE_MAX = 18;
/** Whole-unit digits an amount may have: up to 10^24 − 1 coins (the requirement is 10^20). */
export const AMOUNT_INTEGER_DIGITS_MAX = 24;
/** Total characters a decimal string may have before parsing is refused outright. */
export const AMOUNT_TEXT_LENGTH_MAX = AMOUNT_INTEGER_DIGITS_MAX + AMOUNT_SCALE_MAX + 2;

/** A canonical decimal string: optional `-`, digits, and exactly `scale` decimals. */
export type Amount = string & { readonly __amount: unique symbol };

/** Rounding modes, named for what they do. `half-even` is banker's rounding. */
export type RoundingMode = 'down' | 'half-up' | 'half-even' | 'up';

const ROUNDING_MODES: Readonly<Record<RoundingMode, 0 | 1 | 2 | 3>> = Object.freeze({
  down: 0,
  'half-up': 1,
  'half-even': 2,
  up: 3,
});

/** Private big.js constructor: 60 decimal places for division, its own rounding defaults. */
const Decimal: BigConstructor = (BigImport as unknown as () => BigConstructor)();
Decimal.DP = 60;
Decimal.RM = 1;
Decimal.NE = -1e6;
Decimal.PE = 1e6;

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;
const POWERS_OF_TEN: bigint[] = Array.from({ length: AMOUNT_SCALE_MAX + 1 }, (_, i) => 10n ** BigInt(i));

function powerOfTen(exponent: number): bigint {
  const power = POWERS_OF_TEN[exponent];
  if (power === undefined) throw new RangeError(`no power of ten for ${exponent}`);
  return power;
}

/** Options for {@link parseAmount}. */
export interface ParseAmountOptions {
  /** Dotted path of the input field, used in the error. */
  readonly field: string;
  /** Decimal places of the currency; more is an error. Default 18. */
  readonly scale?: number;
  /** Whether `-` amounts are accepted. Default false. */
  readonly allowNegative?: boolean;
  /** Whether zero is accepted. Default true. */
  readonly allowZero?: boolean;
}

/** Checks that a scale is an integer between 0 and {@link AMOUNT_SCALE_MAX}. */
export function assertScale(scale: number, field = 'scale'): void {
  if (!Number.isInteger(scale) || scale < 0 || scale > AMOUNT_SCALE_MAX) {
    throw new LedgerError('invalid_input', `${field} must be an integer from 0 to ${AMOUNT_SCALE_MAX}, got ${describeValue(scale)}`, {
      field,
      value: describeValue(scale),
    });
  }
}

/**
 * Parses a decimal string from outside into minor units at `scale`.
 * Rejects non-strings, exponents, `NaN`/`Infinity`, signs other than a leading `-`, white space,
 * empty strings, bare dots, and more decimals than `scale`.
 *
 * @example parseUnits('0.5', { field: 'amount', scale: 2 }) // 50n
 */
export function parseUnits(input: unknown, options: ParseAmountOptions): bigint {
  const scale = options.scale ?? AMOUNT_SCALE_DEFAULT;
  assertScale(scale);
  if (typeof input !== 'string') return failAmount(input, options, 'must be a decimal string');
  if (input.length === 0 || input.length > AMOUNT_TEXT_LENGTH_MAX) return failAmount(input, options, `must be a decimal string of 1 to ${AMOUNT_TEXT_LENGTH_MAX} characters`);
  const match = DECIMAL_PATTERN.exec(input);
  if (match === null) return failAmount(input, options, 'must be a plain decimal like "12.345" (no exponent, spaces or signs other than a leading "-")');
  const [, sign = '', whole = '', fraction = ''] = match;
  if (fraction.length > scale) return failAmount(input, options, `has more than ${scale} decimal places`);
  // Leading zeros do not count as whole digits ("007" has one); most amounts have none to strip.
  const wholeDigits = whole.length > 1 && whole.charCodeAt(0) === 48 ? whole.replace(/^0+(?=\d)/, '') : whole;
  if (wholeDigits.length > AMOUNT_INTEGER_DIGITS_MAX) return failAmount(input, options, `exceeds ${AMOUNT_INTEGER_DIGITS_MAX} whole digits`);
  const magnitude = BigInt(wholeDigits + fraction.padEnd(scale, '0'));
  const units = sign === '-' ? -magnitude : magnitude;
  if (units < 0n && options.allowNegative !== true) return failAmount(input, options, 'must not be negative');
  if (units === 0n && options.allowZero === false) return failAmount(input, options, 'must not be zero');
  return units;
}

/** The typed error of {@link parseUnits} (a function of its own: a closure per call cost the hot path an allocation). */
function failAmount(input: unknown, options: ParseAmountOptions, reason: string): never {
  throw new LedgerError('invalid_amount', `${options.field} ${reason}, got ${describeValue(input)}`, {
    field: options.field,
    value: describeValue(input),
  });
}

/**
 * Refuses 18-decimal units with a non-zero digit past a currency's scale: the scale bounds an
 * amount's precision, not its text. The one check behind `Ledger.parseAmount`, postings and
 * compound lines; `invalid_amount` naming `field`, the amount as its value.
 */
export function assertCurrencyScale(units: bigint, input: { scale: number; currency: string; field: string }): void {
  if (input.scale >= AMOUNT_SCALE_DEFAULT || units % powerOfTen(AMOUNT_SCALE_DEFAULT - input.scale) === 0n) return;
  const amount = formatUnits(units < 0n ? -units : units);
  throw new LedgerError('invalid_amount', `${input.field} has more than ${input.scale} decimal places, the scale of ${input.currency}, got ${amount}`, { field: input.field, value: amount });
}

/** Parses and canonicalises a decimal string; see {@link parseUnits} for what it rejects. */
export function parseAmount(input: unknown, options: ParseAmountOptions): Amount {
  const scale = options.scale ?? AMOUNT_SCALE_DEFAULT;
  return formatUnits(parseUnits(input, options), scale);
}

/**
 * Formats minor units as a canonical decimal string with exactly `scale` decimals.
 * Never emits an exponent; zero is `"0.000…"`, never `"-0…"`.
 */
export function formatUnits(units: bigint, scale: number = AMOUNT_SCALE_DEFAULT): Amount {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const text = scale === 0 ? whole : `${whole}.${digits.slice(digits.length - scale)}`;
  return (negative ? `-${text}` : text) as Amount;
}

/**
 * The largest magnitude, in minor units at the default scale, of an amount or balance the books
 * store: {@link AMOUNT_INTEGER_DIGITS_MAX} whole digits, what every read parses back. Each sum is
 * checked against it before it is written ({@link isStorableUnits}).
 */
export const STORED_UNITS_MAX = 10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + AMOUNT_SCALE_DEFAULT) - 1n;

/** Whether units fit what the books store and read back (see {@link STORED_UNITS_MAX}). */
export function isStorableUnits(units: bigint): boolean {
  return units <= STORED_UNITS_MAX && units >= -STORED_UNITS_MAX;
}

/**
 * The refusal of a sum the books could not read back once stored (a balance, a day's closing
 * balance, the contra entry of a compound posting): `limit_exceeded` naming `field`, the sum as
 * its value. Entered amounts are bounded when parsed, but their sums are not. Callers check
 * {@link isStorableUnits} first, so the hot path builds no message.
 */
export function storageLimitExceeded(units: bigint, input: { field: string; what: string; context: Readonly<Record<string, string>> }): LedgerError {
  const value = formatUnits(units);
  return new LedgerError('limit_exceeded', `${input.what} would be ${value}, beyond the ${AMOUNT_INTEGER_DIGITS_MAX} whole digits the books store`, { field: input.field, value, context: input.context });
}

/** A stored amount: canonical at the default scale (what both dialects read back). */
const CANONICAL_STORED_AMOUNT = /^-?(?:0|[1-9]\d{0,23})\.\d{18}$/;

/** Minor units of a canonical (already validated) amount. Use {@link parseUnits} for input. */
export function toUnits(amount: string, scale: number = AMOUNT_SCALE_DEFAULT): bigint {
  // Fast path for the stored form, which every balance and entry read takes (the cycle reads
  // millions): the full parse below costs about four times as much.
  if (scale === AMOUNT_SCALE_DEFAULT && typeof amount === 'string' && CANONICAL_STORED_AMOUNT.test(amount)) {
    return BigInt(amount.slice(0, -19) + amount.slice(-18));
  }
  return parseUnits(amount, { field: 'amount', scale, allowNegative: true });
}

/**
 * The magnitude of a stored amount, as {@link formatUnits} writes it: the stored form without its
 * sign (no parse: a day's read of 1M provider entries took ~0.3 s parsing and formatting each),
 * else parsed and formatted.
 */
export function absoluteStoredAmount(amount: string): Amount {
  if (typeof amount === 'string' && CANONICAL_STORED_AMOUNT.test(amount)) return (amount.charCodeAt(0) === 0x2d ? amount.slice(1) : amount) as Amount;
  const units = toUnits(amount);
  return formatUnits(units < 0n ? -units : units);
}

const STORED_TOTAL = /^(-?)(\d+)\.(\d{1,18})$/;

/**
 * Minor units of an exact SQL total of stored amounts (`sum` on NUMERIC, `decimal_sum` on TEXT).
 * Each amount and balance is bounded, but a total need not be: a day's entries of an account that
 * may go negative move it by up to twice the bound.
 */
export function totalToUnits(total: string): bigint {
  const match = STORED_TOTAL.exec(total);
  if (match === null) return toUnits(total);
  const [, sign = '', whole = '', fraction = ''] = match;
  const magnitude = BigInt(whole + fraction.padEnd(AMOUNT_SCALE_DEFAULT, '0'));
  return sign === '-' ? -magnitude : magnitude;
}

/** Rescales units from one scale to a larger or equal one (exact). */
export function rescaleUnits(units: bigint, from: number, to: number): bigint {
  if (to < from) throw new RangeError('rescaleUnits only widens; round with roundDecimal');
  return units * powerOfTen(to - from);
}

/** a + b, exact. */
export function addAmounts(a: string, b: string, scale: number = AMOUNT_SCALE_DEFAULT): Amount {
  return formatUnits(toUnits(a, scale) + toUnits(b, scale), scale);
}

/** a − b, exact. */
export function subtractAmounts(a: string, b: string, scale: number = AMOUNT_SCALE_DEFAULT): Amount {
  return formatUnits(toUnits(a, scale) - toUnits(b, scale), scale);
}

/** −a, exact. */
export function negateAmount(a: string, scale: number = AMOUNT_SCALE_DEFAULT): Amount {
  return formatUnits(-toUnits(a, scale), scale);
}

/** Sum of many amounts, exact. */
export function sumAmounts(amounts: Iterable<string>, scale: number = AMOUNT_SCALE_DEFAULT): Amount {
  let total = 0n;
  for (const amount of amounts) total += toUnits(amount, scale);
  return formatUnits(total, scale);
}

/** −1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareAmounts(a: string, b: string, scale: number = AMOUNT_SCALE_DEFAULT): -1 | 0 | 1 {
  const difference = toUnits(a, scale) - toUnits(b, scale);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** A big.js value of a decimal string, for multiplication and division. */
export function toDecimal(value: string): BigValue {
  return new Decimal(value);
}

/** A big.js value of minor units at a scale. */
export function unitsToDecimal(units: bigint, scale: number = AMOUNT_SCALE_DEFAULT): BigValue {
  return new Decimal(formatUnits(units, scale));
}

/** Options for {@link roundDecimal}. */
export interface RoundOptions {
  readonly scale?: number;
  readonly roundingMode?: RoundingMode;
}

/** Rounds a big.js value to a canonical amount (default: 18 decimals, half-even). */
export function roundDecimal(value: BigValue, options: RoundOptions = {}): Amount {
  const scale = options.scale ?? AMOUNT_SCALE_DEFAULT;
  const mode = ROUNDING_MODES[options.roundingMode ?? 'half-even'];
  const text = value.round(scale, mode).toFixed(scale);
  // big.js prints "-0.000" for a negative value that rounds to zero; canonical zero has no sign.
  return (/^-0(\.0*)?$/.test(text) ? text.slice(1) : text) as Amount;
}

/** Whether a string names one of the supported rounding modes. */
export function isRoundingMode(value: unknown): value is RoundingMode {
  return typeof value === 'string' && Object.hasOwn(ROUNDING_MODES, value);
}

/** The private big.js constructor, for modules of this package that do exact decimal math. */
export function decimalConstructor(): BigConstructor {
  return Decimal;
}

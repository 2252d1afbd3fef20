/**
 * Daily interest and partner margin of one account, exact, on bigint fixed point.
 *
 * A balance has `scale` decimals and a daily rate has {@link DAILY_RATE_SCALE} decimals, so their
 * product is exact at `scale + 48` decimals. This module counts such values in *fine units*
 * (10^−48 of a unit of the currency scale): the exact interest is an integer number of fine
 * units, and rounding it to the scale is one integer division with an explicit rounding rule.
 * The big.js path in `interest-decimal.ts` computes the same values with decimals; a property
 * test proves both give identical strings, and this path is the one used because it is many
 * times faster (see `bench/interest-compute.ts`).
 */
import { LedgerError, LedgerInvariantError, describeValue } from '../errors.js';
import { AMOUNT_INTEGER_DIGITS_MAX, AMOUNT_SCALE_MAX, formatUnits, parseUnits } from '../money.js';
import type { Amount, RoundingMode } from '../money.js';
import { DAILY_RATE_SCALE, dailyRate } from './daily-factor.js';
import { isParsedInterestTerms, parseInterestTerms } from './terms.js';
import type { InterestTerms } from './terms.js';

/** Fine units per unit of the currency scale: 10^48. */
export const FINE_UNITS_PER_UNIT = 10n ** BigInt(DAILY_RATE_SCALE);
/** Characters a residue string may have: sign, `0.`, and up to 18 + 48 decimals. */
export const RESIDUE_TEXT_LENGTH_MAX = 3 + AMOUNT_SCALE_MAX + DAILY_RATE_SCALE;

/** Input to {@link computeDailyInterest}. */
export interface DailyInterestInput {
  /** End-of-day balance of the account: a non-negative decimal at the terms' scale. */
  readonly balance: string;
  /** The product's terms, ideally as returned by `parseInterestTerms` (other objects are validated on every call). */
  readonly terms: InterestTerms;
  /** The user-interest residue carried from the previous day (`residueMode: 'carry'` only); default zero. */
  readonly userResidue?: string | undefined;
  /** The partner-margin residue carried from the previous day (`residueMode: 'carry'` only); default zero. */
  readonly marginResidue?: string | undefined;
}

/** The interest and partner margin of one account for one day. */
export interface DailyInterest {
  /** User interest to post, rounded to the scale; never negative. */
  readonly userInterest: Amount;
  /** Partner margin to post, rounded to the scale; zero when the terms have no margin. */
  readonly partnerMargin: Amount;
  /**
   * Remainder to carry to the account's next day, with `scale + 48` decimals; less than one unit
   * of the scale in magnitude, and zero when `residueMode` is `discard`.
   */
  readonly userResidue: string;
  /** Remainder of the partner margin to carry, like {@link DailyInterest.userResidue}. */
  readonly marginResidue: string;
}

/** Input to {@link computeDailyInterestUnits}: {@link DailyInterestInput} in integers. */
export interface DailyInterestUnitsInput {
  /** End-of-day balance in minor units of the terms' scale; non-negative. */
  readonly balanceUnits: bigint;
  /** The product's terms, as for {@link computeDailyInterest}. */
  readonly terms: InterestTerms;
  /** Carried user-interest residue in fine units (`|residue| < 10^48`); default 0. */
  readonly userResidueFineUnits?: bigint | undefined;
  /** Carried partner-margin residue in fine units; default 0. */
  readonly marginResidueFineUnits?: bigint | undefined;
}

/**
 * {@link DailyInterest} in integers (minor units of the scale, and fine units: 10^−48 of those),
 * with the unrounded values; {@link formatFineUnits} prints fine units as decimals.
 */
export interface DailyInterestUnits {
  /** User interest to post, in minor units; never negative. */
  readonly userInterestUnits: bigint;
  /** Partner margin to post, in minor units; never negative. */
  readonly partnerMarginUnits: bigint;
  /** User-interest residue to carry, in fine units (`|residue| < 10^48`); 0 without carry. */
  readonly userResidueFineUnits: bigint;
  /** Partner-margin residue to carry, in fine units; 0 without carry. */
  readonly marginResidueFineUnits: bigint;
  /** Unrounded user interest of the day, without any residue: exact. */
  readonly userInterestExactFineUnits: bigint;
  /** Unrounded partner margin of the day, without any residue: exact. */
  readonly partnerMarginExactFineUnits: bigint;
}

interface CompiledBand {
  /** Inclusive lower edge. */
  readonly fromUnits: bigint;
  readonly rateFineUnits: bigint;
  /** Marginal interest of a balance of exactly `fromUnits`: every lower band in full. */
  readonly interestBelowFineUnits: bigint;
}

/** Terms turned into integers once, so that the per-account path does no parsing. */
interface CompiledTerms {
  readonly terms: InterestTerms;
  /** Bands from the highest down, so the first with `fromUnits ≤ balance` is the balance's band. */
  readonly bandsDescending: readonly CompiledBand[];
  readonly flatRateFineUnits: bigint | null;
  readonly wholeBalance: boolean;
  readonly margin: 'none' | 'own-apy' | 'rate-difference';
  readonly marginRateFineUnits: bigint;
  readonly roundingMode: RoundingMode;
  readonly carry: boolean;
  readonly balanceUnitsMax: bigint;
  readonly zeroFine: string;
  readonly zeroAmount: Amount;
  /** A canonical balance at the scale, e.g. `/^\d{1,24}\.\d{18}$/`. */
  readonly canonicalBalancePattern: RegExp;
}

const compiledCache = new WeakMap<InterestTerms, CompiledTerms>();
let lastCompiled: CompiledTerms | undefined;

/** The terms in integers; terms that `parseInterestTerms` did not return are validated first. */
function compileTerms(terms: InterestTerms): CompiledTerms {
  // An interest run computes many accounts of one product in a row: remember the last terms.
  if (terms === lastCompiled?.terms) return lastCompiled;
  const cached = compiledCache.get(terms);
  if (cached !== undefined) {
    lastCompiled = cached;
    return cached;
  }
  // A caller's own object might change after this call, so only parsed (frozen) terms are cached.
  const parsed = isParsedInterestTerms(terms) ? terms : parseInterestTerms(terms, 'terms');
  const again = compiledCache.get(parsed);
  if (again !== undefined) return again;
  const options = { daysPerYear: parsed.daysPerYear };
  const bands: CompiledBand[] = [];
  let interestBelowFineUnits = 0n;
  for (const tier of parsed.tiers) {
    const fromUnits = parseUnits(tier.fromAmount, { field: 'fromAmount', scale: parsed.scale });
    const rateFineUnits = dailyRate(tier.apy, options).rateScaled;
    bands.push(Object.freeze({ fromUnits, rateFineUnits, interestBelowFineUnits }));
    if (tier.toAmount !== null) interestBelowFineUnits += (parseUnits(tier.toAmount, { field: 'toAmount', scale: parsed.scale }) - fromUnits) * rateFineUnits;
  }
  const margin = parsed.partnerMargin;
  const compiled: CompiledTerms = Object.freeze({
    terms: parsed,
    bandsDescending: Object.freeze(bands.reverse()),
    flatRateFineUnits: bands.length === 1 && bands[0] !== undefined ? bands[0].rateFineUnits : null,
    wholeBalance: parsed.tierMode === 'whole-balance',
    margin: margin === null ? 'none' : margin.mode,
    marginRateFineUnits:
      margin === null ? 0n : dailyRate(margin.mode === 'own-apy' ? margin.apy : margin.productApy, options).rateScaled,
    roundingMode: parsed.roundingMode,
    carry: parsed.residueMode === 'carry',
    balanceUnitsMax: 10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + parsed.scale) - 1n,
    zeroFine: formatFineUnits(0n, parsed.scale),
    zeroAmount: formatUnits(0n, parsed.scale),
    canonicalBalancePattern: new RegExp(parsed.scale === 0 ? `^\\d{1,${AMOUNT_INTEGER_DIGITS_MAX}}$` : `^\\d{1,${AMOUNT_INTEGER_DIGITS_MAX}}\\.\\d{${parsed.scale}}$`),
  });
  compiledCache.set(parsed, compiled);
  lastCompiled = compiled;
  return compiled;
}

/**
 * The exact user interest of a balance in fine units. Marginal interest is the precomputed
 * interest of all lower bands plus the balance's slice of its own band at that band's rate: one
 * multiplication, and exactly the sum of every band's slice times its rate.
 */
function userInterestFineUnits(compiled: CompiledTerms, balanceUnits: bigint): bigint {
  if (compiled.flatRateFineUnits !== null) return balanceUnits * compiled.flatRateFineUnits;
  for (const band of compiled.bandsDescending) {
    if (band.fromUnits > balanceUnits) continue;
    if (compiled.wholeBalance) return balanceUnits * band.rateFineUnits;
    return band.interestBelowFineUnits + (balanceUnits - band.fromUnits) * band.rateFineUnits;
  }
  throw new LedgerInvariantError('no tier band holds the balance, yet the first band starts at 0 and balances are not negative');
}

const HALF_FINE_UNITS_PER_UNIT = FINE_UNITS_PER_UNIT / 2n;

/**
 * Division by 10^48 is the slowest step of the fast path, so it multiplies by a reciprocal
 * instead: with M = floor(2^K / 10^48) + 1, floor(x · M / 2^K) = floor(x / 10^48) exactly for
 * 0 ≤ x < 2^K / 10^48 (the error term x · (M − 2^K/10^48) / 2^K stays below 1/10^48, too small
 * to reach the next integer). K = 480 covers every product of a balance below 10^42 units and a
 * daily rate below 1 (under 10^90 fine units); anything else takes the ordinary division.
 */
const RECIPROCAL_SHIFT = 480n;
const RECIPROCAL_DIVIDEND_LIMIT = (1n << RECIPROCAL_SHIFT) / FINE_UNITS_PER_UNIT;
const RECIPROCAL = RECIPROCAL_DIVIDEND_LIMIT + 1n;

/** floor(x / 10^48) towards zero, like `x / FINE_UNITS_PER_UNIT`. */
function divideByFineUnitsPerUnit(valueFineUnits: bigint): bigint {
  if (valueFineUnits >= 0n && valueFineUnits < RECIPROCAL_DIVIDEND_LIMIT) return (valueFineUnits * RECIPROCAL) >> RECIPROCAL_SHIFT;
  return valueFineUnits / FINE_UNITS_PER_UNIT;
}

/**
 * Whether a value in fine units with this quotient and remainder (by 10^48, truncated) rounds
 * away from zero, with the semantics of big.js and `roundDecimal`: `down` rounds towards zero,
 * `up` away from zero, `half-up` to the nearest with ties away from zero, `half-even` to the
 * nearest with ties to the even neighbour.
 */
function roundsAway(quotient: bigint, remainder: bigint, roundingMode: RoundingMode): boolean {
  if (remainder === 0n || roundingMode === 'down') return false;
  if (roundingMode === 'up') return true;
  const magnitude = remainder < 0n ? -remainder : remainder;
  if (magnitude !== HALF_FINE_UNITS_PER_UNIT) return magnitude > HALF_FINE_UNITS_PER_UNIT;
  return roundingMode === 'half-up' || (quotient & 1n) === 1n;
}

/**
 * Rounds a value in fine units to whole units of the scale; see {@link RoundingMode}.
 *
 * @example roundFineUnits(25n * 10n ** 47n, 'half-even') // 2n (2.5 units, tie to even)
 */
export function roundFineUnits(valueFineUnits: bigint, roundingMode: RoundingMode): bigint {
  const quotient = valueFineUnits / FINE_UNITS_PER_UNIT;
  const remainder = valueFineUnits - quotient * FINE_UNITS_PER_UNIT;
  if (!roundsAway(quotient, remainder, roundingMode)) return quotient;
  return valueFineUnits > 0n ? quotient + 1n : quotient - 1n;
}

/** Posted units and the residue left, of one side (user or margin) of one day. */
interface Posting {
  readonly units: bigint;
  readonly residueFineUnits: bigint;
}

/**
 * Rounds exact interest plus the carried residue to units to post, never negative, and returns
 * what remains to carry (zero when the terms discard residues). One division per posting: the
 * residue is the remainder, corrected by one unit when rounding went away from zero.
 */
function post(exactFineUnits: bigint, residueFineUnits: bigint, compiled: CompiledTerms): Posting {
  const total = residueFineUnits === 0n ? exactFineUnits : exactFineUnits + residueFineUnits;
  const quotient = divideByFineUnitsPerUnit(total);
  const remainder = total - quotient * FINE_UNITS_PER_UNIT;
  let units = quotient;
  let residue = remainder;
  if (roundsAway(quotient, remainder, compiled.roundingMode)) {
    const positive = total > 0n;
    units = positive ? quotient + 1n : quotient - 1n;
    residue = positive ? remainder - FINE_UNITS_PER_UNIT : remainder + FINE_UNITS_PER_UNIT;
  }
  // Interest is never negative: a carried negative residue with no interest to absorb it stays carried.
  if (units < 0n) {
    units = 0n;
    residue = total;
  }
  return { units, residueFineUnits: compiled.carry ? residue : 0n };
}

function checkResidueFineUnits(value: bigint | undefined, compiled: CompiledTerms, field: string): bigint {
  if (value === undefined || value === 0n) return 0n;
  const fail = (reason: string): never => {
    throw new LedgerError('invalid_input', `${field} ${reason}, got ${describeValue(value)}`, { field, value: describeValue(value) });
  };
  if (typeof value !== 'bigint') return fail('must be a bigint');
  if (!compiled.carry) return fail("must be zero or absent: the terms' residueMode is \"discard\"");
  if (value <= -FINE_UNITS_PER_UNIT || value >= FINE_UNITS_PER_UNIT) return fail('must be less than one unit of the scale in magnitude');
  return value;
}

/**
 * Parses a carried residue (a decimal with up to `scale + 48` decimals, less than one unit of
 * the scale in magnitude, sign allowed) into fine units. Malformed text is an
 * `invalid_amount`, an out-of-range value an `invalid_input`, each naming `field`.
 */
export function parseResidueFineUnits(input: unknown, options: { readonly field: string; readonly scale: number }): bigint {
  const { field, scale } = options;
  if (typeof input !== 'string' || input.length > RESIDUE_TEXT_LENGTH_MAX) {
    throw new LedgerError('invalid_amount', `${field} must be a decimal string of at most ${RESIDUE_TEXT_LENGTH_MAX} characters, got ${describeValue(input)}`, {
      field,
      value: describeValue(input),
    });
  }
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(input);
  const fraction = match?.[3] ?? '';
  if (match === null || fraction.length > scale + DAILY_RATE_SCALE) {
    throw new LedgerError('invalid_amount', `${field} must be a plain decimal with at most ${scale + DAILY_RATE_SCALE} decimals, got ${describeValue(input)}`, {
      field,
      value: describeValue(input),
    });
  }
  const magnitude = BigInt((match[2] ?? '') + fraction.padEnd(scale + DAILY_RATE_SCALE, '0'));
  if (magnitude >= FINE_UNITS_PER_UNIT) {
    throw new LedgerError('invalid_input', `${field} must be less than one unit of the scale (1e-${scale}) in magnitude, got ${describeValue(input)}`, {
      field,
      value: describeValue(input),
    });
  }
  return match[1] === '-' ? -magnitude : magnitude;
}

/** Formats fine units as a decimal with `scale + 48` decimals (no `-0`). */
export function formatFineUnits(valueFineUnits: bigint, scale: number): string {
  return formatUnits(valueFineUnits, scale + DAILY_RATE_SCALE);
}

/**
 * Interest of one account for one day, in integers; the fast core of
 * {@link computeDailyInterest}, for callers that keep balances as minor units.
 * Throws `LedgerError` for a negative or oversized balance, or a residue that is out of range
 * or given while the terms discard residues.
 */
export function computeDailyInterestUnits(input: DailyInterestUnitsInput): DailyInterestUnits {
  const compiled = compileTerms(input.terms);
  const balanceUnits = input.balanceUnits;
  if (typeof balanceUnits !== 'bigint' || balanceUnits < 0n || balanceUnits > compiled.balanceUnitsMax) {
    throw new LedgerError('invalid_amount', `balanceUnits must be a bigint from 0 to ${compiled.balanceUnitsMax}, got ${describeValue(balanceUnits)}`, {
      field: 'balanceUnits',
      value: describeValue(balanceUnits),
    });
  }
  const userResidue = checkResidueFineUnits(input.userResidueFineUnits, compiled, 'userResidueFineUnits');
  const marginResidue = checkResidueFineUnits(input.marginResidueFineUnits, compiled, 'marginResidueFineUnits');
  return computeCompiled(compiled, balanceUnits, userResidue, marginResidue);
}

function computeCompiled(compiled: CompiledTerms, balanceUnits: bigint, userResidue: bigint, marginResidue: bigint): DailyInterestUnits {
  if (balanceUnits === 0n) {
    // A zero balance earns exactly zero; carried residues wait for the next positive balance.
    return {
      userInterestUnits: 0n,
      partnerMarginUnits: 0n,
      userResidueFineUnits: userResidue,
      marginResidueFineUnits: marginResidue,
      userInterestExactFineUnits: 0n,
      partnerMarginExactFineUnits: 0n,
    };
  }
  const userExact = userInterestFineUnits(compiled, balanceUnits);
  const marginExact =
    compiled.margin === 'none'
      ? 0n
      : compiled.margin === 'own-apy'
        ? balanceUnits * compiled.marginRateFineUnits
        : balanceUnits * compiled.marginRateFineUnits - userExact;
  const user = post(userExact, userResidue, compiled);
  const margin = compiled.margin === 'none' ? { units: 0n, residueFineUnits: marginResidue } : post(marginExact, marginResidue, compiled);
  return {
    userInterestUnits: user.units,
    partnerMarginUnits: margin.units,
    userResidueFineUnits: user.residueFineUnits,
    marginResidueFineUnits: margin.residueFineUnits,
    userInterestExactFineUnits: userExact,
    partnerMarginExactFineUnits: marginExact,
  };
}

const PLAIN_BALANCE_PATTERN = new RegExp(`^(\\d{1,${AMOUNT_INTEGER_DIGITS_MAX}})(?:\\.(\\d{1,${AMOUNT_SCALE_MAX}}))?$`);

/**
 * The balance in minor units: canonical decimals (exactly `scale` decimals, at most 24 whole
 * digits, no sign) and other plain decimals on short paths, everything else through `parseUnits`,
 * which accepts the same values and words the errors.
 */
function parseBalanceUnits(input: unknown, compiled: CompiledTerms): bigint {
  const scale = compiled.terms.scale;
  if (typeof input === 'string') {
    if (compiled.canonicalBalancePattern.test(input)) return BigInt(scale === 0 ? input : input.replace('.', ''));
    const match = PLAIN_BALANCE_PATTERN.exec(input);
    if (match !== null) {
      const fraction = match[2] ?? '';
      if (fraction.length <= scale) return BigInt((match[1] ?? '') + fraction.padEnd(scale, '0'));
    }
  }
  return parseUnits(input, { field: 'balance', scale });
}

/**
 * Interest and partner margin of one account for one day, from its end-of-day balance:
 * `balance × ((1 + APY)^(1/365) − 1)` per the terms' tiers and margin, rounded to the scale by the
 * terms' rounding mode, with the previous day's residues added when the terms carry them.
 * A zero balance earns zero. Throws `LedgerError` (`invalid_amount`, field `balance`) for a
 * negative or malformed balance, and for residues as {@link parseResidueFineUnits} describes.
 *
 * @example
 * const terms = parseInterestTerms({ tiers: singleTier('0.035') });
 * computeDailyInterest({ balance: '1', terms }).userInterest // "0.000094254925873501"
 */
export function computeDailyInterest(input: DailyInterestInput): DailyInterest {
  const compiled = compileTerms(input.terms);
  const scale = compiled.terms.scale;
  const balanceUnits = parseBalanceUnits(input.balance, compiled);
  const userResidue = input.userResidue === undefined ? 0n : parseResidueFineUnits(input.userResidue, { field: 'userResidue', scale });
  const marginResidue = input.marginResidue === undefined ? 0n : parseResidueFineUnits(input.marginResidue, { field: 'marginResidue', scale });
  checkResidueFineUnits(userResidue, compiled, 'userResidue');
  checkResidueFineUnits(marginResidue, compiled, 'marginResidue');
  const result = computeCompiled(compiled, balanceUnits, userResidue, marginResidue);
  return {
    userInterest: formatUnits(result.userInterestUnits, scale),
    partnerMargin: result.partnerMarginUnits === 0n ? compiled.zeroAmount : formatUnits(result.partnerMarginUnits, scale),
    userResidue: result.userResidueFineUnits === 0n ? compiled.zeroFine : formatFineUnits(result.userResidueFineUnits, scale),
    marginResidue: result.marginResidueFineUnits === 0n ? compiled.zeroFine : formatFineUnits(result.marginResidueFineUnits, scale),
  };
}

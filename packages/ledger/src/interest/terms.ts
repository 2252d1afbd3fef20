/**
 * The interest terms of one product in one currency: tiers, partner margin, rounding, residue
 * carry, scale and days per year. Every open question of the provider's public material is a
 * field here with a documented default, never a constant in the computation.
 */
import { LedgerError, describeValue, isArrayInput } from '../errors.js';
import { readRecord } from '../input-fields.js';
import { AMOUNT_SCALE_DEFAULT, assertScale, isRoundingMode } from '../money.js';
import type { RoundingMode } from '../money.js';
import { DAYS_PER_YEAR_DEFAULT, assertDaysPerYear, parseApy, parseApyScaled } from './daily-factor.js';
import { TIER_MODE_DEFAULT, isTierMode, parseInterestTiers } from './tiers.js';
import type { LedgerInterestTier, TierMode } from './tiers.js';

/**
 * How the partner margin relates to the user's interest; public material is silent.
 *
 * - `own-apy` (default): the margin has its own APY, applied by the same daily formula to the
 *   same end-of-day balance, on top of the user's interest.
 * - `rate-difference`: the product earns `productApy`; the margin is what the product earns on
 *   the balance minus the user's (tiered) interest, i.e. the difference of the daily rates.
 */
export type MarginMode = 'own-apy' | 'rate-difference';

/** The default margin mode, `own-apy`: the provider describes the margin as accruing per product alongside user interest. */
export const MARGIN_MODE_DEFAULT: MarginMode = 'own-apy';

/** The partner margin of a product, or `null` in {@link InterestTerms} when there is none. */
export type PartnerMarginTerms =
  | { readonly mode: 'own-apy'; /** The margin's own APY. */ readonly apy: string }
  | { readonly mode: 'rate-difference'; /** The APY the product earns in all; at least every tier's APY. */ readonly productApy: string };

/**
 * Whether each day's rounding remainder is carried per account.
 *
 * - `discard` (default): each day's posted amount is the rounded interest of that day's balance
 *   alone, so a reconciler can recompute any single entry from the balance and the terms.
 * - `carry`: the sub-unit remainder is kept per account and added to the next day's interest, so
 *   that over many days the posted total never drifts by one unit of the scale or more.
 */
export type ResidueMode = 'carry' | 'discard';

/** The default residue mode, `discard`; see {@link ResidueMode}. */
export const RESIDUE_MODE_DEFAULT: ResidueMode = 'discard';

/**
 * The default rounding of each interest entry to the currency scale, `half-even`: the rounding
 * error is at most half a unit and unbiased on average, so without residue carry the books do
 * not drift systematically one way (truncation loses up to a unit a day, always to the user).
 */
export const INTEREST_ROUNDING_MODE_DEFAULT: RoundingMode = 'half-even';

/** Validated interest terms, as {@link parseInterestTerms} returns them (frozen, canonical). */
export interface InterestTerms {
  /** Balance bands and their APYs; see {@link parseInterestTiers} for the rules. */
  readonly tiers: readonly LedgerInterestTier[];
  /** How the bands apply; default {@link TIER_MODE_DEFAULT}. */
  readonly tierMode: TierMode;
  /** The partner margin, or `null` for none (the default). */
  readonly partnerMargin: PartnerMarginTerms | null;
  /** Rounding of each entry to `scale` decimals; default {@link INTEREST_ROUNDING_MODE_DEFAULT}. */
  readonly roundingMode: RoundingMode;
  /** Whether rounding remainders carry per account; default {@link RESIDUE_MODE_DEFAULT}. */
  readonly residueMode: ResidueMode;
  /** Decimal places of the currency; default 18, as the provider books every currency. */
  readonly scale: number;
  /** Days per year of the daily root; default 365 (see `DAYS_PER_YEAR_DEFAULT`). */
  readonly daysPerYear: number;
}

/** Input to {@link parseInterestTerms}: {@link InterestTerms} with every default optional. */
export interface InterestTermsInput {
  readonly tiers: readonly LedgerInterestTier[];
  readonly tierMode?: TierMode;
  readonly partnerMargin?:
    | { readonly mode?: 'own-apy'; readonly apy: string }
    | { readonly mode: 'rate-difference'; readonly productApy: string }
    | null;
  readonly roundingMode?: RoundingMode;
  readonly residueMode?: ResidueMode;
  readonly scale?: number;
  readonly daysPerYear?: number;
}

const TERMS_KEYS: ReadonlySet<string> = new Set(['tiers', 'tierMode', 'partnerMargin', 'roundingMode', 'residueMode', 'scale', 'daysPerYear']);
const OWN_APY_KEYS: ReadonlySet<string> = new Set(['mode', 'apy']);
const RATE_DIFFERENCE_KEYS: ReadonlySet<string> = new Set(['mode', 'productApy']);

/** An absent field takes its default; `null` does not (it is rejected, except for `partnerMargin`). */
function withDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

/** Interest terms produced by {@link parseInterestTerms}; anything else is validated again. */
const parsedTerms = new WeakSet<InterestTerms>();

/** Whether `terms` is a frozen object that {@link parseInterestTerms} returned. */
export function isParsedInterestTerms(terms: InterestTerms): boolean {
  return parsedTerms.has(terms);
}

/**
 * Validates interest terms from outside (configuration, an API, a database row) and returns them
 * frozen, canonical and with every default filled in. A bad input is a `LedgerError` whose
 * `field` is the path of the offending value below `field` (`tiers[1].fromAmount`,
 * `partnerMargin.apy`, …) and whose `value` renders it; unknown fields are rejected, so a typo
 * never silently falls back to a default.
 *
 * @example
 * parseInterestTerms({
 *   tiers: [
 *     { fromAmount: '0', toAmount: '1', apy: '0.03' },
 *     { fromAmount: '1', toAmount: null, apy: '0.01' },
 *   ],
 *   partnerMargin: { apy: '0.005' },
 * }).tierMode // 'marginal'
 */
export function parseInterestTerms(input: unknown, field?: string): InterestTerms {
  const path = (name: string): string => (field === undefined || field === '' ? name : `${field}.${name}`);
  const fail = (at: string, value: unknown, reason: string): never => {
    throw new LedgerError('invalid_input', `${at} ${reason}, got ${describeValue(value)}`, { field: at, value: describeValue(value) });
  };
  if (typeof input !== 'object' || input === null || isArrayInput(input, field ?? 'terms')) return fail(field ?? 'terms', input, 'must be an interest terms object');
  const raw = readRecord(input, field ?? 'terms');
  for (const key of Object.keys(raw)) if (!TERMS_KEYS.has(key)) fail(path(key), raw[key], 'is not an interest terms field');

  const scale = withDefault(raw['scale'], AMOUNT_SCALE_DEFAULT);
  if (typeof scale !== 'number') return fail(path('scale'), scale, 'must be an integer');
  assertScale(scale, path('scale'));
  const daysPerYear = withDefault(raw['daysPerYear'], DAYS_PER_YEAR_DEFAULT);
  assertDaysPerYear(daysPerYear, path('daysPerYear'));
  const tierMode = withDefault(raw['tierMode'], TIER_MODE_DEFAULT);
  if (!isTierMode(tierMode)) return fail(path('tierMode'), tierMode, 'must be "marginal" or "whole-balance"');
  const roundingMode = withDefault(raw['roundingMode'], INTEREST_ROUNDING_MODE_DEFAULT);
  if (!isRoundingMode(roundingMode)) return fail(path('roundingMode'), roundingMode, 'must be "down", "half-up", "half-even" or "up"');
  const residueMode = withDefault(raw['residueMode'], RESIDUE_MODE_DEFAULT);
  if (residueMode !== 'carry' && residueMode !== 'discard') return fail(path('residueMode'), residueMode, 'must be "carry" or "discard"');

  const tiers = parseInterestTiers(raw['tiers'], { scale, field: path('tiers') });
  const partnerMargin = parsePartnerMargin(raw['partnerMargin'], tiers, path('partnerMargin'), fail);

  const terms: InterestTerms = Object.freeze({ tiers, tierMode, partnerMargin, roundingMode, residueMode, scale, daysPerYear });
  parsedTerms.add(terms);
  return terms;
}

function parsePartnerMargin(
  input: unknown,
  tiers: readonly LedgerInterestTier[],
  field: string,
  fail: (at: string, value: unknown, reason: string) => never,
): PartnerMarginTerms | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || isArrayInput(input, field)) return fail(field, input, 'must be null or a partner margin object');
  const raw = readRecord(input, field);
  const mode = withDefault(raw['mode'], MARGIN_MODE_DEFAULT);
  if (mode === 'own-apy') {
    for (const key of Object.keys(raw)) if (!OWN_APY_KEYS.has(key)) fail(`${field}.${key}`, raw[key], 'is not a field of an own-apy margin');
    return Object.freeze({ mode, apy: parseApy(raw['apy'], `${field}.apy`) });
  }
  if (mode === 'rate-difference') {
    for (const key of Object.keys(raw)) if (!RATE_DIFFERENCE_KEYS.has(key)) fail(`${field}.${key}`, raw[key], 'is not a field of a rate-difference margin');
    const productApyScaled = parseApyScaled(raw['productApy'], `${field}.productApy`);
    for (const [index, tier] of tiers.entries()) {
      // A tier above the product rate would make the margin negative: the partner would pay it.
      if (parseApyScaled(tier.apy) > productApyScaled) {
        fail(`${field}.productApy`, raw['productApy'], `must be at least every tier's APY (tiers[${index}].apy is ${tier.apy})`);
      }
    }
    return Object.freeze({ mode, productApy: parseApy(raw['productApy'], `${field}.productApy`) });
  }
  return fail(`${field}.mode`, mode, 'must be "own-apy" or "rate-difference"');
}

/**
 * Interest tiers: balance bands, each with its own APY, and how they apply to a balance.
 */
import { LedgerError, describeValue, isArrayInput } from '../errors.js';
import { readArray, readRecord } from '../input-fields.js';
import { formatUnits, parseUnits } from '../money.js';
import { parseApy } from './daily-factor.js';

/**
 * How tier bands apply to a balance; public material is silent, so it is chosen per product.
 *
 * - `marginal`: each band's slice of the balance earns that band's APY, like tax brackets.
 *   With bands 0–1 BTC at 3 % and 1 BTC+ at 1 %, 1.5 BTC earns 3 % on 1 BTC and 1 % on 0.5 BTC.
 * - `whole-balance`: the band the balance falls in sets the APY for all of it. With the same
 *   bands, 1.5 BTC earns 1 % on 1.5 BTC.
 */
export type TierMode = 'marginal' | 'whole-balance';

/**
 * The default tier mode, `marginal`: interest is then continuous and never decreasing in the
 * balance whatever the band rates are, so a deposit can never lower a user's interest and
 * splitting a balance over accounts gains nothing. Under `whole-balance` a balance just above an
 * edge into a lower-rate band earns less than one just below it; it stays available per product.
 */
export const TIER_MODE_DEFAULT: TierMode = 'marginal';

/** Bands a product may have. */
export const INTEREST_TIERS_MAX = 32;

/** One balance band and its APY. Amounts are canonical decimals at the currency scale. */
export interface LedgerInterestTier {
  /** Inclusive lower edge of the band; the first band starts at 0. */
  readonly fromAmount: string;
  /** Exclusive upper edge, the next band's `fromAmount`; `null` (open-ended) on the last band only. */
  readonly toAmount: string | null;
  /** The band's APY as a decimal fraction (`"0.035"` is 3.5 %). */
  readonly apy: string;
}

/** Options for {@link parseInterestTiers}. */
export interface ParseInterestTiersOptions {
  /** Decimal places of the currency the edges are in. */
  readonly scale: number;
  /** Dotted path of the tiers in the caller's input; default `"tiers"`. */
  readonly field?: string;
}

const TIER_KEYS: ReadonlySet<string> = new Set(['fromAmount', 'toAmount', 'apy']);

/** Whether a value names a {@link TierMode}. */
export function isTierMode(value: unknown): value is TierMode {
  return value === 'marginal' || value === 'whole-balance';
}

/**
 * One open-ended band from 0: a flat APY for every balance.
 *
 * @example singleTier('0.035') // [{ fromAmount: '0', toAmount: null, apy: '0.035' }]
 */
export function singleTier(apy: string): readonly LedgerInterestTier[] {
  return Object.freeze([Object.freeze({ fromAmount: '0', toAmount: null, apy })]);
}

/**
 * Validates tier bands and returns them frozen and canonical (edges with `scale` decimals, APYs
 * without trailing zeros). The rules, each a `LedgerError('invalid_input')` naming the field
 * (e.g. `tiers[1].fromAmount`) and value: 1 to {@link INTEREST_TIERS_MAX} bands; the first starts
 * at 0; each band starts where the previous one ends (no gap, no overlap); each band's `toAmount`
 * is above its `fromAmount`; only the last band, and always the last band, is open-ended. Edges
 * that are not decimal amounts fail as `invalid_amount`, APYs outside the range as `invalid_input`.
 */
export function parseInterestTiers(input: unknown, options: ParseInterestTiersOptions): readonly LedgerInterestTier[] {
  const field = options.field ?? 'tiers';
  const scale = options.scale;
  const fail = (path: string, value: unknown, reason: string): never => {
    throw new LedgerError('invalid_input', `${path} ${reason}, got ${describeValue(value)}`, { field: path, value: describeValue(value) });
  };
  if (!isArrayInput(input, field)) return fail(field, input, 'must be an array of tier bands');
  // Read once (length, then each band): an array proxy whose traps throw is invalid_input, not their raw error.
  const listed = readArray(input, field, INTEREST_TIERS_MAX);
  if (listed.length === 0 || listed.items.length !== listed.length) return fail(field, input, `must hold 1 to ${INTEREST_TIERS_MAX} bands`);
  const tiers: LedgerInterestTier[] = [];
  let previousTo: bigint | null = null;
  const bands: readonly unknown[] = listed.items;
  for (const [index, raw] of bands.entries()) {
    const path = `${field}[${index}]`;
    if (typeof raw !== 'object' || raw === null || isArrayInput(raw, path)) fail(path, raw, 'must be an object { fromAmount, toAmount, apy }');
    const tier = readRecord(raw as object, path);
    for (const key of Object.keys(tier)) if (!TIER_KEYS.has(key)) fail(`${path}.${key}`, tier[key], 'is not a tier field');
    const from = parseUnits(tier['fromAmount'], { field: `${path}.fromAmount`, scale });
    const last = index === bands.length - 1;
    let to: bigint | null = null;
    if (tier['toAmount'] === null) {
      if (!last) fail(`${path}.toAmount`, null, 'may be null (open-ended) only on the last band');
    } else {
      if (last) fail(`${path}.toAmount`, tier['toAmount'], 'must be null: the last band is open-ended');
      to = parseUnits(tier['toAmount'], { field: `${path}.toAmount`, scale });
    }
    const apy = parseApy(tier['apy'], `${path}.apy`);
    if (index === 0 && from !== 0n) fail(`${path}.fromAmount`, tier['fromAmount'], 'must be 0: the first band starts at 0');
    if (index > 0 && from !== previousTo) {
      fail(`${path}.fromAmount`, tier['fromAmount'], `must equal ${field}[${index - 1}].toAmount: bands are contiguous, without gap or overlap`);
    }
    if (to !== null && to <= from) fail(`${path}.toAmount`, tier['toAmount'], 'must be greater than fromAmount');
    previousTo = to;
    tiers.push(Object.freeze({ fromAmount: formatUnits(from, scale), toAmount: to === null ? null : formatUnits(to, scale), apy }));
  }
  return Object.freeze(tiers);
}

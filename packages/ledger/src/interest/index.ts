/**
 * Daily interest math of the ledger, pure (no database): daily factors of APYs, tiers, partner
 * margin, rounding and residue carry.
 */
export {
  APY_MAX,
  APY_MIN,
  APY_SCALE_MAX,
  APY_TEXT_LENGTH_MAX,
  DAILY_RATE_CACHE_ENTRIES_MAX,
  DAILY_RATE_SCALE,
  DAYS_PER_YEAR_DEFAULT,
  DAYS_PER_YEAR_MAX,
  DAYS_PER_YEAR_MIN,
  assertDaysPerYear,
  dailyFactor,
  dailyRate,
  parseApy,
  parseApyScaled,
} from './daily-factor.js';
export type { DailyRate, DailyRateOptions } from './daily-factor.js';
export { INTEREST_TIERS_MAX, TIER_MODE_DEFAULT, isTierMode, parseInterestTiers, singleTier } from './tiers.js';
export type { LedgerInterestTier, ParseInterestTiersOptions, TierMode } from './tiers.js';
export {
  INTEREST_ROUNDING_MODE_DEFAULT,
  MARGIN_MODE_DEFAULT,
  RESIDUE_MODE_DEFAULT,
  isParsedInterestTerms,
  parseInterestTerms,
} from './terms.js';
export type { InterestTerms, InterestTermsInput, MarginMode, PartnerMarginTerms, ResidueMode } from './terms.js';
export {
  FINE_UNITS_PER_UNIT,
  RESIDUE_TEXT_LENGTH_MAX,
  computeDailyInterest,
  computeDailyInterestUnits,
  formatFineUnits,
  parseResidueFineUnits,
  roundFineUnits,
} from './interest.js';
export type { DailyInterest, DailyInterestInput, DailyInterestUnits, DailyInterestUnitsInput } from './interest.js';

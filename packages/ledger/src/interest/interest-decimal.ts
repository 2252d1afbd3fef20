/**
 * The reference path of {@link computeDailyInterest}: the same definition computed with big.js
 * decimals straight from the terms' strings, without the bigint fixed point or any precomputation.
 * It is much slower and exists so that a property test can prove the fast path returns identical
 * strings for any balance, terms and residue.
 */
import type { Big } from 'big.js';
import { parseAmount, roundDecimal, toDecimal } from '../money.js';
import { LedgerError, describeValue } from '../errors.js';
import { DAILY_RATE_SCALE, dailyRate } from './daily-factor.js';
import { parseResidueFineUnits } from './interest.js';
import type { DailyInterest, DailyInterestInput } from './interest.js';
import { isParsedInterestTerms, parseInterestTerms } from './terms.js';
import type { InterestTerms } from './terms.js';

function fixed(value: Big, decimals: number): string {
  const text = value.toFixed(decimals);
  // big.js keeps the sign of a negative zero; canonical zero has none.
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

function userInterestDecimal(terms: InterestTerms, balance: Big): Big {
  const options = { daysPerYear: terms.daysPerYear };
  if (terms.tierMode === 'whole-balance') {
    let apy = terms.tiers[0]?.apy ?? '0';
    for (const tier of terms.tiers) {
      if (balance.lt(toDecimal(tier.fromAmount))) break;
      apy = tier.apy;
    }
    return balance.times(toDecimal(dailyRate(apy, options).rate));
  }
  let total = toDecimal('0');
  for (const tier of terms.tiers) {
    const from = toDecimal(tier.fromAmount);
    if (balance.lte(from)) break;
    const top = tier.toAmount === null || balance.lt(toDecimal(tier.toAmount)) ? balance : toDecimal(tier.toAmount);
    total = total.plus(top.minus(from).times(toDecimal(dailyRate(tier.apy, options).rate)));
  }
  return total;
}

/** {@link DailyInterest} with the unrounded values, as decimals with `scale + 48` places. */
export interface DailyInterestDecimal extends DailyInterest {
  readonly userInterestExact: string;
  readonly partnerMarginExact: string;
}

/**
 * {@link computeDailyInterest} on big.js decimals: identical results, several times slower.
 * For tests and benchmarks; production code calls {@link computeDailyInterest}.
 */
export function computeDailyInterestDecimal(input: DailyInterestInput): DailyInterestDecimal {
  const terms = isParsedInterestTerms(input.terms) ? input.terms : parseInterestTerms(input.terms, 'terms');
  const scale = terms.scale;
  const fineScale = scale + DAILY_RATE_SCALE;
  const carry = terms.residueMode === 'carry';
  const balance = toDecimal(parseAmount(input.balance, { field: 'balance', scale }));
  const residue = (value: string | undefined, field: string): Big => {
    if (value === undefined) return toDecimal('0');
    const fineUnits = parseResidueFineUnits(value, { field, scale });
    if (fineUnits !== 0n && !carry) {
      throw new LedgerError('invalid_input', `${field} must be zero or absent: the terms' residueMode is "discard", got ${describeValue(value)}`, {
        field,
        value: describeValue(value),
      });
    }
    return toDecimal(value);
  };
  const userResidue = residue(input.userResidue, 'userResidue');
  const marginResidue = residue(input.marginResidue, 'marginResidue');
  const zero = fixed(toDecimal('0'), fineScale);
  if (balance.eq(0)) {
    return {
      userInterest: roundDecimal(toDecimal('0'), { scale }),
      partnerMargin: roundDecimal(toDecimal('0'), { scale }),
      userResidue: fixed(userResidue, fineScale),
      marginResidue: fixed(marginResidue, fineScale),
      userInterestExact: zero,
      partnerMarginExact: zero,
    };
  }
  const post = (exact: Big, carried: Big): readonly [DailyInterest['userInterest'], string] => {
    const total = exact.plus(carried);
    let posted = toDecimal(roundDecimal(total, { scale, roundingMode: terms.roundingMode }));
    if (posted.lt(0)) posted = toDecimal('0');
    return [roundDecimal(posted, { scale }), carry ? fixed(total.minus(posted), fineScale) : zero];
  };
  const userExact = userInterestDecimal(terms, balance);
  const margin = terms.partnerMargin;
  const options = { daysPerYear: terms.daysPerYear };
  const marginExact =
    margin === null
      ? toDecimal('0')
      : margin.mode === 'own-apy'
        ? balance.times(toDecimal(dailyRate(margin.apy, options).rate))
        : balance.times(toDecimal(dailyRate(margin.productApy, options).rate)).minus(userExact);
  const [userInterest, userResidueNext] = post(userExact, userResidue);
  const [partnerMargin, marginResidueNext] = margin === null ? [roundDecimal(toDecimal('0'), { scale }), fixed(marginResidue, fineScale)] : post(marginExact, marginResidue);
  return {
    userInterest,
    partnerMargin,
    userResidue: userResidueNext,
    marginResidue: marginResidueNext,
    userInterestExact: fixed(userExact, fineScale),
    partnerMarginExact: fixed(marginExact, fineScale),
  };
}

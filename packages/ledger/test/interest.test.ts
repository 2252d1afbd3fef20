import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/errors.js';
import { addAmounts, formatUnits, roundDecimal, toDecimal, toUnits } from '../src/money.js';
import type { RoundingMode } from '../src/money.js';
import {
  APY_MAX,
  DAILY_RATE_SCALE,
  FINE_UNITS_PER_UNIT,
  INTEREST_ROUNDING_MODE_DEFAULT,
  INTEREST_TIERS_MAX,
  MARGIN_MODE_DEFAULT,
  RESIDUE_MODE_DEFAULT,
  TIER_MODE_DEFAULT,
  computeDailyInterest,
  computeDailyInterestUnits,
  dailyFactor,
  dailyRate,
  parseInterestTerms,
  roundFineUnits,
  singleTier,
} from '../src/interest/index.js';
import type { InterestTerms, InterestTermsInput } from '../src/interest/index.js';
import { computeDailyInterestDecimal } from '../src/interest/interest-decimal.js';

/** Rounds a canonical amount half-up to fewer decimals, as the seed prints its figures. */
function display(amount: string, decimals: number): string {
  return roundDecimal(toDecimal(amount), { scale: decimals, roundingMode: 'half-up' });
}

/** Compounds a balance day by day: each day the posted interest is added to the balance. */
function compound(balance: string, terms: InterestTerms, days: number): string[] {
  const balances: string[] = [];
  let current = balance;
  for (let day = 0; day < days; day += 1) {
    current = addAmounts(current, computeDailyInterest({ balance: current, terms }).userInterest);
    balances.push(current);
  }
  return balances;
}

function expectLedgerError(run: () => unknown, code: LedgerError['code'], field: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe(code);
    expect((error as LedgerError).field).toBe(field);
    return;
  }
  expect.fail(`expected LedgerError ${code} on ${field}`);
}

const bands: InterestTermsInput['tiers'] = [
  { fromAmount: '0', toAmount: '1', apy: '0.03' },
  { fromAmount: '1', toAmount: '10', apy: '0.01' },
  { fromAmount: '10', toAmount: null, apy: '0.005' },
];

describe('daily factor', () => {
  it('is (1 + APY)^(1/365) truncated to 48 decimals', () => {
    expect(dailyFactor('0.035')).toBe('1.000094254925873500524633928179175526415594917949');
    expect(dailyRate('0.03').rate).toBe('0.000080986299053118469700763682749664397369429270');
    expect(dailyRate('0').rate).toBe(`0.${'0'.repeat(DAILY_RATE_SCALE)}`);
  });

  it('is cached per canonical APY and days per year', () => {
    expect(dailyRate('0.0350')).toBe(dailyRate('0.035'));
    expect(dailyRate('0.035', { daysPerYear: 366 })).not.toBe(dailyRate('0.035'));
    expect(dailyRate('0.035', { daysPerYear: 366 }).rateScaled < dailyRate('0.035').rateScaled).toBe(true);
    expect(dailyRate('0.035', { daysPerYear: 360 }).rateScaled > dailyRate('0.035').rateScaled).toBe(true);
  });

  it('rejects APYs outside [APY_MIN, APY_MAX] and malformed ones', () => {
    expect(dailyRate(APY_MAX).apy).toBe('10');
    expectLedgerError(() => dailyRate('10.000000000000000001'), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate('-0.01'), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate('3.5e-2'), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate('3.5%'), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate(0.035 as unknown as string), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate('0.0000000000000000001'), 'invalid_input', 'apy');
    expectLedgerError(() => dailyRate('0.03', { daysPerYear: 367 }), 'invalid_input', 'daysPerYear');
  });
});

describe('reference figures of the seed', () => {
  it('1 BTC at 3.5 % is 1.00009425493 BTC after one day', () => {
    const terms = parseInterestTerms({ tiers: singleTier('0.035') });
    const [dayTwo] = compound('1', terms, 1);
    expect(dayTwo).toBe('1.000094254925873501');
    expect(display(dayTwo ?? '', 11)).toBe('1.00009425493');
  });

  it('0.5 BTC at 3 % is 0.50004049, 0.50008099, 0.500121489 BTC on days 2 to 4', () => {
    const terms = parseInterestTerms({
      tiers: [
        { fromAmount: '0', toAmount: '1', apy: '0.03' },
        { fromAmount: '1', toAmount: null, apy: '0.02' },
      ],
    });
    const [dayTwo = '', dayThree = '', dayFour = ''] = compound('0.5', terms, 3);
    expect(display(dayTwo, 8)).toBe('0.50004049');
    expect(display(dayThree, 8)).toBe('0.50008099');
    expect(display(dayFour, 9)).toBe('0.500121489');
  });

  it('a zero balance earns zero (the user withdrew everything on day 2)', () => {
    const terms = parseInterestTerms({ tiers: singleTier('0.035'), partnerMargin: { apy: '0.01' } });
    const result = computeDailyInterest({ balance: '0', terms });
    expect(result.userInterest).toBe('0.000000000000000000');
    expect(result.partnerMargin).toBe('0.000000000000000000');
    expect(computeDailyInterestUnits({ balanceUnits: 0n, terms }).userInterestExactFineUnits).toBe(0n);
  });
});

describe('tiers', () => {
  const rate = (apy: string): bigint => dailyRate(apy).rateScaled;
  const units = (amount: string): bigint => toUnits(amount, 18);

  it(`default to ${TIER_MODE_DEFAULT}: each band's slice earns the band's rate`, () => {
    expect(TIER_MODE_DEFAULT).toBe('marginal');
    const terms = parseInterestTerms({ tiers: bands });
    const result = computeDailyInterestUnits({ balanceUnits: units('12.5'), terms });
    expect(result.userInterestExactFineUnits).toBe(units('1') * rate('0.03') + units('9') * rate('0.01') + units('2.5') * rate('0.005'));
  });

  it('whole-balance: the band the balance falls in sets the rate for all of it', () => {
    const terms = parseInterestTerms({ tiers: bands, tierMode: 'whole-balance' });
    const exact = (balance: string): bigint => computeDailyInterestUnits({ balanceUnits: units(balance), terms }).userInterestExactFineUnits;
    expect(exact('0.999999999999999999')).toBe(units('0.999999999999999999') * rate('0.03'));
    expect(exact('1')).toBe(units('1') * rate('0.01'));
    expect(exact('12.5')).toBe(units('12.5') * rate('0.005'));
    // The cliff that makes marginal the default: one more unit of balance earns less interest.
    expect(exact('1') < exact('0.999999999999999999')).toBe(true);
  });

  it('are validated: start at 0, contiguous, no overlap, last band open-ended', () => {
    const tiers = (changed: Record<number, object>): unknown[] => bands.map((band, index) => ({ ...band, ...changed[index] }));
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 0: { fromAmount: '0.1' } }) }), 'invalid_input', 'tiers[0].fromAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { fromAmount: '2' } }) }), 'invalid_input', 'tiers[1].fromAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { fromAmount: '0.5' } }) }), 'invalid_input', 'tiers[1].fromAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 2: { toAmount: '100' } }) }), 'invalid_input', 'tiers[2].toAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { toAmount: null } }) }), 'invalid_input', 'tiers[1].toAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { toAmount: '1' }, 2: { fromAmount: '1' } }) }), 'invalid_input', 'tiers[1].toAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { apy: '11' } }) }), 'invalid_input', 'tiers[1].apy');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { rate: '0.01' } }) }), 'invalid_input', 'tiers[1].rate');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { fromAmount: '1e0' } }) }), 'invalid_amount', 'tiers[1].fromAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: tiers({ 1: { fromAmount: 1 } }) }), 'invalid_amount', 'tiers[1].fromAmount');
    expectLedgerError(() => parseInterestTerms({ tiers: [] }), 'invalid_input', 'tiers');
    const many = Array.from({ length: INTEREST_TIERS_MAX + 1 }, (_, index) => ({
      fromAmount: String(index),
      toAmount: index === INTEREST_TIERS_MAX ? null : String(index + 1),
      apy: '0.01',
    }));
    expectLedgerError(() => parseInterestTerms({ tiers: many }), 'invalid_input', 'tiers');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, scale: -1, partnerMargin: null }, 'product'), 'invalid_input', 'product.scale');
  });
});

describe('partner margin', () => {
  it(`defaults to ${MARGIN_MODE_DEFAULT}: its own APY on the same balance`, () => {
    expect(MARGIN_MODE_DEFAULT).toBe('own-apy');
    const terms = parseInterestTerms({ tiers: bands, partnerMargin: { apy: '0.035' } });
    expect(terms.partnerMargin).toEqual({ mode: 'own-apy', apy: '0.035' });
    const result = computeDailyInterest({ balance: '1', terms });
    expect(result.partnerMargin).toBe('0.000094254925873501');
    expect(parseInterestTerms({ tiers: bands }).partnerMargin).toBeNull();
    expect(computeDailyInterest({ balance: '1', terms: parseInterestTerms({ tiers: bands }) }).partnerMargin).toBe('0.000000000000000000');
  });

  it('rate-difference: the product rate minus the user rate, so user + margin = product interest', () => {
    const terms = parseInterestTerms({ tiers: bands, partnerMargin: { mode: 'rate-difference', productApy: '0.04' } });
    const balanceUnits = toUnits('12.5', 18);
    const result = computeDailyInterestUnits({ balanceUnits, terms });
    expect(result.userInterestExactFineUnits + result.partnerMarginExactFineUnits).toBe(balanceUnits * dailyRate('0.04').rateScaled);
    expect(result.partnerMarginExactFineUnits > 0n).toBe(true);
  });

  it('rate-difference refuses a product APY below a tier APY (a negative margin)', () => {
    expectLedgerError(
      () => parseInterestTerms({ tiers: bands, partnerMargin: { mode: 'rate-difference', productApy: '0.02' } }),
      'invalid_input',
      'partnerMargin.productApy',
    );
    expectLedgerError(() => parseInterestTerms({ tiers: bands, partnerMargin: { mode: 'fee' } }), 'invalid_input', 'partnerMargin.mode');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, partnerMargin: { apy: '-1' } }), 'invalid_input', 'partnerMargin.apy');
    expectLedgerError(
      () => parseInterestTerms({ tiers: bands, partnerMargin: { mode: 'own-apy', apy: '0.01', productApy: '0.1' } }),
      'invalid_input',
      'partnerMargin.productApy',
    );
  });
});

describe('rounding and residue carry', () => {
  it(`defaults to ${INTEREST_ROUNDING_MODE_DEFAULT} without carry (${RESIDUE_MODE_DEFAULT})`, () => {
    const terms = parseInterestTerms({ tiers: singleTier('0.035') });
    expect(terms.roundingMode).toBe('half-even');
    expect(terms.residueMode).toBe('discard');
    expect(terms.scale).toBe(18);
    expect(terms.daysPerYear).toBe(365);
    expect(Object.isFrozen(terms) && Object.isFrozen(terms.tiers) && Object.isFrozen(terms.tiers[0])).toBe(true);
  });

  it('rounds fine units like big.js in every mode', () => {
    const half = FINE_UNITS_PER_UNIT / 2n;
    const cases: [bigint, Record<RoundingMode, bigint>][] = [
      [2n * FINE_UNITS_PER_UNIT + half, { down: 2n, 'half-up': 3n, 'half-even': 2n, up: 3n }],
      [3n * FINE_UNITS_PER_UNIT + half, { down: 3n, 'half-up': 4n, 'half-even': 4n, up: 4n }],
      [2n * FINE_UNITS_PER_UNIT + half - 1n, { down: 2n, 'half-up': 2n, 'half-even': 2n, up: 3n }],
      [-(2n * FINE_UNITS_PER_UNIT + half), { down: -2n, 'half-up': -3n, 'half-even': -2n, up: -3n }],
      [-1n, { down: 0n, 'half-up': 0n, 'half-even': 0n, up: -1n }],
    ];
    for (const [value, expected] of cases) {
      for (const mode of Object.keys(expected) as RoundingMode[]) {
        expect(roundFineUnits(value, mode)).toBe(expected[mode]);
        const decimal = roundDecimal(toDecimal(formatUnits(value, DAILY_RATE_SCALE)), { scale: 0, roundingMode: mode });
        expect(BigInt(decimal)).toBe(expected[mode]);
      }
    }
  });

  it('carries sub-unit remainders: the drift over 365 days with and without carry', () => {
    // 1000 units (1e-15 BTC) at 3.5 % earn about 0.094 units a day: rounded alone, nothing is ever
    // paid. With a constant balance the remainder is the same every day, so without carry even
    // half-even rounding drifts one way (1 BTC: +0.475 units a day).
    const report: string[] = [];
    for (const [balance, roundingMode] of [
      ['0.000000000000001', 'half-even'],
      ['0.000000000000001', 'down'],
      ['1234.567890123456789012', 'down'],
      ['1', 'half-even'],
    ] as const) {
      const drift: Record<string, bigint> = {};
      for (const residueMode of ['discard', 'carry'] as const) {
        const terms = parseInterestTerms({ tiers: singleTier('0.035'), roundingMode, residueMode, partnerMargin: { apy: '0.01' } });
        let posted = 0n;
        let exact = 0n;
        let residue: string | undefined;
        const balanceUnits = toUnits(balance, 18);
        for (let day = 0; day < 365; day += 1) {
          const result = computeDailyInterest({ balance, terms, userResidue: residue });
          residue = result.userResidue;
          posted += toUnits(result.userInterest, 18) * FINE_UNITS_PER_UNIT;
          exact += computeDailyInterestUnits({ balanceUnits, terms }).userInterestExactFineUnits;
        }
        expect(exact).toBe(365n * balanceUnits * dailyRate('0.035').rateScaled);
        drift[residueMode] = posted - exact;
        report.push(`${balance} ${roundingMode} ${residueMode}: drift ${formatUnits(posted - exact, 18 + DAILY_RATE_SCALE).replace(/0+$/, '')} BTC`);
      }
      const limit = FINE_UNITS_PER_UNIT;
      const carried = drift['carry'] ?? limit;
      expect(carried < limit && carried > -limit).toBe(true);
      const discarded = drift['discard'] ?? 0n;
      expect(discarded > 30n * FINE_UNITS_PER_UNIT || discarded < -30n * FINE_UNITS_PER_UNIT).toBe(true);
    }
    console.log(`365-day drift of posted interest (posted − exact):\n  ${report.join('\n  ')}`);
  });

  it('rejects residues that are too large, malformed, or given while residues are discarded', () => {
    const carry = parseInterestTerms({ tiers: singleTier('0.035'), residueMode: 'carry' });
    const discard = parseInterestTerms({ tiers: singleTier('0.035') });
    expectLedgerError(() => computeDailyInterest({ balance: '1', terms: carry, userResidue: '0.000000000000000001' }), 'invalid_input', 'userResidue');
    expectLedgerError(() => computeDailyInterest({ balance: '1', terms: carry, marginResidue: '1e-20' }), 'invalid_amount', 'marginResidue');
    expectLedgerError(() => computeDailyInterest({ balance: '1', terms: discard, userResidue: '0.0000000000000000001' }), 'invalid_input', 'userResidue');
    expect(computeDailyInterest({ balance: '1', terms: discard, userResidue: '0' }).userResidue).toMatch(/^0\.0{66}$/);
  });
});

describe('inputs', () => {
  const terms = parseInterestTerms({ tiers: bands });

  it('reject negative, malformed and too precise balances with typed errors', () => {
    expectLedgerError(() => computeDailyInterest({ balance: '-1', terms }), 'invalid_amount', 'balance');
    expectLedgerError(() => computeDailyInterest({ balance: '1e3', terms }), 'invalid_amount', 'balance');
    expectLedgerError(() => computeDailyInterest({ balance: '0.0000000000000000001', terms }), 'invalid_amount', 'balance');
    expectLedgerError(() => computeDailyInterest({ balance: 1 as unknown as string, terms }), 'invalid_amount', 'balance');
    expectLedgerError(() => computeDailyInterestUnits({ balanceUnits: -1n, terms }), 'invalid_amount', 'balanceUnits');
  });

  it('reject unknown or invalid terms fields, naming them', () => {
    expectLedgerError(() => parseInterestTerms({ tiers: bands, tierMod: 'marginal' }), 'invalid_input', 'tierMod');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, tierMode: 'flat' }), 'invalid_input', 'tierMode');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, roundingMode: 'nearest' }), 'invalid_input', 'roundingMode');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, residueMode: true }), 'invalid_input', 'residueMode');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, scale: 19 }), 'invalid_input', 'scale');
    expectLedgerError(() => parseInterestTerms({ tiers: bands, daysPerYear: 365.25 }), 'invalid_input', 'daysPerYear');
    expectLedgerError(() => parseInterestTerms(null), 'invalid_input', 'terms');
  });

  it('accept terms that were not parsed, validating them on every call', () => {
    const raw = { tiers: singleTier('0.035'), tierMode: 'marginal', partnerMargin: null, roundingMode: 'half-even', residueMode: 'discard', scale: 18, daysPerYear: 365 } as const;
    expect(computeDailyInterest({ balance: '1', terms: raw }).userInterest).toBe('0.000094254925873501');
    expectLedgerError(() => computeDailyInterest({ balance: '1', terms: { ...raw, scale: 40 } }), 'invalid_input', 'terms.scale');
  });

  it('give the same answer on the decimal and bigint paths, and in units', () => {
    const margin = parseInterestTerms({ tiers: bands, partnerMargin: { mode: 'rate-difference', productApy: '0.04' }, residueMode: 'carry' });
    const input = { balance: '12.345678901234567891', terms: margin, userResidue: '0.0000000000000000004' } as const;
    const result = computeDailyInterest(input);
    const { userInterestExact, partnerMarginExact, ...rounded } = computeDailyInterestDecimal(input);
    expect(rounded).toEqual(result);
    const units = computeDailyInterestUnits({ balanceUnits: toUnits(input.balance, 18), terms: margin, userResidueFineUnits: 4n * 10n ** 47n });
    expect(formatUnits(units.userInterestUnits, 18)).toBe(result.userInterest);
    expect(formatUnits(units.userResidueFineUnits, 66)).toBe(result.userResidue);
    expect(formatUnits(units.userInterestExactFineUnits, 66)).toBe(userInterestExact);
    expect(formatUnits(units.partnerMarginExactFineUnits, 66)).toBe(partnerMarginExact);
  });
});

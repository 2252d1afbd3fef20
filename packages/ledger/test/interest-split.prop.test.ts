/**
 * Properties of the interest engine that the review of h4 added: compounding day by day is the
 * daily factor applied once a day with the documented rounding, exactly; a rate-difference margin
 * and the user's interest split the product's gross interest exactly before rounding (and within
 * one unit after); a balance on a tier edge takes the upper band (whole-balance); dust and zero
 * balances earn at most what the rate gives them and never a negative amount.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatUnits } from '../src/money.js';
import type { RoundingMode } from '../src/money.js';
import { APY_SCALE_MAX, FINE_UNITS_PER_UNIT, computeDailyInterest, computeDailyInterestUnits, dailyRate, parseInterestTerms, roundFineUnits } from '../src/interest/index.js';
import type { InterestTerms } from '../src/interest/index.js';

const UNIT = 10n ** 18n;
const APY_ONE = 10n ** BigInt(APY_SCALE_MAX);
const ROUNDING_MODES: readonly RoundingMode[] = ['down', 'half-up', 'half-even', 'up'];
const apyText = (scaled: bigint): string => formatUnits(scaled, APY_SCALE_MAX);
/** Quarter points from 0 to 20 %, and now and then any APY up to 10 (1000 %). */
const apyScaledArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 80 }).map((quarterPoints) => BigInt(quarterPoints) * 25n * 10n ** 14n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n * APY_ONE }) },
);
const balanceUnitsArbitrary = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 10n ** 6n * UNIT }), fc.bigInt({ min: 0n, max: 10n ** 20n * UNIT }));
const abs = (value: bigint): bigint => (value < 0n ? -value : value);
const flat = (apy: string, roundingMode: RoundingMode): InterestTerms => parseInterestTerms({ tiers: [{ fromAmount: '0', toAmount: null, apy }], roundingMode });

describe('compounding', () => {
  it('N days of posted interest are the daily factor applied N times, each day rounded by the terms, exactly', () => {
    fc.assert(
      fc.property(balanceUnitsArbitrary, apyScaledArbitrary, fc.constantFrom(...ROUNDING_MODES), fc.integer({ min: 1, max: 60 }), (start, apyScaled, roundingMode, days) => {
        const apy = apyText(apyScaled);
        const terms = flat(apy, roundingMode);
        const factorFine = FINE_UNITS_PER_UNIT + dailyRate(apy).rateScaled;
        let engine = start;
        let factored = start;
        // The exact balance, compounded without rounding: start · factor^N, in fine units^N.
        let exact = start;
        let exactScale = 1n;
        for (let day = 0; day < days; day += 1) {
          engine += computeDailyInterestUnits({ balanceUnits: engine, terms }).userInterestUnits;
          factored = roundFineUnits(factored * factorFine, roundingMode);
          exact *= factorFine;
          exactScale *= FINE_UNITS_PER_UNIT;
        }
        expect(engine).toBe(factored);
        // Each day's rounding is under one unit, grown by the factor on the days after it:
        // within N · factor^N units of the unrounded compounding (2N at these rates and N ≤ 60).
        expect(abs(engine * exactScale - exact) <= BigInt(days) * 2n * exactScale).toBe(true);
      }),
      { numRuns: 80 },
    );
  });
});

describe('rate-difference partner margin', () => {
  it('user interest + margin = gross interest of the product rate: exactly before rounding, within one unit after', () => {
    const shape = fc
      .uniqueArray(fc.bigInt({ min: 1n, max: 10n ** 9n * UNIT }), { maxLength: 4 })
      .map((edges) => [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
      .chain((edges) => fc.tuple(fc.constant(edges), fc.array(apyScaledArbitrary, { minLength: edges.length + 1, maxLength: edges.length + 1 }), apyScaledArbitrary));
    fc.assert(
      fc.property(shape, fc.constantFrom('marginal', 'whole-balance' as const), fc.constantFrom(...ROUNDING_MODES), balanceUnitsArbitrary, ([edges, apys, extra], tierMode, roundingMode, balanceUnits) => {
        const tiers = apys.map((apy, index) => {
          const to = edges[index];
          return { fromAmount: formatUnits(index === 0 ? 0n : (edges[index - 1] ?? 0n), 18), toAmount: to === undefined ? null : formatUnits(to, 18), apy: apyText(apy) };
        });
        const productApyScaled = apys.reduce((a, b) => (a > b ? a : b), extra);
        const terms = parseInterestTerms({ tiers, tierMode, roundingMode, partnerMargin: { mode: 'rate-difference', productApy: apyText(productApyScaled) } });
        const result = computeDailyInterestUnits({ balanceUnits, terms });
        const grossFine = balanceUnits * dailyRate(apyText(productApyScaled)).rateScaled;
        expect(result.userInterestExactFineUnits + result.partnerMarginExactFineUnits).toBe(grossFine);
        expect(result.partnerMarginExactFineUnits >= 0n && result.partnerMarginUnits >= 0n).toBe(true);
        // Each is rounded on its own (under one unit each, the same direction in `down` and `up`).
        const posted = (result.userInterestUnits + result.partnerMarginUnits) * FINE_UNITS_PER_UNIT;
        expect(abs(posted - grossFine) < 2n * FINE_UNITS_PER_UNIT).toBe(true);
        if (roundingMode === 'half-up' || roundingMode === 'half-even') expect(abs(posted - grossFine) <= FINE_UNITS_PER_UNIT).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe('tier edges, dust and zero', () => {
  const bands = [
    { fromAmount: '0', toAmount: '1', apy: '0.03' },
    { fromAmount: '1', toAmount: '10', apy: '0.01' },
    { fromAmount: '10', toAmount: null, apy: '0.005' },
  ];

  it('whole-balance: a balance exactly on an edge earns the upper band (fromAmount inclusive, toAmount exclusive)', () => {
    const terms = parseInterestTerms({ tiers: bands, tierMode: 'whole-balance', roundingMode: 'down' });
    const exact = (balance: string) => computeDailyInterestUnits({ balanceUnits: BigInt(balance.replace('.', '')), terms }).userInterestExactFineUnits;
    expect(exact('1.000000000000000000')).toBe(UNIT * dailyRate('0.01').rateScaled);
    expect(exact('0.999999999999999999')).toBe((UNIT - 1n) * dailyRate('0.03').rateScaled);
    expect(exact('10.000000000000000000')).toBe(10n * UNIT * dailyRate('0.005').rateScaled);
    // Marginal: the edge is where both neighbouring slices meet; 1 BTC earns all of the first band.
    const marginal = parseInterestTerms({ tiers: bands, roundingMode: 'down' });
    expect(computeDailyInterestUnits({ balanceUnits: UNIT, terms: marginal }).userInterestExactFineUnits).toBe(UNIT * dailyRate('0.03').rateScaled);
    expect(computeDailyInterestUnits({ balanceUnits: UNIT + 1n, terms: marginal }).userInterestExactFineUnits).toBe(UNIT * dailyRate('0.03').rateScaled + dailyRate('0.01').rateScaled);
  });

  it('never pays more than the balance times the highest rate, rounded up, nor less than zero', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 4n }), apyScaledArbitrary, fc.constantFrom(...ROUNDING_MODES), (balanceUnits, apyScaled, roundingMode) => {
        const apy = apyText(apyScaled);
        const result = computeDailyInterest({ balance: formatUnits(balanceUnits, 18), terms: flat(apy, roundingMode) });
        const posted = BigInt(result.userInterest.replace('.', ''));
        const ceiling = (balanceUnits * dailyRate(apy).rateScaled + FINE_UNITS_PER_UNIT - 1n) / FINE_UNITS_PER_UNIT;
        expect(posted >= 0n && posted <= ceiling).toBe(true);
        if (balanceUnits === 0n) expect(posted).toBe(0n);
      }),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/errors.js';
import { formatUnits } from '../src/money.js';
import type { RoundingMode } from '../src/money.js';
import {
  APY_SCALE_MAX,
  DAILY_RATE_SCALE,
  DAYS_PER_YEAR_MAX,
  DAYS_PER_YEAR_MIN,
  FINE_UNITS_PER_UNIT,
  computeDailyInterest,
  computeDailyInterestUnits,
  dailyRate,
  formatFineUnits,
  parseInterestTerms,
} from '../src/interest/index.js';
import type { DailyInterestUnits, InterestTerms, InterestTermsInput, TierMode } from '../src/interest/index.js';
import { computeDailyInterestDecimal } from '../src/interest/interest-decimal.js';

const SCALE = 18;
const UNIT = 10n ** BigInt(SCALE);
const APY_ONE = 10n ** BigInt(APY_SCALE_MAX);
const ROUNDING_MODES: readonly RoundingMode[] = ['down', 'half-up', 'half-even', 'up'];

/** Any APY in [0, 10] as 18-decimal units. Each new one costs a root of a few milliseconds. */
const anyApyScaledArbitrary = fc.bigInt({ min: 0n, max: 10n * APY_ONE });
/** An APY as 18-decimal units: mostly realistic rates (quarter points up to 20 %), some anywhere in [0, 10]. */
const apyScaledArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 80 }).map((quarterPoints) => BigInt(quarterPoints) * 25n * 10n ** 14n) },
  { weight: 1, arbitrary: anyApyScaledArbitrary },
);
const apyText = (scaled: bigint): string => formatUnits(scaled, APY_SCALE_MAX);
const apyArbitrary = apyScaledArbitrary.map(apyText);

/** Balances in units: small, everyday, and up to the 10^24-coin limit. */
const balanceUnitsArbitrary = fc.oneof(
  fc.bigInt({ min: 0n, max: 10n ** 6n }),
  fc.bigInt({ min: 0n, max: 10n ** 6n * UNIT }),
  fc.bigInt({ min: 0n, max: 10n ** 24n * UNIT - 1n }),
);

interface TierShape {
  /** Edges in units, strictly increasing and positive: band i spans edges[i − 1] (or 0) to edges[i]. */
  readonly edges: readonly bigint[];
  readonly apys: readonly bigint[];
}

/** Tiers of 1 to 5 bands with edges up to 10^9 coins at `scale`. */
const tierShapeArbitrary = (options: { readonly nondecreasing?: boolean; readonly scale?: number } = {}): fc.Arbitrary<TierShape> =>
  fc
    .uniqueArray(fc.bigInt({ min: 1n, max: 10n ** BigInt(9 + (options.scale ?? SCALE)) }), { minLength: 0, maxLength: 4 })
    .chain((edges) =>
      fc.array(apyScaledArbitrary, { minLength: edges.length + 1, maxLength: edges.length + 1 }).map((apys) => ({
        edges: [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        apys: options.nondecreasing === true ? [...apys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : apys,
      })),
    );

function tiersOf(shape: TierShape, scale = SCALE): InterestTermsInput['tiers'] {
  return shape.apys.map((apy, index) => {
    const from = index === 0 ? 0n : (shape.edges[index - 1] ?? 0n);
    const to = shape.edges[index];
    return { fromAmount: formatUnits(from, scale), toAmount: to === undefined ? null : formatUnits(to, scale), apy: apyText(apy) };
  });
}

const maxOf = (values: readonly bigint[]): bigint => values.reduce((a, b) => (a > b ? a : b), 0n);

/** Any valid terms: tiers, mode, margin of either kind or none, rounding, residue mode, scale. */
const termsArbitrary = fc
  .record({
    scale: fc.constantFrom(18, 18, 8, 2, 0),
    tierMode: fc.constantFrom<TierMode>('marginal', 'whole-balance'),
    margin: fc.constantFrom('none', 'own-apy', 'rate-difference'),
    marginApy: apyScaledArbitrary,
    roundingMode: fc.constantFrom(...ROUNDING_MODES),
    residueMode: fc.constantFrom('carry', 'discard'),
  })
  .chain((options) =>
    tierShapeArbitrary({ scale: options.scale }).map((shape) =>
      parseInterestTerms({
        tiers: tiersOf(shape, options.scale),
        tierMode: options.tierMode,
        partnerMargin:
          options.margin === 'none'
            ? null
            : options.margin === 'own-apy'
              ? { mode: 'own-apy', apy: apyText(options.marginApy) }
              : { mode: 'rate-difference', productApy: apyText(maxOf([...shape.apys, options.marginApy])) },
        roundingMode: options.roundingMode,
        residueMode: options.residueMode,
        scale: options.scale,
      }),
    ),
  );

const units = (balanceUnits: bigint, terms: InterestTerms): DailyInterestUnits => computeDailyInterestUnits({ balanceUnits, terms });

describe('daily factor', () => {
  it('compounded daysPerYear times equals 1 + APY within 1e-30 (and is the 48-decimal truncation)', () => {
    fc.assert(
      fc.property(anyApyScaledArbitrary, fc.integer({ min: DAYS_PER_YEAR_MIN, max: DAYS_PER_YEAR_MAX }), (apyScaled, daysPerYear) => {
        const rate = dailyRate(apyText(apyScaled), { daysPerYear });
        const days = BigInt(daysPerYear);
        const factor = FINE_UNITS_PER_UNIT + rate.rateScaled;
        const denominator = FINE_UNITS_PER_UNIT ** days;
        const target = ((APY_ONE + apyScaled) * denominator) / APY_ONE;
        const compounded = factor ** days;
        // |factor^days − (1 + APY)| < 1e-30, all in integers scaled by 10^(48·days).
        const difference = compounded > target ? compounded - target : target - compounded;
        expect(difference * 10n ** 30n < denominator).toBe(true);
        // Truncation: the factor is at or below the true root, one more 1e-48 is above it.
        expect(compounded * APY_ONE <= (APY_ONE + apyScaled) * denominator).toBe(true);
        expect((factor + 1n) ** days * APY_ONE > (APY_ONE + apyScaled) * denominator).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});

describe('interest', () => {
  it('compounds a constant balance by APY in 365 days, within 365·(1 + APY) + 1 units', () => {
    fc.assert(
      fc.property(
        // Up to 10^22 coins, so that a year at APY_MAX stays below the 10^24-coin limit.
        fc.bigInt({ min: 0n, max: 10n ** 22n * UNIT }),
        apyScaledArbitrary,
        fc.constantFrom(...ROUNDING_MODES),
        (start, apyScaled, roundingMode) => {
          const terms = parseInterestTerms({ tiers: [{ fromAmount: '0', toAmount: null, apy: apyText(apyScaled) }], roundingMode });
          let balance = start;
          for (let day = 0; day < 365; day += 1) balance += units(balance, terms).userInterestUnits;
          // Each day's rounding is off by less than one unit and grows with the balance by at most
          // (1 + APY) over the year; the 48-decimal rate adds less than 1e-20 of a unit on 10^24 coins.
          const expected = start * (APY_ONE + apyScaled);
          const actual = balance * APY_ONE;
          const difference = actual > expected ? actual - expected : expected - actual;
          expect(difference <= 365n * (APY_ONE + apyScaled) + APY_ONE).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is zero for a zero balance, whatever the terms', () => {
    fc.assert(
      fc.property(termsArbitrary, (terms) => {
        const result = computeDailyInterest({ balance: '0', terms });
        expect(BigInt(result.userInterest.replace('.', ''))).toBe(0n);
        expect(BigInt(result.partnerMargin.replace('.', ''))).toBe(0n);
        const exact = units(0n, terms);
        expect(exact.userInterestExactFineUnits === 0n && exact.partnerMarginExactFineUnits === 0n).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('is monotone in the balance (marginal tiers of any rates; whole-balance with rising rates)', () => {
    const modeAndShape = fc
      .constantFrom<TierMode>('marginal', 'whole-balance')
      .chain((tierMode) => fc.tuple(fc.constant(tierMode), tierShapeArbitrary({ nondecreasing: tierMode === 'whole-balance' })));
    fc.assert(
      fc.property(modeAndShape, fc.boolean(), fc.constantFrom(...ROUNDING_MODES), balanceUnitsArbitrary, balanceUnitsArbitrary, ([tierMode, shape], withMargin, roundingMode, a, b) => {
        const terms = parseInterestTerms({
          tiers: tiersOf(shape),
          tierMode,
          roundingMode,
          // A rate-difference margin under whole-balance tiers mirrors the user's cliff (it drops
          // where the user's rate jumps), so it is monotone only with marginal tiers.
          partnerMargin: !withMargin
            ? null
            : tierMode === 'marginal'
              ? { mode: 'rate-difference', productApy: apyText(maxOf(shape.apys)) }
              : { mode: 'own-apy', apy: apyText(shape.apys[0] ?? 0n) },
        });
        const [low, high] = a <= b ? [a, b] : [b, a];
        const lower = units(low, terms);
        const higher = units(high, terms);
        expect(lower.userInterestExactFineUnits <= higher.userInterestExactFineUnits).toBe(true);
        expect(lower.userInterestUnits <= higher.userInterestUnits).toBe(true);
        expect(lower.partnerMarginUnits <= higher.partnerMarginUnits).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('is monotone in the rate', () => {
    fc.assert(
      fc.property(
        tierShapeArbitrary(),
        fc.array(apyScaledArbitrary, { minLength: 5, maxLength: 5 }),
        fc.constantFrom<TierMode>('marginal', 'whole-balance'),
        fc.constantFrom(...ROUNDING_MODES),
        balanceUnitsArbitrary,
        (shape, raises, tierMode, roundingMode, balance) => {
          // Raise each band's APY by a random amount, capped at APY_MAX.
          const higher = { ...shape, apys: shape.apys.map((apy, index) => apy + ((raises[index] ?? 0n) * (10n * APY_ONE - apy)) / (10n * APY_ONE)) };
          const low = units(balance, parseInterestTerms({ tiers: tiersOf(shape), tierMode, roundingMode }));
          const high = units(balance, parseInterestTerms({ tiers: tiersOf(higher), tierMode, roundingMode }));
          expect(low.userInterestExactFineUnits <= high.userInterestExactFineUnits).toBe(true);
          expect(low.userInterestUnits <= high.userInterestUnits).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('tiers', () => {
  it('marginal: equals the sum of per-band slices, each at its band rate, and is continuous at band edges', () => {
    fc.assert(
      fc.property(tierShapeArbitrary(), balanceUnitsArbitrary, (shape, balance) => {
        const terms = parseInterestTerms({ tiers: tiersOf(shape), tierMode: 'marginal' });
        let expected = 0n;
        for (const [index, apy] of shape.apys.entries()) {
          const from = index === 0 ? 0n : (shape.edges[index - 1] ?? 0n);
          const to = shape.edges[index];
          const top = to === undefined || balance < to ? balance : to;
          if (top <= from) continue;
          // Each slice on its own, as a flat single-band product.
          const flat = parseInterestTerms({ tiers: [{ fromAmount: '0', toAmount: null, apy: apyText(apy) }] });
          expected += units(top - from, flat).userInterestExactFineUnits;
        }
        expect(units(balance, terms).userInterestExactFineUnits).toBe(expected);
        // One unit of balance either side of any edge changes the interest by at most one unit times the highest rate.
        const rateMax = maxOf(shape.apys.map((apy) => dailyRate(apyText(apy)).rateScaled));
        for (const edge of shape.edges) {
          const at = units(edge, terms).userInterestExactFineUnits;
          const below = units(edge - 1n, terms).userInterestExactFineUnits;
          const above = units(edge + 1n, terms).userInterestExactFineUnits;
          expect(at - below <= rateMax && above - at <= rateMax).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('with one band, marginal and whole-balance agree', () => {
    fc.assert(
      fc.property(apyArbitrary, balanceUnitsArbitrary, fc.constantFrom(...ROUNDING_MODES), (apy, balance, roundingMode) => {
        const tiers = [{ fromAmount: '0', toAmount: null, apy }];
        const marginal = parseInterestTerms({ tiers, tierMode: 'marginal', roundingMode });
        const whole = parseInterestTerms({ tiers, tierMode: 'whole-balance', roundingMode });
        const balanceText = formatUnits(balance, SCALE);
        expect(computeDailyInterest({ balance: balanceText, terms: whole })).toEqual(computeDailyInterest({ balance: balanceText, terms: marginal }));
        expect(units(balance, whole)).toEqual(units(balance, marginal));
        expect(computeDailyInterestDecimal({ balance: balanceText, terms: whole })).toEqual(computeDailyInterestDecimal({ balance: balanceText, terms: marginal }));
      }),
      { numRuns: 100 },
    );
  });
});

describe('residue carry', () => {
  it('keeps the posted total of N days within one unit of the unrounded total', () => {
    fc.assert(
      fc.property(
        termsArbitrary.map((terms) => parseInterestTerms({ ...terms, residueMode: 'carry' })),
        fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 3n }), balanceUnitsArbitrary), { minLength: 1, maxLength: 400 }),
        (terms, balances) => {
          let userResidue: string | undefined;
          let marginResidue: string | undefined;
          let postedDifference = 0n;
          let marginDifference = 0n;
          const fine = (text: string): bigint => BigInt(text.replace('.', ''));
          for (const balanceUnits of balances) {
            const bounded = balanceUnits % 10n ** BigInt(24 + terms.scale);
            const result = computeDailyInterest({ balance: formatUnits(bounded, terms.scale), terms, userResidue, marginResidue });
            const exact = units(bounded, terms);
            userResidue = result.userResidue;
            marginResidue = result.marginResidue;
            postedDifference += fine(result.userInterest) * FINE_UNITS_PER_UNIT - exact.userInterestExactFineUnits;
            marginDifference += fine(result.partnerMargin) * FINE_UNITS_PER_UNIT - exact.partnerMarginExactFineUnits;
            expect(fine(result.userInterest) >= 0n && fine(result.partnerMargin) >= 0n).toBe(true);
          }
          // posted − exact is exactly minus the last residue, which is below one unit.
          expect(postedDifference).toBe(-fine(userResidue ?? '0'));
          expect(marginDifference).toBe(-fine(marginResidue ?? '0'));
          expect(postedDifference < FINE_UNITS_PER_UNIT && postedDifference > -FINE_UNITS_PER_UNIT).toBe(true);
          expect(marginDifference < FINE_UNITS_PER_UNIT && marginDifference > -FINE_UNITS_PER_UNIT).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('bigint fast path', () => {
  it('gives exactly the strings of the big.js path for any balance, terms and residue', () => {
    fc.assert(
      fc.property(
        termsArbitrary,
        balanceUnitsArbitrary,
        fc.bigInt({ min: -FINE_UNITS_PER_UNIT + 1n, max: FINE_UNITS_PER_UNIT - 1n }),
        fc.bigInt({ min: -FINE_UNITS_PER_UNIT + 1n, max: FINE_UNITS_PER_UNIT - 1n }),
        fc.boolean(),
        fc.boolean(),
        (terms, balanceUnits, userResidue, marginResidue, atEdge, trimmed) => {
          // Edges are where tier logic branches: aim at them half of the time.
          const edge = terms.tiers[terms.tiers.length - 1]?.fromAmount ?? '0';
          const canonical = atEdge ? edge : formatUnits(balanceUnits % 10n ** BigInt(24 + terms.scale), terms.scale);
          // Balances without trailing zeros ("1.5") take another parsing path than canonical ones.
          const balance = trimmed && canonical.includes('.') ? canonical.replace(/\.?0+$/, '') : canonical;
          const carry = terms.residueMode === 'carry';
          const input = {
            balance,
            terms,
            userResidue: carry ? formatUnits(userResidue, terms.scale + DAILY_RATE_SCALE) : undefined,
            marginResidue: carry ? formatUnits(marginResidue, terms.scale + DAILY_RATE_SCALE) : undefined,
          };
          const { userInterestExact, partnerMarginExact, ...rounded } = computeDailyInterestDecimal(input);
          expect(computeDailyInterest(input)).toEqual(rounded);
          // The integer core agrees too, on the unrounded values as well.
          const core = computeDailyInterestUnits({
            balanceUnits: BigInt(canonical.replace('.', '')),
            terms,
            userResidueFineUnits: carry ? userResidue : undefined,
            marginResidueFineUnits: carry ? marginResidue : undefined,
          });
          expect(formatFineUnits(core.userInterestExactFineUnits, terms.scale)).toBe(userInterestExact);
          expect(formatFineUnits(core.partnerMarginExactFineUnits, terms.scale)).toBe(partnerMarginExact);
          expect(formatUnits(core.userInterestUnits, terms.scale)).toBe(rounded.userInterest);
          expect(formatFineUnits(core.marginResidueFineUnits, terms.scale)).toBe(rounded.marginResidue);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('invalid input', () => {
  const valid = (): Record<string, unknown> => ({
    tiers: [
      { fromAmount: '0', toAmount: '1', apy: '0.03' },
      { fromAmount: '1', toAmount: '10', apy: '0.02' },
      { fromAmount: '10', toAmount: null, apy: '0.01' },
    ],
  });

  /** A broken input and the field its error must name. */
  const brokenTermsArbitrary: fc.Arbitrary<readonly [Record<string, unknown>, string]> = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.oneof(fc.string(), fc.constantFrom('-0.1', '10.1', '1e-2', '0.5%', ' 0.1'), fc.double(), fc.constant(null))).filter(
      ([, apy]) => typeof apy !== 'string' || !/^\d+(\.\d{1,18})?$/.test(apy) || Number(apy) > 10,
    ).map(([index, apy]) => {
      const terms = valid();
      (terms['tiers'] as Record<string, unknown>[])[index] = { ...(terms['tiers'] as Record<string, unknown>[])[index], apy };
      return [terms, `tiers[${index}].apy`] as const;
    }),
    fc.bigInt({ min: 1n, max: 10n ** 18n }).map((from) => {
      const terms = valid();
      (terms['tiers'] as Record<string, unknown>[])[0] = { fromAmount: formatUnits(from, 18), toAmount: '1', apy: '0.03' };
      return [terms, 'tiers[0].fromAmount'] as const;
    }),
    fc.bigInt({ min: 0n, max: 10n * 10n ** 18n }).filter((from) => from !== 10n ** 18n).map((from) => {
      // A gap (from above the previous edge) or an overlap (below it).
      const terms = valid();
      (terms['tiers'] as Record<string, unknown>[])[1] = { fromAmount: formatUnits(from, 18), toAmount: '10', apy: '0.02' };
      return [terms, 'tiers[1].fromAmount'] as const;
    }),
    fc.bigInt({ min: 1n, max: 10n ** 30n }).map((to) => {
      const terms = valid();
      (terms['tiers'] as Record<string, unknown>[])[2] = { fromAmount: '10', toAmount: formatUnits(to, 18), apy: '0.01' };
      return [terms, 'tiers[2].toAmount'] as const;
    }),
    fc.constantFrom('scale', 'daysPerYear', 'tierMode', 'roundingMode', 'residueMode').chain((field) =>
      fc
        .oneof(fc.string(), fc.integer({ min: 367, max: 10_000 }), fc.double({ noInteger: true }), fc.constant(null))
        .filter((value) => !['marginal', 'whole-balance', 'down', 'up', 'half-up', 'half-even', 'carry', 'discard'].includes(String(value)))
        .map((value) => [{ ...valid(), [field]: value }, field] as const),
    ),
  );

  it('rejects invalid tiers, rates and terms with a LedgerError naming the field', () => {
    fc.assert(
      fc.property(brokenTermsArbitrary, ([input, field]) => {
        let caught: unknown;
        try {
          parseInterestTerms(input);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(LedgerError);
        expect((caught as LedgerError).field).toBe(field);
        expect(['invalid_input', 'invalid_amount']).toContain((caught as LedgerError).code);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects negative, malformed and over-precise balances with a LedgerError on balance', () => {
    const terms = parseInterestTerms(valid());
    const broken = fc.oneof(
      fc.bigInt({ min: -(10n ** 30n), max: -1n }).map((units) => formatUnits(units, 18)),
      fc.bigInt({ min: 1n, max: 10n ** 30n }).map((units) => `${formatUnits(units, 18)}1`),
      fc.string().filter((text) => !/^\d+(\.\d{0,18})?$/.test(text) || text.endsWith('.')),
      fc.double(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(broken, (balance) => {
        let caught: unknown;
        try {
          computeDailyInterest({ balance: balance as string, terms });
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(LedgerError);
        expect((caught as LedgerError).code).toBe('invalid_amount');
        expect((caught as LedgerError).field).toBe('balance');
      }),
      { numRuns: 300 },
    );
  });
});

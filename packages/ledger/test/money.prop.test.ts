/**
 * Properties of the money module: canonical strings round-trip through minor units at every
 * scale, the arithmetic equals bigint arithmetic, nothing ever prints an exponent, rounding
 * equals a bigint reference, and every malformed input is refused with `invalid_amount` naming
 * the field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AMOUNT_INTEGER_DIGITS_MAX,
  AMOUNT_SCALE_MAX,
  LedgerError,
  addAmounts,
  compareAmounts,
  formatUnits,
  negateAmount,
  parseAmount,
  parseUnits,
  roundDecimal,
  subtractAmounts,
  sumAmounts,
  toDecimal,
  toUnits,
} from '../src/index.js';
import type { RoundingMode } from '../src/index.js';
import { AMOUNT_TEXT_LENGTH_MAX, STORED_UNITS_MAX, absoluteStoredAmount, unitsToDecimal } from '../src/money.js';

const ROUNDING_MODES: readonly RoundingMode[] = ['down', 'half-up', 'half-even', 'up'];
const scaleArbitrary = fc.integer({ min: 0, max: AMOUNT_SCALE_MAX });

/** Minor units at `scale` whose whole part fits the input limit, biased to small and extreme values. */
function unitsArbitrary(scale: number): fc.Arbitrary<bigint> {
  const max = 10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + scale) - 1n;
  return fc.oneof(
    fc.bigInt({ min: -1_000n, max: 1_000n }),
    fc.bigInt({ min: -(10n ** BigInt(scale + 3)), max: 10n ** BigInt(scale + 3) }),
    fc.bigInt({ min: -max, max }),
    fc.constantFrom(0n, 1n, -1n, max, -max),
  );
}

/** A scale and units at that scale. */
const scaledUnitsArbitrary = scaleArbitrary.chain((scale) => fc.tuple(fc.constant(scale), unitsArbitrary(scale)));

/** The sign of a bigint as compareAmounts answers. */
const signOf = (value: bigint): -1 | 0 | 1 => (value < 0n ? -1 : value > 0n ? 1 : 0);

/** Catches what `work` throws (or fails if it returns). */
function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, got a result');
}

function expectInvalidAmount(work: () => unknown, field: string): void {
  const error = thrownBy(work);
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe('invalid_amount');
  expect((error as LedgerError).field).toBe(field);
}

/**
 * Reference rounding of `units` at `fromScale` to `toScale` decimals with plain bigint arithmetic:
 * `down` toward zero, `up` away from zero, `half-up` ties away from zero, `half-even` ties to even.
 */
function roundReference(units: bigint, fromScale: number, toScale: number, mode: RoundingMode): bigint {
  if (toScale >= fromScale) return units * 10n ** BigInt(toScale - fromScale);
  const divisor = 10n ** BigInt(fromScale - toScale);
  const magnitude = units < 0n ? -units : units;
  const quotient = magnitude / divisor;
  const twiceRemainder = (magnitude % divisor) * 2n;
  let rounded = quotient;
  if (mode === 'up' && twiceRemainder > 0n) rounded = quotient + 1n;
  if (mode === 'half-up' && twiceRemainder >= divisor) rounded = quotient + 1n;
  if (mode === 'half-even' && (twiceRemainder > divisor || (twiceRemainder === divisor && quotient % 2n === 1n))) rounded = quotient + 1n;
  return units < 0n ? -rounded : rounded;
}

describe('money round trips', () => {
  it('formatUnits then parseUnits gives the same units, at every scale', () => {
    fc.assert(
      fc.property(scaledUnitsArbitrary, ([scale, units]) => {
        const text = formatUnits(units, scale);
        expect(parseUnits(text, { field: 'amount', scale, allowNegative: true })).toBe(units);
        expect(toUnits(text, scale)).toBe(units);
      }),
      { numRuns: 500 },
    );
  });

  it('parseUnits then formatUnits gives back a canonical string, and parseAmount canonicalises any spelling', () => {
    fc.assert(
      fc.property(scaledUnitsArbitrary, fc.nat({ max: 3 }), fc.nat({ max: 18 }), ([scale, units], leadingZeros, trailingCut) => {
        const canonical = formatUnits(units, scale);
        expect(formatUnits(parseUnits(canonical, { field: 'amount', scale, allowNegative: true }), scale)).toBe(canonical);
        // The same amount spelled with leading zeros and fewer trailing zeros parses to the same.
        const sign = canonical.startsWith('-') ? '-' : '';
        let body = canonical.slice(sign.length);
        for (let cut = 0; cut < trailingCut && body.includes('.') && body.endsWith('0'); cut++) body = body.slice(0, -1);
        if (body.endsWith('.')) body = body.slice(0, -1);
        const spelled = `${sign}${'0'.repeat(leadingZeros)}${body}`;
        if (spelled.length <= AMOUNT_TEXT_LENGTH_MAX) {
          expect(parseAmount(spelled, { field: 'amount', scale, allowNegative: true })).toBe(canonical);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('formats every canonical string with exactly `scale` decimals and never an exponent', () => {
    fc.assert(
      fc.property(scaleArbitrary, fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }), (scale, units) => {
        const text = formatUnits(units, scale);
        expect(text).not.toMatch(/e/i);
        expect(text).toMatch(scale === 0 ? /^-?(0|[1-9]\d*)$/ : new RegExp(`^-?(0|[1-9]\\d*)\\.\\d{${scale}}$`));
        expect(text).not.toMatch(/^-0(\.0*)?$/);
      }),
      { numRuns: 300 },
    );
    for (const units of [0n, 1n, -1n, 10n ** 60n, -(10n ** 60n)]) expect(formatUnits(units)).not.toMatch(/e/i);
    expect(formatUnits(1n)).toBe('0.000000000000000001');
    expect(formatUnits(-1n, 0)).toBe('-1');
  });
});

describe('the magnitude of a stored amount', () => {
  it('is formatUnits of the absolute units, for the stored form and for any other spelling', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -STORED_UNITS_MAX, max: STORED_UNITS_MAX }), fc.nat({ max: 17 }), (units, cut) => {
        const magnitude = formatUnits(units < 0n ? -units : units);
        expect(absoluteStoredAmount(formatUnits(units))).toBe(magnitude);
        // Not the stored form (fewer decimals): parsed, the same magnitude.
        let shorter: string = formatUnits(units);
        for (let at = 0; at < cut && shorter.endsWith('0'); at++) shorter = shorter.slice(0, -1);
        expect(absoluteStoredAmount(shorter)).toBe(magnitude);
      }),
      { numRuns: 500 },
    );
    expect(absoluteStoredAmount('-0.000000000000000000')).toBe('0.000000000000000000');
    expect(absoluteStoredAmount('-1.5')).toBe('1.500000000000000000');
    expect(() => absoluteStoredAmount('1e5')).toThrow(LedgerError);
  });
});

describe('money arithmetic', () => {
  it('adds, subtracts, negates and sums exactly like bigint', () => {
    fc.assert(
      fc.property(
        scaleArbitrary.chain((scale) => fc.tuple(fc.constant(scale), unitsArbitrary(scale), unitsArbitrary(scale), fc.array(unitsArbitrary(scale), { maxLength: 8 }))),
        ([scale, a, b, many]) => {
          const text = (units: bigint) => formatUnits(units, scale);
          expect(addAmounts(text(a), text(b), scale)).toBe(text(a + b));
          expect(subtractAmounts(text(a), text(b), scale)).toBe(text(a - b));
          expect(negateAmount(text(a), scale)).toBe(text(-a));
          expect(sumAmounts(many.map(text), scale)).toBe(text(many.reduce((sum, units) => sum + units, 0n)));
          // Identities: a + b − b = a (while a + b is itself a readable amount); a + (−a) = 0
          // (canonical zero, no sign).
          const limit = 10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + scale);
          if (a + b < limit && a + b > -limit) expect(subtractAmounts(addAmounts(text(a), text(b), scale), text(b), scale)).toBe(text(a));
          expect(addAmounts(text(a), negateAmount(text(a), scale), scale)).toBe(text(0n));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('compares consistently with bigint order: antisymmetric and transitive', () => {
    fc.assert(
      fc.property(
        scaleArbitrary.chain((scale) => fc.tuple(fc.constant(scale), unitsArbitrary(scale), unitsArbitrary(scale), unitsArbitrary(scale))),
        ([scale, a, b, c]) => {
          const text = (units: bigint) => formatUnits(units, scale);
          expect(compareAmounts(text(a), text(b), scale)).toBe(signOf(a - b));
          expect(compareAmounts(text(b), text(a), scale)).toBe(0 - compareAmounts(text(a), text(b), scale));
          expect(compareAmounts(text(a), text(a), scale)).toBe(0);
          const sorted = [a, b, c].map(text).sort((x, y) => compareAmounts(x, y, scale));
          expect(sorted).toEqual([a, b, c].sort((x, y) => signOf(x - y)).map(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rounds like the bigint reference in every mode, without an exponent or a signed zero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 36 }).chain((fromScale) =>
          fc.tuple(
            fc.constant(fromScale),
            fc.oneof(fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }), fc.bigInt({ min: -(10n ** 50n), max: 10n ** 50n })),
            scaleArbitrary,
            fc.constantFrom(...ROUNDING_MODES),
          ),
        ),
        ([fromScale, units, scale, roundingMode]) => {
          const value = toDecimal(formatUnits(units, fromScale));
          const rounded = roundDecimal(value, { scale, roundingMode });
          expect(rounded).toBe(formatUnits(roundReference(units, fromScale, scale, roundingMode), scale));
          expect(rounded).not.toMatch(/e/i);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('rounds exact products (as interest does) like the bigint reference', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        scaleArbitrary,
        fc.constantFrom(...ROUNDING_MODES),
        (balanceUnits, rateUnits, scale, roundingMode) => {
          const product = unitsToDecimal(balanceUnits).times(unitsToDecimal(rateUnits));
          expect(roundDecimal(product, { scale, roundingMode })).toBe(formatUnits(roundReference(balanceUnits * rateUnits, 36, scale, roundingMode), scale));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('rounds the ties and tiny values each mode is about', () => {
    const round = (text: string, roundingMode: RoundingMode, scale = 0) => roundDecimal(toDecimal(text), { scale, roundingMode });
    expect(['2.5', '3.5', '-2.5', '2.4', '-2.6'].map((text) => round(text, 'half-even'))).toEqual(['2', '4', '-2', '2', '-3']);
    expect(['2.5', '-2.5', '2.4'].map((text) => round(text, 'half-up'))).toEqual(['3', '-3', '2']);
    expect(['2.1', '-2.1', '2.0'].map((text) => round(text, 'up'))).toEqual(['3', '-3', '2']);
    expect(['2.9', '-2.9'].map((text) => round(text, 'down'))).toEqual(['2', '-2']);
    expect(round('-0.000000000000000000001', 'half-even', 18)).toBe('0.000000000000000000');
    expect(round('0.0000000000000000005', 'half-up', 18)).toBe('0.000000000000000001');
    expect(round('1e-30', 'down', 18)).toBe('0.000000000000000000');
  });
});

describe('money input validation', () => {
  const oracleAccepts = (text: string, scale: number, allowNegative: boolean, allowZero: boolean): boolean => {
    if (text.length === 0 || text.length > AMOUNT_TEXT_LENGTH_MAX) return false;
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (match === null) return false;
    const [, sign = '', whole = '', fraction = ''] = match;
    if (fraction.length > scale) return false;
    if (whole.replace(/^0+(?=\d)/, '').length > AMOUNT_INTEGER_DIGITS_MAX) return false;
    const zero = /^0+$/.test(whole) && /^0*$/.test(fraction);
    if (sign === '-' && !zero && !allowNegative) return false;
    return !(zero && !allowZero);
  };

  it('accepts exactly the plain decimals within the limits, and names the field otherwise', () => {
    const characters = fc.constantFrom('0', '1', '5', '9', '.', '-', '+', 'e', 'E', ' ', ',', 'x', '_', '١', '１', '\n');
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: characters, maxLength: 12 }), fc.string({ unit: characters, minLength: 20, maxLength: 48 })),
        scaleArbitrary,
        fc.boolean(),
        fc.boolean(),
        (text, scale, allowNegative, allowZero) => {
          const options = { field: 'entries[3].amount', scale, allowNegative, allowZero };
          if (oracleAccepts(text, scale, allowNegative, allowZero)) {
            expect(formatUnits(parseUnits(text, options), scale)).toBe(parseAmount(text, options));
          } else {
            expectInvalidAmount(() => parseUnits(text, options), 'entries[3].amount');
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('refuses non-strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer(),
          fc.bigInt(),
          fc.boolean(),
          fc.constantFrom(null, undefined, Number.NaN, Number.POSITIVE_INFINITY, 1e-8),
          fc.object(),
          fc.array(fc.string()),
          fc.string().map((text) => new String(text)),
        ),
        (value) => {
          expectInvalidAmount(() => parseUnits(value, { field: 'amount' }), 'amount');
          expectInvalidAmount(() => parseAmount(value, { field: 'balance', scale: 8 }), 'balance');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses exponents, NaN, Infinity, white space, signs, bare dots, separators, hex and non-ASCII digits', () => {
    const bad = ['1e5', '1E5', '1e-5', '1.5e3', 'NaN', 'nan', 'Infinity', '-Infinity', '', ' ', ' 1', '1 ', '\t1', '1\n', '+1', '--1', '-', '.', '.5', '5.', '-.5', '1,5', '1.2.3', '1_000', '0x10', '0b1', '١', '١٢', '１', '1٫5', '½'];
    for (const text of bad) expectInvalidAmount(() => parseUnits(text, { field: 'amount', allowNegative: true }), 'amount');
  });

  it('refuses more decimals than the scale, more whole digits than the limit, negatives unless allowed, and zero when told', () => {
    fc.assert(
      fc.property(scaleArbitrary, fc.integer({ min: 1, max: 9 }), (scale, digit) => {
        expectInvalidAmount(() => parseUnits(`0.${'0'.repeat(scale)}${digit}`, { field: 'amount', scale }), 'amount');
        if (scale > 0) expect(parseUnits(`0.${'0'.repeat(scale - 1)}${digit}`, { field: 'amount', scale })).toBe(BigInt(digit));
        expectInvalidAmount(() => parseUnits(`-${digit}`, { field: 'amount', scale }), 'amount');
        expect(parseUnits(`-${digit}`, { field: 'amount', scale, allowNegative: true })).toBe(-BigInt(digit) * 10n ** BigInt(scale));
        expectInvalidAmount(() => parseUnits('0', { field: 'amount', scale, allowZero: false }), 'amount');
      }),
      { numRuns: 100 },
    );
    expect(parseUnits('9'.repeat(AMOUNT_INTEGER_DIGITS_MAX), { field: 'amount' })).toBe(10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + 18) - 10n ** 18n);
    expectInvalidAmount(() => parseUnits(`1${'0'.repeat(AMOUNT_INTEGER_DIGITS_MAX)}`, { field: 'amount' }), 'amount');
    expectInvalidAmount(() => parseUnits('1.5', { field: 'amount', scale: 0 }), 'amount');
  });
});

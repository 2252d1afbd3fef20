import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EarnApiError, validateContract } from '../src/index.js';
import { redact, sanitizeCause } from '../src/errors.js';
import { isInstantText } from '../src/contract/instant.js';

const digits = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

function outstanding(value: unknown): boolean {
  try {
    validateContract('OutstandingBalance', { currency: 'BTC', outstandingBalance: value });
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return false;
  }
}

describe('amount strings (property)', () => {
  it('accepts every signed decimal with 1-24 integer digits and up to 18 decimals', () => {
    fc.assert(
      fc.property(fc.boolean(), digits(1, 24), fc.option(digits(1, 18), { nil: undefined }), (negative, integer, fraction) => {
        const amount = `${negative ? '-' : ''}${integer}${fraction === undefined ? '' : `.${fraction}`}`;
        expect(outstanding(amount)).toBe(true);
      }),
    );
  });

  it('rejects more than 18 decimals, exponents and numbers', () => {
    fc.assert(
      fc.property(digits(1, 5), digits(19, 30), fc.integer({ min: -30, max: 30 }), fc.double({ noNaN: true }), (integer, fraction, exponent, number) => {
        expect(outstanding(`${integer}.${fraction}`)).toBe(false);
        expect(outstanding(`${integer}e${exponent}`)).toBe(false);
        expect(outstanding(number)).toBe(false);
      }),
    );
  });
});

describe('redaction (property)', () => {
  it('no secret survives redact or sanitizeCause, wherever it appears', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 40 }), fc.string(), fc.string(), (secret, before, after) => {
        const text = `${before}${secret}${after}${encodeURIComponent(secret)}`;
        expect(redact(text, [secret])).not.toContain(secret);
        const error = new Error(text, { cause: new Error(`inner ${secret}`) });
        const sanitized = sanitizeCause(error, [secret]) as Error;
        expect(sanitized.message).not.toContain(secret);
        expect(sanitized.stack ?? '').not.toContain(secret);
        expect((sanitized.cause as Error).message).not.toContain(secret);
      }),
    );
  });
});

describe('instants: the canonical text (read by code) and the general pattern agree (property)', () => {
  /** The same instant with an offset of +00:00, which only the general pattern reads. */
  const withOffset = (text: string) => `${text.slice(0, -1)}+00:00`;

  it('accepts every canonical instant of years 0000-9999, as the pattern does', () => {
    fc.assert(
      fc.property(fc.integer({ min: new Date('0000-01-01T00:00:00.000Z').getTime(), max: new Date('9999-12-31T23:59:59.999Z').getTime() }), (ms) => {
        const text = new Date(ms).toISOString();
        expect(isInstantText(text)).toBe(true);
        expect(isInstantText(withOffset(text))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a canonical-shaped text the verdict the pattern gives (impossible dates and times, non-digits)', () => {
    const digit = fc.integer({ min: 0, max: 9 }).map(String);
    const pick = fc.constantFrom('0', '1', '2', '3', '5', '9', 'a', '/', ':', ' ', '\u0660');
    fc.assert(
      fc.property(fc.array(fc.oneof(digit, pick), { minLength: 17, maxLength: 17 }), (chars) => {
        const [y1, y2, y3, y4, mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2, f1, f2, f3] = chars;
        const text = `${y1}${y2}${y3}${y4}-${mo1}${mo2}-${d1}${d2}T${h1}${h2}:${mi1}${mi2}:${s1}${s2}.${f1}${f2}${f3}Z`;
        expect(isInstantText(text)).toBe(isInstantText(withOffset(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses impossible canonical dates and times', () => {
    for (const text of ['2025-02-29T00:00:00.000Z', '2024-02-30T00:00:00.000Z', '2025-13-01T00:00:00.000Z', '2025-00-10T00:00:00.000Z', '2025-03-18T24:00:00.000Z', '2025-03-18T23:60:00.000Z', '2025-03-18T23:59:60.000Z', '2025-03-00T00:00:00.000Z']) {
      expect(isInstantText(text), text).toBe(false);
    }
    expect(isInstantText('2024-02-29T23:59:59.999Z')).toBe(true);
  });
});

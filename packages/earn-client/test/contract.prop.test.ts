import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EarnApiError, validateContract } from '../src/index.js';
import { redact, sanitizeCause } from '../src/errors.js';

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

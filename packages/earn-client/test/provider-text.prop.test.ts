/**
 * `escapeAndCut` on any text: the result fits the limit, holds no control character or unpaired
 * surrogate, is the start of the whole escaped text, and is the text itself when nothing needed
 * escaping or cutting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeAndCut, providerText } from '../src/errors.js';

const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Any text: every code point, unpaired surrogates, and the control characters often. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.array(fc.constantFrom('a', '\n', '\r', '\u001b', '\u0085', '\u009b', '\u2028', '\u2029', '\ud800', '\udc00', '😀', 'é'), { maxLength: 300 }).map((parts) => parts.join('')),
);

describe('escapeAndCut (property)', () => {
  it('fits the limit, holds no control character, and keeps the start of the escaped text', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 3, max: 400 }), (text, lengthMax) => {
        const result = escapeAndCut(text, lengthMax);
        expect(result.length).toBeLessThanOrEqual(lengthMax);
        expect(unsafe.test(result)).toBe(false);
        const whole = escapeAndCut(text, Number.MAX_SAFE_INTEGER);
        if (result === whole) return;
        expect(result.endsWith('...')).toBe(true);
        expect(whole.startsWith(result.slice(0, -3))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('returns clean text within the limit as it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (text) => {
        fc.pre(!unsafe.test(text));
        expect(escapeAndCut(text, 400)).toBe(text);
      }),
    );
  });

  it('never leaves the start of a secret behind, wherever the cut falls', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ minLength: 8, maxLength: 40 }).filter((secret) => !/[[.\]]/.test(secret)), fc.integer({ min: 8, max: 300 }), (before, secret, lengthMax) => {
        // A secret without `[`, `.` or `]` cannot be formed by the text before it and `[redacted]` or `...`.
        fc.pre(!before.includes(secret.slice(0, 4)) && !'[redacted]'.includes(secret.slice(0, 4)));
        const result = providerText(`${before}${secret}`, { secrets: [secret], lengthMax });
        expect(result).not.toContain(secret.slice(0, 4));
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * Hostile strings for the "typed error or success, nothing half-written" property tests
 * (issue 13): lone surrogates, NUL, control characters, very long strings, and
 * ordinary ones, so that both outcomes occur.
 */
import fc from 'fast-check';

/** Strings that are not well-formed text: each must be refused wherever a string enters. */
export const ILL_FORMED = ['\ud800', '\udfff', 'a\ud800', '\udc00b', 'x\ud83dy', '\u0000', 'a\u0000b', `${'k'.repeat(50)}\ud800`] as const;

/** Whether `value` holds a lone surrogate or NUL. */
export function isIllFormed(value: string): boolean {
  return value.includes('\u0000') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value);
}

/** Arbitrary strings, weighted towards the hostile ones. */
export function hostileString(): fc.Arbitrary<string> {
  const defect = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\u0000', '\u0001', '\u001f', '\u007f', '\n', '\r', '\t', ' ', '\u202e', '\ufeff');
  return fc.oneof(
    fc.constantFrom(...ILL_FORMED, '', ' ', 'ok', 'émoji-😀', ' lead', 'trail ', 'line\nbreak'),
    fc.tuple(fc.string({ maxLength: 12 }), defect, fc.string({ maxLength: 12 })).map(([before, middle, after]) => `${before}${middle}${after}`),
    fc.string({ maxLength: 24, unit: 'grapheme' }),
    fc.integer({ min: 150, max: 20_000 }).map((length) => 'L'.repeat(length)),
  );
}

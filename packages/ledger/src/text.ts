/**
 * Well-formed text. A JavaScript string may hold a lone UTF-16 surrogate (`"\ud800"`), which has
 * no UTF-8 form: the database drivers store it as U+FFFD, so two different keys become one, and
 * a unique index or an idempotency check later fails far from the cause. PostgreSQL refuses NUL
 * in text outright (SQLSTATE 22021). Both are refused at the boundary instead.
 */
import { LedgerError, describeValue } from './errors.js';

/** A lone high surrogate (not followed by a low one) or a lone low surrogate (not after a high one). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `value` is not well-formed text (`'a lone UTF-16 surrogate'` or `'a NUL character'`), or
 * `undefined` when it is.
 *
 * @example
 * ```ts
 * textDefect('caf\u00e9');  // undefined
 * textDefect('a\ud800b');   // 'a lone UTF-16 surrogate'
 * ```
 */
export function textDefect(value: string): string | undefined {
  if (value.includes('\u0000')) return 'a NUL character';
  if (LONE_SURROGATE.test(value)) return 'a lone UTF-16 surrogate';
  return undefined;
}

/**
 * Returns `value` when it is a well-formed string; otherwise throws {@link LedgerError}
 * `invalid_input` naming `field`. Lookups use it too: a key that can never have been stored is
 * refused rather than matched against the U+FFFD the driver would send instead.
 */
export function requireWellFormed(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw new LedgerError('invalid_input', `${field} must be a string, got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  const defect = textDefect(value);
  if (defect !== undefined) {
    throw new LedgerError('invalid_input', `${field} must be well-formed text, not hold ${defect}, got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  return value;
}

/**
 * The one check of a whole-number option (a limit, a batch size, a group commit tuning, a page
 * start): a JavaScript number that is a safe integer within its range. Text ("10"), bigints,
 * fractions, NaN and ±Infinity are refused, and so is `null`: only an option left out
 * (`undefined`) takes its default. The checks were written in several places with different rules
 * (`null` was a default in some and refused in others; one page start was not checked at all).
 */
import { LedgerError, describeValue } from './errors.js';

/** The range of a whole-number option and the field it is named by in errors. */
export interface WholeNumberRange {
  readonly field: string;
  readonly min: number;
  readonly max: number;
}

/**
 * `value` when it is a whole number from `range.min` to `range.max`; otherwise `invalid_input`
 * naming `range.field` and the value.
 *
 * @example wholeNumber(50, { field: 'limit', min: 1, max: 500 }) // 50
 */
export function wholeNumber(value: unknown, range: WholeNumberRange): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new LedgerError('invalid_input', `${range.field} must be an integer from ${range.min} to ${range.max}, got ${describeValue(value)}`, {
      field: range.field,
      value: describeValue(value),
    });
  }
  // -0 passes the checks above; the option is 0.
  return value === 0 ? 0 : value;
}

/** {@link wholeNumber} of an optional value: `fallback` when it is left out (`undefined`, not `null`). */
export function optionalWholeNumber(value: unknown, fallback: number, range: WholeNumberRange): number {
  return value === undefined ? fallback : wholeNumber(value, range);
}

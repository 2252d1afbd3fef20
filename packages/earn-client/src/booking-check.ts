import type { Booking } from './contract/types.js';
import { EarnApiError, describeValue } from './errors.js';

/** What a booking request asked for, to compare with the booking the provider answers. */
export interface BookingExpectation {
  readonly type: Booking['type'];
  readonly accountId: string;
  /** The requested amount, a decimal string the request schema accepted. */
  readonly amount: string;
  /** The partner's reference, when the request sent one. */
  readonly reference?: string;
  /** The account's currency, when the caller gave it (it is not sent). */
  readonly currency?: string;
}

/**
 * A decimal string (the contract's amount pattern: digits, an optional fraction, no sign or
 * exponent) in one form per value: no leading zeros in the whole part, no trailing zeros in the
 * fraction, so `"0.5"`, `"00.50"` and `"0.500000000000000000"` compare equal.
 */
function canonicalDecimal(value: string): string {
  const [whole = '', fraction = ''] = value.split('.');
  const wholeDigits = whole.replace(/^0+(?=\d)/, '');
  const fractionDigits = fraction.replace(/0+$/, '');
  return fractionDigits.length === 0 ? wholeDigits : `${wholeDigits}.${fractionDigits}`;
}

/**
 * Returns `booking` when it is the booking that was asked for: same type, same account, same
 * amount (as decimals: the provider may answer `"0.50"` or 18 decimals for `"0.5"`), the
 * currency when the caller gave the account's (the request does not name one), and the request's
 * reference when the answer names one. A schema-valid booking of another type, account, amount
 * or currency means the provider booked something else than the partner will record, so it is
 * refused as `invalid_response` naming the field, the value expected and the value received
 * (both quoted redacted and escaped).
 */
export function checkBooking(options: {
  readonly operation: string;
  readonly expected: BookingExpectation;
  readonly booking: Booking;
  /**
   * The client's credentials in every rendering (`TokenProvider.secrets()`): the error is built
   * after the HTTP layer's redaction, and the provider may have echoed one into the booking.
   */
  readonly secrets: readonly string[];
}): Booking {
  const { operation, expected, booking, secrets } = options;
  // Both values are quoted redacted, cut and with control characters escaped: the received one
  // is the provider's text, of any length (the contract bounds no answered reference).
  const mismatch = (field: keyof BookingExpectation, received: string): EarnApiError =>
    new EarnApiError('invalid_response', `${operation}: the booking answered does not match the request: ${field} expected ${describeValue(expected[field], secrets)}, received ${describeValue(received, secrets)}`, {
      operation,
      path: field,
      field,
    });
  if (booking.type !== expected.type) throw mismatch('type', booking.type);
  if (booking.accountId !== expected.accountId) throw mismatch('accountId', booking.accountId);
  if (canonicalDecimal(booking.amount) !== canonicalDecimal(expected.amount)) throw mismatch('amount', booking.amount);
  if (expected.currency !== undefined && booking.currency !== expected.currency) throw mismatch('currency', booking.currency);
  // The answer may leave the reference out (the contract makes it optional); one it names must be ours.
  if (expected.reference !== undefined && booking.reference !== undefined && booking.reference !== expected.reference) throw mismatch('reference', booking.reference);
  return booking;
}

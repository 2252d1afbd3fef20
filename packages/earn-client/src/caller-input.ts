/**
 * Checks of the strings a caller gives the client that go into a request's URL or headers. Each
 * refusal is an `invalid_input` naming the field and the value, and nothing is sent.
 */
import { EarnApiError } from './errors.js';
import { textDefect } from './contract/well-formed.js';
import { CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX, OPAQUE_ID_PATTERN } from './contract/openapi.js';

/** The longest id a caller may pass (the contract's identifiers). */
export const IDENTIFIER_LENGTH_MAX = 128;

/** The value as a message shows it: JSON-quoted, its first 40 characters. */
function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function refuse(field: string, message: string): EarnApiError {
  return new EarnApiError('invalid_input', message, { path: field, field });
}

/** Refuses a lone surrogate or NUL in a caller's string; nothing is sent. */
export function wellFormed(value: string, field: string): string {
  const defect = textDefect(value);
  if (defect !== undefined) throw refuse(field, `${field} must be well-formed text, not hold ${defect}, got ${shown(value)}`);
  return value;
}

/**
 * Checks an id given by the caller that becomes a path segment; nothing is sent when it is
 * invalid. `.` and `..` are refused: percent-encoding leaves them as they are, and the URL parser
 * resolves them as dot segments, so `deposit({ accountId: '..' })` would POST to `/v1/deposits`
 * (and `%2e` counts as a dot too, so they cannot be encoded away). Every other character is
 * percent-encoded, so no other id can leave its segment.
 */
export function identifier(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > IDENTIFIER_LENGTH_MAX) {
    throw refuse(field, `${field} must be a string of 1 to ${IDENTIFIER_LENGTH_MAX} characters, got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value}`);
  }
  if (value === '.' || value === '..') {
    throw refuse(field, `${field} must not be "." or "..": the URL would resolve it as a dot segment and call another path, got ${shown(value)}`);
  }
  return wellFormed(value, field);
}

const OPAQUE_ID = new RegExp(OPAQUE_ID_PATTERN, 'u');

/**
 * {@link identifier} for the account of a booking, which the answer must name back: an id that
 * spells a UUID otherwise than lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (upper case,
 * `urn:uuid:`, braces) is refused before anything is sent, since the contract refuses it in the
 * answer and the booking would then be made but refused.
 */
export function bookingAccountId(value: unknown, field: string): string {
  const id = identifier(value, field);
  if (!OPAQUE_ID.test(id)) {
    throw refuse(field, `${field} spells a UUID otherwise than lowercase xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (the provider's accounts are spelled so), got ${JSON.stringify(id)}`);
  }
  return id;
}

/** The longest currency code, as the contract's `currency` allows it. */
export const CURRENCY_LENGTH_MAX = 32;

/**
 * Checks the currency a caller expects a booking in (the account's): 1 to
 * {@link CURRENCY_LENGTH_MAX} characters, well-formed. It is not sent; the answer is compared with it.
 */
export function expectedCurrency(value: unknown, field = 'currency'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > CURRENCY_LENGTH_MAX) {
    throw refuse(field, `${field} must be a string of 1 to ${CURRENCY_LENGTH_MAX} characters, got ${typeof value === 'string' ? shown(value) : typeof value}`);
  }
  return wellFormed(value, field);
}

/** Whitespace that fetch strips from both ends of a header value (HTTP whitespace, CR, LF). */
const strippedWhitespace = /^[\t\n\r ]|[\t\n\r ]$/;

/** A character that cannot travel as itself in a header value: controls, DEL, C1, beyond U+00FF. */
const unsendable = /[^\x20-\x7e\xa0-\xff]/;

/**
 * Why `key` cannot be sent unchanged as the `Idempotency-Key` header, or `undefined`. fetch strips
 * HTTP whitespace from both ends of a header value (so `"key-1 "`, `" key-1"` and `"\tkey-1"` would
 * all arrive as `"key-1"`, two bookings taken for one) and throws on a character beyond U+00FF
 * (before sending, which a retry loop would take for a network error). Control characters are
 * refused too: fetch throws on CR, LF and NUL, and servers refuse the others. A key therefore holds
 * only printable characters of U+0020-U+007E and U+00A0-U+00FF (each sent as one byte) and does
 * not start or end with whitespace.
 */
export function idempotencyKeyDefect(key: string): string | undefined {
  if (strippedWhitespace.test(key)) return 'must not start or end with whitespace (fetch strips it from a header, so the provider would see another key)';
  const bad = unsendable.exec(key);
  if (bad !== null) {
    const codePoint = key.codePointAt(bad.index) ?? 0;
    return `must hold only printable characters from U+0020 to U+00FF, as an HTTP header carries them (U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} at index ${bad.index})`;
  }
  return undefined;
}

/** Checks a caller's idempotency key: 1 to 255 characters, well-formed, sendable unchanged. */
export function idempotencyKey(value: unknown, field = 'idempotencyKey'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX) {
    throw refuse(field, `${field} must be a string of 1 to ${CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX} characters, got ${typeof value === 'string' ? shown(value) : typeof value}`);
  }
  wellFormed(value, field);
  const defect = idempotencyKeyDefect(value);
  if (defect !== undefined) throw refuse(field, `${field} ${defect}, got ${shown(value)}`);
  return value;
}

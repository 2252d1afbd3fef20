import type { EarnApiError } from './errors.js';

/** RFC 9110 §5.6.7 HTTP-date: IMF-fixdate, and the obsolete RFC 850 and asctime formats. */
const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850_DATE = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parses a Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns the delay
 * in milliseconds, never negative and always finite, or `undefined` when the header is absent or
 * malformed (backoff then applies). Only the grammar's forms are read: `Date.parse` alone took
 * `-5` or `1.5` as dates of 2001 (no wait at all) and an asctime date in the machine's zone.
 * Delay-seconds of any length are read (beyond the call's budget, the call gives up at once).
 */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, Number.MAX_SAFE_INTEGER);
  let dateMs = Number.NaN;
  if (IMF_FIXDATE.test(trimmed) || RFC_850_DATE.test(trimmed)) dateMs = Date.parse(trimmed);
  // asctime carries no zone; HTTP-dates are GMT (Date.parse would read it in the local zone).
  else if (ASCTIME_DATE.test(trimmed)) dateMs = Date.parse(`${trimmed} GMT`);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/** Failures that may be retried, with the delay the provider asked for. */
const retryAfterByError = new WeakMap<EarnApiError, number>();

/**
 * Remembers the delay `response`'s `Retry-After` asks for on `error` (a 429 or a 5xx, of the API
 * or of the token endpoint), for the retry loop of every call that receives this error.
 */
export function setRetryAfter(error: EarnApiError, response: Response): void {
  const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), Date.now());
  if (retryAfterMs !== undefined) retryAfterByError.set(error, retryAfterMs);
}

/** The delay the provider asked for before retrying after `error`, if it asked for one. */
export function retryAfterOf(error: EarnApiError): number | undefined {
  return retryAfterByError.get(error);
}

/**
 * Checks of the token endpoint's success answer that oauth4webapi does not make, run on the text
 * the client read before oauth4webapi parses it, so that the token answer follows the rules every
 * other answer follows.
 */
import { EarnApiError } from './errors.js';
import { checkJsonKeys } from './contract/json-keys.js';
import { credentialRenderings } from './redaction.js';

/**
 * The longest a token is kept, whatever `expires_in` says (one day, the largest
 * `tokenLifetimeMsDefault`): `expires_in: 1e308` made the renewal instant `Infinity`, so the
 * token was never renewed before the API refused it.
 */
export const TOKEN_LIFETIME_MS_MAX = 86_400_000;

/**
 * `expires_in` written as a string: decimal seconds only. oauth4webapi reads a string with
 * `parseFloat`, which took `"3600abc"`, `"0x10"` (as 0) and `" 60"`; a JSON number is checked by
 * oauth4webapi itself (finite, not negative).
 */
const EXPIRES_IN_TEXT = /^\d{1,15}(?:\.\d{1,15})?$/;

/**
 * An access token as a header carries it unchanged: printable ASCII, not starting or ending with
 * a space. fetch strips whitespace from the ends of a header value, throws on a line break or a
 * character beyond U+00FF (a throw the retry loop took for a network error, the token kept) and
 * sends U+0080-U+00FF as one byte each, not as the UTF-8 of the answer: the API would be sent
 * another token than the one issued.
 */
const SENDABLE_TOKEN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Where the answer came from, for the error. */
export interface TokenAnswerContext {
  readonly operation: string;
  readonly status: number;
  readonly requestId?: string;
  /** The client's credentials in every rendering, the token this answer issues included. */
  readonly secrets: readonly string[];
}

/**
 * Every rendering of the token a success answer issues (its `access_token`, each one when the
 * key is written twice), to be redacted from the answer's errors before the token is taken: a
 * refused answer's token is still a live credential, and its request id or a key may echo it.
 */
export function issuedTokenRenderings(text: string): string[] {
  return issuedTokens(text).flatMap((token) => credentialRenderings(token));
}

/**
 * The tokens a token answer's text issues: the `access_token` `JSON.parse` keeps and every other
 * string written under that key (a first one `JSON.parse` dropped for a second; the answer is
 * then refused, but the token may be live).
 */
export function issuedTokens(text: string): string[] {
  const tokens = new Set<string>();
  try {
    const json: unknown = JSON.parse(text);
    const token = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['access_token'] : undefined;
    if (typeof token === 'string') tokens.add(token);
  } catch {
    // Not JSON: oauth4webapi refuses it, and no token was parsed.
  }
  // A first `access_token` that JSON.parse dropped for a second one (the answer is then refused).
  for (const match of text.matchAll(/"access_token"\s*:\s*("(?:[^"\\]|\\.)*")/g)) {
    try {
      tokens.add(JSON.parse(match[1] as string) as string);
    } catch {
      // Not a string literal after all: nothing to redact.
    }
  }
  return [...tokens];
}

function refuse(field: string, problem: string, context: TokenAnswerContext): EarnApiError {
  const { operation, status, requestId } = context;
  return new EarnApiError('invalid_response', `${operation}: ${field} ${problem}`, { operation, status, path: field, field, ...(requestId === undefined ? {} : { requestId }) });
}

/**
 * Refuses (`invalid_response`, naming the key) a token success answer that writes a key twice in
 * one object (`JSON.parse` would keep the last `access_token` or `expires_in` silently) or holds a
 * `__proto__` key, one without a string `access_token` or a Bearer `token_type`, and one whose
 * `expires_in` is not seconds ({@link isExpiresIn}). Text that is not JSON, or not an object, is
 * left to oauth4webapi, which refuses it. No value of the answer is quoted.
 */
export function checkTokenAnswerText(text: string, context: TokenAnswerContext): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  checkJsonKeys(text, json, { operation: context.operation, secrets: context.secrets, status: context.status, ...(context.requestId === undefined ? {} : { requestId: context.requestId }) });
  const answer = json as Record<string, unknown>;
  if (typeof answer['access_token'] !== 'string') throw refuse('access_token', `must be a string, got ${kindOf(answer['access_token'])}`, context);
  const tokenType = answer['token_type'];
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') throw refuse('token_type', `must be Bearer, got ${typeof tokenType === 'string' ? 'another type' : kindOf(tokenType)}`, context);
  const expiresIn = answer['expires_in'];
  if (expiresIn !== undefined && !isExpiresIn(expiresIn)) {
    const what = typeof expiresIn === 'number' ? (expiresIn < 0 ? 'a negative number' : 'a number past the largest') : typeof expiresIn === 'string' ? 'a string that is not one' : kindOf(expiresIn);
    throw refuse('expires_in', `must be a number of seconds (a JSON number of at least 0, or a string of decimal digits), got ${what}`, context);
  }
}

/**
 * Whether `expires_in` is seconds as the README allows them: a JSON number of at least 0 (finite:
 * `1e999` reads as Infinity), or a string of decimal seconds ({@link EXPIRES_IN_TEXT}). Anything
 * else is refused here, before oauth4webapi reads it: it took an array through `parseFloat`
 * (`["3600abc"]` as 3600, `["0x10"]` as 0), and refused `null` or a negative number without
 * naming the key (a review, session 44).
 */
function isExpiresIn(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0;
  return typeof value === 'string' && EXPIRES_IN_TEXT.test(value);
}

/** What type a refused value of the answer is (`a number`, `an array`), without quoting it (it may be a credential). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value === 'object' ? 'an' : 'a'} ${typeof value}`;
}

/** Refuses an access token that a header cannot carry unchanged ({@link SENDABLE_TOKEN}); the token is not quoted. */
export function checkSendableToken(accessToken: string, context: TokenAnswerContext): void {
  if (!SENDABLE_TOKEN.test(accessToken)) {
    throw refuse('access_token', 'must be printable ASCII without surrounding spaces, as an Authorization header carries it unchanged', context);
  }
}

/** How long a token of `expiresInSeconds` (or the default, when absent) is kept, at most {@link TOKEN_LIFETIME_MS_MAX}. */
export function tokenLifetimeMs(expiresInSeconds: number | undefined, lifetimeMsDefault: number): number {
  return expiresInSeconds === undefined ? lifetimeMsDefault : Math.min(expiresInSeconds * 1000, TOKEN_LIFETIME_MS_MAX);
}

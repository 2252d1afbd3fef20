import { EarnApiError, SanitizedCause, redact, sanitizeCause } from './errors.js';

/**
 * Redaction by value. A hostile or careless provider may echo what the client sent (the
 * `Authorization` header, the token request's form body, the bearer token) into any field of an
 * answer: an error code, a request id, a message, a header. The client therefore knows every
 * rendering of its credentials it ever sent and removes them from every field of every error it
 * throws, and refuses a success body that carries one (its data would reach logs and summaries).
 */

/** The cause levels rebuilt by {@link redactError}; deeper ones are dropped. */
const redactedCauseDepthMax = 6;

/**
 * Credentials shorter than this are redacted from errors but do not make a success body invalid:
 * a short token would match ordinary data by chance.
 */
export const CREDENTIAL_IN_BODY_LENGTH_MIN = 8;

/** application/x-www-form-urlencoded as RFC 6749 Appendix B and oauth4webapi apply it (Basic auth). */
export function strictFormEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (match) => (match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`));
}

/** application/x-www-form-urlencoded as `URLSearchParams` serializes a form body (client_secret_post). */
export function searchParamsEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** The inside of the JSON string literal of `value`, as a JSON body or a quoted message shows it. */
function jsonInner(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/**
 * Every rendering in which `value` is sent or may come back: raw, percent-encoded (lenient and
 * strict form encoding, `URLSearchParams`), its UTF-8 bytes read one character a byte (as fetch
 * reads a header's bytes: a non-ASCII secret echoed in `X-Request-Id` came back as `sÃ©cret…` and
 * was not redacted; a review, session 44), and each of those as the inside of a JSON string.
 */
export function credentialRenderings(value: string): string[] {
  const encoded = [value, encodeURIComponent(value), strictFormEncode(value), searchParamsEncode(value), Buffer.from(value, 'utf8').toString('latin1')];
  return [...new Set([...encoded, ...encoded.map(jsonInner)])].filter((form) => form.length > 0);
}

/**
 * The renderings of HTTP Basic credentials `clientId:clientSecret` in base64: oauth4webapi
 * form-encodes both parts first (RFC 6749 §2.3.1); the lenient and raw variants cover other
 * senders and echoes.
 */
export function basicCredentialRenderings(clientId: string, clientSecret: string): string[] {
  const encoders = [strictFormEncode, encodeURIComponent, searchParamsEncode, (value: string) => value];
  return [...new Set(encoders.map((encode) => Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')))];
}

/** The first of `secrets` (at least {@link CREDENTIAL_IN_BODY_LENGTH_MIN} long) found in `text`. */
export function findCredential(text: string, secrets: readonly string[]): string | undefined {
  return secrets.find((secret) => secret.length >= CREDENTIAL_IN_BODY_LENGTH_MIN && text.includes(secret));
}

/**
 * Whether a parsed JSON value carries one of `secrets` in a string or a key. `text` is the body it
 * was parsed from: without a backslash every string of the body appears in it as it parses, so
 * one scan of the text decides; with escapes (`\u0073ecret`, `\/`) the parsed strings are walked.
 */
export function bodyCarriesCredential(text: string, json: unknown, secrets: readonly string[]): boolean {
  if (!text.includes('\\')) return findCredential(text, secrets) !== undefined;
  const stack: unknown[] = [json];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (findCredential(value, secrets) !== undefined) return true;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (findCredential(key, secrets) !== undefined) return true;
        stack.push(item);
      }
    }
  }
  return false;
}

function redactOptional(value: string | undefined, secrets: readonly string[]): string | undefined {
  return value === undefined ? undefined : redact(value, secrets);
}

function redactCause(cause: unknown, secrets: readonly string[], depth: number): unknown {
  if (cause === undefined) return undefined;
  if (depth >= redactedCauseDepthMax) return undefined;
  if (cause instanceof EarnApiError) return redactErrorAt(cause, secrets, depth);
  if (cause instanceof SanitizedCause) {
    return new SanitizedCause({
      originalName: redact(cause.originalName, secrets),
      message: redact(cause.message, secrets),
      code: redactOptional(cause.code, secrets),
      stack: redactOptional(cause.stack, secrets),
      cause: redactCause(cause.cause, secrets, depth + 1),
    });
  }
  return sanitizeCause(cause, secrets);
}

function redactErrorAt(error: EarnApiError, secrets: readonly string[], depth: number): EarnApiError {
  const copy = new EarnApiError(error.code, redact(error.message, secrets), {
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.providerCode === undefined ? {} : { providerCode: redact(error.providerCode, secrets) }),
    ...(error.requestId === undefined ? {} : { requestId: redact(error.requestId, secrets) }),
    ...(error.operation === undefined ? {} : { operation: redact(error.operation, secrets) }),
    ...(error.path === undefined ? {} : { path: redact(error.path, secrets) }),
    ...(error.field === undefined ? {} : { field: redact(error.field, secrets) }),
    ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
    cause: redactCause(error.cause, secrets, depth + 1),
  });
  if (error.stack !== undefined) copy.stack = redact(error.stack, secrets);
  return copy;
}

/**
 * Returns `error` with every one of `secrets` replaced by `[redacted]` in every string field
 * (message, provider code, request id, operation, path, field, stack) and in its whole cause
 * chain. The copy keeps the code, status and attempts; the original is not changed.
 */
export function redactError(error: EarnApiError, secrets: readonly string[]): EarnApiError {
  return redactErrorAt(error, secrets, 0);
}

/**
 * The refusal of a success body that carries a credential of the client ({@link bodyCarriesCredential},
 * or a streamed body's scan): data is not redacted (ids would change), the body is refused whole so
 * that it never reaches the caller's books, logs or summaries.
 */
export function credentialInBody(operation: string, status: number, requestId: string | undefined): EarnApiError {
  return new EarnApiError('invalid_response', `${operation}: the ${status} body carries a credential of this client (the client secret or an access token); refused`, {
    operation,
    status,
    path: '(root)',
    ...(requestId === undefined ? {} : { requestId }),
  });
}

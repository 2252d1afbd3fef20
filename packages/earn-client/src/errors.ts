/**
 * The one error class of the earn-client package. Every expected failure of a call to the Earn
 * API (a network error, a provider 4xx or 5xx, a response that does not match the contract, a bad
 * configuration or input) is an `EarnApiError` with a literal `code`, the HTTP `status`, the
 * provider's own error code and request id where there are some, and the wrapped `cause`.
 *
 * Neither the client secret nor an access token ever appears in an `EarnApiError`, its message,
 * its stack or its causes: foreign errors are copied into sanitized {@link SanitizedCause}s before
 * they are attached.
 */
export type EarnApiErrorCode =
  /** The connection failed or broke before a complete response arrived. */
  | 'network_error'
  /**
   * One attempt took longer than its time limit: `timeoutMs` for API calls, `downloadTimeoutMs`
   * or `downloadIdleTimeoutMs` for report downloads, or what was left of the call's
   * `retryTotalMsMax` / `downloadRetryTotalMsMax`. The message names the option.
   */
  | 'timeout'
  /** The provider answered a non-2xx status not covered by a more specific code. */
  | 'http_error'
  /** The provider answered 429. */
  | 'rate_limited'
  /** The token endpoint refused the credentials, or the API answered 401 after a token refresh. */
  | 'unauthorized'
  /** A response does not match the contract; `path` and `field` name the offending value. */
  | 'invalid_response'
  /** The configuration is invalid (e.g. HTTP on a non-loopback host). */
  | 'invalid_config'
  /**
   * A method was called with invalid input; nothing was sent. Also a report download whose file
   * cannot be written (a full disk mid-way): the caller's side, never retried.
   */
  | 'invalid_input'
  /** A withdrawal exceeds the account balance (422 `insufficient_balance`). */
  | 'insufficient_balance'
  /** The same idempotency key was reused with a different request (409 `idempotency_conflict`). */
  | 'idempotency_conflict'
  /** The caller's AbortSignal aborted the call. */
  | 'aborted'
  /** Retryable failures continued until `attemptsMax` or the time budget (`retryTotalMsMax`, `downloadRetryTotalMsMax`); `cause` is the last. */
  | 'retries_exhausted'
  /** A named `…Max` limit was exceeded (page count, response size). */
  | 'limit_exceeded';

/** Structured details an {@link EarnApiError} may carry. */
export interface EarnApiErrorDetails {
  /** The HTTP status of the response, if one arrived. */
  readonly status?: number;
  /** The provider's error code (`error.code` of the body, or the OAuth2 `error`). */
  readonly providerCode?: string;
  /** The provider's request id (header `X-Request-Id` or `error.requestId`). */
  readonly requestId?: string;
  /** The operation, e.g. `GET /v1/products`. */
  readonly operation?: string;
  /** The JSON path of the offending value, e.g. `transactions[3].amount`, or of the input field. */
  readonly path?: string;
  /** The offending field name, e.g. `amount`. */
  readonly field?: string;
  /** How many attempts were made. */
  readonly attempts?: number;
  /** The error this one wraps (sanitized when foreign). */
  readonly cause?: unknown;
}

/** An expected, typed failure of the Earn API client. */
export class EarnApiError extends Error {
  override readonly name = 'EarnApiError';
  /** What went wrong, as a literal the caller can switch on. */
  readonly code: EarnApiErrorCode;
  /** The HTTP status, if a response arrived. */
  readonly status: number | undefined;
  /** The provider's error code. */
  readonly providerCode: string | undefined;
  /** The provider's request id, for support tickets. */
  readonly requestId: string | undefined;
  /** The operation, e.g. `POST /v1/accounts/{accountId}/deposits`. */
  readonly operation: string | undefined;
  /** The JSON path (or input path) of the offending value. */
  readonly path: string | undefined;
  /** The offending field name. */
  readonly field: string | undefined;
  /** How many attempts were made, when retries were involved. */
  readonly attempts: number | undefined;

  constructor(code: EarnApiErrorCode, message: string, details: EarnApiErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.providerCode = details.providerCode;
    this.requestId = details.requestId;
    this.operation = details.operation;
    this.path = details.path;
    this.field = details.field;
    this.attempts = details.attempts;
  }

  /** A plain object for structured logs; includes the (sanitized) cause chain. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      providerCode: this.providerCode,
      requestId: this.requestId,
      operation: this.operation,
      path: this.path,
      field: this.field,
      attempts: this.attempts,
      cause: causeToJson(this.cause),
    };
  }
}

function causeToJson(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (cause instanceof EarnApiError || cause instanceof SanitizedCause) return cause.toJSON();
  if (cause instanceof Error) return { name: cause.name, message: cause.message };
  return renderValue(cause);
}

/**
 * A copy of a foreign error (undici, oauth4webapi, ajv) that keeps only its name, message, code,
 * stack and cause chain, with every known secret replaced by `[redacted]`. Foreign errors may hold
 * request headers or response bodies with tokens, so they are never attached as they are.
 */
export class SanitizedCause extends Error {
  /** The original error's `name`. */
  readonly originalName: string;
  /** The original error's `code`, if it had a string one. */
  readonly code: string | undefined;

  constructor(options: { readonly originalName: string; readonly message: string; readonly code: string | undefined; readonly stack: string | undefined; readonly cause: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = `SanitizedCause(${options.originalName})`;
    this.originalName = options.originalName;
    this.code = options.code;
    if (options.stack !== undefined) this.stack = options.stack;
  }

  /** A plain object for structured logs. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, cause: causeToJson(this.cause) };
  }
}

/** The number of cause levels kept when sanitizing; deeper chains are cut. */
const causeDepthMax = 5;

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`, the longest first, so that
 * a secret contained in another (the raw secret inside its base64 form) cannot leave a part of
 * the longer one behind. Each secret's URL-encoded form is replaced too.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
  }
  let result = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (result.includes(form)) result = result.split(form).join('[redacted]');
  }
  return result;
}

/**
 * Copies `error` into a {@link SanitizedCause} chain with `secrets` redacted; {@link EarnApiError}s
 * are kept as they are because they are built sanitized.
 */
export function sanitizeCause(error: unknown, secrets: readonly string[], depth = 0): unknown {
  if (error === undefined || error instanceof EarnApiError) return error;
  if (depth >= causeDepthMax) return undefined;
  if (!(error instanceof Error)) {
    // Plain values (an abort reason, a parsed response body) are rendered without content, then redacted.
    return new SanitizedCause({ originalName: typeof error, message: renderValue(error, secrets), code: undefined, stack: undefined, cause: undefined });
  }
  const code = (error as { code?: unknown }).code;
  return new SanitizedCause({
    originalName: error.name,
    message: redact(error.message, secrets),
    code: typeof code === 'string' ? redact(code, secrets) : undefined,
    stack: error.stack === undefined ? undefined : redact(error.stack, secrets),
    cause: sanitizeCause(error.cause, secrets, depth + 1),
  });
}

/**
 * Renders a non-error cause. Objects are not shown at all: a foreign library's plain-object cause
 * is typically a parsed response body, which may hold a token not yet known for redaction.
 */
function renderValue(value: unknown, secrets: readonly string[] = []): string {
  if (typeof value === 'string') {
    // Redacted before it is cut, so that a cut never leaves the first part of a secret behind.
    const redacted = redact(value, secrets);
    return redacted.length > 200 ? `${redacted.slice(0, 197)}...` : redacted;
  }
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  return `${Object.prototype.toString.call(value)} (content not shown)`;
}

/** The most characters of the provider's error message an error quotes. */
export const PROVIDER_MESSAGE_LENGTH_MAX = 300;

/** The most characters of a provider error code or request id an error carries. */
export const PROVIDER_ID_LENGTH_MAX = 128;

/**
 * The one rule of characters that must not reach a log line or a terminal as they are, shared by
 * every error of this package and by the CLI (`singleLine`): controls (C0, DEL, C1 with NEL and
 * CSI), format characters (the bidi marks, embeddings, overrides and isolates, which reorder what
 * a reader sees; the zero-width space and joiners, the word joiner, the BOM, the soft hyphen and
 * the tag characters, which hide; so `acc-1` and `acc-\u200b1` would look alike), the Unicode line
 * and paragraph separators, and unpaired surrogates (Node writes them as U+FFFD).
 */
const UNSAFE_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `character` (one code point) as JSON escapes it: `\uXXXX` per UTF-16 unit, so two for a code point beyond U+FFFF. */
function escapeCharacter(character: string): string {
  let escaped = '';
  for (let index = 0; index < character.length; index += 1) escaped += `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return escaped;
}

/**
 * `text` with every unsafe character (see above: controls, format characters such as bidi
 * overrides and zero-width characters, U+2028, U+2029 and unpaired surrogates) written as a
 * `\uXXXX` escape, so that it prints as one line that shows what it holds. Other text (accents,
 * emoji, quotes, backslashes) is kept as it is. The CLI escapes its terminal output with it.
 *
 * @example
 * escapeUnsafeText('nope\n\u202eevil'); // 'nope\\u000a\\u202eevil'
 */
export function escapeUnsafeText(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, escapeCharacter);
}

/**
 * `text` escaped as {@link escapeUnsafeText} does, so that a provider's text cannot break a log
 * line, forge another one, hide or reorder characters or drive a terminal, cut to at most
 * `lengthMax` characters (ending in `...` when cut). An escape or a surrogate pair is never cut
 * in half. The walk stops at the first character beyond `lengthMax`, so a text of megabytes
 * costs no more than a short one.
 */
export function escapeAndCut(text: string, lengthMax: number): string {
  const pieces: string[] = [];
  let length = 0;
  let cut = false;
  for (const character of text) {
    const piece = UNSAFE_CHARACTER.test(character) ? escapeCharacter(character) : character;
    pieces.push(piece);
    length += piece.length;
    if (length > lengthMax) {
      cut = true;
      break;
    }
  }
  if (!cut) return pieces.join('');
  while (pieces.length > 0 && length > lengthMax - 3) length -= (pieces.pop() as string).length;
  return `${pieces.join('')}...`;
}

/**
 * Text the provider chose (an error message, an error code, a request id) as an error may carry
 * it: every one of `secrets` redacted first (so that a cut never leaves the first part of a
 * secret behind), then control characters escaped and the text cut to `lengthMax`
 * ({@link escapeAndCut}).
 */
export function providerText(text: string, options: { readonly secrets: readonly string[]; readonly lengthMax: number }): string {
  return escapeAndCut(redact(text, options.secrets), options.lengthMax);
}

/**
 * Renders any value for an error message, short and without throwing; `secrets` are redacted
 * before the text is cut to length, and the unsafe characters that `JSON.stringify` leaves as
 * they are (DEL, C1, U+2028, U+2029, format characters) are escaped ({@link escapeUnsafeText}).
 */
export function describeValue(value: unknown, secrets: readonly string[] = []): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (value === undefined) text = 'undefined';
  else if (typeof value === 'bigint') text = `${value}n`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return escapeAndCut(redact(text, secrets), 120);
}

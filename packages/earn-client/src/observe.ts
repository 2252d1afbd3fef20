/**
 * Watching the client: a logger (the pino-compatible `{ info, warn, error, debug }` shape, so
 * pino, winston or a console wrapper fit) and request, response and retry hooks, in the manner
 * of Stripe's SDK. What they receive is built here from plain facts (method, URL without its
 * query, status, timing, attempt): never a header, a body or a query string, so a token, a
 * client secret or a pre-signed download signature cannot reach a log line or a hook. The one
 * header value passed on, the provider's request id, is checked first (see `request-id.ts`).
 */
import type { EntityId } from './config.js';
import { SentCredentials, WITHHELD_REQUEST_ID } from './request-id.js';
import { issuedTokens } from './token-answer.js';

/** One log method: pino's `(fields, message)` form. */
export type EarnClientLogMethod = (fields: Record<string, unknown>, message: string) => void;

/** A logger of the pino shape; every method is called with structured fields and a message. */
export interface EarnClientLogger {
  readonly info: EarnClientLogMethod;
  readonly warn: EarnClientLogMethod;
  readonly error: EarnClientLogMethod;
  readonly debug: EarnClientLogMethod;
}

/** A request about to be sent (API call, token request or report download). */
export interface EarnRequestEvent {
  readonly entityId: EntityId;
  readonly method: string;
  /** Origin and path only: the query string is never passed on. */
  readonly url: string;
}

/** An answer received (any status). */
export interface EarnResponseEvent extends EarnRequestEvent {
  readonly status: number;
  readonly durationMs: number;
  /**
   * The provider's `x-request-id`, when it sent one: as sent when it is a plausible id (1 to 128
   * visible ASCII characters) sharing no run of 8 characters with a credential this client sent
   * (the `Authorization` value, the bearer token, the Basic credentials, the client secret in
   * any rendering); `[redacted]` otherwise.
   */
  readonly requestId: string | undefined;
}

/** A failed attempt that will be retried after `delayMs`. */
export interface EarnRetryEvent {
  readonly entityId: EntityId;
  /** The operation, e.g. `GET /v1/reports`. */
  readonly operation: string;
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  readonly delayMs: number;
  /** The failure's error code (`http_error`, `rate_limited`, `timeout`, `network_error`, …). */
  readonly code: string;
  readonly status: number | undefined;
}

/** Hooks called on every request, response and retry. A hook that throws is logged and ignored. */
export interface EarnClientHooks {
  readonly onRequest?: (event: EarnRequestEvent) => void;
  readonly onResponse?: (event: EarnResponseEvent) => void;
  readonly onRetry?: (event: EarnRetryEvent) => void;
}

/** What the HTTP layer reports retries to. */
export interface RetryObserver {
  retry(event: Omit<EarnRetryEvent, 'entityId'>): void;
}

/** A logger that drops everything (the default). */
export const SILENT_EARN_CLIENT_LOGGER: EarnClientLogger = Object.freeze({ info: () => {}, warn: () => {}, error: () => {}, debug: () => {} });

function safeUrl(input: string | URL | Request): string {
  const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    const url = new URL(raw);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

function call<E>(hook: ((event: E) => void) | undefined, event: E, logger: EarnClientLogger, name: string): void {
  if (hook === undefined) return;
  try {
    hook(event);
  } catch (error) {
    logger.warn({ hook: name, error: error instanceof Error ? error.name : typeof error }, `earn-client: the ${name} hook threw; ignored`);
  }
}

/**
 * Wraps `fetch` so that each request and response goes to the hooks and the logger (at debug).
 * Only the method, the URL's origin and path, the status, the timing and the request id are
 * passed on. Every fetch of one client goes through its wrapper (token requests, API calls,
 * downloads), so the wrapper remembers the credentials sent and withholds a request id that
 * echoes one, whichever request sent it.
 */
export function observedFetch(
  fetchFunction: typeof globalThis.fetch,
  options: { entityId: EntityId; logger: EarnClientLogger; hooks: EarnClientHooks; tokenUrl: string },
): typeof globalThis.fetch {
  const { entityId, logger, hooks } = options;
  const sent = new SentCredentials();
  const tokenEndpoint = safeUrl(options.tokenUrl);
  return async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const request: EarnRequestEvent = { entityId, method, url: safeUrl(input) };
    sent.note(input, init);
    call(hooks.onRequest, request, logger, 'onRequest');
    logger.debug({ event: 'earn.request', ...request }, `${method} ${request.url}`);
    const startedMs = performance.now();
    const response = await fetchFunction(input, init);
    const header = response.headers.get('x-request-id');
    let requestId: string | undefined;
    if (method === 'POST' && request.url === tokenEndpoint && header !== null) {
      // The token endpoint's answer carries a token the client has not sent yet: learnt first,
      // so that a request id echoing it is withheld too.
      const issued = await issuedTokensOf(response);
      if (issued === null) requestId = WITHHELD_REQUEST_ID;
      else {
        for (const token of issued) sent.noteIssued(token);
        requestId = sent.requestId(header);
      }
    } else {
      requestId = sent.requestId(header);
    }
    const answer: EarnResponseEvent = { ...request, status: response.status, durationMs: Math.round(performance.now() - startedMs), requestId };
    call(hooks.onResponse, answer, logger, 'onResponse');
    logger.debug({ event: 'earn.response', ...answer }, `${method} ${request.url} → ${answer.status} in ${answer.durationMs} ms`);
    return response;
  };
}

/** The most of a token answer's body read for its access token; a longer body withholds the request id. */
export const TOKEN_BODY_PEEK_BYTES_MAX = 64 * 1024;

/**
 * The tokens a token answer issues (`issuedTokens`: every `access_token` written, not only the one
 * `JSON.parse` keeps, which let a refused answer's first token through to the hooks as its request
 * id; a review, session 44), read from a clone of the response (the client reads the original);
 * `null` when the body is longer than {@link TOKEN_BODY_PEEK_BYTES_MAX} or cannot be read: then
 * nothing proves the request id safe.
 */
async function issuedTokensOf(response: Response): Promise<readonly string[] | null> {
  const body = response.clone().body;
  if (body === null) return [];
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > TOKEN_BODY_PEEK_BYTES_MAX) return null;
      chunks.push(value);
    }
  } catch {
    return null;
  } finally {
    // Not awaited: a cancelled branch of a teed body settles only once the other branch (the
    // client's) is cancelled or read to its end.
    reader.cancel().catch(() => undefined);
  }
  return issuedTokens(Buffer.concat(chunks).toString('utf8'));
}

/** The retry observer of one entity: the `onRetry` hook and a warning in the log. */
export function retryObserver(options: { entityId: EntityId; logger: EarnClientLogger; hooks: EarnClientHooks }): RetryObserver {
  return {
    retry(fields) {
      const event: EarnRetryEvent = { entityId: options.entityId, ...fields };
      call(options.hooks.onRetry, event, options.logger, 'onRetry');
      options.logger.warn({ event: 'earn.retry', ...event }, `${event.operation}: attempt ${event.attempt} failed (${event.code}${event.status === undefined ? '' : ` ${event.status}`}); retrying in ${event.delayMs} ms`);
    },
  };
}

/** Checks a logger option: an object with the four methods. */
export function isEarnClientLogger(value: unknown): value is EarnClientLogger {
  const logger = value as Partial<Record<keyof EarnClientLogger, unknown>> | null;
  return typeof logger === 'object' && logger !== null && ['info', 'warn', 'error', 'debug'].every((name) => typeof logger[name as keyof EarnClientLogger] === 'function');
}

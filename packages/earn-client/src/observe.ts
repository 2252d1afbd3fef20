/**
 * Watching the client: a logger (the pino-compatible `{ info, warn, error, debug }` shape, so
 * pino, winston or a console wrapper fit) and request, response and retry hooks, in the manner
 * of Stripe's SDK. What they receive is built here from plain facts (method, URL without its
 * query, status, timing, attempt): never a header, a body or a query string, so a token, a
 * client secret or a pre-signed download signature cannot reach a log line or a hook. The one
 * header value passed on, the provider's request id, is checked first (see `request-id.ts`).
 */
import type { EntityId } from './config.js';
import { SentCredentials } from './request-id.js';

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
export function observedFetch(fetchFunction: typeof globalThis.fetch, options: { entityId: EntityId; logger: EarnClientLogger; hooks: EarnClientHooks }): typeof globalThis.fetch {
  const { entityId, logger, hooks } = options;
  const sent = new SentCredentials();
  return async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const request: EarnRequestEvent = { entityId, method, url: safeUrl(input) };
    sent.note(input, init);
    call(hooks.onRequest, request, logger, 'onRequest');
    logger.debug({ event: 'earn.request', ...request }, `${method} ${request.url}`);
    const startedMs = performance.now();
    const response = await fetchFunction(input, init);
    const requestId = sent.requestId(response.headers.get('x-request-id'));
    const answer: EarnResponseEvent = { ...request, status: response.status, durationMs: Math.round(performance.now() - startedMs), requestId };
    call(hooks.onResponse, answer, logger, 'onResponse');
    logger.debug({ event: 'earn.response', ...answer }, `${method} ${request.url} → ${answer.status} in ${answer.durationMs} ms`);
    return response;
  };
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

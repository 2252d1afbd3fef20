import { EarnApiError } from './errors.js';
import { SILENT_EARN_CLIENT_LOGGER, isEarnClientLogger, observedFetch, retryObserver } from './observe.js';
import type { EarnClientHooks, EarnClientLogger, RetryObserver } from './observe.js';
import { CONTRACT_PAGE_SIZE_MAX } from './contract/openapi.js';
import { textDefect } from './contract/well-formed.js';

/** The name of a Tesseract legal entity, e.g. `defi` or `lending`. */
export type EntityId = string;

/** The default entity ids: DeFi and Lending/Staking. */
export const DEFAULT_ENTITY_IDS: readonly EntityId[] = Object.freeze(['defi', 'lending']);

/** How the client authenticates at the token endpoint (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

/**
 * The configuration of one entity's credential set, as the caller writes it. Only `baseUrl`,
 * `tokenUrl`, `clientId` and `clientSecret` are required; every limit has a documented default.
 * The object is never mutated; {@link resolveEntityConfig} returns a frozen copy without the
 * secret.
 */
export interface EntityConfigInput {
  /** The entity this credential set belongs to, used in messages. Default `default`. */
  readonly entityId?: EntityId;
  /** The API base URL, e.g. `https://earn.example.com`. HTTPS unless the host is loopback. */
  readonly baseUrl: string;
  /** The OAuth2 token endpoint URL. HTTPS unless the host is loopback. */
  readonly tokenUrl: string;
  /** The OAuth2 client id of this entity. */
  readonly clientId: string;
  /** The OAuth2 client secret of this entity. Never logged, never in an error. */
  readonly clientSecret: string;
  /** Token endpoint authentication. Default `client_secret_basic`. */
  readonly clientAuthMethod?: ClientAuthMethod;
  /** The `scope` parameter of the token request, if the provider needs one. */
  readonly scope?: string;
  /** Time limit of one API attempt, headers and body included (not of report downloads). Default 10 000. */
  readonly timeoutMs?: number;
  /** Time limit of one token request. Default 10 000. */
  readonly tokenTimeoutMs?: number;
  /** A token is renewed this long before `expires_in` runs out (at most half its lifetime). Default 30 000. */
  readonly tokenRefreshMarginMs?: number;
  /** The lifetime assumed when the token response has no `expires_in`. Default 60 000. */
  readonly tokenLifetimeMsDefault?: number;
  /** Attempts of one call, the first included. Default 5; 1 disables retries. */
  readonly attemptsMax?: number;
  /** Time budget of one API call over all its attempts and delays (not of report downloads). Default 30 000. */
  readonly retryTotalMsMax?: number;
  /** The first backoff delay; it doubles per attempt. Default 200. */
  readonly retryDelayMsInitial?: number;
  /** The largest backoff delay (Retry-After may ask for more within `retryTotalMsMax`). Default 5 000. */
  readonly retryDelayMsMax?: number;
  /** Page size asked for when the caller gives none. Default 100. */
  readonly pageSizeDefault?: number;
  /** The largest page size a caller may ask for. Default 1000. */
  readonly pageSizeMax?: number;
  /** Pages one iteration may fetch before it fails with `limit_exceeded`. Default 10 000. */
  readonly pagesMax?: number;
  /** The largest API response body. Default 10 MiB. */
  readonly responseBytesMax?: number;
  /** The largest downloaded report. Default 512 MiB. */
  readonly reportBytesMax?: number;
  /**
   * Time limit of one report download attempt, redirects, headers and the whole body included.
   * Default 600 000 (10 min): a report of `reportBytesMax` (512 MiB) then needs about 7 Mbit/s,
   * one of 200 MiB (a million entries) about 3 Mbit/s; `timeoutMs` (10 s) would need 170 Mbit/s
   * for the latter. At most 3 600 000.
   */
  readonly downloadTimeoutMs?: number;
  /**
   * A report download attempt fails when nothing (an answer's headers or a byte of the body)
   * arrives for this long, so that a stalled transfer fails in a minute rather than at
   * `downloadTimeoutMs`. Default 60 000: room for a slow first byte from storage or a CDN and for
   * TCP retransmissions. At most 3 600 000.
   */
  readonly downloadIdleTimeoutMs?: number;
  /**
   * Time budget of one report download over all its attempts and delays. Default 1 800 000
   * (30 min: three attempts of `downloadTimeoutMs`). At most 14 400 000 (four attempts of the
   * largest `downloadTimeoutMs`). A pre-signed URI may expire meanwhile: the provider then
   * answers a 4xx, which is not retried.
   */
  readonly downloadRetryTotalMsMax?: number;
  /** The fetch implementation; default the global `fetch`. */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Where the client logs (pino-compatible `{ info, warn, error, debug }`): requests and answers
   * at debug, retries at warn. Never a header, a body or a query string. Default: silent.
   */
  readonly logger?: EarnClientLogger;
  /** Called on every request, answer and retry (see {@link EarnClientHooks}). */
  readonly hooks?: EarnClientHooks;
}

/** A validated, frozen entity configuration. It holds no secret. */
export interface EntityConfig {
  /** See {@link EntityConfigInput.entityId}. */
  readonly entityId: EntityId;
  /** See {@link EntityConfigInput.baseUrl}; normalised without a trailing slash. */
  readonly baseUrl: string;
  /** See {@link EntityConfigInput.tokenUrl}. */
  readonly tokenUrl: string;
  /** See {@link EntityConfigInput.clientId}. */
  readonly clientId: string;
  /** See {@link EntityConfigInput.clientAuthMethod}. */
  readonly clientAuthMethod: ClientAuthMethod;
  /** See {@link EntityConfigInput.scope}. */
  readonly scope: string | undefined;
  /** See {@link EntityConfigInput.timeoutMs}. */
  readonly timeoutMs: number;
  /** See {@link EntityConfigInput.tokenTimeoutMs}. */
  readonly tokenTimeoutMs: number;
  /** See {@link EntityConfigInput.tokenRefreshMarginMs}. */
  readonly tokenRefreshMarginMs: number;
  /** See {@link EntityConfigInput.tokenLifetimeMsDefault}. */
  readonly tokenLifetimeMsDefault: number;
  /** See {@link EntityConfigInput.attemptsMax}. */
  readonly attemptsMax: number;
  /** See {@link EntityConfigInput.retryTotalMsMax}. */
  readonly retryTotalMsMax: number;
  /** See {@link EntityConfigInput.retryDelayMsInitial}. */
  readonly retryDelayMsInitial: number;
  /** See {@link EntityConfigInput.retryDelayMsMax}. */
  readonly retryDelayMsMax: number;
  /** See {@link EntityConfigInput.pageSizeDefault}. */
  readonly pageSizeDefault: number;
  /** See {@link EntityConfigInput.pageSizeMax}. */
  readonly pageSizeMax: number;
  /** See {@link EntityConfigInput.pagesMax}. */
  readonly pagesMax: number;
  /** See {@link EntityConfigInput.responseBytesMax}. */
  readonly responseBytesMax: number;
  /** See {@link EntityConfigInput.reportBytesMax}. */
  readonly reportBytesMax: number;
  /** See {@link EntityConfigInput.downloadTimeoutMs}. */
  readonly downloadTimeoutMs: number;
  /** See {@link EntityConfigInput.downloadIdleTimeoutMs}. */
  readonly downloadIdleTimeoutMs: number;
  /** See {@link EntityConfigInput.downloadRetryTotalMsMax}. */
  readonly downloadRetryTotalMsMax: number;
  /** See {@link EntityConfigInput.fetch}; wrapped so that the logger and the hooks see each request. */
  readonly fetch: typeof globalThis.fetch;
  /** Where the HTTP layer reports retries (the `onRetry` hook and the logger). */
  readonly retries: RetryObserver;
}

/** Bounds of the numeric options: `[default, minimum, maximum]`. */
const numericOptions = {
  timeoutMs: [10_000, 1, 600_000],
  tokenTimeoutMs: [10_000, 1, 600_000],
  tokenRefreshMarginMs: [30_000, 0, 3_600_000],
  tokenLifetimeMsDefault: [60_000, 1_000, 86_400_000],
  attemptsMax: [5, 1, 20],
  retryTotalMsMax: [30_000, 1, 3_600_000],
  retryDelayMsInitial: [200, 0, 60_000],
  retryDelayMsMax: [5_000, 0, 600_000],
  pageSizeDefault: [100, 1, CONTRACT_PAGE_SIZE_MAX],
  pageSizeMax: [CONTRACT_PAGE_SIZE_MAX, 1, CONTRACT_PAGE_SIZE_MAX],
  pagesMax: [10_000, 1, 1_000_000],
  responseBytesMax: [10 * 1024 * 1024, 1024, 1024 * 1024 * 1024],
  reportBytesMax: [512 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024],
  downloadTimeoutMs: [600_000, 1, 3_600_000],
  downloadIdleTimeoutMs: [60_000, 1, 3_600_000],
  downloadRetryTotalMsMax: [1_800_000, 1, 14_400_000],
} as const satisfies Record<string, readonly [number, number, number]>;

type NumericOption = keyof typeof numericOptions;

/**
 * Whether `hostname` (as `URL.hostname` renders it) is a loopback host: `localhost`,
 * `127.0.0.0/8` or `[::1]`. Only loopback hosts may use plain HTTP.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Checks that `value` is an absolute HTTPS URL (HTTP only on loopback) without credentials or a
 * fragment, and returns it parsed. Throws `invalid_config` naming `field`.
 */
export function parseSecureUrl(value: unknown, field: string, code: 'invalid_config' | 'invalid_response' = 'invalid_config'): URL {
  if (typeof value !== 'string' || value.length === 0) {
    throw new EarnApiError(code, `${field} must be a non-empty URL string`, { path: field, field });
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new EarnApiError(code, `${field} is not an absolute URL`, { path: field, field, cause: error });
  }
  if (url.username !== '' || url.password !== '') {
    throw new EarnApiError(code, `${field} must not carry credentials in the URL`, { path: field, field });
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  throw new EarnApiError(code, `${field} must use https (plain http is allowed only on loopback hosts), got ${url.protocol}//${url.host}`, { path: field, field });
}

function requireString(value: unknown, field: string, quote: boolean): string {
  const shown = quote && typeof value === 'string' ? ` (got ${JSON.stringify(value.slice(0, 40))})` : '';
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    throw new EarnApiError('invalid_config', `${field} must be a non-empty string of at most 4096 characters${shown}`, { path: field, field });
  }
  // A lone surrogate cannot be encoded into a request (encodeURIComponent throws) nor NUL sent.
  const defect = textDefect(value);
  if (defect !== undefined) throw new EarnApiError('invalid_config', `${field} must be well-formed text, not hold ${defect}${shown}`, { path: field, field });
  return value;
}

/**
 * Validates `input` and returns a frozen configuration with every default filled in. The client
 * secret is validated but left out, so that logging the configuration is harmless. Throws {@link EarnApiError} `invalid_config` naming the field; the message never
 * contains the secret.
 *
 * @example
 * ```ts
 * const config = resolveEntityConfig({
 *   entityId: 'defi',
 *   baseUrl: 'https://earn.example.com',
 *   tokenUrl: 'https://auth.example.com/oauth/token',
 *   clientId: 'partner-defi',
 *   clientSecret: process.env.EARN_DEFI_SECRET ?? '',
 * });
 * ```
 */
export function resolveEntityConfig(input: EntityConfigInput): EntityConfig {
  if (input === null || typeof input !== 'object') {
    throw new EarnApiError('invalid_config', 'the entity configuration must be an object');
  }
  const entityId = input.entityId === undefined ? 'default' : requireString(input.entityId, 'entityId', true);
  const baseUrl = parseSecureUrl(input.baseUrl, 'baseUrl');
  if (baseUrl.search !== '' || baseUrl.hash !== '') {
    throw new EarnApiError('invalid_config', 'baseUrl must not have a query or a fragment', { path: 'baseUrl', field: 'baseUrl' });
  }
  const tokenUrl = parseSecureUrl(input.tokenUrl, 'tokenUrl');
  const clientId = requireString(input.clientId, 'clientId', true);
  requireString(input.clientSecret, 'clientSecret', false);
  const clientAuthMethod = input.clientAuthMethod ?? 'client_secret_basic';
  if (clientAuthMethod !== 'client_secret_basic' && clientAuthMethod !== 'client_secret_post') {
    throw new EarnApiError('invalid_config', `clientAuthMethod must be client_secret_basic or client_secret_post, got ${JSON.stringify(String(clientAuthMethod))}`, { path: 'clientAuthMethod', field: 'clientAuthMethod' });
  }
  const scope = input.scope === undefined ? undefined : requireString(input.scope, 'scope', true);
  const fetchFunction = input.fetch ?? globalThis.fetch;
  if (typeof fetchFunction !== 'function') {
    throw new EarnApiError('invalid_config', 'fetch must be a function', { path: 'fetch', field: 'fetch' });
  }
  const logger = input.logger ?? SILENT_EARN_CLIENT_LOGGER;
  if (!isEarnClientLogger(logger)) throw new EarnApiError('invalid_config', 'logger must have info, warn, error and debug methods', { path: 'logger', field: 'logger' });
  const hooks = input.hooks ?? {};
  for (const name of ['onRequest', 'onResponse', 'onRetry'] as const) {
    if (hooks[name] !== undefined && typeof hooks[name] !== 'function') throw new EarnApiError('invalid_config', `hooks.${name} must be a function`, { path: `hooks.${name}`, field: `hooks.${name}` });
  }
  const numbers = {} as Record<NumericOption, number>;
  for (const [name, [fallback, minimum, maximum]] of Object.entries(numericOptions) as [NumericOption, readonly [number, number, number]][]) {
    const value: unknown = input[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum) {
      throw new EarnApiError('invalid_config', `${name} must be an integer from ${minimum} to ${maximum}, got ${String(value)}`, { path: name, field: name });
    }
    numbers[name] = value;
  }
  if (numbers.pageSizeDefault > numbers.pageSizeMax) {
    throw new EarnApiError('invalid_config', `pageSizeDefault (${numbers.pageSizeDefault}) must not exceed pageSizeMax (${numbers.pageSizeMax})`, { path: 'pageSizeDefault', field: 'pageSizeDefault' });
  }
  if (numbers.retryDelayMsInitial > numbers.retryDelayMsMax) {
    throw new EarnApiError('invalid_config', `retryDelayMsInitial (${numbers.retryDelayMsInitial}) must not exceed retryDelayMsMax (${numbers.retryDelayMsMax})`, { path: 'retryDelayMsInitial', field: 'retryDelayMsInitial' });
  }
  return Object.freeze({
    entityId,
    baseUrl: baseUrl.href.replace(/\/+$/, ''),
    tokenUrl: tokenUrl.href,
    clientId,
    clientAuthMethod,
    scope,
    ...numbers,
    fetch: observedFetch(fetchFunction, { entityId, logger, hooks, tokenUrl: tokenUrl.href }),
    retries: retryObserver({ entityId, logger, hooks }),
  });
}

import * as oauth from 'oauth4webapi';
import type { EntityConfig } from './config.js';
import { isLoopbackHost } from './config.js';
import { validateContract } from './contract/validate.js';
import { EarnApiError, redact, sanitizeCause } from './errors.js';
import { abortedError, raceAbort } from './abort.js';
import { basicCredentialRenderings, credentialRenderings } from './redaction.js';

/** A token in the cache, with the instant it must be renewed. */
interface CachedToken {
  readonly accessToken: string;
  readonly refreshAtMs: number;
}

/** Tokens remembered for redaction after they were replaced. */
const rememberedTokensMax = 4;

const operation = 'POST token endpoint';

/**
 * Obtains and caches the access token of one entity through the OAuth2 client credentials grant
 * (RFC 6749 §4.4), with oauth4webapi doing the protocol work.
 *
 * - A token is reused until `tokenRefreshMarginMs` before its `expires_in` runs out.
 * - Concurrent callers without a valid token share one token request (single flight).
 * - {@link TokenProvider.invalidate} drops a token the API refused, only if it is still the
 *   cached one, so that many concurrent 401s cause one refresh.
 *
 * The secret lives in a private field: neither `util.inspect` nor `JSON.stringify` shows it.
 */
export class TokenProvider {
  readonly #config: EntityConfig;
  readonly #clientSecret: string;
  /** Every rendering of the client secret and of the Basic credentials, as sent. */
  readonly #secretForms: readonly string[];
  /** The most recent access tokens, newest last. */
  readonly #tokens: string[] = [];
  #redacted: readonly string[];
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  #tokenRequests = 0;

  constructor(options: { readonly config: EntityConfig; readonly clientSecret: string; readonly now?: () => number }) {
    this.#config = options.config;
    this.#clientSecret = options.clientSecret;
    this.#now = options.now ?? Date.now;
    // Basic authentication carries the secret form-encoded (RFC 6749 §2.3.1) inside base64 and
    // client_secret_post form-encoded in the body: every rendering that may come back is redacted.
    this.#secretForms = [...credentialRenderings(options.clientSecret), ...basicCredentialRenderings(options.config.clientId, options.clientSecret)];
    this.#redacted = this.#secretForms;
  }

  /** How many token requests this provider has sent (for diagnostics and tests). */
  get tokenRequestCount(): number {
    return this.#tokenRequests;
  }

  /** The strings that must never appear in an error: the secret and the recent tokens, in every rendering. */
  secrets(): readonly string[] {
    return this.#redacted;
  }

  /**
   * Returns a valid access token, requesting one if none is cached or the cached one is about to
   * expire. The caller's `signal` aborts only the caller's wait, never the shared request.
   */
  async getToken(signal?: AbortSignal): Promise<string> {
    const cached = this.#cached;
    if (cached !== undefined && this.#now() < cached.refreshAtMs) return cached.accessToken;
    if (signal?.aborted === true) throw abortedError(signal, operation);
    if (this.#inflight === undefined) {
      const request = this.#requestToken().finally(() => {
        if (this.#inflight === request) this.#inflight = undefined;
      });
      // Every caller may abort its own wait; the shared promise must not become an unhandled rejection.
      request.catch(() => undefined);
      this.#inflight = request;
    }
    const token = await raceAbort(this.#inflight, signal, operation);
    return token.accessToken;
  }

  /** Drops `accessToken` from the cache if it is still the cached one (after the API answered 401). */
  invalidate(accessToken: string): void {
    if (this.#cached?.accessToken === accessToken) this.#cached = undefined;
  }

  async #requestToken(): Promise<CachedToken> {
    this.#tokenRequests += 1;
    const config = this.#config;
    const tokenUrl = new URL(config.tokenUrl);
    const authorizationServer: oauth.AuthorizationServer = { issuer: tokenUrl.origin, token_endpoint: config.tokenUrl };
    const client: oauth.Client = { client_id: config.clientId };
    const clientAuth = config.clientAuthMethod === 'client_secret_post' ? oauth.ClientSecretPost(this.#clientSecret) : oauth.ClientSecretBasic(this.#clientSecret);
    const parameters = new URLSearchParams();
    if (config.scope !== undefined) parameters.set('scope', config.scope);
    const timeoutSignal = AbortSignal.timeout(config.tokenTimeoutMs);
    const startedMs = this.#now();
    let response: Response;
    try {
      response = await oauth.clientCredentialsGrantRequest(authorizationServer, client, clientAuth, parameters, {
        signal: timeoutSignal,
        [oauth.allowInsecureRequests]: tokenUrl.protocol === 'http:' && isLoopbackHost(tokenUrl.hostname),
        [oauth.customFetch]: (url, init) => config.fetch(url, init),
      });
    } catch (error) {
      if (timeoutSignal.aborted) {
        throw new EarnApiError('timeout', `${operation}: no answer within tokenTimeoutMs (${config.tokenTimeoutMs})`, { operation, cause: this.#sanitize(error) });
      }
      throw new EarnApiError('network_error', `${operation}: request failed: ${this.#redact(errorMessage(error))}`, { operation, cause: this.#sanitize(error) });
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const context = { operation, status: response.status, ...(requestId === undefined ? {} : { requestId }) };
    // Overload and gateway failures are retryable by the caller's retry loop; they are not OAuth errors.
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      const code = response.status === 429 ? 'rate_limited' : 'http_error';
      throw new EarnApiError(code, `${operation}: answered ${response.status}`, context);
    }
    let result: oauth.TokenEndpointResponse;
    try {
      result = await oauth.processClientCredentialsResponse(authorizationServer, client, response);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError) {
        const unauthorized = error.status === 401 || error.error === 'invalid_client' || error.error === 'unauthorized_client';
        throw new EarnApiError(unauthorized ? 'unauthorized' : 'http_error', `${operation}: answered ${error.status} ${error.error}`, {
          ...context,
          providerCode: error.error,
          cause: this.#sanitize(error),
        });
      }
      if (response.status === 401) {
        throw new EarnApiError('unauthorized', `${operation}: answered 401`, { ...context, cause: this.#sanitize(error) });
      }
      const code = response.ok ? 'invalid_response' : 'http_error';
      throw new EarnApiError(code, `${operation}: ${this.#redact(errorMessage(error))}`, { ...context, cause: this.#sanitize(error) });
    }
    this.#remember(result.access_token);
    validateContract('TokenResponse', result, { operation, secrets: this.#redacted, quoteValue: false, status: response.status, ...(requestId === undefined ? {} : { requestId }) });
    if (result.token_type !== 'bearer') {
      throw new EarnApiError('invalid_response', `${operation}: token_type must be Bearer`, { ...context, path: 'token_type', field: 'token_type' });
    }
    const lifetimeMs = result.expires_in === undefined ? config.tokenLifetimeMsDefault : result.expires_in * 1000;
    const marginMs = Math.min(config.tokenRefreshMarginMs, lifetimeMs / 2);
    const token: CachedToken = { accessToken: result.access_token, refreshAtMs: startedMs + lifetimeMs - marginMs };
    this.#cached = token;
    return token;
  }

  #remember(accessToken: string): void {
    if (this.#tokens.includes(accessToken)) return;
    this.#tokens.push(accessToken);
    // The secret and its renderings stay; only old tokens are forgotten.
    if (this.#tokens.length > rememberedTokensMax) this.#tokens.shift();
    this.#redacted = [...this.#secretForms, ...this.#tokens.flatMap((token) => credentialRenderings(token))];
  }

  #redact(text: string): string {
    return redact(text, this.#redacted);
  }

  #sanitize(error: unknown): unknown {
    return sanitizeCause(error, this.#redacted);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

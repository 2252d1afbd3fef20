import * as oauth from 'oauth4webapi';
import type { EntityConfig } from './config.js';
import { isLoopbackHost } from './config.js';
import { validateContract } from './contract/validate.js';
import { EarnApiError, PROVIDER_ID_LENGTH_MAX, providerText, redact, sanitizeCause } from './errors.js';
import { readText } from './read-text.js';
import { setRetryAfter } from './retry-after.js';
import { abortedError, raceAbort, untilAborted } from './abort.js';
import { basicCredentialRenderings, credentialRenderings } from './redaction.js';
import { checkSendableToken, checkTokenAnswerText, issuedTokenRenderings, tokenLifetimeMs } from './token-answer.js';

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
    const authorizationServer: oauth.AuthorizationServer = { issuer: new URL(config.tokenUrl).origin, token_endpoint: config.tokenUrl };
    const client: oauth.Client = { client_id: config.clientId };
    const startedMs = this.#now();
    const { response, text } = await this.#exchange(authorizationServer, client);
    // The token a success answer issues is a credential even when the answer is refused: its
    // errors (request id, keys, causes) are redacted of it too.
    const secrets = response.ok ? [...this.#redacted, ...issuedTokenRenderings(text)] : this.#redacted;
    // Repeated keys and a malformed expires_in, which oauth4webapi's JSON.parse and parseFloat would pass.
    if (response.ok) checkTokenAnswerText(text, { ...this.#context(response, secrets), secrets });
    let result: oauth.TokenEndpointResponse;
    try {
      result = await oauth.processClientCredentialsResponse(authorizationServer, client, response);
    } catch (error) {
      throw this.#refusal(error, response, secrets);
    }
    this.#remember(result.access_token);
    validateContract('TokenResponse', result, { ...this.#context(response), secrets: this.#redacted, quoteValue: false });
    if (result.token_type !== 'bearer') {
      throw new EarnApiError('invalid_response', `${operation}: token_type must be Bearer`, { ...this.#context(response), path: 'token_type', field: 'token_type' });
    }
    checkSendableToken(result.access_token, { ...this.#context(response), secrets: this.#redacted });
    const lifetimeMs = tokenLifetimeMs(result.expires_in, config.tokenLifetimeMsDefault);
    const marginMs = Math.min(config.tokenRefreshMarginMs, lifetimeMs / 2);
    const token: CachedToken = { accessToken: result.access_token, refreshAtMs: startedMs + lifetimeMs - marginMs };
    this.#cached = token;
    return token;
  }

  /**
   * Sends the token request and reads its whole answer within `tokenTimeoutMs` (headers and
   * body) and `responseBytesMax`, then hands back a `Response` rebuilt from the text read, for
   * oauth4webapi to check. Reading the body here, not in oauth4webapi, makes a connection that
   * breaks mid-body a `network_error` and a body that stalls a `timeout` (both retried, as on API
   * calls) and bounds the answer's size. Redirects are not followed (oauth4webapi sends
   * `redirect: 'manual'`): a 3xx is refused as an `http_error`. The wait ends at
   * `tokenTimeoutMs` even when a `fetch` ignores its signal: the request is shared by every
   * caller, and one that never settled left every later call waiting on it.
   */
  async #exchange(authorizationServer: oauth.AuthorizationServer, client: oauth.Client): Promise<{ response: Response; text: string }> {
    const config = this.#config;
    const tokenUrl = new URL(config.tokenUrl);
    const clientAuth = config.clientAuthMethod === 'client_secret_post' ? oauth.ClientSecretPost(this.#clientSecret) : oauth.ClientSecretBasic(this.#clientSecret);
    const parameters = new URLSearchParams();
    if (config.scope !== undefined) parameters.set('scope', config.scope);
    // One signal for the request and the body: undici aborts the body's stream with it.
    const timeoutSignal = AbortSignal.timeout(config.tokenTimeoutMs);
    const send = async (): Promise<{ response: Response; text: string }> => {
      const response = await oauth.clientCredentialsGrantRequest(authorizationServer, client, clientAuth, parameters, {
        signal: timeoutSignal,
        [oauth.allowInsecureRequests]: tokenUrl.protocol === 'http:' && isLoopbackHost(tokenUrl.hostname),
        [oauth.customFetch]: (url, init) => config.fetch(url, init),
      });
      // Overload and gateway failures are retryable by the caller's retry loop; they are not OAuth errors.
      if (response.status === 429 || response.status >= 500) {
        await response.body?.cancel().catch(() => undefined);
        const failure = new EarnApiError(response.status === 429 ? 'rate_limited' : 'http_error', `${operation}: answered ${response.status}`, this.#context(response));
        // Every call waiting on this shared request waits what the endpoint asked for, then one retries it.
        setRetryAfter(failure, response);
        throw failure;
      }
      const requestId = this.#context(response).requestId;
      const text = await readText({ response, bytesMax: config.responseBytesMax, operation, requestId, signal: timeoutSignal });
      // A null-body status (204, 205, 304) cannot be rebuilt with a body, and has none.
      return { response: new Response(text === '' ? null : text, { status: response.status, statusText: response.statusText, headers: response.headers }), text };
    };
    try {
      return await untilAborted(send(), timeoutSignal);
    } catch (error) {
      // `limit_exceeded`, a success body that is not UTF-8, a 429 or 5xx: as they are.
      if (error instanceof EarnApiError) throw error;
      if (timeoutSignal.aborted) {
        throw new EarnApiError('timeout', `${operation}: no complete answer within ${config.tokenTimeoutMs} ms (tokenTimeoutMs)`, { operation, cause: this.#sanitize(error) });
      }
      throw new EarnApiError('network_error', `${operation}: request failed: ${this.#redact(errorMessage(error))}`, { operation, cause: this.#sanitize(error) });
    }
  }

  /** The error for a token answer oauth4webapi refused (an OAuth error, a 3xx, an invalid body). */
  #refusal(error: unknown, response: Response, secrets: readonly string[]): EarnApiError {
    const context = this.#context(response, secrets);
    if (error instanceof oauth.ResponseBodyError) {
      const unauthorized = error.status === 401 || error.error === 'invalid_client' || error.error === 'unauthorized_client';
      const providerCode = providerText(error.error, { secrets, lengthMax: PROVIDER_ID_LENGTH_MAX });
      return new EarnApiError(unauthorized ? 'unauthorized' : 'http_error', `${operation}: answered ${error.status} ${providerCode}`, {
        ...context,
        providerCode,
        cause: sanitizeCause(error, secrets),
      });
    }
    if (response.status === 401) {
      return new EarnApiError('unauthorized', `${operation}: answered 401`, { ...context, cause: sanitizeCause(error, secrets) });
    }
    const code = response.ok ? 'invalid_response' : 'http_error';
    return new EarnApiError(code, `${operation}: ${redact(errorMessage(error), secrets)}`, { ...context, cause: sanitizeCause(error, secrets) });
  }

  /** The operation, status and request id of a token answer, as its errors carry them. */
  #context(response: Response, secrets: readonly string[] = this.#redacted): { operation: string; status: number; requestId?: string } {
    const header = response.headers.get('x-request-id');
    // Redacted with the secrets known now: a token just issued is one of them once remembered.
    const requestId = header === null ? undefined : providerText(header, { secrets, lengthMax: PROVIDER_ID_LENGTH_MAX });
    return { operation, status: response.status, ...(requestId === undefined ? {} : { requestId }) };
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

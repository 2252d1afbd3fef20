import type { EntityConfig } from './config.js';
import { parseSecureUrl } from './config.js';
import { validateContract } from './contract/validate.js';
import { checkJsonKeys } from './contract/json-keys.js';
import type { ContractSchemaName } from './contract/openapi.js';
import type { ContractTypes } from './contract/types.js';
import { EarnApiError, PROVIDER_ID_LENGTH_MAX, PROVIDER_MESSAGE_LENGTH_MAX, providerText, redact, sanitizeCause } from './errors.js';
import { abortedError, fetchUntilAborted, sleep } from './abort.js';
import { operationSpec } from './operations.js';
import { bodyCarriesCredential, credentialInBody, redactError } from './redaction.js';
import { fetchDownload } from './redirects.js';
import { retryAfterOf, setRetryAfter } from './retry-after.js';
import { readText } from './read-text.js';
import { writeBodyToFile } from './body-file.js';
import { refuseUndecodedEncoding } from './download-checks.js';
import { AttemptClock } from './attempt-clock.js';
import type { TimeLimits } from './attempt-clock.js';
import type { ApiOperation, ResponseSchemaOf } from './operations.js';
import type { TokenProvider } from './token-provider.js';

export { parseRetryAfterMs } from './retry-after.js';

/** One logical call; its attempts share the idempotency key. */
export interface CallOptions {
  /** Values of the `{name}` segments of the path template. */
  readonly pathParams?: Readonly<Record<string, string>>;
  /** Query parameters; `undefined` values are left out. */
  readonly query?: Readonly<Record<string, string | undefined>>;
  /** The JSON body. */
  readonly body?: unknown;
  /** Sent as `Idempotency-Key` on every attempt of this call. */
  readonly idempotencyKey?: string;
  /** The caller's signal. */
  readonly signal?: AbortSignal | undefined;
}

/** One logical call as the retry loop sees it. */
interface RetryCall {
  readonly operation: string;
  readonly signal: AbortSignal | undefined;
  /** The API limits or the download limits. */
  readonly limits: TimeLimits;
}

/** 401 answers of the API itself (not of the token endpoint): they trigger one token refresh. */
const apiUnauthorized = new WeakSet<EarnApiError>();

const retryableStatuses = new Set([502, 503, 504]);

/** Whether `error` is worth another attempt: 429, 502/503/504, network errors and timeouts. */
export function isRetryable(error: EarnApiError): boolean {
  if (error.code === 'network_error' || error.code === 'timeout' || error.code === 'rate_limited') return true;
  return error.code === 'http_error' && error.status !== undefined && retryableStatuses.has(error.status);
}

/**
 * The backoff delay before attempt `attempt + 1`: exponential from `retryDelayMsInitial`, capped
 * at `retryDelayMsMax`, with "equal jitter" (half fixed, half random) so that concurrent clients
 * spread out but a delay never collapses to zero.
 */
export function backoffDelayMs(attempt: number, config: Pick<EntityConfig, 'retryDelayMsInitial' | 'retryDelayMsMax'>, random: () => number = Math.random): number {
  const capMs = Math.min(config.retryDelayMsMax, config.retryDelayMsInitial * 2 ** Math.min(attempt - 1, 30));
  return Math.round(capMs / 2 + random() * (capMs / 2));
}

/**
 * Sends the requests of one entity: authentication, retries with backoff, time limits, abort,
 * response size limits, error mapping and contract validation of every response.
 */
export class HttpExecutor {
  readonly #config: EntityConfig;
  readonly #tokens: TokenProvider;
  readonly #apiLimits: TimeLimits;
  readonly #downloadLimits: TimeLimits;

  constructor(options: { readonly config: EntityConfig; readonly tokens: TokenProvider }) {
    const config = options.config;
    this.#config = config;
    this.#tokens = options.tokens;
    this.#apiLimits = { attemptMs: config.timeoutMs, attemptName: 'timeoutMs', totalMs: config.retryTotalMsMax, totalName: 'retryTotalMsMax' };
    // A report may be hundreds of MiB: its whole body must arrive within the download limits,
    // not within an API call's seconds; a stalled transfer still fails after the idle limit.
    this.#downloadLimits = {
      attemptMs: config.downloadTimeoutMs,
      attemptName: 'downloadTimeoutMs',
      totalMs: config.downloadRetryTotalMsMax,
      totalName: 'downloadRetryTotalMsMax',
      idleMs: config.downloadIdleTimeoutMs,
      idleName: 'downloadIdleTimeoutMs',
    };
  }

  /**
   * Calls `operation` and returns its validated success body. Retries retryable failures within
   * `attemptsMax` and `retryTotalMsMax`; a 401 causes one token refresh and one more attempt.
   */
  async call<O extends ApiOperation>(operation: O, options: CallOptions = {}): Promise<ContractTypes[ResponseSchemaOf<O>]> {
    const spec = operationSpec(operation);
    const url = this.#url(spec.pathTemplate, options);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return this.#withRetries({ operation, signal: options.signal, limits: this.#apiLimits }, async ({ signal: attemptSignal }) => {
      const accessToken = await this.#tokens.getToken(attemptSignal);
      const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${accessToken}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
      // A redirect is refused: it answers as a 3xx `http_error`, never retried, never followed.
      const init: RequestInit = { method: spec.method, headers, signal: attemptSignal, redirect: 'manual' };
      if (body !== undefined) init.body = body;
      try {
        return await this.#exchange({ operation, url, init, signal: attemptSignal, schemaName: spec.schemaName as ResponseSchemaOf<O>, bytesMax: this.#config.responseBytesMax });
      } catch (error) {
        if (error instanceof EarnApiError && apiUnauthorized.has(error)) this.#tokens.invalidate(accessToken);
        throw error;
      }
    });
  }

  /**
   * Downloads a daily report from `uri` without the bearer token (the URI is assumed
   * pre-signed), within `reportBytesMax`, and validates it. Its time limits are the download
   * ones (`downloadTimeoutMs` per attempt, `downloadRetryTotalMsMax` in all,
   * `downloadIdleTimeoutMs` without receiving anything), not those of API calls.
   */
  async download(uri: string, signal: AbortSignal | undefined): Promise<ContractTypes['DailyReport']> {
    return this.#downloadWith(uri, signal, (response, operation, clock) =>
      this.#accept({ operation, response, signal: clock.signal, schemaName: 'DailyReport', bytesMax: this.#config.reportBytesMax, onChunk: () => clock.progress() }),
    );
  }

  /**
   * {@link HttpExecutor.download}'s bytes written to `path` as they arrive instead of parsed
   * (`writeBodyToFile`): same limits, retries, redirects and credential check; each attempt starts
   * the file again. Returns the bytes written.
   */
  async downloadToFile(uri: string, path: string, signal: AbortSignal | undefined): Promise<number> {
    return this.#downloadWith(uri, signal, async (response, operation, clock) => {
      const requestId = this.#headerRequestId(response);
      if (!response.ok) {
        const text = await readText({ response, bytesMax: this.#config.reportBytesMax, operation, requestId, onChunk: () => clock.progress(), signal: clock.signal });
        throw this.#httpFailure(operation, response, text, requestId);
      }
      const secrets = this.#tokens.secrets();
      return writeBodyToFile({ response, path, bytesMax: this.#config.reportBytesMax, operation, requestId, secrets, onChunk: () => clock.progress(), signal: clock.signal });
    });
  }

  /** A report download (the URI checked, then attempts with the download limits), its answer handled by `take`. */
  async #downloadWith<T>(uri: string, signal: AbortSignal | undefined, take: (response: Response, operation: string, clock: AttemptClock) => Promise<T>): Promise<T> {
    const operation = 'GET report download';
    const url = parseSecureUrl(uri, 'uri', 'invalid_response');
    return this.#withRetries({ operation, signal, limits: this.#downloadLimits }, async (clock) => {
      const response = await this.#fetchDownload(url, operation, clock);
      if (response.ok) {
        try {
          refuseUndecodedEncoding({ response, operation, requestId: this.#headerRequestId(response), secrets: this.#tokens.secrets() });
        } catch (error) {
          await response.body?.cancel().catch(() => undefined);
          throw error;
        }
      }
      return take(response, operation, clock);
    });
  }

  async #fetchDownload(url: URL, operation: string, clock: AttemptClock): Promise<Response> {
    const init: RequestInit = { method: 'GET', headers: { accept: 'application/json' }, signal: clock.signal };
    // Every answer, redirects included, counts as progress for the idle limit.
    // Each hop ends at the attempt's limits even through a custom `fetch` that ignores the signal.
    const fetch = async (input: URL, hopInit: RequestInit): Promise<Response> => {
      const response = await fetchUntilAborted({ fetch: this.#config.fetch, input, init: hopInit, signal: clock.signal });
      clock.progress();
      return response;
    };
    return fetchDownload({ fetch, url, init, operation });
  }

  #url(pathTemplate: string, options: CallOptions): URL {
    const path = pathTemplate.replace(/\{(\w+)\}/g, (_match, name: string) => {
      const value = options.pathParams?.[name];
      if (value === undefined) throw new Error(`missing path parameter ${name} for ${pathTemplate}`);
      // The client's methods refuse these (`identifier`): the URL would resolve them as dot segments.
      if (value === '.' || value === '..') throw new Error(`path parameter ${name} is a dot segment for ${pathTemplate}`);
      return encodeURIComponent(value);
    });
    const url = new URL(this.#config.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url;
  }

  /**
   * Runs `attempt` with retries; whatever it finally throws leaves with every credential of this
   * client redacted from every field, whatever the provider echoed into it.
   */
  async #withRetries<T>(call: RetryCall, attempt: (clock: AttemptClock) => Promise<T>): Promise<T> {
    try {
      return await this.#retryLoop(call, attempt);
    } catch (error) {
      throw error instanceof EarnApiError ? redactError(error, this.#tokens.secrets()) : error;
    }
  }

  async #retryLoop<T>(call: RetryCall, attempt: (clock: AttemptClock) => Promise<T>): Promise<T> {
    const { operation, signal, limits } = call;
    const config = this.#config;
    const deadlineMs = Date.now() + limits.totalMs;
    let attempts = 0;
    let refreshed = false;
    for (;;) {
      if (signal?.aborted === true) throw abortedError(signal, operation);
      attempts += 1;
      const clock = new AttemptClock({ limits, remainingMs: deadlineMs - Date.now(), signal });
      let failure: EarnApiError;
      try {
        return await attempt(clock);
      } catch (error) {
        failure = this.#classify(error, { operation, signal, clock });
      } finally {
        clock.stop();
      }
      if (apiUnauthorized.has(failure) && !refreshed) {
        // One refresh and one more attempt; this attempt does not count against attemptsMax.
        refreshed = true;
        attempts -= 1;
        continue;
      }
      if (!isRetryable(failure)) throw failure;
      const retryAfterMs = retryAfterOf(failure);
      const delayMs = retryAfterMs ?? backoffDelayMs(attempts, config);
      if (attempts >= config.attemptsMax || Date.now() + delayMs >= deadlineMs) {
        if (config.attemptsMax === 1) throw failure;
        throw new EarnApiError('retries_exhausted', `${operation}: gave up after ${attempts} attempt(s): ${failure.message}`, {
          operation,
          attempts,
          ...(failure.status === undefined ? {} : { status: failure.status }),
          ...(failure.providerCode === undefined ? {} : { providerCode: failure.providerCode }),
          ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
          cause: failure,
        });
      }
      config.retries.retry({ operation, attempt: attempts, delayMs, code: failure.code, status: failure.status });
      await sleep(delayMs, signal, operation);
    }
  }

  #classify(error: unknown, context: { operation: string; signal: AbortSignal | undefined; clock: AttemptClock }): EarnApiError {
    const { operation, signal } = context;
    if (signal?.aborted === true) {
      if (error instanceof EarnApiError && error.code === 'aborted') return error;
      return abortedError(signal, operation);
    }
    const expired = context.clock.expired();
    // A wait for the shared token request ends as `aborted` when the attempt's own time limit fires.
    if (error instanceof EarnApiError && !(error.code === 'aborted' && expired !== undefined)) return error;
    const cause = sanitizeCause(error, this.#tokens.secrets());
    if (expired !== undefined) return new EarnApiError('timeout', `${operation}: ${expired}`, { operation, cause });
    const message = error instanceof Error ? error.message : String(error);
    return new EarnApiError('network_error', `${operation}: ${this.#redact(message)}`, { operation, cause });
  }

  async #exchange<N extends ContractSchemaName>(request: {
    readonly operation: string;
    readonly url: URL;
    readonly init: RequestInit;
    /** The attempt's signal: the answer and its body end at its limits even if `fetch` ignores it. */
    readonly signal: AbortSignal;
    readonly schemaName: N;
    readonly bytesMax: number;
  }): Promise<ContractTypes[N]> {
    const { signal } = request;
    const response = await fetchUntilAborted({ fetch: this.#config.fetch, input: request.url, init: request.init, signal });
    return this.#accept({ operation: request.operation, response, signal, schemaName: request.schemaName, bytesMax: request.bytesMax });
  }

  /**
   * Reads, parses and validates a response; a non-2xx one becomes the matching error. A success
   * body that writes a key twice in one object or holds a `__proto__` key is `invalid_response`.
   */
  async #accept<N extends ContractSchemaName>(request: {
    readonly operation: string;
    readonly response: Response;
    readonly signal: AbortSignal;
    readonly schemaName: N;
    readonly bytesMax: number;
    readonly onChunk?: () => void;
  }): Promise<ContractTypes[N]> {
    const { operation, response, signal } = request;
    const requestId = this.#headerRequestId(response);
    const text = await readText({ response, bytesMax: request.bytesMax, operation, requestId, signal, ...(request.onChunk === undefined ? {} : { onChunk: request.onChunk }) });
    if (!response.ok) throw this.#httpFailure(operation, response, text, requestId);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new EarnApiError('invalid_response', `${operation}: the ${response.status} body is not valid JSON`, {
        operation,
        status: response.status,
        path: '(root)',
        ...(requestId === undefined ? {} : { requestId }),
        cause: sanitizeCause(error, this.#tokens.secrets()),
      });
    }
    // A key written twice (JSON.parse kept the last value) or `__proto__`: refused before anything reads the value.
    checkJsonKeys(text, json, { operation, secrets: this.#tokens.secrets(), status: response.status, ...(requestId === undefined ? {} : { requestId }) });
    const valid = validateContract(request.schemaName, json, {
      operation,
      secrets: this.#tokens.secrets(),
      sourceText: text,
      status: response.status,
      ...(requestId === undefined ? {} : { requestId }),
    });
    // Checked after the contract, whose error names the offending field.
    if (bodyCarriesCredential(text, json, this.#tokens.secrets())) throw credentialInBody(operation, response.status, requestId);
    return valid;
  }

  #httpFailure(operation: string, response: Response, text: string, headerRequestId: string | undefined): EarnApiError {
    let providerCode: string | undefined;
    let providerMessage: string | undefined;
    let requestId = headerRequestId;
    try {
      const body = validateContract('ErrorBody', JSON.parse(text));
      providerCode = body.error.code;
      providerMessage = body.error.message;
      if (requestId === undefined && body.error.requestId !== undefined) requestId = this.#providerText(body.error.requestId, PROVIDER_ID_LENGTH_MAX);
    } catch {
      // A non-conforming error body still yields an error with the status; the body is not trusted.
    }
    const status = response.status;
    let code: EarnApiError['code'] = 'http_error';
    if (status === 401) code = 'unauthorized';
    else if (status === 429) code = 'rate_limited';
    else if (status === 422 && providerCode === 'insufficient_balance') code = 'insufficient_balance';
    else if (status === 409 && providerCode === 'idempotency_conflict') code = 'idempotency_conflict';
    // The provider's text is bounded and cannot break a log line; the raw code only classifies.
    const shownCode = providerCode === undefined ? undefined : this.#providerText(providerCode, PROVIDER_ID_LENGTH_MAX);
    const detail = providerMessage === undefined ? '' : `: ${this.#providerText(providerMessage, PROVIDER_MESSAGE_LENGTH_MAX)}`;
    const error = new EarnApiError(code, `${operation}: answered ${status}${shownCode === undefined ? '' : ` ${shownCode}`}${detail}`, {
      operation,
      status,
      ...(shownCode === undefined ? {} : { providerCode: shownCode }),
      ...(requestId === undefined ? {} : { requestId }),
    });
    if (status === 401) apiUnauthorized.add(error);
    if (status === 429 || retryableStatuses.has(status)) setRetryAfter(error, response);
    return error;
  }

  #redact(text: string): string {
    return redact(text, this.#tokens.secrets());
  }

  /** Provider text as an error carries it: redacted, then escaped and cut ({@link providerText}). */
  #providerText(text: string, lengthMax: number): string {
    return providerText(text, { secrets: this.#tokens.secrets(), lengthMax });
  }

  /** The response's `X-Request-Id` as an error carries it, or `undefined` when there is none. */
  #headerRequestId(response: Response): string | undefined {
    const header = response.headers.get('x-request-id');
    return header === null ? undefined : this.#providerText(header, PROVIDER_ID_LENGTH_MAX);
  }
}

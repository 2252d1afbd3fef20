import { credentialRenderings } from './redaction.js';

/**
 * The provider's request id, as the client passes it to hooks and log lines. A request id is the
 * one response header the client hands on, so a hostile or echoing server could put what the
 * client sent into it (the `Authorization` header, the bearer token, the Basic credentials and so
 * the client secret). Errors redact it by value (see `redaction.ts`); here, where the value goes
 * to the caller's logger and hooks, it is checked instead: it must look like an id and share no
 * run of characters with a credential the client has sent.
 */

/** The longest request id passed on; a longer one is not a plausible id. */
export const REQUEST_ID_LENGTH_MAX = 128;

/**
 * The shortest run of characters a request id may share with a credential before it is
 * withheld: a server that echoes a credential cut into pieces still leaves runs this long.
 */
export const REQUEST_ID_CREDENTIAL_OVERLAP_MIN = 8;

/** What a withheld request id is replaced with, as errors show a redacted one. */
export const WITHHELD_REQUEST_ID = '[redacted]';

/** Distinct credentials remembered per client (tokens are renewed; the secret stays). */
const sentCredentialsMax = 16;

/** Visible ASCII, no space: ids are UUIDs, hex, or words joined by `-`, `_`, `.`, `:`, `/`. */
const plausibleRequestId = /^[\x21-\x7e]+$/;

/**
 * Credentials seen on the requests of one client, in every rendering, so that a request id can
 * be checked against them; bounded to the most recent {@link sentCredentialsMax}.
 */
export class SentCredentials {
  readonly #raw: string[] = [];
  #forms: readonly string[] = [];

  /** Remembers the credentials `init` (or the `Request` `input`) carries. */
  note(input: string | URL | Request, init: RequestInit | undefined): void {
    this.#add(credentialsOf(input, init));
  }

  /** Remembers a credential the client received and will send (an access token just issued). */
  noteIssued(credential: string): void {
    this.#add([credential]);
  }

  #add(credentials: readonly string[]): void {
    let added = false;
    for (const credential of credentials) {
      if (credential.length === 0 || this.#raw.includes(credential)) continue;
      this.#raw.push(credential);
      if (this.#raw.length > sentCredentialsMax) this.#raw.shift();
      added = true;
    }
    if (added) this.#forms = [...new Set(this.#raw.flatMap((credential) => credentialRenderings(credential)))];
  }

  /**
   * `value` when it is a plausible request id (1 to {@link REQUEST_ID_LENGTH_MAX} visible ASCII
   * characters) sharing no run of {@link REQUEST_ID_CREDENTIAL_OVERLAP_MIN} characters with a
   * credential sent (nor holding a shorter credential whole); {@link WITHHELD_REQUEST_ID}
   * otherwise; `undefined` when there is none.
   */
  requestId(value: string | null): string | undefined {
    if (value === null) return undefined;
    if (value.length === 0 || value.length > REQUEST_ID_LENGTH_MAX || !plausibleRequestId.test(value)) return WITHHELD_REQUEST_ID;
    for (const form of this.#forms) {
      if (value.includes(form) || sharesRun(value, form)) return WITHHELD_REQUEST_ID;
    }
    return value;
  }
}

function sharesRun(value: string, credential: string): boolean {
  const run = REQUEST_ID_CREDENTIAL_OVERLAP_MIN;
  if (credential.length < run) return false;
  for (let start = 0; start + run <= value.length; start += 1) {
    if (credential.includes(value.slice(start, start + run))) return true;
  }
  return false;
}

/**
 * The credentials one request carries: the `Authorization` value, its token or Basic
 * credentials, the client secret those decode to, and a form body's `client_secret`.
 */
function credentialsOf(input: string | URL | Request, init: RequestInit | undefined): string[] {
  const found: string[] = [];
  let headers: Headers;
  try {
    headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  } catch {
    // Headers fetch itself would refuse: nothing was sent.
    return found;
  }
  const authorization = headers.get('authorization');
  if (authorization !== null) {
    found.push(authorization);
    const [scheme = '', ...rest] = authorization.split(' ');
    const parameter = rest.join(' ').trim();
    found.push(parameter);
    if (scheme.toLowerCase() === 'basic') found.push(...basicParts(parameter));
  }
  const body = init?.body;
  const form = body instanceof URLSearchParams ? body : typeof body === 'string' && body.includes('client_secret=') ? new URLSearchParams(body) : undefined;
  const secret = form?.get('client_secret');
  if (secret !== undefined && secret !== null) found.push(secret);
  return found;
}

/** The secret of Basic credentials `id:secret`, as sent and form-decoded (RFC 6749 §2.3.1). */
function basicParts(encoded: string): string[] {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return [decoded];
  // The client id is not a secret (and often recurs in ids): the password alone is kept.
  const password = decoded.slice(separator + 1);
  const parts = [password];
  try {
    parts.push(decodeURIComponent(password.replaceAll('+', ' ')));
  } catch {
    // Not form-encoded: the raw password is already kept.
  }
  return parts;
}

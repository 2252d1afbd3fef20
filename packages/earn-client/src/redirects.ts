import { parseSecureUrl } from './config.js';
import { EarnApiError } from './errors.js';

/**
 * Redirects one report download may follow. Storage and CDNs answering a pre-signed URI
 * commonly redirect once (a regional endpoint, a signed edge URL); more hops than this are a loop.
 */
export const DOWNLOAD_REDIRECTS_MAX = 5;

/** The statuses that redirect a GET to the `Location` (RFC 9110 §15.4). */
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches a report download, following redirects by hand so that every hop passes the same URI
 * policy as the first URI (HTTPS, plain HTTP only on loopback, no credentials in the URL) and
 * never goes from HTTPS down to HTTP, even on loopback. A refused hop is `invalid_response`
 * naming it; nothing is requested from it. Returns the first non-redirect response.
 *
 * Following (rather than refusing, as API calls do) keeps pre-signed URIs served through a
 * redirecting CDN working; no credential is sent on downloads, so a hop learns nothing but the
 * URI the provider chose.
 */
export async function fetchDownload(options: {
  readonly fetch: (input: URL, init: RequestInit) => Promise<Response>;
  readonly url: URL;
  readonly init: RequestInit;
  readonly operation: string;
}): Promise<Response> {
  const { operation } = options;
  let url = options.url;
  for (let hop = 0; ; hop += 1) {
    const response = await options.fetch(url, { ...options.init, redirect: 'manual' });
    if (!redirectStatuses.has(response.status)) return response;
    await response.body?.cancel().catch(() => undefined);
    if (hop >= DOWNLOAD_REDIRECTS_MAX) {
      throw new EarnApiError('limit_exceeded', `${operation}: more than ${DOWNLOAD_REDIRECTS_MAX} redirects`, { operation, status: response.status, path: 'location', field: 'location' });
    }
    url = nextHop({ from: url, location: response.headers.get('location'), status: response.status, operation, hop: hop + 1 });
  }
}

function nextHop(input: { readonly from: URL; readonly location: string | null; readonly status: number; readonly operation: string; readonly hop: number }): URL {
  const { operation, status } = input;
  const refuse = (reason: string, cause?: unknown): EarnApiError =>
    new EarnApiError('invalid_response', `${operation}: redirect ${input.hop} (${status}) refused: ${reason}`, { operation, status, path: 'location', field: 'location', ...(cause === undefined ? {} : { cause }) });
  if (input.location === null || input.location.length === 0) throw refuse('no Location header');
  let target: string;
  try {
    target = new URL(input.location, input.from).href;
  } catch (cause) {
    throw refuse('the Location is not a URL', cause);
  }
  let url: URL;
  try {
    url = parseSecureUrl(target, 'location', 'invalid_response');
  } catch (cause) {
    throw refuse(cause instanceof Error ? cause.message : String(cause), cause);
  }
  if (input.from.protocol === 'https:' && url.protocol !== 'https:') throw refuse(`it goes from https down to ${url.protocol}//${url.host}`);
  return url;
}

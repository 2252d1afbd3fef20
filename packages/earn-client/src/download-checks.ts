import { EarnApiError, PROVIDER_ID_LENGTH_MAX, providerText } from './errors.js';

/**
 * The content codings the global `fetch` (undici) decodes, and so the ones it asks for in
 * `Accept-Encoding`. For any other coding, or a list holding one, it hands the bytes over as they
 * came: a report written from them would be compressed bytes, not JSON.
 */
const DECODED_CODINGS: ReadonlySet<string> = new Set(['identity', 'gzip', 'x-gzip', 'deflate', 'br']);

/**
 * Refuses (`invalid_response` naming `content-encoding`) a successful download whose
 * `Content-Encoding` names a coding the client did not ask for and does not decode, or lists
 * `identity` beside another coding: undici decodes nothing then (it stops at a coding it does not
 * decode, and `identity` is one only alone), so `gzip, identity` handed over gzip bytes, refused
 * later as text that is not UTF-8 instead of naming the header (a review, session 44).
 */
export function refuseUndecodedEncoding(request: {
  readonly response: Response;
  readonly operation: string;
  readonly requestId: string | undefined;
  readonly secrets: readonly string[];
}): void {
  const { response, operation } = request;
  const header = response.headers.get('content-encoding');
  if (header === null) return;
  const codings = header.split(',').map((coding) => coding.trim().toLowerCase());
  if (codings.every((coding) => DECODED_CODINGS.has(coding)) && (codings.length === 1 || !codings.includes('identity'))) return;
  const shown = providerText(header, { secrets: request.secrets, lengthMax: PROVIDER_ID_LENGTH_MAX });
  throw new EarnApiError('invalid_response', `${operation}: the ${response.status} answer's content-encoding "${shown}" is not one the client asked for (gzip, deflate, br)`, {
    operation,
    status: response.status,
    path: 'content-encoding',
    field: 'content-encoding',
    ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
  });
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * Whether a body written to a file without parsing is framed as one JSON object: after an optional
 * byte order mark (as reconcile's readers allow) and JSON white space, its first byte is `{` and
 * its last byte before trailing white space is `}`. This refuses an HTML error page answered with
 * 200 at its first chunk, and an empty or cut body at its end; the entries themselves are checked
 * by whoever reads the file. Only the edges of each chunk are looked at.
 */
export class JsonObjectFraming {
  /** Bytes looked at before the first significant one. */
  #seen = 0;
  /** Bytes of a leading byte order mark matched so far. */
  #bomBytes = 0;
  /** Whether the first significant byte was `{`; `undefined` until it arrives. */
  #opened: boolean | undefined;
  /** The last significant byte so far, or -1. */
  #last = -1;

  /** Looks at one chunk; returns `false` as soon as the body cannot be a JSON object. */
  push(chunk: Uint8Array): boolean {
    for (let index = 0; this.#opened === undefined && index < chunk.length; index += 1) this.#lead(chunk[index] as number);
    for (let index = chunk.length - 1; index >= 0; index -= 1) {
      const byte = chunk[index] as number;
      if (!isJsonWhitespace(byte)) {
        this.#last = byte;
        break;
      }
    }
    return this.#opened !== false;
  }

  /** Whether the whole body was framed as one JSON object. */
  whole(): boolean {
    return this.#opened === true && this.#last === CLOSE_BRACE;
  }

  #lead(byte: number): void {
    const position = this.#seen;
    this.#seen += 1;
    if (position < UTF8_BOM.length && this.#bomBytes === position && byte === UTF8_BOM[position]) {
      this.#bomBytes += 1;
      return;
    }
    // A byte order mark begun and not finished is not one.
    if (this.#bomBytes > 0 && this.#bomBytes < UTF8_BOM.length) this.#opened = false;
    else if (!isJsonWhitespace(byte)) this.#opened = byte === OPEN_BRACE;
  }
}

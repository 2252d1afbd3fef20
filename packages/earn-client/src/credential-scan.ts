import { CREDENTIAL_IN_BODY_LENGTH_MIN } from './redaction.js';

const BACKSLASH = 0x5c;

/** The bytes a JSON escape letter stands for (`\uXXXX` aside). */
const SIMPLE_ESCAPES: ReadonlyMap<number, number> = new Map([
  [0x22, 0x22], // \"
  [0x5c, 0x5c], // \\
  [0x2f, 0x2f], // \/
  [0x62, 0x08], // \b
  [0x66, 0x0c], // \f
  [0x6e, 0x0a], // \n
  [0x72, 0x0d], // \r
  [0x74, 0x09], // \t
]);

/** U+FFFD in UTF-8. */
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/** The four hex digits at `at` as a number, or `undefined` when they are not hex digits. */
function hex4(bytes: Buffer, at: number): number | undefined {
  const text = bytes.toString('latin1', at, at + 4);
  return /^[0-9A-Fa-f]{4}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

/**
 * Whether a body streamed chunk by chunk carries one of a client's credentials: the streaming
 * form of `bodyCarriesCredential`, for a report written to a file without ever being held whole.
 * JSON escapes are decoded as the bytes pass (`\u0073ecret` and `\/` hide nothing), and the last
 * bytes of each chunk are kept so that a credential split between two chunks is still found.
 * Like the whole-text check of a body without escapes, it searches the whole body, structure
 * included; credentials shorter than {@link CREDENTIAL_IN_BODY_LENGTH_MIN} are ignored.
 */
export class CredentialScanner {
  readonly #needles: readonly Buffer[];
  readonly #keep: number;
  /** The last decoded bytes already searched (up to the longest credential less one). */
  #tail: Buffer = Buffer.alloc(0);
  /** Raw bytes of an escape cut by the end of the previous chunk. */
  #pending: Buffer = Buffer.alloc(0);
  #found = false;

  constructor(secrets: readonly string[]) {
    this.#needles = secrets.filter((secret) => secret.length >= CREDENTIAL_IN_BODY_LENGTH_MIN).map((secret) => Buffer.from(secret, 'utf8'));
    this.#keep = Math.max(0, ...this.#needles.map((needle) => needle.length - 1));
  }

  /** Whether a credential was found in what was pushed so far. */
  get found(): boolean {
    return this.#found;
  }

  /** Searches the next chunk of the body. */
  push(chunk: Buffer): void {
    if (this.#found || this.#needles.length === 0) return;
    const raw = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#search(this.#decode(raw, false));
  }

  /** Ends the body: an escape left cut at the very end is searched as it stands. */
  end(): void {
    if (this.#found || this.#pending.length === 0) return;
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    this.#search(this.#decode(rest, true));
  }

  #search(decoded: Buffer): void {
    const window = this.#tail.length === 0 ? decoded : Buffer.concat([this.#tail, decoded]);
    if (this.#needles.some((needle) => window.includes(needle))) {
      this.#found = true;
      return;
    }
    this.#tail = Buffer.from(window.subarray(Math.max(0, window.length - this.#keep)));
  }

  /**
   * `raw` with its JSON escapes decoded. An escape cut by the end of `raw` is kept in `#pending`
   * for the next chunk, unless `final`: then it is passed on undecoded.
   */
  #decode(raw: Buffer, final: boolean): Buffer {
    this.#pending = Buffer.alloc(0);
    let at = raw.indexOf(BACKSLASH);
    if (at < 0) return raw;
    const parts: Buffer[] = [];
    let copied = 0;
    while (at >= 0) {
      parts.push(raw.subarray(copied, at));
      const escape = this.#escapeAt(raw, at, final);
      if (escape === 'cut') {
        this.#pending = Buffer.from(raw.subarray(at));
        return Buffer.concat(parts);
      }
      parts.push(escape.bytes);
      copied = at + escape.length;
      at = raw.indexOf(BACKSLASH, copied);
    }
    parts.push(raw.subarray(copied));
    return Buffer.concat(parts);
  }

  /** The escape at `at` (a backslash): the bytes it stands for and its raw length, or `'cut'`. */
  #escapeAt(raw: Buffer, at: number, final: boolean): { bytes: Buffer; length: number } | 'cut' {
    const asItIs = (length: number) => ({ bytes: raw.subarray(at, at + length), length });
    if (at + 1 >= raw.length) return final ? asItIs(1) : 'cut';
    const letter = raw[at + 1] as number;
    const simple = SIMPLE_ESCAPES.get(letter);
    if (simple !== undefined) return { bytes: Buffer.from([simple]), length: 2 };
    if (letter !== 0x75) return asItIs(2); // not JSON: the parser refuses the report anyway
    if (at + 6 > raw.length) return final ? asItIs(raw.length - at) : 'cut';
    const unit = hex4(raw, at + 2);
    if (unit === undefined) return asItIs(6);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      // A high surrogate: its pair, if it follows, makes one code point.
      if (at + 12 > raw.length && !final) return 'cut';
      const low = raw[at + 6] === BACKSLASH && raw[at + 7] === 0x75 ? hex4(raw, at + 8) : undefined;
      if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) {
        return { bytes: Buffer.from(String.fromCharCode(unit, low), 'utf8'), length: 12 };
      }
    }
    // A lone surrogate becomes U+FFFD, as in a well-formed string; it matches no credential.
    const lone = unit >= 0xd800 && unit <= 0xdfff;
    return { bytes: lone ? REPLACEMENT : Buffer.from(String.fromCharCode(unit), 'utf8'), length: 6 };
  }
}

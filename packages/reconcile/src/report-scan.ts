/**
 * Carving the elements of a report's `transactions` array out of its bytes as they stream past,
 * so that each element is parsed by the native `JSON.parse` (several times faster than a
 * streaming parser in JavaScript) while everything else — the header fields, the top-level
 * structure, whatever follows the array — still goes through the streaming parser.
 *
 * The scanner tracks only what finds the boundaries: whether a byte is inside a string (and
 * after a backslash), the bracket depth, and the top-level object's keys. It works on bytes, not
 * characters: every byte that matters (`"`, `\`, brackets, `,`, `:`, white space) is ASCII, and
 * no byte of a multi-byte UTF-8 character is ASCII, so a chunk may end anywhere. It checks the
 * grammar only between elements (white space, one comma); what lies inside an element is checked
 * by `JSON.parse` of exactly its bytes, and what lies outside the array by the streaming parser,
 * which sees the document with the array's content removed (`"transactions":[]`).
 *
 * It also counts the colons outside strings of the elements it hands on: one per key, so that
 * the reader, comparing with the keys `JSON.parse` kept, sees a key repeated in one object (which
 * `JSON.parse` resolves silently as the last one) without walking the text again.
 */

/** Nesting depth a report may reach (the document's object is depth 1, an entry depth 3). */
export const REPORT_DEPTH_MAX = 512;

/** What a scanned chunk holds, in byte order. */
export type ScanPiece =
  /** Bytes for the streaming parser (everything but the array's content). */
  | { readonly kind: 'json'; readonly bytes: Uint8Array }
  /**
   * Complete elements of a `transactions` array, with the white space and commas between them:
   * `ends[k]` is where element `k` ends within `bytes`, `starts[k]` where it starts; `first` is
   * the first one's index in its array; `pairs` counts the colons outside strings in them (one
   * per key: the parsed elements keep fewer only when a key repeats in one object).
   */
  | { readonly kind: 'elements'; readonly bytes: Buffer; readonly starts: readonly number[]; readonly ends: readonly number[]; readonly first: number; readonly pairs: number }
  /** The bytes are not JSON here; nothing after it was scanned. */
  | { readonly kind: 'error'; readonly message: string };

// Where the scanner is, relative to a `transactions` array's content.
const OUTSIDE = 0;
const ARRAY_START = 1;
const ELEMENT = 2;
const AFTER_ELEMENT = 3;
const AFTER_COMMA = 4;

// The kind of element being read.
const CONTAINER = 0;
const STRING = 1;
const SCALAR = 2;

/** Bytes of a top-level key kept to compare it with `transactions` (each character may be escaped). */
const KEY_BYTES_MAX = 2 + 6 * 'transactions'.length;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether a byte is JSON white space (space, LF, CR, tab). */
export function isWhiteSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** True for a byte that cannot continue a number or literal (`true`, `false`, `null`). */
function endsScalar(byte: number): boolean {
  return isWhiteSpace(byte) || byte === 0x2c || byte === 0x5d || byte === 0x7d || byte === 0x5b || byte === 0x7b || byte === QUOTE || byte === 0x3a;
}

/** Whether a top-level key's raw bytes (quotes included) spell `transactions`, escapes decoded. */
function isTransactionsKey(raw: Buffer): boolean {
  if (raw.length > KEY_BYTES_MAX) return false;
  try {
    return JSON.parse(raw.toString('utf8')) === 'transactions';
  } catch {
    return false;
  }
}

/**
 * Splits a JSON report, chunk by chunk, into bytes for the streaming parser and the elements of
 * its `transactions` array. Holds at most one unfinished element between chunks.
 */
export class TransactionsScanner {
  #depth = 0;
  #inString = false;
  #escaped = false;
  #topIsObject = false;
  #mode = OUTSIDE;
  #elementKind = CONTAINER;
  /** Index of the next element within the current array. */
  #index = 0;
  /** Colons outside strings in the current element so far (its keys). */
  #elementPairs = 0;
  /** The unfinished element's bytes from earlier chunks. */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** The current top-level string's bytes (up to {@link KEY_BYTES_MAX} + 1), while it may be a key. */
  #key: Buffer[] = [];
  #keyBytes = 0;
  /** 1: a top-level string just ended; 2: and then a colon, after the key `transactions`. */
  #afterKey = 0;
  #failed = false;

  /** Scans one chunk; the pieces come in byte order, an `error` piece last. */
  scan(chunk: Buffer): ScanPiece[] {
    if (this.#failed) throw new Error('the scanner failed before: scan no further chunk');
    const pieces: ScanPiece[] = [];
    const run = new ChunkRun(chunk, pieces, this.#mode === OUTSIDE);
    let at = 0;
    while (at < chunk.length) {
      at = this.#inString ? this.#scanString(run, at) : this.#scanStructure(run, at);
      if (at < 0) {
        this.#failed = true;
        return pieces;
      }
    }
    this.#finishChunk(run);
    return pieces;
  }

  /** Inside a string from `at`: returns where scanning goes on (after the closing quote, or the end). */
  #scanString(run: ChunkRun, at: number): number {
    const chunk = run.chunk;
    let from = at;
    if (this.#escaped) {
      this.#escaped = false;
      from++;
    }
    for (;;) {
      const quote = from >= chunk.length ? -1 : chunk.indexOf(QUOTE, from);
      const end = quote < 0 ? chunk.length : quote;
      // Backslashes right before the quote (or the chunk's end), back to where this search began.
      let backslashes = 0;
      while (end - backslashes - 1 >= from && chunk[end - backslashes - 1] === BACKSLASH) backslashes++;
      if (quote < 0) {
        this.#escaped = backslashes % 2 === 1;
        this.#keepKeyBytes(chunk, at, chunk.length);
        return chunk.length;
      }
      if (backslashes % 2 === 1) {
        from = quote + 1;
        continue;
      }
      this.#inString = false;
      this.#keepKeyBytes(chunk, at, quote + 1);
      if (this.#depth === 1 && this.#mode === OUTSIDE) this.#afterKey = 1;
      if (this.#mode === ELEMENT && this.#elementKind === STRING) this.#endElement(run, quote + 1);
      return quote + 1;
    }
  }

  /** Keeps the bytes of a top-level string that may be a key. */
  #keepKeyBytes(chunk: Buffer, from: number, to: number): void {
    if (this.#depth !== 1 || this.#mode !== OUTSIDE || this.#keyBytes > KEY_BYTES_MAX) return;
    const bytes = chunk.subarray(from, Math.min(to, from + KEY_BYTES_MAX + 1 - this.#keyBytes));
    this.#key.push(bytes);
    this.#keyBytes += bytes.length;
  }

  /** Outside strings from `at`: returns where scanning goes on, or -1 after an error. */
  #scanStructure(run: ChunkRun, at: number): number {
    const chunk = run.chunk;
    for (let i = at; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      const mode = this.#mode;
      if (mode === ELEMENT && this.#elementKind === SCALAR) {
        if (!endsScalar(byte)) continue;
        this.#endElement(run, i);
        i--;
        continue;
      }
      if (mode !== OUTSIDE && mode !== ELEMENT) {
        if (isWhiteSpace(byte)) continue;
        const next = this.#between(run, i, byte);
        if (next === -1) return -1;
        if (next === i) continue;
        return next;
      }
      if (byte === QUOTE) {
        this.#inString = true;
        if (this.#depth === 1 && mode === OUTSIDE) this.#startKey(run.chunk.subarray(i, i + 1));
        return i + 1;
      }
      if (byte === 0x7b || byte === 0x5b) {
        if (this.#depth === 0 && mode === OUTSIDE) this.#topIsObject = byte === 0x7b;
        if (this.#afterKey === 2 && byte === 0x5b && this.#depth === 1) {
          this.#depth++;
          this.#afterKey = 0;
          this.#enterArray(run, i);
          continue;
        }
        this.#afterKey = 0;
        if (++this.#depth > REPORT_DEPTH_MAX) return run.fail(i, `the report nests deeper than ${REPORT_DEPTH_MAX} levels`);
        continue;
      }
      if (byte === 0x7d || byte === 0x5d) {
        this.#afterKey = 0;
        if (this.#depth > 0) this.#depth--;
        if (mode === ELEMENT && this.#depth === 2) this.#endElement(run, i + 1);
        continue;
      }
      if (mode === ELEMENT) {
        if (byte === 0x3a) this.#elementPairs++;
        continue;
      }
      if (this.#depth === 1 && mode === OUTSIDE) this.#keyProgress(byte);
    }
    return chunk.length;
  }

  /** Between the top-level key and its value: a colon after `transactions` arms the carving. */
  #keyProgress(byte: number): void {
    if (isWhiteSpace(byte)) return;
    if (byte === 0x3a && this.#afterKey === 1) {
      this.#afterKey = this.#topIsObject && isTransactionsKey(Buffer.concat(this.#key)) ? 2 : 0;
      return;
    }
    this.#afterKey = 0;
  }

  #startKey(quote: Buffer): void {
    this.#key = [quote];
    this.#keyBytes = 1;
    this.#afterKey = 0;
  }

  /** The `[` of a `transactions` array at `i`: the streaming parser gets everything up to it. */
  #enterArray(run: ChunkRun, i: number): void {
    run.passJson(i + 1);
    this.#mode = ARRAY_START;
    this.#index = 0;
  }

  /**
   * A byte other than white space between elements: a value starts, a comma, or the array's end.
   * Returns `i` to go on scanning structure, the index to scan from next (a string began), or -1.
   */
  #between(run: ChunkRun, i: number, byte: number): number {
    if (byte === 0x2c) {
      if (this.#mode !== AFTER_ELEMENT) return run.fail(i, `a comma where ${this.#mode === ARRAY_START ? 'the first entry' : 'an entry'} belongs in transactions`);
      this.#mode = AFTER_COMMA;
      return i;
    }
    if (byte === 0x5d) {
      if (this.#mode === AFTER_COMMA) return run.fail(i, 'a comma before the end of transactions');
      this.#depth--;
      this.#mode = OUTSIDE;
      run.startJson(i);
      return i;
    }
    if (this.#mode === AFTER_ELEMENT) return run.fail(i, 'two entries of transactions without a comma between them');
    this.#mode = ELEMENT;
    this.#elementPairs = 0;
    run.startElement(i);
    if (byte === QUOTE) {
      this.#elementKind = STRING;
      this.#inString = true;
      return i + 1;
    }
    if (byte === 0x7b || byte === 0x5b) {
      this.#elementKind = CONTAINER;
      if (++this.#depth > REPORT_DEPTH_MAX) return run.fail(i, `the report nests deeper than ${REPORT_DEPTH_MAX} levels`);
      return i;
    }
    this.#elementKind = SCALAR;
    return i;
  }

  /** An element ends before `end` in this chunk. */
  #endElement(run: ChunkRun, end: number): void {
    this.#mode = AFTER_ELEMENT;
    if (this.#partialBytes > 0 || run.elementStart < 0) {
      // The element began in an earlier chunk: it is handed on alone.
      const bytes = Buffer.concat([...this.#partial, run.chunk.subarray(0, end)]);
      this.#partial = [];
      this.#partialBytes = 0;
      run.pushElements({ kind: 'elements', bytes, starts: [0], ends: [bytes.length], first: this.#index++, pairs: this.#elementPairs });
      return;
    }
    run.endElement(end, this.#index++, this.#elementPairs);
  }

  #finishChunk(run: ChunkRun): void {
    const chunk = run.chunk;
    if (this.#mode === OUTSIDE) {
      run.passJson(chunk.length);
      return;
    }
    run.flushElements();
    if (this.#mode === ELEMENT) {
      const piece = chunk.subarray(run.elementStart < 0 ? 0 : run.elementStart);
      this.#partial.push(piece);
      this.#partialBytes += piece.length;
    }
  }
}

/** The pieces of one chunk being scanned: where the streaming parser's bytes and the elements begin. */
class ChunkRun {
  readonly chunk: Buffer;
  readonly #pieces: ScanPiece[];
  /** Start of the bytes not yet handed to the streaming parser, or -1 inside the array. */
  #jsonFrom = 0;
  /** Start of the current element in this chunk, or -1 when it began in an earlier chunk. */
  elementStart = -1;
  /** The elements complete in this chunk, not yet handed on. */
  #batchFrom = -1;
  #starts: number[] = [];
  #ends: number[] = [];
  #first = 0;
  #pairs = 0;

  constructor(chunk: Buffer, pieces: ScanPiece[], outside: boolean) {
    this.chunk = chunk;
    this.#pieces = pieces;
    this.#jsonFrom = outside ? 0 : -1;
  }

  /** Hands the streaming parser the bytes up to `end`; the array's content follows. */
  passJson(end: number): void {
    if (this.#jsonFrom >= 0 && end > this.#jsonFrom) this.#pieces.push({ kind: 'json', bytes: this.chunk.subarray(this.#jsonFrom, end) });
    this.#jsonFrom = -1;
  }

  /** The array ends at `at`: what follows goes to the streaming parser again. */
  startJson(at: number): void {
    this.flushElements();
    this.#jsonFrom = at;
  }

  startElement(at: number): void {
    this.elementStart = at;
  }

  endElement(end: number, index: number, pairs: number): void {
    if (this.#batchFrom < 0) {
      this.#batchFrom = this.elementStart;
      this.#first = index;
      this.#pairs = 0;
    }
    this.#pairs += pairs;
    this.#starts.push(this.elementStart - this.#batchFrom);
    this.#ends.push(end - this.#batchFrom);
    this.elementStart = -1;
  }

  /** An element that began in an earlier chunk, handed on alone. */
  pushElements(piece: ScanPiece): void {
    this.flushElements();
    this.#pieces.push(piece);
    this.elementStart = -1;
  }

  flushElements(): void {
    if (this.#batchFrom < 0) return;
    const last = this.#ends[this.#ends.length - 1] as number;
    this.#pieces.push({ kind: 'elements', bytes: this.chunk.subarray(this.#batchFrom, this.#batchFrom + last), starts: this.#starts, ends: this.#ends, first: this.#first, pairs: this.#pairs });
    this.#batchFrom = -1;
    this.#starts = [];
    this.#ends = [];
  }

  /** The elements and bytes before the fault at `at`, then the fault. */
  fail(at: number, message: string): -1 {
    this.flushElements();
    this.passJson(at);
    this.#pieces.push({ kind: 'error', message });
    return -1;
  }
}

/**
 * Keys an answer may not hold: one written twice in the same object, and `__proto__`.
 *
 * `JSON.parse` keeps the last of two values under one key, without a word:
 * `{"amount":"0.1","amount":"5"}` reads as 5. For money that is ambiguous (another reader, such as
 * the reconciler or the provider's own, may keep the first), so an answer that repeats a key
 * anywhere is refused whole. A `__proto__` key is refused as well: no field of the contract has
 * that name, and readers disagree on it (an own property after `JSON.parse`, a prototype after a
 * spread or a merge elsewhere).
 *
 * Finding a fault is cheap where there is none, which is every answer that matters (the rule of
 * the reconciler's `report-keys.ts`): the text holds one colon outside strings per key, and the
 * parsed value keeps one own key per distinct key, so the two counts differ only when a key was
 * repeated (or is `__proto__`, for which {@link pairsOf} answers -1). Only then is the text walked
 * again, by {@link findKeyFault}, to name the path and the key.
 */
import { EarnApiError, describeValue, escapeAndCut, escapeUnsafeText, redact } from '../errors.js';

const PROTOTYPE_KEY = '__proto__';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/**
 * Container levels the count walks by recursion. A value nested deeper (only an unknown field can
 * be: the contract's documents are five levels deep) is not refused for it: the text walk, which
 * keeps its own stack, then decides alone.
 */
const LEVELS_COUNTED_MAX = 512;
/** Characters of one key shown in a path or a field (a key may be of any length). */
const KEY_CHARS_SHOWN = 64;
/** Levels of a path shown from its start, and from its end, when it is deeper than both. */
const PATH_LEVELS_SHOWN_HEAD = 16;
const PATH_LEVELS_SHOWN_TAIL = 4;

/**
 * Own keys of a parsed JSON value and of every value in it, or -1 when one of them is
 * `__proto__` or the value nests deeper than `levelsLeft` containers (the value itself is one).
 */
export function pairsOf(value: unknown, levelsLeft: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (levelsLeft < 1) return -1;
  let pairs = 0;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (typeof item !== 'object' || item === null) continue;
      const inner = pairsOf(item, levelsLeft - 1);
      if (inner < 0) return -1;
      pairs += inner;
    }
    return pairs;
  }
  // for…in over a parsed object: its own keys (Object.prototype has no enumerable ones), no array made.
  for (const key in value) {
    if (key === PROTOTYPE_KEY) return -1;
    pairs++;
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item !== 'object' || item === null) continue;
    const inner = pairsOf(item, levelsLeft - 1);
    if (inner < 0) return -1;
    pairs += inner;
  }
  return pairs;
}

/** Index just past the string whose opening quote is at `quote` (the text's end if none closes it). */
export function stringEnd(text: string, quote: number): number {
  for (let from = quote + 1; ; ) {
    const close = text.indexOf('"', from);
    if (close < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(close - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return close + 1;
    from = close + 1;
  }
}

/**
 * Keys in JSON text: the colons outside strings. Between strings the text is read a character at
 * a time (a few characters in compact JSON: `":"`, `","`, `},{`); a string is skipped with one
 * `indexOf` of its closing quote. (Finding each opening quote with `indexOf` too, a second call
 * per string, cost about 450 ms against 280 ms on a 1M-entry report of 260 M characters; a
 * character-at-a-time walk of the strings too, about 950 ms.)
 */
export function pairsInText(text: string): number {
  let pairs = 0;
  const length = text.length;
  for (let at = 0; at < length; ) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      at = stringEnd(text, at);
      continue;
    }
    if (code === COLON) pairs++;
    at++;
  }
  return pairs;
}

/** A repeated key or a `__proto__` key, and where. */
export interface KeyFault {
  readonly kind: 'repeated' | 'prototype';
  /** The path from the top: a key per object, an index per array, ending with the key itself. */
  readonly segments: readonly (string | number)[];
  /** The key as decoded (escapes resolved). */
  readonly key: string;
}

/** One open object (with the keys seen in it) or array, while the text is walked. */
interface Frame {
  readonly keys: Set<string> | undefined;
  expectKey: boolean;
  key: string;
  index: number;
}

function segmentsOf(frames: readonly Frame[]): (string | number)[] {
  return frames.map((frame) => (frame.keys === undefined ? frame.index : frame.key));
}

/** The decoded key whose string spans `start` (its opening quote) to `end` (past its closing one). */
function keyAt(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  return inner.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : inner;
}

/**
 * Walks JSON text that parsed (the grammar is not checked again) and answers its first key fault
 * in text order, or `undefined`. Run only when the counts differ: it decodes every key.
 */
export function findKeyFault(text: string): KeyFault | undefined {
  const frames: Frame[] = [];
  for (let at = 0; at < text.length; ) {
    const code = text.charCodeAt(at);
    const top = frames[frames.length - 1];
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      if (top?.keys !== undefined && top.expectKey) {
        const key = keyAt(text, at, end);
        top.expectKey = false;
        top.key = key;
        if (key === PROTOTYPE_KEY) return { kind: 'prototype', segments: segmentsOf(frames), key };
        if (top.keys.has(key)) return { kind: 'repeated', segments: segmentsOf(frames), key };
        top.keys.add(key);
      }
      at = end;
      continue;
    }
    if (code === 0x7b || code === 0x5b) {
      const object = code === 0x7b;
      frames.push({ keys: object ? new Set() : undefined, expectKey: object, key: '', index: 0 });
    } else if (code === 0x7d || code === 0x5d) {
      frames.pop();
    } else if (code === 0x2c && top !== undefined) {
      if (top.keys === undefined) top.index++;
      else top.expectKey = true;
    }
    at++;
  }
  return undefined;
}

/** A key as an error shows it: credentials redacted, then unsafe characters escaped and the key cut. */
function shownKey(key: string, secrets: readonly string[]): string {
  return escapeAndCut(redact(key, secrets), KEY_CHARS_SHOWN);
}

/** `transactions[3].amount`, `memo["a b"]`; a deep path keeps its first and last levels around `…`. */
function renderPath(segments: readonly (string | number)[], secrets: readonly string[]): string {
  const render = (segment: string | number, first: boolean): string => {
    if (typeof segment === 'number') return `[${segment}]`;
    const key = shownKey(segment, secrets);
    if (/^[A-Za-z_$][\w$]*$/.test(key)) return first ? key : `.${key}`;
    return `[${escapeUnsafeText(JSON.stringify(key))}]`;
  };
  const join = (part: readonly (string | number)[], first: boolean): string => part.map((segment, index) => render(segment, first && index === 0)).join('');
  if (segments.length === 0) return '(root)';
  if (segments.length <= PATH_LEVELS_SHOWN_HEAD + PATH_LEVELS_SHOWN_TAIL) return join(segments, true);
  return `${join(segments.slice(0, PATH_LEVELS_SHOWN_HEAD), true)}…${join(segments.slice(-PATH_LEVELS_SHOWN_TAIL), false)}`;
}

/** Where the answer came from, for the error. */
export interface KeyCheckContext {
  /** The operation, e.g. `daily report` or `GET report download`. */
  readonly operation: string;
  /** Strings that must never appear in the error (client secret, access token). */
  readonly secrets?: readonly string[];
  readonly status?: number;
  readonly requestId?: string;
}

/** The `invalid_response` refusal of an answer holding `fault`. */
export function keyFaultError(fault: KeyFault, context: KeyCheckContext): EarnApiError {
  const secrets = context.secrets ?? [];
  const path = renderPath(fault.segments, secrets);
  const field = shownKey(fault.key, secrets);
  const problem =
    fault.kind === 'prototype'
      ? 'holds a "__proto__" key (no field of the contract has that name, and JSON readers disagree on it)'
      : `writes the key ${describeValue(fault.key, secrets)} twice in one object (JSON readers keep one of the two values, silently)`;
  return new EarnApiError('invalid_response', redact(`${context.operation}: response refused at ${path}: it ${problem}`, secrets), {
    operation: context.operation,
    path,
    field,
    ...(context.status === undefined ? {} : { status: context.status }),
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
  });
}

/**
 * Refuses (`invalid_response`, naming the path and the key) JSON `text` whose parsed `value`
 * kept fewer keys than the text holds (a key repeated in one object) or holds a `__proto__` key.
 * The keys are counted, and the text walked only when the counts differ.
 */
export function checkJsonKeys(text: string, value: unknown, context: KeyCheckContext): void {
  const pairs = pairsOf(value, LEVELS_COUNTED_MAX);
  if (pairs >= 0 && pairs === pairsInText(text)) return;
  const fault = findKeyFault(text);
  if (fault !== undefined) throw keyFaultError(fault, context);
  // Only a value deeper than the count walks may differ without a fault: the walk found none.
  if (pairs >= 0) throw new Error(`assertion: ${context.operation}: the answer kept ${pairs} keys of its text's ${pairsInText(text)}, but no key repeats`);
}

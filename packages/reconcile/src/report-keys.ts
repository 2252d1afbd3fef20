/**
 * Keys a report may not hold: one written twice in the same object, and `__proto__`.
 *
 * `JSON.parse` and the streaming parser both keep the last of two values under one key, without
 * a word: `{"amount":"0.1","amount":"5"}` reads as 5. For money that is ambiguous (another reader
 * may keep the first), so a report that repeats a key anywhere is refused whole. A `__proto__` key
 * is refused as well: no field of the contract has that name, and readers disagree on it (an own
 * property after `JSON.parse`, dropped or a prototype elsewhere).
 *
 * Finding a fault is cheap where no fault is, which is every report that matters: the text holds
 * one colon outside strings per key, and the parsed value keeps one own key per distinct key, so
 * the two counts differ only when a key was repeated (or is `__proto__`, which
 * {@link pairsOf} answers -1 for). Only then is the text walked again, by {@link findKeyFault},
 * to name the path and the key. The streaming reader's header, which the streaming parser
 * assembles, is followed token by token with a {@link KeyTracker} instead.
 */
import { escapeUnsafeText, pairsInText, pairsOf, stringEnd } from '@earnbook/earn-client/contract';

// The key counts are the client's (one rule, one implementation); re-exported for the readers.
export { pairsInText, pairsOf };
import { ReconcileError } from './errors.js';
import { REPORT_DEPTH_MAX } from './report-scan.js';

/**
 * Top-level fields a report may hold (the contract names eight and tolerates unknown ones): the
 * streaming reader remembers each name to refuse a repeated one, so the count is bounded.
 */
export const REPORT_FIELDS_MAX = 100_000;

/** A repeated key, a `__proto__` key, a value nested too deep, or too many top-level fields. */
export interface KeyFault {
  readonly kind: 'repeated' | 'prototype' | 'deep' | 'fields';
  /** Where: the key's JSON path (`transactions[12].amount`), or the too-deep value's container. */
  readonly path: string;
  /** The key as decoded (escapes resolved); empty for `deep` and `fields`. */
  readonly key: string;
}

const PROTOTYPE_KEY = '__proto__';
const QUOTE = 0x22;
/** Characters of one key shown in a path or a message (a key may be of any length). */
const KEY_CHARS_SHOWN = 64;
/** Levels of the path a too-deep value's fault names. */
const DEPTH_LEVELS_SHOWN = 8;

/** One open object (with the keys seen in it) or array, while JSON is followed. */
interface Frame {
  readonly keys: Set<string> | undefined;
  expectKey: boolean;
  key: string;
  index: number;
}

function shown(key: string): string {
  // Escaped as the client escapes provider text: a key is the report's text, and a bidi override
  // or U+2028 in it would reach logs raw (JSON.stringify leaves them).
  return escapeUnsafeText(key.length > KEY_CHARS_SHOWN ? `${key.slice(0, KEY_CHARS_SHOWN)}…` : key);
}

/** The JSON path of the innermost open value: `prefix`, then `.key` per object and `[n]` per array. */
function pathOf(prefix: string, frames: readonly Frame[]): string {
  let path = prefix;
  for (const frame of frames) {
    if (frame.keys === undefined) path += `[${frame.index}]`;
    else path += path === '' ? shown(frame.key) : `.${shown(frame.key)}`;
  }
  return path;
}

/**
 * Follows JSON token by token (the caller's tokenizer checks the grammar), remembering the keys of
 * every open object, and answers the first fault. `prefix` is the path of the followed value
 * (`''` for a whole report); `levelsMax` the containers it may nest.
 */
export class KeyTracker {
  readonly #prefix: string;
  readonly #levelsMax: number;
  readonly #frames: Frame[] = [];

  constructor(prefix: string, levelsMax: number) {
    this.#prefix = prefix;
    this.#levelsMax = levelsMax;
  }

  /** A `{` or `[`: a fault when it nests deeper than allowed. */
  open(object: boolean): KeyFault | undefined {
    if (this.#frames.length >= this.#levelsMax) return { kind: 'deep', path: `${pathOf(this.#prefix, this.#frames.slice(0, DEPTH_LEVELS_SHOWN))}…`, key: '' };
    this.#frames.push({ keys: object ? new Set() : undefined, expectKey: object, key: '', index: 0 });
    return undefined;
  }

  close(): void {
    this.#frames.pop();
  }

  comma(): void {
    const top = this.#frames[this.#frames.length - 1];
    if (top === undefined) return;
    if (top.keys === undefined) top.index++;
    else top.expectKey = true;
  }

  /** Whether a string here is a key (else it is a value, which the tracker ignores). */
  get expectsKey(): boolean {
    return this.#frames[this.#frames.length - 1]?.expectKey === true;
  }

  /** A key, decoded: a fault when it is `__proto__`, repeats one of its object, or is one field too many. */
  key(key: string): KeyFault | undefined {
    const top = this.#frames[this.#frames.length - 1];
    if (top?.keys === undefined) return undefined;
    top.expectKey = false;
    top.key = key;
    if (key === PROTOTYPE_KEY) return { kind: 'prototype', path: pathOf(this.#prefix, this.#frames), key };
    if (top.keys.has(key)) return { kind: 'repeated', path: pathOf(this.#prefix, this.#frames), key };
    if (this.#frames.length === 1 && this.#prefix === '' && top.keys.size >= REPORT_FIELDS_MAX) return { kind: 'fields', path: '/', key: '' };
    top.keys.add(key);
    return undefined;
  }
}

/**
 * Walks JSON text that parsed (the grammar is not checked again) and answers its first key fault
 * in text order, or `undefined`. Run only when a fault is known to be there: it decodes every key.
 */
export function findKeyFault(text: string, prefix: string, levelsMax: number): KeyFault | undefined {
  const tracker = new KeyTracker(prefix, levelsMax);
  for (let at = 0; at < text.length; ) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      if (tracker.expectsKey) {
        const fault = tracker.key(JSON.parse(text.slice(at, end)) as string);
        if (fault !== undefined) return fault;
      }
      at = end;
      continue;
    }
    if (code === 0x7b || code === 0x5b) {
      const fault = tracker.open(code === 0x7b);
      if (fault !== undefined) return fault;
    } else if (code === 0x7d || code === 0x5d) {
      tracker.close();
    } else if (code === 0x2c) {
      tracker.comma();
    }
    at++;
  }
  return undefined;
}

/** The typed refusal of a report holding `fault`. */
export function keyFaultError(source: string, fault: KeyFault): ReconcileError {
  const at = fault.path === '' ? '/' : fault.path;
  switch (fault.kind) {
    case 'repeated':
      return new ReconcileError('invalid_report', `report from ${source} is refused at ${at}: the key ${JSON.stringify(shown(fault.key))} appears twice in one object (JSON readers keep one of the two values, silently)`, { field: shown(fault.key), path: fault.path, value: source });
    case 'prototype':
      return new ReconcileError('invalid_report', `report from ${source} is refused at ${at}: a report has no "__proto__" field`, { field: PROTOTYPE_KEY, path: fault.path, value: source });
    case 'deep':
      return new ReconcileError('invalid_report', `report from ${source} nests deeper than ${REPORT_DEPTH_MAX} levels under ${at}`, { field: 'report', path: fault.path, value: source });
    case 'fields':
      return new ReconcileError('invalid_report', `report from ${source} has more than ${REPORT_FIELDS_MAX} top-level fields`, { field: 'report', path: '/', value: source });
  }
}

/**
 * Refuses JSON `text` whose parsed `value` kept fewer keys than the text holds (a key repeated) or
 * holds a `__proto__` key: the keys are counted, and the text walked only when the counts differ.
 */
export function checkTextKeys(options: { text: string; value: unknown; prefix: string; levelsMax: number; source: string }): void {
  const pairs = pairsOf(options.value, options.levelsMax);
  if (pairs >= 0 && pairs === pairsInText(options.text)) return;
  const fault = findKeyFault(options.text, options.prefix, options.levelsMax);
  if (fault === undefined) throw new Error(`assertion: ${options.prefix || 'the report'} kept ${pairs} keys of its text's ${pairsInText(options.text)} but no key repeats`);
  throw keyFaultError(options.source, fault);
}

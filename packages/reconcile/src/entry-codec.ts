/**
 * Report entries as the day's sorter stores them in its run files: the values of an entry in a
 * list, after the number of its shape (its keys, in their order), instead of the object with its
 * keys written out again for every entry. The day's report is sorted once and read back once or
 * twice (the sync, the diff). In a standalone script on 1M entries of the report bench's kind
 * (three runs each), the objects' JSON was 211 MiB. Writing it took 1.16–1.26 s and reading it
 * back 2.02–2.29 s. Stored this way it is 132 MiB: 0.83–1.12 s to write, 1.71–1.83 s to read.
 *
 * A decoded entry equals the entry, keys in the same order: breaks store whole entries as JSON.
 * Entries that cannot be stored so keep the object form:
 * - an entry with a value that is not a string (a hand-made report in memory may hold one);
 * - an entry with a key `__proto__` (assigning it would set the prototype);
 * - entries beyond {@link SHAPES_MAX} shapes, which a hostile report could make one per entry;
 * - an entry of more than {@link SHAPE_KEYS_MAX} keys (the contract allows unknown ones, and one
 *   entry may be megabytes long): its compiled code would be as long as its keys.
 *
 * A run line of entries whose values are all strings is written in a separated form: each entry
 * its shape's number and its values joined by {@link FIELD_SEPARATOR}, the entries joined by
 * {@link ENTRY_SEPARATOR}, read back by splitting, which costs less than `JSON.parse` of the same
 * values. Through an `ExternalSorter` (1M entries of the report bench's kind, 40 runs, six
 * processes of three rounds each, alternating, the first round left out as warm-up) the sorted
 * read-back took 0.93–1.38 s against 2.34–2.92 s as JSON lines, writing no slower. The same was
 * tried for the books' tuples and not kept: splitting read them twice as fast alone, but in the
 * sorter they came back slower (1.7–2.2 s against 1.2–1.5 s, more time in the collector).
 *
 * A line holding a value the form cannot carry as it is (a separator, a newline, a lone
 * surrogate, which UTF-8 cannot encode) or an entry of the object form is written as JSON.
 *
 * A codec numbers the shapes it meets, so it belongs to one sorter: runs it wrote can be read
 * back only through it.
 */

import type { RunCodec } from './external-sort.js';

/** Shapes one codec numbers; entries of further shapes keep the object form. */
export const SHAPES_MAX = 64;

/** Keys a numbered shape may have; an entry with more keeps the object form. */
export const SHAPE_KEYS_MAX = 64;

/** The stored form of an entry of no numbered shape: the object itself. */
const OBJECT_FORM = -1;

/** Between two entries of a line in the separated form. */
const ENTRY_SEPARATOR = '\x1e';
/** Between an entry's shape number and its values, and between its values, in the separated form. */
const FIELD_SEPARATOR = '\x1f';
/** The first character of a line written as JSON (a line in the separated form starts with a digit). */
const JSON_LINE_START = 0x5b;

/** Occurrences of `character` in `text` (`indexOf` runs through one-byte text fast). */
function occurrences(text: string, character: string): number {
  let count = 0;
  for (let at = text.indexOf(character); at !== -1; at = text.indexOf(character, at + 1)) count++;
  return count;
}

/** `String.prototype.isWellFormed` (Node 20 has it; the ES2023 library typings do not). */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

interface Shape {
  readonly keys: readonly string[];
  /** The stored form, or undefined when a value is not a string. */
  readonly encode: (entry: object) => unknown[] | undefined;
  /** The separated form (unchecked for separators), or undefined when a value is not a string. */
  readonly encodeText: (entry: object) => string | undefined;
  readonly decode: (stored: readonly unknown[]) => object;
}

/**
 * The encoder and decoder of one shape, compiled once: property reads and an object literal of
 * the shape's keys, which V8 runs as fast as hand-written ones. A generic loop over the keys
 * (`Object.values` to encode, keyed stores to decode) saved nothing measurable in the same
 * script. The keys enter the source as JSON string literals: any text is safe so, and
 * `__proto__` never gets here.
 */
function compileShape(number: number, keys: readonly string[]): Shape {
  const names = keys.map((key) => JSON.stringify(key));
  const reads = names.map((name, index) => `const v${index} = entry[${name}];`).join(' ');
  const strings = keys.length === 0 ? 'true' : keys.map((_, index) => `typeof v${index} === 'string'`).join(' && ');
  const encode = new Function('entry', `${reads} return ${strings} ? [${[String(number), ...keys.map((_, index) => `v${index}`)].join(', ')}] : undefined;`) as Shape['encode'];
  const text = [JSON.stringify(String(number)), ...keys.map((_, index) => `v${index}`)].join(` + ${JSON.stringify(FIELD_SEPARATOR)} + `);
  const encodeText = new Function('entry', `${reads} return ${strings} ? ${text} : undefined;`) as Shape['encodeText'];
  const decode = new Function('stored', `return {${names.map((name, index) => `${name}: stored[${index + 1}]`).join(', ')}};`) as Shape['decode'];
  return { keys, encode, encodeText, decode };
}

/** A codec for one sorter's report entries; shapes are numbered in the order they are met. */
export function reportEntryCodec<T extends object>(): Required<RunCodec<T>> {
  const shapes: Shape[] = [];
  const numbers = new Map<string, number>();
  /** The shapes by their number as the separated form writes it. */
  const byNumberText = new Map<string, Shape>();
  let last: Shape | undefined;

  const shapeOf = (keys: readonly string[]): Shape | undefined => {
    if (last !== undefined && keys.length === last.keys.length && keys.every((key, index) => key === last?.keys[index])) return last;
    if (keys.length > SHAPE_KEYS_MAX) return undefined;
    // JSON: unambiguous whatever the keys hold (joined by a separator, [] and [''] were one shape).
    const name = JSON.stringify(keys);
    let number = numbers.get(name);
    if (number === undefined) {
      if (shapes.length >= SHAPES_MAX || keys.includes('__proto__')) return undefined;
      number = shapes.length;
      const shape = compileShape(number, keys);
      shapes.push(shape);
      byNumberText.set(String(number), shape);
      numbers.set(name, number);
    }
    last = shapes[number];
    return last;
  };

  const encode = (entry: T): unknown => shapeOf(Object.keys(entry))?.encode(entry) ?? [OBJECT_FORM, entry];
  const decode = (stored: unknown): T => {
    const list = stored as unknown[];
    const number = list[0] as number;
    if (number === OBJECT_FORM) return list[1] as T;
    const shape = shapes[number];
    if (shape === undefined || shape.keys.length !== list.length - 1) throw new Error(`assertion: a run holds an entry of shape ${number}, which this codec did not number`);
    return shape.decode(list) as T;
  };
  const jsonLine = (items: readonly T[]): string => JSON.stringify(items.map(encode));

  return {
    encode,
    decode,
    encodeLine(items: readonly T[]): string {
      if (items.length === 0) return '[]';
      let line = '';
      let fields = 0;
      for (let index = 0; index < items.length; index++) {
        const item = items[index] as T;
        const shape = shapeOf(Object.keys(item));
        const text = shape?.encodeText(item);
        if (shape === undefined || text === undefined) return jsonLine(items);
        line += index === 0 ? text : ENTRY_SEPARATOR + text;
        fields += shape.keys.length;
      }
      // Every separator is one the line put there, no newline ends it early, and UTF-8 carries it as it is.
      const holds = occurrences(line, FIELD_SEPARATOR) === fields && occurrences(line, ENTRY_SEPARATOR) === items.length - 1 && !line.includes('\n') && isWellFormed(line);
      return holds ? line : jsonLine(items);
    },
    decodeLine(line: string): T[] {
      if (line.charCodeAt(0) === JSON_LINE_START) return (JSON.parse(line) as unknown[]).map(decode);
      return line.split(ENTRY_SEPARATOR).map((text) => {
        const stored = text.split(FIELD_SEPARATOR);
        const shape = byNumberText.get(stored[0] ?? '');
        if (shape === undefined || shape.keys.length !== stored.length - 1) throw new Error(`assertion: a run holds an entry of shape ${stored[0]} with ${stored.length - 1} values, which this codec did not number so`);
        return shape.decode(stored) as T;
      });
    },
  };
}

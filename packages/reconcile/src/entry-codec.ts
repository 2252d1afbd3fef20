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

interface Shape {
  readonly keys: readonly string[];
  /** The stored form, or undefined when a value is not a string. */
  readonly encode: (entry: object) => unknown[] | undefined;
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
  const decode = new Function('stored', `return {${names.map((name, index) => `${name}: stored[${index + 1}]`).join(', ')}};`) as Shape['decode'];
  return { keys, encode, decode };
}

/** A codec for one sorter's report entries; shapes are numbered in the order they are met. */
export function reportEntryCodec<T extends object>(): RunCodec<T> {
  const shapes: Shape[] = [];
  const numbers = new Map<string, number>();
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
      shapes.push(compileShape(number, keys));
      numbers.set(name, number);
    }
    last = shapes[number];
    return last;
  };

  return {
    encode(entry: T): unknown {
      return shapeOf(Object.keys(entry))?.encode(entry) ?? [OBJECT_FORM, entry];
    },
    decode(stored: unknown): T {
      const list = stored as unknown[];
      const number = list[0] as number;
      if (number === OBJECT_FORM) return list[1] as T;
      const shape = shapes[number];
      if (shape === undefined || shape.keys.length !== list.length - 1) throw new Error(`assertion: a run holds an entry of shape ${number}, which this codec did not number`);
      return shape.decode(list) as T;
    },
  };
}

/**
 * Reading a caller's write input once. A field of the input may be a getter (or the input a
 * Proxy) that answers differently at each read: the ledger reads each field it knows once, into a
 * plain object, and validates and writes only that copy, so that what is written is what was
 * checked. A getter that throws is the input's fault: `invalid_input` naming the field, with the
 * getter's error as `cause` (nothing was written, and a `transact` scope may go on). Fields the
 * ledger does not know are never read, as the reads ignore them.
 */
import { LedgerError, describeValue, requireObject, unreadable } from './errors.js';

export { unreadable } from './errors.js';

/** How {@link readFields} names the input and its fields in errors. */
export interface ReadFieldsOptions {
  /** The input's own name (default `input`). */
  readonly field?: string;
  /** Whether the input is nested in another (`entries[1]`): its fields are then named `entries[1].amount`, not `amount`. */
  readonly nested?: boolean;
}

/**
 * The fields `keys` of `input`, each read once, in a plain object; `invalid_input` when `input`
 * is not an object (see `requireObject`) or a field's getter throws.
 *
 * @example
 * const { entity, amount } = readFields(input, ['entity', 'amount']);
 */
export function readFields<T extends object, K extends keyof T & string>(input: T, keys: readonly K[], options: ReadFieldsOptions = {}): Pick<T, K> {
  const field = options.field ?? 'input';
  requireObject(input, field);
  const fields: Partial<Pick<T, K>> = {};
  for (const key of keys) {
    try {
      fields[key] = input[key];
    } catch (cause) {
      throw unreadable(options.nested === true ? `${field}.${key}` : key, cause);
    }
  }
  return fields as Pick<T, K>;
}

/**
 * The elements of an array, its `length` read once and each element once. Elements are copied
 * only when `length` is at most `lengthMax` (the caller refuses a longer one by `length`), so a
 * Proxy that claims a huge length costs nothing.
 */
export function readArray<T>(value: readonly T[], field: string, lengthMax: number): { readonly length: number; readonly items: readonly T[] } {
  let length: number;
  try {
    length = value.length;
  } catch (cause) {
    throw unreadable(field, cause);
  }
  const items: T[] = [];
  if (!Number.isSafeInteger(length) || length < 0 || length > lengthMax) return { length, items };
  for (let index = 0; index < length; index++) {
    try {
      items.push(value[index] as T);
    } catch (cause) {
      throw unreadable(`${field}[${index}]`, cause);
    }
  }
  return { length, items };
}

/** Refuses a callback or clock that is not a function, naming `field`, before anything is written. */
export function requireFunction(value: unknown, field: string): void {
  if (typeof value !== 'function') throw new LedgerError('invalid_input', `${field} must be a function, got ${describeValue(value)}`, { field, value: describeValue(value) });
}

/**
 * The own enumerable fields of an input object, read once into a plain object (for inputs whose
 * every field is checked, such as interest terms): an object whose traps or getters throw (a
 * proxy) is `invalid_input` naming `field`, not the trap's raw error.
 */
export function readRecord(input: object, field: string): Record<string, unknown> {
  try {
    return Object.fromEntries(Object.entries(input));
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

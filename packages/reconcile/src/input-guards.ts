/**
 * Reading a caller's input at reconcile's public entry points. An input may be a revoked proxy
 * (it answers no question: `Array.isArray`, a field read, even its class throw a TypeError) or an
 * object whose getters or proxy traps throw. Each entry point reads the fields it knows once,
 * through these helpers, before it reads the books or writes anything, so that such an input is
 * `invalid_input` naming the field (the thrown error as `cause`), not a raw TypeError, and what
 * is checked is what is used. The ledger has helpers of the same names but keeps them internal
 * (its public surface exports `describeValue` alone), hence this module.
 */
import { describeValue } from '@earnbook/ledger';
import type { EarnBooks } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';

/** A typed `invalid_input` naming the field and the value (rendered without ever throwing). */
export function invalid(field: string, value: unknown, reason: string): never {
  throw new ReconcileError('invalid_input', `${field} ${reason}, got ${describeValue(value)}`, { field, value: valueText(value) });
}

/**
 * `String(value)`, for an error's `value`, that never throws: a revoked proxy or an object whose
 * `toString` throws is described instead.
 */
export function valueText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return describeValue(value);
  }
}

/** The message of what a read threw, without reading anything that could throw again. */
function causeText(cause: unknown): string {
  try {
    if (cause instanceof Error) return String(cause.message);
  } catch {
    // A thrown revoked proxy cannot even say whether it is an Error.
  }
  return describeValue(cause);
}

/**
 * The refusal of an input that could not be read: a getter or a proxy trap that threw (`cause`),
 * or a revoked proxy.
 */
export function unreadable(field: string, cause: unknown): ReconcileError {
  return new ReconcileError('invalid_input', `${field} could not be read: ${causeText(cause)}`, { field, value: 'unreadable', cause });
}

/** `Array.isArray(value)`, for a caller's input: one that cannot answer (a revoked proxy) is {@link unreadable}. */
export function isArrayInput(value: unknown, field: string): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/** `value` when it is an object (not `null`, not an array); otherwise `invalid_input` naming `field`. */
export function requireObject<T>(value: T, field: string): T & object {
  if (typeof value !== 'object' || value === null || isArrayInput(value, field)) invalid(field, value, 'must be an object');
  return value;
}

/** Refuses a callback that is not a function, naming `field`. */
export function requireFunction(value: unknown, field: string): void {
  if (typeof value !== 'function') invalid(field, value, 'must be a function');
}

/** How {@link readFields} and {@link findUnreadable} name an input and its fields. */
export interface FieldNames {
  /** The input's own name (default `input`). */
  readonly field?: string;
  /** Whether the input is nested in another: its fields are then named `report.kind`, not `kind`. */
  readonly nested?: boolean;
}

function fieldName(key: string, names: FieldNames): string {
  return names.nested === true ? `${names.field ?? 'input'}.${key}` : key;
}

/**
 * The fields `keys` of `input`, each read once, in a plain object; `invalid_input` when `input`
 * is not an object or a field's getter throws.
 *
 * @example
 * const { entity, day } = readFields(input, ['entity', 'day']);
 */
export function readFields<T, K extends keyof T & string>(input: T, keys: readonly K[], names: FieldNames = {}): Pick<T, K> {
  const object = requireObject(input, names.field ?? 'input');
  const fields: Partial<Pick<T, K>> = {};
  for (const key of keys) {
    try {
      fields[key] = object[key];
    } catch (cause) {
      throw unreadable(fieldName(key, names), cause);
    }
  }
  return fields as Pick<T, K>;
}

/**
 * The own enumerable fields of an input object, read once into a plain object (for records whose
 * every key is checked, such as the per-currency options): `invalid_input` when it is not an
 * object or cannot be read.
 */
export function readRecord(input: unknown, field: string): Record<string, unknown> {
  const object = requireObject(input, field);
  try {
    return Object.fromEntries(Object.entries(object));
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/**
 * The elements of a caller's list, its `length` read once and each element once; `invalid_input`
 * when it is not an array. Elements are copied only when `length` is at most `lengthMax` (the
 * caller refuses a longer one by `length`), so a proxy that claims a huge length costs nothing.
 */
export function readArray(value: unknown, field: string, lengthMax: number): { readonly length: number; readonly items: readonly unknown[] } {
  if (!isArrayInput(value, field)) invalid(field, value, 'must be a list');
  let length: number;
  try {
    length = value.length;
  } catch (cause) {
    throw unreadable(field, cause);
  }
  const items: unknown[] = [];
  if (!Number.isSafeInteger(length) || length < 0 || length > lengthMax) return { length, items };
  for (let index = 0; index < length; index++) {
    try {
      items.push(value[index]);
    } catch (cause) {
      throw unreadable(`${field}[${index}]`, cause);
    }
  }
  return { length, items };
}

/**
 * Checks that `books` is an object whose `ledger` is one, as everything the reconciler does goes
 * through them: a revoked proxy (or a `ledger` getter that throws) is `invalid_input` naming the
 * field, not a TypeError at the first use.
 */
export function readBooks(books: EarnBooks, field: string): EarnBooks {
  requireObject(books, field);
  let ledger: unknown;
  try {
    ledger = books.ledger;
  } catch (cause) {
    throw unreadable(`${field}.ledger`, cause);
  }
  requireObject(ledger, `${field}.ledger`);
  return books;
}

/** A method of a caller's object (a provider, a product source), read once; `invalid_input` when it is none. */
export function readMethod<T extends object, K extends keyof T & string>(object: T, key: K, field: string): T[K] {
  requireObject(object, field);
  let method: T[K];
  try {
    method = object[key];
  } catch (cause) {
    throw unreadable(`${field}.${key}`, cause);
  }
  requireFunction(method, `${field}.${key}`);
  return method;
}

/**
 * A caller's iterable, its iterator taken once: one that cannot be read (a revoked proxy) is
 * {@link unreadable}, one that is not iterable `invalid_input`. The iterator's own failures
 * (a client's network error while listing) pass through as they are.
 */
export function iterableInput<T>(value: Iterable<T> | AsyncIterable<T>, field: string): Iterable<T> | AsyncIterable<T> {
  let asyncMethod: unknown;
  let method: unknown;
  try {
    if (typeof value === 'object' && value !== null) {
      asyncMethod = (value as Partial<AsyncIterable<T>>)[Symbol.asyncIterator];
      method = asyncMethod === undefined ? (value as Partial<Iterable<T>>)[Symbol.iterator] : undefined;
    }
  } catch (cause) {
    throw unreadable(field, cause);
  }
  const take = (iteratorMethod: unknown): unknown => {
    try {
      return (iteratorMethod as (this: unknown) => unknown).call(value);
    } catch (cause) {
      throw unreadable(field, cause);
    }
  };
  if (typeof asyncMethod === 'function') {
    const iterator = take(asyncMethod) as AsyncIterator<T>;
    return { [Symbol.asyncIterator]: () => iterator };
  }
  if (typeof method !== 'function') invalid(field, value, 'must be iterable');
  const iterator = take(method) as Iterator<T>;
  return { [Symbol.iterator]: () => iterator };
}

/**
 * Parts of a value {@link findUnreadable} looks at, at most: more than a report of the contract's
 * most entries holds, so that a proxy claiming a huge length cannot keep it walking.
 */
const PROBED_PARTS_MAX = 50_000_000;

/** A part of a value still to look at, and the name of the field it is. */
interface ProbedPart {
  readonly part: unknown;
  readonly field: string;
  /** Whether its fields are named after it (`report.id`) or bare (`id`, the fields of a top-level input). */
  readonly nested: boolean;
}

/** The parts an object or list holds, each read once, in their order; a read that throws is the refusal naming it. */
function partsOf(item: ProbedPart & { readonly part: object }, budget: number): ProbedPart[] | ReconcileError {
  const { part, field, nested } = item;
  const parts: ProbedPart[] = [];
  let keys: readonly string[];
  let isArray: boolean;
  try {
    isArray = Array.isArray(part);
    keys = isArray ? [] : Object.keys(part);
  } catch (cause) {
    return unreadable(field, cause);
  }
  if (isArray) {
    let length: number;
    try {
      length = Math.min((part as readonly unknown[]).length, budget);
    } catch (cause) {
      return unreadable(field, cause);
    }
    for (let index = 0; index < length; index++) {
      try {
        parts.push({ part: (part as readonly unknown[])[index], field: `${field}[${index}]`, nested: true });
      } catch (cause) {
        return unreadable(`${field}[${index}]`, cause);
      }
    }
    return parts;
  }
  for (const key of keys.slice(0, budget)) {
    const name = nested ? `${field}.${key}` : key;
    try {
      parts.push({ part: (part as Record<string, unknown>)[key], field: name, nested: true });
    } catch (cause) {
      return unreadable(name, cause);
    }
  }
  return parts;
}

/**
 * The part of a caller's value (an object or list, however deep) that cannot be read, as the
 * refusal naming it (`report.transactions[3].amount`); undefined when every part reads. Run only
 * after an operation on the value failed with an untyped error, to tell an unreadable input from
 * another failure, so that walking the value costs nothing when it is well.
 */
export function findUnreadable(value: unknown, names: FieldNames = {}): ReconcileError | undefined {
  const seen = new Set<object>();
  const stack: ProbedPart[] = [{ part: value, field: names.field ?? 'input', nested: names.nested === true }];
  let parts = 0;
  for (let item = stack.pop(); item !== undefined && parts < PROBED_PARTS_MAX; item = stack.pop()) {
    const { part } = item;
    if (typeof part !== 'object' || part === null || seen.has(part)) continue;
    seen.add(part);
    const found = partsOf({ ...item, part }, PROBED_PARTS_MAX - parts);
    if (found instanceof ReconcileError) return found;
    parts += found.length;
    // Last pushed, first looked at: the parts in their order.
    for (let index = found.length - 1; index >= 0; index--) stack.push(found[index] as ProbedPart);
  }
  return undefined;
}

/**
 * What a check of a caller's value (a report, an entry) throws when it failed with `failure`: a
 * typed error as it is; else the part of the value that cannot be read, or the value as a whole
 * when the failure came from reading it in a way the walk does not (a check reads nothing else).
 */
export function readFailure(failure: unknown, value: unknown, names: FieldNames): unknown {
  if (failure instanceof ReconcileError) return failure;
  return findUnreadable(value, names) ?? unreadable(names.field ?? 'input', failure);
}

/**
 * The one error class of the ledger package. Every expected failure (bad input, a rule that a
 * posting would break, an idempotency conflict) is a `LedgerError` with a literal `code`, the
 * offending `field` and `value` where there is one, and the wrapped `cause` when it wraps.
 *
 * Broken invariants (a transaction whose debits and credits differ after it was built, a stored
 * balance that no longer equals its entries) are not `LedgerError`s: they are assertion failures
 * ({@link LedgerInvariantError}) that must crash the caller, because the books can no longer be
 * trusted.
 */
export type LedgerErrorCode =
  | 'invalid_input'
  | 'invalid_amount'
  | 'invalid_day'
  | 'invalid_instant'
  | 'unknown_time_zone'
  | 'unknown_entity'
  | 'unknown_account'
  | 'unknown_transaction'
  | 'unbalanced_transaction'
  | 'mixed_entities'
  | 'insufficient_balance'
  | 'idempotency_conflict'
  | 'duplicate_provider_id'
  | 'entity_configuration_changed'
  | 'books_not_found'
  | 'books_too_new'
  | 'migration_required'
  | 'already_reversed'
  | 'limit_exceeded'
  | 'driver_missing'
  | 'transaction_aborted'
  | 'cycle_out_of_order'
  | 'connection_lost'
  | 'storage_busy';

/** Structured details a {@link LedgerError} may carry. */
export interface LedgerErrorDetails {
  /** The input field at fault, as a dotted path (e.g. `entries[1].amount`). */
  readonly field?: string;
  /** The offending value, rendered as a string (never a secret). */
  readonly value?: string;
  /** Any further structured context. */
  readonly context?: Readonly<Record<string, string>>;
  /** The error this one wraps. */
  readonly cause?: unknown;
}

/** An expected, typed failure of a ledger operation. Nothing was written when one is thrown. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  readonly code: LedgerErrorCode;
  readonly field: string | undefined;
  readonly value: string | undefined;
  readonly context: Readonly<Record<string, string>> | undefined;

  constructor(code: LedgerErrorCode, message: string, details: LedgerErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.field = details.field;
    this.value = details.value;
    this.context = details.context;
  }
}

/** A broken invariant: the books are inconsistent. Never catch this to continue. */
export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
}

/** Asserts an invariant; throws {@link LedgerInvariantError} when it does not hold. */
export function assertInvariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new LedgerInvariantError(message);
}

/** Renders any input value for an error message without throwing and without huge output. */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'bigint') text = `${value}n`;
  // JSON writes NaN and ±Infinity as `null`, which would misname the value a caller passed.
  else if (typeof value === 'number') text = String(value);
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      try {
        text = Object.prototype.toString.call(value);
      } catch {
        // A revoked proxy answers no question at all, not even its class.
        text = 'an unreadable value';
      }
    }
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * The refusal of an input that could not be read: a getter or a proxy trap that threw (`cause`),
 * or a revoked proxy, which answers no question at all.
 */
export function unreadable(field: string, cause: unknown): LedgerError {
  return new LedgerError('invalid_input', `${field} could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, { field, value: 'unreadable', cause });
}

/** `Array.isArray(value)`, for a caller's input: one that cannot answer (a revoked proxy) is {@link unreadable}. */
export function isArrayInput(value: unknown, field: string): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/** `value instanceof type`, for a caller's input: one that cannot answer (a revoked proxy, a throwing `getPrototypeOf` trap) is {@link unreadable}. */
export function isInstanceInput<T>(value: unknown, type: abstract new (...args: never[]) => T, field: string): value is T {
  try {
    return value instanceof type;
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/**
 * Whether `value` (an object) is a plain object, its prototype `Object.prototype` or null, for a
 * caller's input: one that cannot answer (a revoked proxy, a throwing `getPrototypeOf` trap) is
 * {@link unreadable}. A Map, a Date or a class instance is not: their entries are not own
 * enumerable fields, and read as pairs they stored as `{}`.
 */
export function isPlainObjectInput(value: object, field: string): boolean {
  try {
    const prototype: unknown = Object.getPrototypeOf(value);
    return prototype === Object.prototype || prototype === null;
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/**
 * `input` when it is an object (not `null`, not an array), for reading its fields; otherwise
 * `invalid_input` naming `field` and the value (reading a field of `null` was a raw TypeError).
 */
export function requireObject<T>(input: T, field: string): T {
  if (typeof input !== 'object' || input === null || isArrayInput(input, field)) {
    throw new LedgerError('invalid_input', `${field} must be an object, got ${describeValue(input)}`, { field, value: describeValue(input) });
  }
  return input;
}

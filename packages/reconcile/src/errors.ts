/**
 * The one error class of the reconcile package: a literal `code`, the field and value at fault,
 * named facts (`context`), and the wrapped `cause`.
 */
export type ReconcileErrorCode =
  | 'invalid_input'
  | 'invalid_report'
  | 'wrong_entity'
  | 'wrong_day'
  | 'no_report'
  | 'unknown_break'
  | 'unknown_settlement'
  | 'invalid_transition'
  | 'idempotency_conflict'
  | 'booked_not_recorded'
  | 'export_failed'
  | 'sort_failed'
  | 'migration_required';

/**
 * A booking the provider made that the books did not record (code `booked_not_recorded`): what
 * the provider answered, and the partner's key it was sent with.
 */
export interface UnrecordedBooking {
  readonly kind: 'deposit' | 'withdrawal';
  readonly entity: string;
  readonly earnAccountId: string;
  /** The provider's id of the booking. */
  readonly providerBookingId: string;
  /** The amount the provider booked, as it answered it. */
  readonly amount: string;
  readonly currency: string;
  readonly occurredAt: string;
  readonly idempotencyKey: string;
}

/** Structured details of a {@link ReconcileError}. */
export interface ReconcileErrorDetails {
  readonly field?: string;
  readonly value?: string;
  /** JSON pointer into a report, for report validation errors. */
  readonly path?: string;
  /** The provider's booking the books did not record (`booked_not_recorded` only). */
  readonly booking?: UnrecordedBooking;
  /**
   * Further named facts, as `LedgerError.context` carries them: the migrations pending
   * (`migration_required`), or the context of a ledger refusal the error wraps.
   */
  readonly context?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/**
 * An expected failure of reconciliation. Nothing was written to the books when one is thrown;
 * `booked_not_recorded` says in addition that the provider did book (see `booking`).
 */
export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
  readonly code: ReconcileErrorCode;
  readonly field: string | undefined;
  readonly value: string | undefined;
  readonly path: string | undefined;
  /** The provider's booking the books did not record (`booked_not_recorded` only). */
  readonly booking: UnrecordedBooking | undefined;
  /** Further named facts (see {@link ReconcileErrorDetails.context}). */
  readonly context: Readonly<Record<string, string>> | undefined;

  constructor(code: ReconcileErrorCode, message: string, details: ReconcileErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.field = details.field;
    this.value = details.value;
    this.path = details.path;
    this.booking = details.booking === undefined ? undefined : Object.freeze({ ...details.booking });
    this.context = details.context === undefined ? undefined : Object.freeze({ ...details.context });
  }
}

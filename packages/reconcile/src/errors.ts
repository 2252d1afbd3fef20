/**
 * The one error class of the reconcile package: a literal `code`, the field and value at fault,
 * and the wrapped `cause`.
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
  | 'export_failed';

/** Structured details of a {@link ReconcileError}. */
export interface ReconcileErrorDetails {
  readonly field?: string;
  readonly value?: string;
  /** JSON pointer into a report, for report validation errors. */
  readonly path?: string;
  readonly cause?: unknown;
}

/** An expected failure of reconciliation. Nothing was written when one is thrown. */
export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
  readonly code: ReconcileErrorCode;
  readonly field: string | undefined;
  readonly value: string | undefined;
  readonly path: string | undefined;

  constructor(code: ReconcileErrorCode, message: string, details: ReconcileErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.field = details.field;
    this.value = details.value;
    this.path = details.path;
  }
}

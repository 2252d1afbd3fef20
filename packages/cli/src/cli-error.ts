/**
 * The one error class of the CLI package: a literal `code`, the flag or configuration field at
 * fault, and the wrapped `cause`. The errors of the other packages (`LedgerError`,
 * `ReconcileError`, `EarnApiError`) pass through unchanged; all of them end a command with exit
 * code 2.
 */
export type CliErrorCode = 'invalid_flag' | 'invalid_config' | 'no_report' | 'database_unavailable' | 'books_not_found' | 'migration_required' | 'output_failed';

/** Structured details of a {@link CliError}. */
export interface CliErrorDetails {
  /** The flag (`--day`) or configuration field (`earnApi.defi.clientId`) at fault. */
  readonly field?: string;
  /** The offending value, rendered as text (never a secret). */
  readonly value?: string;
  readonly cause?: unknown;
}

/** An expected failure of a command. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  readonly field: string | undefined;
  readonly value: string | undefined;

  constructor(code: CliErrorCode, message: string, details: CliErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.field = details.field;
    this.value = details.value;
  }
}

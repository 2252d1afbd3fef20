/**
 * The one error class of the sandbox. It serves two purposes with one literal-union `code`: a bad
 * sandbox option (thrown to the caller of `startSandbox`), and a provider-side failure that the
 * HTTP layer renders as the contract's error body with the status of {@link SANDBOX_ERROR_STATUS}.
 */
import { describeValue } from '@earnbook/ledger';

export type SandboxErrorCode =
  /** An option of `startSandbox`, the clock or the fault controller is invalid. */
  | 'invalid_option'
  /** A request body, header, path or query parameter is invalid (400). */
  | 'invalid_request'
  /** A bearer token is missing, unknown, expired or revoked (401). */
  | 'invalid_token'
  /** The resource does not exist for the caller's entity (404). */
  | 'not_found'
  /** The withdrawal exceeds the account balance (422). */
  | 'insufficient_balance'
  /** The Idempotency-Key was used before with another request (409). */
  | 'idempotency_conflict'
  /** The Earn user already has an account in the product (409). */
  | 'account_exists'
  /** The download URL was valid but has expired (410). */
  | 'download_expired'
  /** The download URL was never issued (403). */
  | 'download_unknown'
  /** The request body exceeds the sandbox's limit (413). */
  | 'payload_too_large'
  /** The content type is not accepted (415). */
  | 'unsupported_media_type'
  /** An injected fault: rate limited (429). */
  | 'rate_limited'
  /** An injected fault: the service is unavailable (5xx). */
  | 'service_unavailable'
  /** An injected fault: the booking was applied but its answer is lost (502). */
  | 'bad_gateway'
  /** The sandbox was about to answer something the contract does not allow (500). */
  | 'contract_violation'
  /** Any other failure inside the sandbox (500). */
  | 'internal_error';

/** The HTTP status of each code when the error is rendered as a response. */
export const SANDBOX_ERROR_STATUS: Readonly<Record<SandboxErrorCode, number>> = Object.freeze({
  invalid_option: 500,
  invalid_request: 400,
  invalid_token: 401,
  not_found: 404,
  insufficient_balance: 422,
  idempotency_conflict: 409,
  account_exists: 409,
  download_expired: 410,
  download_unknown: 403,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  service_unavailable: 503,
  bad_gateway: 502,
  contract_violation: 500,
  internal_error: 500,
});

/** Structured details of a {@link SandboxError}. */
export interface SandboxErrorDetails {
  /** The offending option or request field, e.g. `amount` or `faults.errorRate`. */
  readonly field?: string;
  /** The HTTP status to answer, when it differs from the code's default (e.g. 503 vs 500). */
  readonly status?: number;
  /** The error this one wraps. */
  readonly cause?: unknown;
}

/** An expected failure of the sandbox, or an error answer it sends. */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  /** What went wrong. */
  readonly code: SandboxErrorCode;
  /** The offending option or field. */
  readonly field: string | undefined;
  /** The HTTP status this error is answered with. */
  readonly status: number;

  constructor(code: SandboxErrorCode, message: string, details: SandboxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.field = details.field;
    this.status = details.status ?? SANDBOX_ERROR_STATUS[code];
  }
}

/** Throws `invalid_option` naming the option and the value. */
export function invalidOption(field: string, value: unknown, reason: string): never {
  throw new SandboxError('invalid_option', `${field} ${reason}, got ${describeValue(value)}`, { field });
}

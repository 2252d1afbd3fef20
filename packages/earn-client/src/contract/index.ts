/**
 * The contract of the Tesseract Earn API: the OpenAPI 3.1 document, the types derived from its
 * schemas and the validators. Readers of report files (the reconciler) import from here and never
 * need the HTTP client.
 */
export { ASSUMPTION_KEYWORD, CONTRACT_IDEMPOTENCY_KEY_LENGTH_MAX, CONTRACT_PAGE_SIZE_MAX, CONTRACT_REPORT_TRANSACTIONS_MAX, earnApiContract } from './openapi.js';
export type { ContractSchemaName } from './openapi.js';
export { KNOWN_REPORT_TRANSACTION_TYPES } from './types.js';
export type {
  Account,
  AccountPage,
  Booking,
  BookingRequest,
  ContractType,
  ContractTypes,
  CreateAccountRequest,
  CreateUserRequest,
  DailyReport,
  ErrorBody,
  InterestTier,
  KnownFields,
  KnownReportTransactionType,
  OutstandingBalance,
  OutstandingBalances,
  Product,
  ProductList,
  ReportBalance,
  ReportDownloadUri,
  ReportPage,
  ReportSummary,
  ReportTransaction,
  TokenResponse,
  Transaction,
  TransactionPage,
  User,
} from './types.js';
export { parseDailyReport, validateContract, validateDailyReport } from './validate.js';
export type { ValidateContractOptions } from './validate.js';

// Validation failures are this package's error; readers of report files check for it. The rule
// of unsafe characters is here too, so that code quoting provider text escapes it as the client
// does without loading the HTTP client.
export { EarnApiError, escapeUnsafeText } from '../errors.js';
export type { EarnApiErrorCode, EarnApiErrorDetails } from '../errors.js';
// The key counts behind the repeated-key rule, shared with @earnbook/reconcile's report readers.
export { pairsInText, pairsOf, stringEnd } from './json-keys.js';

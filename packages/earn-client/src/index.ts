/**
 * The public surface of `@earnbook/earn-client`: a typed, validated client of the Tesseract Earn
 * API for one entity ({@link EarnClient}) and for both together ({@link EarnFacade}), its one
 * error class, and the contract (OpenAPI 3.1 document, derived types and validators).
 * Nothing else is imported from outside the package.
 */
export { EarnClient } from './earn-client.js';
export type {
  BookingInput,
  CallSignalOptions,
  CreateAccountInput,
  CreateUserInput,
  DownloadedReportFile,
  IdempotentCallOptions,
  IterateInput,
  PageInput,
} from './earn-client.js';
export { partialDownloadsOf } from './body-file.js';
export { EarnFacade } from './earn-facade.js';
export type { EarnFacadeOptions, EndUserEarnUsers, EntityProduct, OnboardEndUserInput, OpenAccountInput, ProductAccountInput } from './earn-facade.js';
export { DEFAULT_ENTITY_IDS, isLoopbackHost, resolveEntityConfig } from './config.js';
export type { ClientAuthMethod, EntityConfig, EntityConfigInput, EntityId } from './config.js';
export { EarnApiError, SanitizedCause, escapeUnsafeText } from './errors.js';
export { SILENT_EARN_CLIENT_LOGGER } from './observe.js';
export type { EarnClientHooks, EarnClientLogMethod, EarnClientLogger, EarnRequestEvent, EarnResponseEvent, EarnRetryEvent } from './observe.js';
export type { EarnApiErrorCode, EarnApiErrorDetails } from './errors.js';
export { backoffDelayMs, parseRetryAfterMs } from './http.js';
export type { ApiOperation } from './operations.js';
export type { Page } from './paginate.js';
export * from './contract/index.js';

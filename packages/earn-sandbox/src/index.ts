/**
 * The public surface of `@earnbook/earn-sandbox`: a local Tesseract Earn API that serves the
 * project's one contract with the provider's semantics, keeps its own books with
 * `@earnbook/ledger`, runs the accounting cycle on a controllable clock and injects faults.
 */
export { startSandbox } from './sandbox.js';
export type { Sandbox, SandboxBooks, SandboxCredentials } from './sandbox.js';
export { ADVANCE_DAYS_MAX, SandboxClock } from './clock.js';
export { FaultController } from './faults.js';
export { SeededRandom, seededRandom } from './random.js';
export type {
  FaultCounters,
  FaultSettings,
  InterestOffOptions,
  LoseBookingResponseOptions,
  LostResponseMode,
  PublishRestatementOptions,
  ReportFaultOptions,
  RestateReportOptions,
} from './faults.js';
export { DEFAULT_SANDBOX_ENTITIES, DEFAULT_SANDBOX_PRODUCTS, PRODUCTS_MAX, SANDBOX_ENTITIES_MAX, SANDBOX_START_DEFAULT, resolveSandboxOptions } from './options.js';
export type { SandboxConfig, SandboxEntity, SandboxEntityInput, SandboxOptions, SandboxProduct, SandboxProductInput } from './options.js';
export { SANDBOX_ERROR_STATUS, SandboxError } from './errors.js';
export type { SandboxErrorCode, SandboxErrorDetails } from './errors.js';
export type { SandboxBooking } from './provider.js';
export { settleCurrencyDay } from './settlement.js';
export type { CurrencyFlowsUnits, SettlementFigures } from './settlement.js';

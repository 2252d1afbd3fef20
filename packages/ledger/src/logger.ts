/**
 * The logger the ledger (and the reconciler on top of it) writes to: the pino-compatible
 * `{ info, warn, error, debug }` shape, each method called with structured fields and a message,
 * so pino, winston or a console wrapper fit. The books log facts (entities, days, counts), never
 * amounts of a user or a secret.
 */

/** One log method: pino's `(fields, message)` form. */
export type LedgerLogMethod = (fields: Record<string, unknown>, message: string) => void;

/** A logger of the pino shape. */
export interface LedgerLogger {
  readonly info: LedgerLogMethod;
  readonly warn: LedgerLogMethod;
  readonly error: LedgerLogMethod;
  readonly debug: LedgerLogMethod;
}

/** A logger that drops everything (the default). */
export const SILENT_LEDGER_LOGGER: LedgerLogger = Object.freeze({ info: () => {}, warn: () => {}, error: () => {}, debug: () => {} });

/** Whether a value has the four log methods. */
export function isLedgerLogger(value: unknown): value is LedgerLogger {
  const logger = value as Partial<Record<keyof LedgerLogger, unknown>> | null;
  return typeof logger === 'object' && logger !== null && (['info', 'warn', 'error', 'debug'] as const).every((name) => typeof logger[name] === 'function');
}

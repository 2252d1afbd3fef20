/**
 * A library's refusal of an input, said of the flag that gave it. The reconciler, the ledger and
 * the Earn client name their own fields (`breakId`, `reason`, `toDay`, `reportId`, `schema`); a
 * partner at the command line gave `--id`, `--reason`, `--to`, `--report-id`, `--schema`, and the
 * `error:` line and `--json` name those instead.
 */
import { EarnApiError } from '@earnbook/earn-client';
import { LedgerError } from '@earnbook/ledger';
import { ReconcileError } from '@earnbook/reconcile';

/** The library's field names, each with the flag that gives it. */
export type FlagsOfFields = Readonly<Record<string, string>>;

/** Options of {@link asFlagError} and {@link withFlagErrors}. */
export interface FlagErrorOptions {
  /**
   * Whether the field names in the message are said as flags too (default true). False when the
   * flag only holds the value (`?schema=` in `--database`): "--database pg_catalog is a system
   * schema" would misread, so the message keeps the library's word and only the field changes.
   */
  readonly renameInMessage?: boolean;
}

/**
 * `message` with the field names of `flags` said as flags, in the text before the first quote
 * (the value echoed after it is the caller's, kept exact). A name is replaced where it is a
 * library identifier: the message's first word (`reason must be …`, `day 2025-03-20 cannot run`)
 * or a camel-case word anywhere (`toDay … is before fromDay …`). A plain word elsewhere is prose
 * (`carries over from the day before`) and stays.
 */
function flagMessage(message: string, flags: FlagsOfFields): string {
  const quote = message.indexOf('"');
  const head = quote === -1 ? message : message.slice(0, quote);
  const said = head.replace(/\b[a-zA-Z]+\b/g, (word, offset: number) => (offset === 0 || /[A-Z]/.test(word) ? (flags[word] ?? word) : word));
  return `${said}${message.slice(head.length)}`;
}

/**
 * `error` (a `ReconcileError`, `LedgerError` or `EarnApiError`) with its field (and the field
 * names in its message, {@link flagMessage}) replaced by the flags of `flags`, the original kept
 * as `cause`; any other error as it is.
 */
export function asFlagError(error: unknown, flags: FlagsOfFields, options: FlagErrorOptions = {}): unknown {
  if (!(error instanceof ReconcileError || error instanceof LedgerError || error instanceof EarnApiError) || error.field === undefined) return error;
  const flag = flags[error.field];
  if (flag === undefined) return error;
  const message = options.renameInMessage === false ? error.message : flagMessage(error.message, flags);
  if (error instanceof EarnApiError) {
    // The client's input path of a refused argument is the field itself: the flag says it now.
    return new EarnApiError(error.code, message, {
      field: flag,
      ...(error.path === undefined || error.path === error.field ? {} : { path: error.path }),
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.providerCode === undefined ? {} : { providerCode: error.providerCode }),
      ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      ...(error.operation === undefined ? {} : { operation: error.operation }),
      ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
      cause: error,
    });
  }
  const value = error.value === undefined ? {} : { value: error.value };
  if (error instanceof LedgerError) {
    return new LedgerError(error.code, message, { field: flag, ...value, ...(error.context === undefined ? {} : { context: error.context }), cause: error });
  }
  return new ReconcileError(error.code, message, {
    field: flag,
    ...value,
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.booking === undefined ? {} : { booking: error.booking }),
    ...(error.context === undefined ? {} : { context: error.context }),
    cause: error,
  });
}

/** Runs `work`, its refusals said of the flags of `flags`. */
export async function withFlagErrors<T>(flags: FlagsOfFields, work: () => Promise<T>, options: FlagErrorOptions = {}): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asFlagError(error, flags, options);
  }
}

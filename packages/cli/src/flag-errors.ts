/**
 * A library's refusal of an input, said of the flag that gave it. The reconciler names its own
 * fields (`breakId`, `reason`, `toDay`); a partner at the command line gave `--id`, `--reason`,
 * `--to`, and the `error:` line and `--json` name those instead.
 */
import { LedgerError } from '@earnbook/ledger';
import { ReconcileError } from '@earnbook/reconcile';

/** The library's field names, each with the flag that gives it. */
export type FlagsOfFields = Readonly<Record<string, string>>;

/**
 * `error` (a `ReconcileError` or `LedgerError`) with its field (and the field names in its message, before any quoted value) replaced
 * by the flags of `flags`, the original kept as `cause`; any other error as it is.
 */
export function asFlagError(error: unknown, flags: FlagsOfFields): unknown {
  if (!(error instanceof ReconcileError || error instanceof LedgerError) || error.field === undefined) return error;
  const flag = flags[error.field];
  if (flag === undefined) return error;
  // Only the text before the first quote: the value echoed after it is the caller's, kept exact.
  const quote = error.message.indexOf('"');
  const head = quote === -1 ? error.message : error.message.slice(0, quote);
  const message = `${head.replace(/\b[a-zA-Z]+\b/g, (word) => flags[word] ?? word)}${error.message.slice(head.length)}`;
  const value = error.value === undefined ? {} : { value: error.value };
  if (error instanceof LedgerError) {
    return new LedgerError(error.code, message, { field: flag, ...value, ...(error.context === undefined ? {} : { context: error.context }), cause: error });
  }
  return new ReconcileError(error.code, message, {
    field: flag,
    ...value,
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.booking === undefined ? {} : { booking: error.booking }),
    cause: error,
  });
}

/** Runs `work`, its refusals said of the flags of `flags`. */
export async function withFlagErrors<T>(flags: FlagsOfFields, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asFlagError(error, flags);
  }
}

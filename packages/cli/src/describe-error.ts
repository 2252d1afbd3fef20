/**
 * How a failed command tells what went wrong: one `error:` line on stderr with the message, the
 * error's code and the field at fault (and, with `--json`, the same as JSON on stdout, with the
 * refusal's named facts, `context`, where it has them). Typed
 * errors of every package are expected failures; anything else is reported as `internal` with
 * its stack, since it is a bug or a broken invariant. The line is one line whatever the message
 * holds: control characters are written as `\uXXXX` escapes (see {@link singleLine}).
 */
import { EarnApiError } from '@earnbook/earn-client';
import { LedgerError } from '@earnbook/ledger';
import { ReconcileError } from '@earnbook/reconcile';
import { CliError } from './cli-error.js';
import { singleLine, stackFrames } from './terminal-text.js';

/** A failure as the CLI reports it. */
export interface ErrorDescription {
  /** `CliError`, `LedgerError`, `ReconcileError`, `EarnApiError`, or `internal`. */
  readonly kind: string;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly value?: string;
  /** JSON path in a report, or the API path of a request. */
  readonly path?: string;
  /** HTTP status of an API failure. */
  readonly status?: number;
  /** The provider's request id of an API failure. */
  readonly requestId?: string;
  /** Named facts of a ledger's or reconciler's refusal (`--json` only): the pending migrations, the account at fault, … */
  readonly context?: Readonly<Record<string, string>>;
}

function optional<K extends string, V>(key: K, value: V | undefined | null): Partial<Record<K, V>> {
  return value === undefined || value === null ? {} : ({ [key]: value } as Record<K, V>);
}

/** Describes any thrown value. */
export function describeError(error: unknown): ErrorDescription {
  if (error instanceof CliError || error instanceof LedgerError || error instanceof ReconcileError) {
    return {
      kind: error.name,
      code: error.code,
      message: error.message,
      ...optional('field', error.field),
      ...optional('value', error.value),
      ...optional('path', error instanceof ReconcileError ? error.path : undefined),
      ...optional('context', error instanceof CliError ? undefined : error.context),
    };
  }
  if (error instanceof EarnApiError) {
    return {
      kind: error.name,
      code: error.code,
      message: error.message,
      ...optional('field', error.field),
      ...optional('path', error.path),
      ...optional('status', error.status),
      ...optional('requestId', error.requestId),
    };
  }
  return { kind: 'internal', code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

/**
 * The `error:` line (and, for an internal error, its stack frames). A message is printed with its
 * control characters escaped, whichever package or provider wrote it: a line break or an escape
 * sequence in it could otherwise forge output lines or drive the terminal.
 */
export function formatError(error: unknown): string {
  const description = describeError(error);
  const facts = [`code ${description.code}`];
  if (description.field !== undefined) facts.push(`field ${description.field}`);
  if (description.path !== undefined && description.path !== '') facts.push(`path ${description.path}`);
  if (description.status !== undefined) facts.push(`status ${description.status}`);
  if (description.requestId !== undefined) facts.push(`request ${description.requestId}`);
  const line = `error: ${singleLine(description.message)} (${singleLine(facts.join(', '))})\n`;
  if (description.kind === 'internal' && error instanceof Error && error.stack !== undefined) {
    // The stack starts with the message again: only the frames are added, each line escaped.
    return `${line}${stackFrames(error) ?? singleLine(error.stack)}\n`;
  }
  return line;
}

/**
 * The command line of the example scripts (the nightly job, the audit export, the back office,
 * the demo): their flags, read by the rules of the `earnbook` CLI, and how the audit export and
 * the back office report a failure. One place, so that the scripts cannot drift apart.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { CliError, describeError, repeatedFlagError, singleLine, stackFrames } from '@earnbook/cli';
import type { ErrorDescription } from '@earnbook/cli';

/** The flags of a script, as `parseArgs` takes them. */
export type ScriptFlagOptions = NonNullable<ParseArgsConfig['options']>;

/** The values of the flags `T` declares, as `parseArgs` answers them. */
export type ScriptFlagValues<T extends ScriptFlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; tokens: true }>>['values'];

/** Options of {@link parseScriptFlags}. */
export interface ScriptFlagsInput<T extends ScriptFlagOptions> {
  /** The arguments after the script's path; a leading `--` (which pnpm passes through) is skipped. */
  readonly argv: readonly string[];
  readonly options: T;
  /**
   * Checks of flags whose value may start with `-` (`--day -1`, `--port -1`): `parseArgs` takes
   * such a value for a flag and refuses the flag as one without its value. When the first such
   * flag from the left has a check here, the check refuses the value, named with it.
   */
  readonly dashValueChecks?: Readonly<Record<string, (value: string) => unknown>>;
}

/**
 * Reads the flags. A refusal of `parseArgs` (an unknown flag, a stray argument, a flag without
 * its value) is `CliError` `invalid_flag` on one line; so is a flag that takes a value given
 * twice (`--day 2025-01-01 --day 2025-01-02`), which `parseArgs` would silently answer with the
 * last: the message names the flag and both values (a connection URL redacted), as the
 * `earnbook` CLI's does.
 *
 * @example
 * const values = parseScriptFlags({ argv: process.argv.slice(2), options: { day: { type: 'string' } } });
 */
export function parseScriptFlags<T extends ScriptFlagOptions>(input: ScriptFlagsInput<T>): ScriptFlagValues<T> {
  const args = input.argv[0] === '--' ? input.argv.slice(1) : [...input.argv];
  const valueFlags = Object.entries(input.options).filter(([, option]) => option.type === 'string').map(([name]) => `--${name}`);
  let parsed;
  try {
    parsed = parseArgs({ args, options: input.options, strict: true, tokens: true });
  } catch (cause) {
    const at = args.findIndex((arg, index) => valueFlags.includes(arg) && args[index + 1]?.startsWith('-') === true);
    const check = at === -1 ? undefined : input.dashValueChecks?.[args[at] ?? ''];
    if ((cause as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && check !== undefined) check(args[at + 1] ?? '');
    // Its messages run over several lines (a hint after the fault): one line, the fault first.
    const message = cause instanceof Error ? cause.message.split('\n').join(' ') : String(cause);
    throw new CliError('invalid_flag', message, { cause });
  }
  refuseRepeatedValues(parsed.tokens, input.options);
  return parsed.values as ScriptFlagValues<T>;
}

/** What {@link refuseRepeatedValues} reads of a `parseArgs` token. */
interface FlagToken {
  readonly kind: string;
  readonly name?: string;
  readonly value?: string | undefined;
}

/** Refuses a flag that takes a value and is given twice; a boolean given twice says the same thing. */
function refuseRepeatedValues(tokens: readonly FlagToken[], options: ScriptFlagOptions): void {
  const first = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const option = options[token.name];
    if (option?.type !== 'string' || option.multiple === true) continue;
    const given = token.value ?? '';
    const earlier = first.get(token.name);
    if (earlier === undefined) {
      first.set(token.name, given);
      continue;
    }
    throw repeatedFlagError(`--${token.name}`, { first: earlier, given });
  }
}

/** Options of {@link reportScriptFailure}. */
export interface ScriptFailureInput {
  /** What starts the line: `earnbook audit export`. */
  readonly script: string;
  readonly error: unknown;
  /** Typed codes that mean the input is at fault (exit 2); every other code is exit 1. */
  readonly badInputCodes: ReadonlySet<string>;
  /** The description of an error no package types but the script does; default {@link describeError}. */
  readonly description?: ErrorDescription;
}

/** The input is at fault. */
const EXIT_BAD_INPUT = 2;
/** The script could not do its work. */
const EXIT_FAILED = 1;

/**
 * Writes a script's failure on stderr and answers its exit code: a typed failure of any package is
 * expected (a typo in a flag, an unreachable server) and is one line, `<script>: <code>:
 * <message>`, without a stack (the messages never hold a PostgreSQL password); anything else is a
 * bug, reported with its stack frames, each line escaped as the line is. Exit 2 for the `badInputCodes`, else 1.
 */
export function reportScriptFailure(input: ScriptFailureInput): 1 | 2 {
  const { error } = input;
  const description = input.description ?? describeError(error);
  console.error(`${input.script}: ${description.code}: ${singleLine(description.message)}`);
  // Only the frames follow the line, each escaped as the `earnbook` CLI escapes them: the message
  // (repeated at the head of the stack) may hold line breaks or escape sequences.
  if (description.kind === 'internal' && error instanceof Error && error.stack !== undefined) console.error(stackFrames(error) ?? singleLine(error.stack));
  return description.kind !== 'internal' && input.badInputCodes.has(description.code) ? EXIT_BAD_INPUT : EXIT_FAILED;
}

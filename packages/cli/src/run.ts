/**
 * The `earnbook` program: its commands, and {@link run}, which parses the arguments, runs the
 * command in-process and returns the exit code (0 clean, 1 breaks found, 2 error) instead of
 * exiting, so that tests can call it with their own streams.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import type { CliIo } from './cli-io.js';
import { EXIT_CLEAN, EXIT_ERROR } from './exit-codes.js';
import type { ExitCode } from './exit-codes.js';
import { COMMANDS } from './commands/command-list.js';

/** The program's version, printed by `--version`: the package's own (`src/` and `dist/` both sit one level below it). */
export const CLI_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/**
 * Which top-level commands to load: `'all'`, or the one that `argv` runs (`earnbook reconcile …`,
 * `earnbook help reconcile`). With none (`earnbook --help`, `--version`, an unknown name), only
 * the names and descriptions are registered, so that nothing heavy is imported.
 */
export type CommandSelection = 'all' | { readonly argv: readonly string[] };

function commandToLoad(argv: readonly string[]): string | undefined {
  const words = argv.filter((word) => !word.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * Builds a fresh program writing to `io`; a command hands its exit code to `setExit`. Commander
 * is told never to exit the process: it throws instead, and {@link run} maps that to a code.
 * By default every command is loaded (for documentation and tests); {@link run} loads only the
 * command it runs.
 */
export async function buildProgram(io: CliIo, setExit: (code: ExitCode) => void, selection: CommandSelection = 'all'): Promise<Command> {
  const program = new Command('earnbook')
    .description("Batch jobs over an Earn partner's books: daily reconciliation with the provider's reports, audit exports, breaks and settlements.")
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for the command')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      // Commander's own usage errors are not printed as it words them (two lines, the value
      // echoed raw): {@link run} reports them as one typed line, see usageError.
      outputError: () => undefined,
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 success (reconcile: the day is clean), 1 reconcile found open breaks or verify found the books inconsistent, 2 error.
Run "earnbook <command> --help" for the flags of each command.`,
    );
  // Subcommands made through .command() inherit exitOverride and the output settings above.
  const wanted = selection === 'all' ? undefined : commandToLoad(selection.argv);
  for (const entry of COMMANDS) {
    if (selection === 'all' || entry.name === wanted) (await entry.load())(program, io, setExit);
    else program.command(entry.name).description(entry.description);
  }
  // Once, over every command loaded: a command added later is covered without a call of its own.
  // Imported here, as the commands are: book-options loads the ledger, which `--help` never needs.
  if (selection === 'all' || wanted !== undefined) (await import('./book-options.js')).refuseRepeatedFlags(program);
  return program;
}

/** Commander's codes for what is not a usage error: help or the version, printed as asked. */
const NOT_USAGE_ERRORS: ReadonlySet<string> = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

/**
 * Commander's usage error (an unknown option, a missing or invalid value, a conflict) as
 * `invalid_flag` naming the option at fault (`command` for an unknown command or an extra
 * argument); its message is kept, so the value it quotes is escaped on the `error:` line.
 */
function usageError(error: CommanderError): CliError {
  const message = error.message.replace(/^error: /, '').replace(/\n\((Did you mean [^\n]*)\)$/, ' ($1)');
  const flag = /^(?:unknown option|(?:required )?option) '(-[^\s']*)/.exec(message)?.[1];
  return new CliError('invalid_flag', message, { field: flag ?? 'command', cause: error });
}

/** Quoted as JSON (control characters and lone surrogates escaped) and cut: the ledger's describeValue is not loaded here, to keep --help light. */
function shownWord(word: string): string {
  return JSON.stringify(word.length > 100 ? `${word.slice(0, 100)}…` : word);
}

/**
 * `earnbook help …` takes at most one word, the name of a command, and `-h`/`--help`. Commander
 * prints the general help for anything else (an unknown name, an unknown option, extra words) and
 * exits 0 without saying what was wrong, so those are refused here as usage errors naming the word.
 */
function checkHelpTopic(argv: readonly string[]): void {
  if (argv[0] !== 'help') return;
  const rest = argv.slice(1).filter((word) => word !== '-h' && word !== '--help');
  const refuse = (word: string, message: (shown: string) => string): never => {
    const shown = shownWord(word);
    throw new CliError('invalid_flag', message(shown), { field: 'command', value: shown });
  };
  const option = rest.find((word) => word.startsWith('-'));
  if (option !== undefined) refuse(option, (shown) => `unknown option ${shown} for "earnbook help"`);
  const [topic, extra] = rest;
  if (topic !== undefined && !COMMANDS.some((entry) => entry.name === topic)) refuse(topic, (shown) => `unknown command ${shown}: run "earnbook --help" for the commands`);
  if (extra !== undefined) refuse(extra, (shown) => `too many arguments for "earnbook help": ${shown}`);
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Errors are written to `io.stderr` as one `error:` line with their code and field; with
 * `--json` the error is also written to stdout as `{ "error": … }`.
 *
 * @example
 * const code = await run(['reconcile', '--entity', 'defi', '--day', '2025-03-18', '--report-file', 'r.json'], processIo());
 */
export async function run(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let code: ExitCode = EXIT_CLEAN;
  let failure: unknown;
  try {
    checkHelpTopic(argv);
    const program = await buildProgram(
      io,
      (value) => {
        code = value;
      },
      { argv },
    );
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    failure = error;
  }
  if (failure instanceof CommanderError) {
    // Commander has already printed help or the version.
    if (failure.exitCode === 0 || NOT_USAGE_ERRORS.has(failure.code)) return failure.exitCode === 0 ? EXIT_CLEAN : EXIT_ERROR;
    failure = usageError(failure);
  }
  // Loaded only on failure: it knows every package's error class.
  const { describeError, formatError } = await import('./describe-error.js');
  io.stderr.write(formatError(failure));
  if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: describeError(failure) }, null, 2)}\n`);
  return EXIT_ERROR;
}

/**
 * The flags every command that opens the books shares (`--database`, `--schema`, `--config`,
 * `--json`, `--quiet`), and how they resolve: a flag first, then the environment
 * (`EARNBOOK_DATABASE`, `EARNBOOK_CONFIG`), then the configuration file, then the default.
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { EMPTY_CONFIG, loadConfig } from './cli-config.js';
import { checkPath } from './text-flags.js';
import { describeValue, redactConnectionString } from '@earnbook/ledger';
import { CliError } from './cli-error.js';
import { withFlagErrors } from './flag-errors.js';
import type { CliConfig } from './cli-config.js';
import type { CliIo } from './cli-io.js';
import { LOG_FORMATS, LOG_LEVELS, cliLogger } from './cli-logger.js';
import type { CliLogger, LogFormat, LogLevel } from './cli-logger.js';
import { DATABASE_DEFAULT, openBooks, parseDatabaseTarget } from './open-books.js';
import type { OpenBooks } from './open-books.js';

/** The shared flags as commander parses them. */
export interface BookFlags {
  readonly database?: string;
  readonly schema?: string;
  readonly config?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
  /** Start new books when none exist at the target (`--create`, or `earnbook init`). */
  readonly create?: boolean;
  /** `--migrate`: apply this version's pending schema migrations to existing books. */
  readonly migrate?: boolean;
  /** `--log-format`: structured log lines on stderr (off when not given). */
  readonly logFormat?: LogFormat;
  /** `--log-level`: the least severe level logged; default info. */
  readonly logLevel?: LogLevel;
}

/** Adds `--config`, `--database`, `--schema`, `--json` and `--quiet` to a command. */
export function addBookOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--config <file>', 'configuration JSON: entities and zones, tolerances, settlement thresholds, wallets, Earn API connections (env EARNBOOK_CONFIG; see the README)'),
    )
    .addOption(
      new Option(
        '--database <target>',
        `the books: a SQLite file path, or a postgres:// URL (its password is never printed; add ?schema=name for one schema). Default: env EARNBOOK_DATABASE, else the config's "database", else ${DATABASE_DEFAULT}`,
      ),
    )
    .addOption(new Option('--schema <name>', 'PostgreSQL schema of the books (same as ?schema= in the URL)'))
    .addOption(new Option('--json', 'print the result as JSON on stdout (no progress bar, no text summary)'))
    .addOption(new Option('--quiet', 'print nothing on success and draw no progress bar (errors still go to stderr)'))
    .addOption(new Option('--log-format <format>', 'write structured log lines on stderr: json (one object per line: time, level, msg, fields) or text; no secret is ever logged').choices(LOG_FORMATS))
    .addOption(new Option('--log-level <level>', 'least severe level logged with --log-format (default info; --quiet logs errors only)').choices(LOG_LEVELS))
    .addOption(
      new Option(
        '--migrate',
        "apply this version's pending schema migrations to existing books first (take a backup before); without it, books that need one are an error (exit 2) and nothing is changed",
      ),
    );
}

/** Adds `--create`: books that do not exist are an error unless it is given. */
export function addCreateOption(command: Command): Command {
  return command.addOption(new Option('--create', 'start new books when none exist at --database (with the config\'s entities); without it, missing books are an error (exit 2) and nothing is created'));
}

/** The command's logger, from `--log-format`, `--log-level` and `--quiet`. */
export function loggerOf(flags: BookFlags, io: CliIo): CliLogger {
  return cliLogger(io, { format: flags.logFormat, level: flags.logLevel, quiet: flags.quiet });
}

/** Reads the configuration named by `--config` or `EARNBOOK_CONFIG`, or the empty one. */
export async function resolveConfig(flags: BookFlags, io: CliIo): Promise<CliConfig> {
  // `--config ''` is refused (checkPath), not read as "no configuration": it replaced
  // EARNBOOK_CONFIG silently. An empty EARNBOOK_CONFIG still means none.
  if (flags.config !== undefined) return loadConfig(checkPath(flags.config, '--config'), io.cwd);
  const path = io.env['EARNBOOK_CONFIG'];
  return path === undefined || path === '' ? EMPTY_CONFIG : loadConfig(checkPath(path, 'EARNBOOK_CONFIG'), io.cwd);
}

/** Opens the books named by the flags, the environment or the configuration. */
export async function openBooksOf(flags: BookFlags, config: CliConfig, io: CliIo): Promise<OpenBooks> {
  const env = io.env['EARNBOOK_DATABASE'];
  const [database, field]: [string, string] =
    flags.database !== undefined ? [flags.database, '--database'] : env !== undefined && env !== '' ? [env, 'EARNBOOK_DATABASE'] : config.database !== undefined ? [config.database, 'database'] : [DATABASE_DEFAULT, '--database'];
  // A PostgreSQL URL may hold a password: the error shows it redacted.
  checkPath(database, field, redactConnectionString(database));
  const target = parseDatabaseTarget({ database, schema: flags.schema, cwd: io.cwd });
  // The driver's refusal of the schema (a system schema) or of the URL names the flag that gave
  // it: --schema, else the database's own (--database, EARNBOOK_DATABASE or the config's field),
  // whose ?schema= held it; the message then keeps the word "schema".
  const open = () => openBooks({ target, config, create: flags.create === true, migrate: flags.migrate === true, logger: loggerOf(flags, io) });
  if (flags.schema !== undefined) return withFlagErrors({ schema: '--schema', connectionString: field }, open);
  return withFlagErrors({ schema: field, connectionString: field }, open, { renameInMessage: false });
}

/** Runs `work` on open books and always closes them. */
export async function withBooks<T>(flags: BookFlags, config: CliConfig, io: CliIo, work: (books: OpenBooks) => Promise<T>): Promise<T> {
  const opened = await openBooksOf(flags, config, io);
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

/** Writes JSON (two-space indented, with a final newline). */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The refusal of a value flag given twice (`invalid_flag` naming the flag, both values quoted);
 * the CLI's commands and the example scripts answer it alike. Redacted: a connection string given
 * twice (`--database`) must not echo its password.
 */
export function repeatedFlagError(flag: string, values: { readonly first: string; readonly given: string }): CliError {
  const [shownFirst, shownGiven] = [describeValue(redactConnectionString(values.first)), describeValue(redactConnectionString(values.given))];
  return new CliError('invalid_flag', `${flag} is given twice (${shownFirst}, then ${shownGiven}): give it once`, { field: flag, value: shownGiven });
}

/**
 * Refuses a flag that takes a value and is given twice (`breaks resolve --id 2 … --id 1`), on
 * `command` and its subcommands: commander would silently keep the last, so a command would act
 * on another break, instruction, entity or range than the one read first on the line. The
 * refusal is `invalid_flag` naming the flag; the command never runs.
 */
export function refuseRepeatedFlags(command: Command): Command {
  for (const option of command.options) {
    if (!option.required && !option.optional) continue;
    let first: string | undefined;
    // Commander's own listener (added with the option) has kept the value by then; the throw
    // ends the parse, so the command never runs.
    command.on(`option:${option.name()}`, (value: unknown) => {
      const given = typeof value === 'string' ? value : '';
      if (first === undefined) {
        first = given;
        return;
      }
      throw repeatedFlagError(option.long ?? option.flags, { first, given });
    });
  }
  for (const child of command.commands) refuseRepeatedFlags(child);
  return command;
}

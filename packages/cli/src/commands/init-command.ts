/**
 * `earnbook init`: starts new books at `--database` with the config's entities (and their time
 * zones, fixed from then on), or says that they exist already. The other commands never create
 * books (unless `reconcile --create`), so a mistyped path is an error instead of new empty books.
 */
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { addBookOptions, openBooksOf, resolveConfig, writeJson } from '../book-options.js';
import type { BookFlags } from '../book-options.js';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../cli-io.js';
import { EXIT_CLEAN } from '../exit-codes.js';
import type { ExitCode } from '../exit-codes.js';
import { describeDatabase } from '../open-books.js';
import { singleLine } from '../terminal-text.js';

/** What `earnbook init` answers: `created`, or `exists` when the books were there already. */
export interface InitResult {
  readonly status: 'created' | 'exists';
  readonly database: string;
  readonly entities: readonly { readonly id: string; readonly timeZone: string }[];
}

async function init(flags: BookFlags, io: CliIo): Promise<ExitCode> {
  const config = await resolveConfig(flags, io);
  if (config.entities === undefined) {
    throw new CliError('invalid_config', 'earnbook init needs a --config that lists the entities (id and timeZone): their zones are fixed once the books exist', { field: 'entities' });
  }
  let status: InitResult['status'] = 'exists';
  let opened;
  try {
    opened = await openBooksOf({ ...flags, create: false }, config, io);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'books_not_found') throw error;
    opened = await openBooksOf({ ...flags, create: true }, config, io);
    status = 'created';
  }
  try {
    const result: InitResult = {
      status,
      database: describeDatabase(opened.target),
      entities: [...opened.ledger.entities.values()].map((entity) => ({ id: entity.id, timeZone: entity.timeZone })),
    };
    if (flags.json === true) writeJson(io, result);
    else if (flags.quiet !== true) {
      const list = result.entities.map((entity) => `${entity.id} (${entity.timeZone})`).join(', ');
      // The path is the partner's text: escaped as the `error:` line is (`--json` keeps it exact).
      io.stdout.write(`${singleLine(`${status === 'created' ? 'created new books' : 'books exist already'} at ${result.database}: ${list}`)}\n`);
    }
    return EXIT_CLEAN;
  } finally {
    await opened.close();
  }
}

/** Adds the `init` command to `program`. */
export function addInitCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const command = program.command('init').description(COMMAND_DESCRIPTIONS.init);
  addBookOptions(command)
    .addHelpText(
      'after',
      `
Idempotent: on existing books it checks the config's entities against them (a changed time zone
is an error) and changes nothing. Exit codes: 0 created or exist, 2 error.

Example:
  earnbook init --config earnbook.json --database /srv/earnbook/books.sqlite`,
    )
    .action(async (flags: BookFlags) => setExit(await init(flags, io)));
  // `--database a … --database b` would make books at b: a value flag given twice is refused.
  return command;
}

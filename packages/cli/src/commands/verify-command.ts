/**
 * `earnbook verify`: checks every invariant of the stored books, entity by entity (each
 * transaction balances per currency; each stored balance, entry count and end-of-day balance
 * equals its entries; no account that may not go negative is; each entity's entries sum to zero
 * per currency). Exit 0 when every entity checked is consistent, 1 when one is not (an invariant
 * is broken: the books must be investigated before anything else is booked), 2 when the check
 * could not run. The ledger reads the books a range of accounts at a time, so the check's memory
 * does not grow with them (1M accounts: ~30 s on SQLite).
 */
import type { Command } from 'commander';
import { LedgerInvariantError } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { addBookOptions, resolveConfig, withBooks, writeJson } from '../book-options.js';
import { EMPTY_CONFIG } from '../cli-config.js';
import type { BookFlags } from '../book-options.js';
import type { CliIo } from '../cli-io.js';
import { EXIT_BREAKS, EXIT_CLEAN } from '../exit-codes.js';
import type { ExitCode } from '../exit-codes.js';
import { singleLine } from '../terminal-text.js';

interface VerifyFlags extends BookFlags {
  readonly entity?: string;
}

/** What the check found for one entity. */
export type EntityVerdict =
  | { readonly entity: string; readonly consistent: true; readonly accounts: number; readonly transactions: number; readonly entries: number; readonly seconds: number }
  | { readonly entity: string; readonly consistent: false; readonly invariant: string; readonly seconds: number };

/** Checks one entity's books; a broken invariant is a verdict, any other failure is thrown. */
async function verifyEntity(ledger: Ledger, entity: string): Promise<EntityVerdict> {
  const started = performance.now();
  const seconds = () => Math.round(performance.now() - started) / 1000;
  try {
    const report = await ledger.verify({ entity });
    return { entity, consistent: true, ...report, seconds: seconds() };
  } catch (error) {
    if (!(error instanceof LedgerInvariantError)) throw error;
    return { entity, consistent: false, invariant: error.message, seconds: seconds() };
  }
}

/** One verdict as a line for a terminal (escaped, see {@link singleLine}). */
function verdictText(verdict: EntityVerdict): string {
  const line = verdict.consistent
    ? `${verdict.entity}: consistent (${verdict.accounts} accounts, ${verdict.transactions} transactions, ${verdict.entries} entries; ${verdict.seconds} s)`
    : `${verdict.entity}: INCONSISTENT: ${verdict.invariant} (${verdict.seconds} s)`;
  return `${singleLine(line)}\n`;
}

/** Adds `verify` to `program`. */
export function addVerifyCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const verify = program
    .command('verify')
    .description(COMMAND_DESCRIPTIONS.verify)
    .option('--entity <id>', "only this legal entity (default: every entity of the books, one after the other)");
  addBookOptions(verify).action(async (flags: VerifyFlags) => {
    const config = await resolveConfig(flags, io);
    // The books are opened with the entities they keep, not the config's: with the config's, an
    // entity the books keep but the config leaves out was never checked (and the books answered
    // consistent), and one the config adds was recorded, so that the check wrote to the books.
    // Only the database is taken from the config; the check needs no tolerance, wallet or zone.
    const books = Object.freeze({ ...EMPTY_CONFIG, database: config.database });
    const verdicts = await withBooks(flags, books, io, async (opened) => {
      const entities = flags.entity === undefined ? [...opened.ledger.entities.keys()] : [opened.ledger.entity(flags.entity, '--entity').id];
      const found: EntityVerdict[] = [];
      for (const entity of entities) {
        const verdict = await verifyEntity(opened.ledger, entity);
        found.push(verdict);
        if (flags.json !== true && flags.quiet !== true) io.stdout.write(verdictText(verdict));
      }
      return found;
    });
    const consistent = verdicts.every((verdict) => verdict.consistent);
    if (flags.json === true) writeJson(io, { consistent, entities: verdicts });
    else if (!consistent && flags.quiet === true) for (const verdict of verdicts.filter((item) => !item.consistent)) io.stderr.write(verdictText(verdict));
    setExit(consistent ? EXIT_CLEAN : EXIT_BREAKS);
  });
  return verify;
}

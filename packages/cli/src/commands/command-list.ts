/**
 * The top-level commands of `earnbook`, each with its one-line description and a loader that
 * imports its module only when the command runs. `earnbook --help` lists the commands from this
 * table without loading the ledger, the reconciler or the Earn client (it answers in a fraction
 * of the time the full program takes to load).
 */
import type { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import type { ExitCode } from '../exit-codes.js';

/** Adds one command (and its subcommands) to the program. */
export type AddCommand = (program: Command, io: CliIo, setExit: (code: ExitCode) => void) => Command;

/** A top-level command: its name, its description, and how to load its definition. */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<AddCommand>;
}

/** One line per top-level command, shown by `earnbook --help` and by the command itself. */
export const COMMAND_DESCRIPTIONS = Object.freeze({
  init: "start new books at --database with the config's entities (other commands never create books)",
  reconcile: "reconcile one entity's accounting day with the provider's daily report; writes summary.json and summary.html",
  export: 'write an audit export (CSV files and/or an hledger journal, with manifest.json) for a range of accounting days',
  breaks: 'list, resolve and repair reconciliation breaks',
  settlements: 'list settlement instructions, mark transfers sent, confirm them',
  verify: 'check every invariant of the stored books, entity by entity (exit 1 when they are inconsistent)',
});

/** Every top-level command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = Object.freeze([
  { name: 'init', description: COMMAND_DESCRIPTIONS.init, load: async () => (await import('./init-command.js')).addInitCommand },
  { name: 'reconcile', description: COMMAND_DESCRIPTIONS.reconcile, load: async () => (await import('./reconcile-command.js')).addReconcileCommand },
  { name: 'export', description: COMMAND_DESCRIPTIONS.export, load: async () => (await import('./export-command.js')).addExportCommand },
  { name: 'breaks', description: COMMAND_DESCRIPTIONS.breaks, load: async () => (await import('./breaks-command.js')).addBreaksCommand },
  { name: 'settlements', description: COMMAND_DESCRIPTIONS.settlements, load: async () => (await import('./settlements-command.js')).addSettlementsCommand },
  { name: 'verify', description: COMMAND_DESCRIPTIONS.verify, load: async () => (await import('./verify-command.js')).addVerifyCommand },
]);

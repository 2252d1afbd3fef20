/**
 * `earnbook settlements list|sent|confirm`: the settlement instructions a reconciliation issued,
 * and their lifecycle: pending → sent (with the on-chain transaction hash, for transfers the
 * partner makes) → confirmed (booked in the ledger).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { formatInstant, parseAccountingDay, parseInstant } from '@earnbook/ledger';
import { INSTRUCTIONS_PAGE_SIZE_MAX, TRANSACTION_HASH_RULE, isTransactionHash } from '@earnbook/reconcile';
import type { SettlementInstruction } from '@earnbook/reconcile';
import { addBookOptions, resolveConfig, withBooks, writeJson } from '../book-options.js';
import type { BookFlags } from '../book-options.js';
import { addPageOptions, listPage } from '../page-flags.js';
import type { PageFlags } from '../page-flags.js';
import type { CliIo } from '../cli-io.js';
import { EXIT_CLEAN } from '../exit-codes.js';
import { withFlagErrors } from '../flag-errors.js';
import type { ExitCode } from '../exit-codes.js';
import { shortAmount } from '../reconcile-summary.js';
import { singleLine } from '../terminal-text.js';
import { parseId, textTable } from './breaks-command.js';

/**
 * An on-chain transaction hash as the reconciler accepts it, checked when the flag is parsed
 * (`confirm` of an instruction already marked sent refuses a different hash, and a malformed one
 * is refused before the books are opened).
 */
function parseTransactionHash(value: string): string {
  if (!isTransactionHash(value)) throw new InvalidArgumentError(`${TRANSACTION_HASH_RULE}.`);
  return value;
}

function directionText(instruction: SettlementInstruction): string {
  return instruction.direction === 'to_provider' ? 'partner → Tesseract' : 'Tesseract → partner';
}

/** One instruction as a line for a terminal (escaped, see {@link singleLine}). */
function instructionText(instruction: SettlementInstruction): string {
  return `${singleLine(`instruction ${instruction.id} (${instruction.entity} ${instruction.accountingDay} ${instruction.currency}, ${directionText(instruction)} ${shortAmount(instruction.amount)}) is ${instruction.status}${instruction.transactionHash === null ? '' : `, transaction ${instruction.transactionHash}`}${instruction.ledgerTransactionId === null ? '' : `, booked as journal transaction ${instruction.ledgerTransactionId}`}`)}\n`;
}

interface ListFlags extends BookFlags, PageFlags {
  readonly entity: string;
  readonly day?: string;
  readonly status: 'pending' | 'held' | 'cancelled' | 'sent' | 'confirmed' | 'all';
}

interface SentFlags extends BookFlags {
  readonly id: number;
  readonly transactionHash: string;
}

interface ConfirmFlags extends BookFlags {
  readonly id: number;
  readonly occurredAt: string;
  readonly transactionHash?: string;
}

/** Adds `settlements list`, `settlements sent` and `settlements confirm` to `program`. */
export function addSettlementsCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const settlements = program.command('settlements').description(COMMAND_DESCRIPTIONS.settlements);

  const list = settlements
    .command('list')
    .description("list an entity's settlement instructions")
    .requiredOption('--entity <id>', 'legal entity')
    .option('--day <YYYY-MM-DD>', 'only the instructions of this accounting day')
    .addOption(new Option('--status <status>', 'which instructions').choices(['pending', 'held', 'cancelled', 'sent', 'confirmed', 'all']).default('all'));
  addPageOptions(list, { items: 'instructions', idName: 'instructionId', pageSizeMax: INSTRUCTIONS_PAGE_SIZE_MAX, order: 'id' });
  addBookOptions(list).action(async (flags: ListFlags) => {
    const day = flags.day === undefined ? undefined : parseAccountingDay(flags.day, '--day');
    const config = await resolveConfig(flags, io);
    const found = await withBooks(flags, config, io, (opened) =>
      listPage(flags, (page) =>
        opened.reconciler.instructions({
          entity: opened.ledger.entity(flags.entity, '--entity').id,
          ...(day === undefined ? {} : { day }),
          ...(flags.status === 'all' ? {} : { status: flags.status }),
          ...page,
        }),
      ),
    );
    if (flags.json === true) writeJson(io, { instructions: found });
    else if (flags.quiet !== true) {
      io.stdout.write(
        found.length === 0
          ? 'no settlement instructions\n'
          : textTable(
              ['id', 'day', 'currency', 'direction', 'amount', 'status', 'wallet', 'transaction'],
              found.map((item) => [String(item.id), item.accountingDay, item.currency, directionText(item), shortAmount(item.amount), item.statusReason === undefined ? item.status : `${item.status}: ${item.statusReason}`, item.wallet ?? '', item.transactionHash ?? '']),
            ),
      );
    }
    setExit(EXIT_CLEAN);
  });

  const sent = settlements
    .command('sent')
    .description('mark a partner → Tesseract transfer as sent, with its on-chain transaction hash')
    .requiredOption('--id <instructionId>', 'the pending to_provider instruction', parseId)
    .requiredOption('--transaction-hash <hash>', 'the on-chain transaction hash (8 to 200 letters, digits, ":", "_" or "-")', parseTransactionHash);
  addBookOptions(sent).action(async (flags: SentFlags) => {
    const config = await resolveConfig(flags, io);
    const marked = await withBooks(flags, config, io, (opened) =>
      withFlagErrors({ instructionId: '--id', transactionHash: '--transaction-hash' }, () => opened.reconciler.markSent({ instructionId: flags.id, transactionHash: flags.transactionHash })),
    );
    if (flags.json === true) writeJson(io, { instruction: marked });
    else if (flags.quiet !== true) io.stdout.write(instructionText(marked));
    setExit(EXIT_CLEAN);
  });

  const confirm = settlements
    .command('confirm')
    .description('confirm a transfer arrived (a sent outgoing one, or an incoming one with its hash) and book it in the ledger')
    .requiredOption('--id <instructionId>', 'the instruction to confirm', parseId)
    .requiredOption('--occurred-at <instant>', 'when the transfer settled on chain, ISO-8601 with a zone, e.g. 2025-03-19T10:00:00Z')
    .option('--transaction-hash <hash>', 'the on-chain transaction hash (required for an incoming transfer)', parseTransactionHash);
  addBookOptions(confirm).action(async (flags: ConfirmFlags) => {
    const occurredAt = formatInstant(parseInstant(flags.occurredAt, '--occurred-at'));
    const config = await resolveConfig(flags, io);
    const confirmed = await withBooks(flags, config, io, (opened) =>
      // A transfer dated before the end of the day it settles is refused naming --occurred-at.
      withFlagErrors({ instructionId: '--id', occurredAt: '--occurred-at', transactionHash: '--transaction-hash' }, () =>
        opened.reconciler.confirm({ instructionId: flags.id, occurredAt, ...(flags.transactionHash === undefined ? {} : { transactionHash: flags.transactionHash }) }),
      ),
    );
    if (flags.json === true) writeJson(io, { instruction: confirmed });
    else if (flags.quiet !== true) io.stdout.write(instructionText(confirmed));
    setExit(EXIT_CLEAN);
  });
  return settlements;
}

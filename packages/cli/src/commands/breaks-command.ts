/**
 * `earnbook breaks list|resolve|repair`: the breaks a reconciliation found, and their two ways
 * out: resolved by hand with a reason (optionally linking the adjusting journal transaction), or
 * repaired in one step when the provider booked something the books lack.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { parseAccountingDay } from '@earnbook/ledger';
import { BREAKS_PAGE_SIZE_MAX } from '@earnbook/reconcile';
import type { Break } from '@earnbook/reconcile';
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

/** Parses a positive integer id of a flag. */
export function parseId(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) === 0) throw new InvalidArgumentError('must be a positive integer.');
  return Number(value);
}

/**
 * Lays out rows as aligned text columns for a terminal. Every cell is made a {@link singleLine}
 * first: cells hold provider text (a report's booking id, a wallet, a status reason), which must
 * not break the table's lines nor send a terminal an escape sequence or a bidi override.
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const safeHeader = header.map(singleLine);
  const safeRows = rows.map((row) => row.map(singleLine));
  const widths = safeHeader.map((title, column) => Math.max(title.length, ...safeRows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return `${[line(safeHeader), ...safeRows.map(line)].join('\n')}\n`;
}

/** One break as a line for a terminal (its resolution reason is escaped, see {@link singleLine}). */
function breakText(item: Break): string {
  return `${singleLine(`break ${item.id} (${item.kind}, ${item.entity} ${item.accountingDay}) is ${item.status}${item.resolutionReason === null ? '' : `: ${item.resolutionReason}`}${item.resolutionTransactionId === null ? '' : ` [transaction ${item.resolutionTransactionId}]`}`)}\n`;
}

interface ListFlags extends BookFlags, PageFlags {
  readonly entity: string;
  readonly day?: string;
  readonly status: 'open' | 'resolved' | 'all';
}

interface ResolveFlags extends BookFlags {
  readonly id: number;
  readonly reason: string;
  readonly transactionId?: number;
}

interface RepairFlags extends BookFlags {
  readonly id: number;
}

/** Adds `breaks list`, `breaks resolve` and `breaks repair` to `program`. */
export function addBreaksCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const breaks = program.command('breaks').description(COMMAND_DESCRIPTIONS.breaks);

  const list = breaks
    .command('list')
    .description("list an entity's breaks (open ones by default)")
    .requiredOption('--entity <id>', 'legal entity')
    .option('--day <YYYY-MM-DD>', 'only the breaks of this accounting day')
    .addOption(new Option('--status <status>', 'which breaks').choices(['open', 'resolved', 'all']).default('open'));
  addPageOptions(list, { items: 'breaks', idName: 'breakId', pageSizeMax: BREAKS_PAGE_SIZE_MAX, order: 'day, then id' });
  addBookOptions(list).action(async (flags: ListFlags) => {
    const day = flags.day === undefined ? undefined : parseAccountingDay(flags.day, '--day');
    const config = await resolveConfig(flags, io);
    const found = await withBooks(flags, config, io, (opened) =>
      listPage(flags, (page) =>
        opened.reconciler.breaks({
          entity: opened.ledger.entity(flags.entity, '--entity').id,
          ...(day === undefined ? {} : { day }),
          ...(flags.status === 'all' ? {} : { status: flags.status }),
          ...page,
        }),
      ),
    );
    if (flags.json === true) writeJson(io, { breaks: found });
    else if (flags.quiet !== true) {
      io.stdout.write(
        found.length === 0
          ? `no ${flags.status === 'all' ? '' : `${flags.status} `}breaks\n`
          : textTable(
              ['id', 'day', 'kind', 'status', 'account', 'currency', 'expected', 'actual', 'provider id'],
              found.map((item) => [String(item.id), item.accountingDay, item.kind, item.status, item.earnAccountId ?? '', item.currency ?? '', shortAmount(item.expected ?? ''), shortAmount(item.actual ?? ''), item.providerId ?? '']),
            ),
      );
    }
    setExit(EXIT_CLEAN);
  });

  const resolveCommand = breaks
    .command('resolve')
    .description('resolve an open break by hand, with the reason (and the adjusting journal transaction, if one was booked)')
    .requiredOption('--id <breakId>', 'the break to resolve', parseId)
    .requiredOption('--reason <text>', 'why the break is resolved (kept with the break, at most 1000 characters)')
    .option('--transaction-id <id>', 'the journal transaction that adjusted the books, if any', parseId);
  addBookOptions(resolveCommand).action(async (flags: ResolveFlags) => {
    const config = await resolveConfig(flags, io);
    const resolved = await withBooks(flags, config, io, (opened) =>
      withFlagErrors({ breakId: '--id', reason: '--reason', transactionId: '--transaction-id' }, () =>
        opened.reconciler.resolveBreak({ breakId: flags.id, reason: flags.reason, ...(flags.transactionId === undefined ? {} : { transactionId: flags.transactionId }) }),
      ),
    );
    if (flags.json === true) writeJson(io, { break: resolved });
    else if (flags.quiet !== true) io.stdout.write(breakText(resolved));
    setExit(EXIT_CLEAN);
  });

  const repair = breaks
    .command('repair')
    .description('book a deposit or withdrawal the report has and the books lack (an open missing_in_ledger break), then resolve the break')
    .requiredOption('--id <breakId>', 'the missing_in_ledger break to repair', parseId);
  addBookOptions(repair).action(async (flags: RepairFlags) => {
    const config = await resolveConfig(flags, io);
    const repaired = await withBooks(flags, config, io, (opened) => withFlagErrors({ breakId: '--id' }, () => opened.reconciler.repairMissingBooking({ breakId: flags.id })));
    if (flags.json === true) writeJson(io, { break: repaired });
    else if (flags.quiet !== true) io.stdout.write(breakText(repaired));
    setExit(EXIT_CLEAN);
  });
  return breaks;
}

/**
 * `earnbook export`: the audit export of an entity (or all entities) over a range of accounting
 * days: CSV files of the journal, the balances, the breaks and the settlements, and an hledger
 * journal, with `manifest.json` (row counts, totals per entity and currency, SHA-256 of each file).
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { parseAccountingDay } from '@earnbook/ledger';
import { AUDIT_FILE_FORMATS, AUDIT_MANIFEST_NAME, auditFileNames, checkAuditExportDirectory, exportAudit } from '@earnbook/reconcile';
import type { AuditFileFormat, AuditManifest } from '@earnbook/reconcile';
import { addBookOptions, resolveConfig, withBooks, writeJson } from '../book-options.js';
import type { BookFlags } from '../book-options.js';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../cli-io.js';
import { EXIT_CLEAN } from '../exit-codes.js';
import { withFlagErrors } from '../flag-errors.js';
import type { ExitCode } from '../exit-codes.js';
import { progressEnabled, rowProgress, stageProgress } from '../stage-progress.js';
import { singleLine } from '../terminal-text.js';
import { checkPath } from '../text-flags.js';

/** What `--what` can name. */
export const EXPORT_WHATS = ['journal', 'balances', 'breaks', 'settlements', 'hledger', 'all'] as const;
/** What `--format` can name. */
export const EXPORT_FORMATS = ['csv', 'hledger'] as const;

type ExportWhat = (typeof EXPORT_WHATS)[number];
type ExportFormat = (typeof EXPORT_FORMATS)[number];

interface ExportFlags extends BookFlags {
  readonly what: ExportWhat;
  readonly entity?: string;
  readonly allEntities?: boolean;
  readonly from: string;
  readonly to: string;
  readonly format?: ExportFormat;
  readonly out: string;
  readonly bom?: boolean;
  readonly excel?: boolean;
  readonly delimiter?: ',' | ';';
  readonly pageSize?: number;
}

/**
 * The files of `--what` in `--format`: `journal` is CSV or hledger; `balances`, `breaks` and
 * `settlements` are CSV only; `hledger` is the hledger journal; `all` is every file, or only the
 * CSV files with `--format csv`, or only the hledger journal with `--format hledger`.
 */
export function exportFormatsOf(what: ExportWhat, format: ExportFormat | undefined): readonly AuditFileFormat[] {
  const csvOnly = (file: AuditFileFormat): readonly AuditFileFormat[] => {
    if (format === 'hledger') throw new CliError('invalid_flag', `--format hledger is only for --what journal, hledger or all; ${what} is CSV only`, { field: '--format', value: format });
    return [file];
  };
  switch (what) {
    case 'journal':
      return [format === 'hledger' ? 'hledger_journal' : 'journal_csv'];
    case 'balances':
      return csvOnly('balances_csv');
    case 'breaks':
      return csvOnly('breaks_csv');
    case 'settlements':
      return csvOnly('settlements_csv');
    case 'hledger':
      if (format === 'csv') throw new CliError('invalid_flag', '--what hledger writes the hledger journal; --format csv does not apply', { field: '--format', value: format });
      return ['hledger_journal'];
    case 'all':
      if (format === 'csv') return AUDIT_FILE_FORMATS.filter((file) => file !== 'hledger_journal');
      if (format === 'hledger') return ['hledger_journal'];
      return AUDIT_FILE_FORMATS;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The terminal summary of an export. */
export function formatExportText(manifest: AuditManifest, manifestPath: string): string {
  const { parameters } = manifest;
  const lines = [`exported ${parameters.entity ?? 'all entities'} ${parameters.fromDay}..${parameters.toDay} (balances at the end of ${parameters.balancesDay})`];
  const width = Math.max(...manifest.files.map((file) => file.name.length));
  for (const file of manifest.files) {
    const unit = file.format === 'hledger_journal' ? 'transactions' : 'rows';
    lines.push(`  ${file.name.padEnd(width)}  ${String(file.rows).padStart(8)} ${unit.padEnd(12)} ${formatBytes(file.bytes).padStart(10)}  sha256 ${file.sha256.slice(0, 16)}…`);
  }
  lines.push(`manifest: ${manifestPath}`);
  // The folder is the partner's text (and the entity the books'): each line escaped as the `error:` line is.
  return `${lines.map(singleLine).join('\n')}\n`;
}

async function runExport(flags: ExportFlags, io: CliIo): Promise<ExitCode> {
  if ((flags.entity === undefined) === (flags.allEntities !== true)) {
    throw new CliError('invalid_flag', 'give exactly one of --entity <id> or --all-entities', { field: '--entity' });
  }
  const fromDay = parseAccountingDay(flags.from, '--from');
  const toDay = parseAccountingDay(flags.to, '--to');
  const formats = exportFormatsOf(flags.what, flags.format);
  const config = await resolveConfig(flags, io);
  const directory = resolve(io.cwd, checkPath(flags.out, '--out'));
  // Before the books are opened (which may create or migrate them): a refused --out writes nothing.
  // The export checks it again before it writes (it may have changed meanwhile).
  await withFlagErrors({ directory: '--out' }, () => checkAuditExportDirectory({ directory, formats }));
  const progress = stageProgress({ io, enabled: progressEnabled(io, flags), title: 'export', stages: 2 });
  // Once rows flow, the display counts them (a long export moves by rows, not by stage).
  const rows = rowProgress({ io, enabled: progressEnabled(io, flags), title: 'export' });
  try {
    progress.stage('opening the books');
    const { manifest, manifestPath } = await withBooks(flags, config, io, async (opened) => {
      progress.stage(`writing ${formats.length} file${formats.length === 1 ? '' : 's'} and ${AUDIT_MANIFEST_NAME}`);
      // The range, the page size and the folder are checked there (the folder before anything is
      // written: not a file nor below one, none of the export's names in it, links not followed):
      // a refusal names --from, --to, --page-size or --out.
      return withFlagErrors({ fromDay: '--from', toDay: '--to', pageSize: '--page-size', directory: '--out' }, () => exportAudit({
        db: opened.db,
        ...(flags.entity === undefined ? { allEntities: true as const } : { entity: opened.ledger.entity(flags.entity, '--entity').id }),
        fromDay,
        toDay,
        directory,
        formats,
        ...(flags.bom === true ? { bom: true } : {}),
        ...(flags.excel === true ? { excel: true } : {}),
        ...(flags.delimiter === undefined ? {} : { delimiter: flags.delimiter }),
        ...(flags.pageSize === undefined ? {} : { pageSize: flags.pageSize }),
        ...(io.now === undefined ? {} : { now: io.now }),
        onProgress: (event) => {
          progress.stop();
          rows.rows(event.rows, event.file);
        },
      }));
    });
    progress.stop();
    rows.stop();
    if (flags.json === true) writeJson(io, { manifestPath, manifest });
    else if (flags.quiet !== true) io.stdout.write(formatExportText(manifest, manifestPath));
    return EXIT_CLEAN;
  } finally {
    progress.stop();
    rows.stop();
  }
}

function positiveInteger(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) === 0) throw new InvalidArgumentError('must be a positive integer.');
  return Number(value);
}

/** Adds the `export` command to `program`. */
export function addExportCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const command = program
    .command('export')
    .description(COMMAND_DESCRIPTIONS.export)
    .addOption(new Option('--what <what>', 'what to export').choices(EXPORT_WHATS).default('all'))
    .addOption(new Option('--entity <id>', 'legal entity to export').conflicts('allEntities'))
    .addOption(new Option('--all-entities', 'export every entity of the books (instead of --entity)'))
    .requiredOption('--from <YYYY-MM-DD>', 'first accounting day, inclusive')
    .requiredOption('--to <YYYY-MM-DD>', 'last accounting day, inclusive; balances.csv is at the end of this day')
    .addOption(new Option('--format <format>', 'file format: csv, or hledger for the journal (default: csv; for --what all, every file)').choices(EXPORT_FORMATS))
    .requiredOption('--out <dir>', 'folder to write into (created if missing); it must not hold the files yet: an export never overwrites')
    .addOption(new Option('--bom', 'begin the CSV files with a UTF-8 byte order mark (for spreadsheet programs)'))
    .addOption(new Option('--excel', 'spreadsheet profile: a UTF-8 BOM and every amount as exact text (="…"), since 18 decimals exceed the 15 significant digits a spreadsheet keeps'))
    .addOption(new Option('--delimiter <char>', 'CSV cell separator: "," or ";" (for spreadsheets in locales whose decimal mark is a comma)').choices([',', ';']))
    .addOption(new Option('--page-size <rows>', 'rows per database page (default 5000, at most 10000)').argParser(positiveInteger));
  addBookOptions(command)
    .addHelpText(
      'after',
      `
Files: ${auditFileNames().join(', ')}.
Accounting days are calendar days in the entity's time zone (the time_zone column, and
manifest.json's parameters.timeZones); interest keeps the day that earned it (interest_day).
Exit codes: 0 exported, 2 error (nothing is left half-written: a failed export removes its files and the folders it made).

Example:
  earnbook export --what all --entity defi --from 2025-03-01 --to 2025-03-31 --out audit/defi/2025-03 --config earnbook.json
  earnbook export --what balances --entity defi --from 2025-03-01 --to 2025-03-31 --out audit/excel --excel --delimiter ';'`,
    )
    .action(async (flags: ExportFlags) => setExit(await runExport(flags, io)));
  return command;
}

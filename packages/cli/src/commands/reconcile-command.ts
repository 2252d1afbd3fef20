/**
 * `earnbook reconcile`: reconciles one entity's accounting day with its daily report (from a file
 * or fetched from the Earn API), writes `summary.json` and `summary.html` into the output folder,
 * and prints a short summary. Exit 0 when the day is clean, 1 when breaks are open, 2 on error.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { describeValue, formatInstant, parseAccountingDay } from '@earnbook/ledger';
import { openReportFile } from '@earnbook/reconcile';
import type { ReconcileResult, ReportInput } from '@earnbook/reconcile';
import { checkEntityFlag, checkPath, prepareOutputFolder } from '../text-flags.js';
import { addBookOptions, addCreateOption, loggerOf, resolveConfig, withBooks, writeJson } from '../book-options.js';
import type { BookFlags } from '../book-options.js';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../cli-io.js';
import { EXIT_BREAKS, EXIT_CLEAN } from '../exit-codes.js';
import { withFlagErrors } from '../flag-errors.js';
import type { FlagsOfFields } from '../flag-errors.js';
import type { ExitCode } from '../exit-codes.js';
import { withFetchedReport } from '../fetch-report.js';
import { buildReconcileSummary, formatReconcileText } from '../reconcile-summary.js';
import type { ReconcileSummary } from '../reconcile-summary.js';
import { progressEnabled, stageProgress } from '../stage-progress.js';
import { renderSummaryHtml } from '../summary-html.js';

/** Files the command writes into the output folder. */
export const RECONCILE_FILE_NAMES = Object.freeze({ summaryJson: 'summary.json', summaryHtml: 'summary.html', fetchedReport: 'report.json' });

/** The output folder when `--out` is not given, relative to the working directory. */
export const RECONCILE_OUT_DEFAULT = '.earnbook/reconcile/<entity>/<day>';

/** The flags of `earnbook reconcile`, as commander parses them. */
export interface ReconcileFlags extends BookFlags {
  readonly entity: string;
  readonly day: string;
  readonly from?: string;
  readonly to?: string;
  readonly allEntities?: boolean;
  readonly reportFile?: string;
  readonly fetch?: boolean;
  readonly reportId?: string;
  readonly out?: string;
}

/**
 * Writes a reconciled day's `summary.json` and `summary.html` into `out` (and moves the fetched
 * report's file there as `report.json`, when it was fetched), each file whole or not at all.
 */
export async function writeDaySummary(input: { result: ReconcileResult; fetchedFile: string | undefined; out: string; io: CliIo }): Promise<{ summary: ReconcileSummary; files: string[] }> {
  const { result, fetchedFile, out, io } = input;
  const summary = buildReconcileSummary({ result, generatedAt: formatInstant((io.now ?? (() => new Date()))()) });
  try {
    await mkdir(out, { recursive: true });
  } catch (cause) {
    throw new CliError('output_failed', `cannot create the output folder ${out}: ${(cause as Error).message}`, { field: '--out', value: out, cause });
  }
  const files = [join(out, RECONCILE_FILE_NAMES.summaryJson), join(out, RECONCILE_FILE_NAMES.summaryHtml)];
  if (fetchedFile !== undefined) {
    // The fetched report is kept, so the run can be repeated or audited from the file. It holds
    // the bytes as downloaded, which its content hash was taken on, so a re-run from the file is
    // the same report (`exists`), not a restatement.
    const reportPath = join(out, RECONCILE_FILE_NAMES.fetchedReport);
    try {
      await rename(fetchedFile, reportPath);
    } catch (cause) {
      throw new CliError('output_failed', `cannot write ${reportPath}: ${(cause as Error).message}`, { field: '--out', value: reportPath, cause });
    }
    files.push(reportPath);
  }
  await writeFileAtomically(files[0] ?? '', `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomically(files[1] ?? '', renderSummaryHtml(summary));
  return { summary, files };
}

/**
 * Writes a file whole or not at all (temporary file, then rename). The temporary file is created
 * anew (`wx`): a symbolic link left under its predictable name is removed, never written through.
 */
async function writeFileAtomically(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await rm(temporary, { force: true });
    await writeFile(temporary, content, { flag: 'wx' });
    await rename(temporary, path);
  } catch (cause) {
    await rm(temporary, { force: true });
    throw new CliError('output_failed', `cannot write ${path}: ${(cause as Error).message}`, { field: '--out', value: path, cause });
  }
}

/**
 * The library fields a one-day run's refusals name, each with the flag that gave the value: the
 * day (a day that breaks the chain of reconciled days, or comes out of the cycle's order), the
 * report file (missing, unreadable, too large) and the report id of `--report-id` (refused by the
 * Earn client, or a superseded version). A fetched report's file and id were not typed, so they
 * keep the library's names then.
 */
function flagsOfFields(flags: ReconcileFlags): FlagsOfFields {
  return {
    day: '--day',
    ...(flags.reportFile === undefined ? {} : { reportFile: '--report-file' }),
    ...(flags.reportId === undefined ? {} : { reportId: '--report-id' }),
  };
}

async function reconcile(flags: ReconcileFlags, io: CliIo): Promise<ExitCode> {
  if (flags.from !== undefined || flags.to !== undefined || flags.allEntities === true) return (await import('./reconcile-range.js')).reconcileRange(flags, io);
  if (flags.day === undefined) throw new CliError('invalid_flag', "required option '--day <YYYY-MM-DD>' not specified (or --from and --to for a range of days)", { field: '--day' });
  if (flags.entity === undefined) throw new CliError('invalid_flag', "required option '--entity <id>' not specified (or --all-entities)", { field: '--entity' });
  // Checked first: the entity is part of the default output folder, the progress title and the
  // fetch, and is only matched against the configuration's entities when it lists them.
  checkEntityFlag(flags.entity, '--entity');
  const day = parseAccountingDay(flags.day, '--day');
  if ((flags.reportFile === undefined) === (flags.fetch !== true)) {
    throw new CliError('invalid_flag', 'give exactly one of --report-file <path> or --fetch', { field: flags.reportFile === undefined ? '--report-file' : '--fetch' });
  }
  if (flags.reportId !== undefined && flags.fetch !== true) throw new CliError('invalid_flag', '--report-id is only for --fetch', { field: '--report-id', value: flags.reportId });
  const config = await resolveConfig(flags, io);
  if (config.entities !== undefined && !config.entities.some((entity) => entity.id === flags.entity)) {
    throw new CliError('invalid_flag', `--entity must be one of ${config.entities.map((entity) => entity.id).join(', ')}, got ${describeValue(flags.entity)}`, { field: '--entity', value: describeValue(flags.entity) });
  }
  const out = resolve(io.cwd, flags.out === undefined ? join('.earnbook', 'reconcile', flags.entity, day) : checkPath(flags.out, '--out'));
  const refusedFlags = flagsOfFields(flags);
  const progress = stageProgress({ io, enabled: progressEnabled(io, flags), title: `reconcile ${flags.entity} ${day}`, stages: 4 });
  try {
    progress.stage(flags.fetch === true ? 'fetching the report' : 'reading the report');
    // Streamed in bounded memory: a legal report of any size (up to the contract's limits) is read.
    const reportFile = flags.fetch === true ? undefined : await withFlagErrors(refusedFlags, () => openReportFile(resolve(io.cwd, checkPath(flags.reportFile ?? '', '--report-file'))));
    // Before the books are opened (with --create that makes them) and before the first write:
    // an --out that cannot be written must leave nothing behind. A fetched report is downloaded
    // into it, and kept there only with the summary.
    const folder = await prepareOutputFolder(out, '--out');
    const reconcileWith = async (report: ReportInput, fetchedFile: string | undefined): Promise<ExitCode> => {
      progress.stage('opening the books');
      return withBooks(flags, config, io, async (opened) => {
        const entity = opened.ledger.entity(flags.entity, '--entity').id;
        progress.stage('reconciling (sync, diff, settlement)');
        const result = await opened.reconciler.reconcileDay({ entity, day, report, onProgress: ({ phase, rows }) => progress.rows(phase, rows) });
        progress.stage('writing the summary');
        const { summary, files } = await writeDaySummary({ result, fetchedFile, out, io });
        progress.stop();
        if (flags.json === true) writeJson(io, { ...summary, files });
        else if (flags.quiet !== true) io.stdout.write(formatReconcileText(summary, files));
        return summary.clean ? EXIT_CLEAN : EXIT_BREAKS;
      });
    };
    try {
      if (reportFile !== undefined) return await withFlagErrors(refusedFlags, () => reconcileWith(reportFile, undefined));
      const fetch = { config, entity: flags.entity, day, env: io.env, logger: loggerOf(flags, io), folder: out, ...(flags.reportId === undefined ? {} : { reportId: flags.reportId }) };
      return await withFlagErrors(refusedFlags, () => withFetchedReport(fetch, (fetched) => reconcileWith(fetched.report, fetched.file)));
    } catch (error) {
      await folder.discard();
      throw error;
    }
  } finally {
    progress.stop();
  }
}

/** Adds the `reconcile` command to `program`; its exit code is handed to `setExit`. */
export function addReconcileCommand(program: Command, io: CliIo, setExit: (code: ExitCode) => void): Command {
  const command = program
    .command('reconcile')
    .description(COMMAND_DESCRIPTIONS.reconcile)
    .addOption(new Option('--entity <id>', 'legal entity whose books are reconciled, e.g. defi or lending').conflicts('allEntities'))
    .addOption(new Option('--all-entities', "every entity of the config (or of the books), each day in turn (with --from/--to)"))
    .addOption(new Option('--day <YYYY-MM-DD>', "accounting day, in the entity's time zone").conflicts(['from', 'to']))
    .addOption(new Option('--from <YYYY-MM-DD>', 'catch-up: first accounting day of a range, reconciled in day order (with --to and --fetch)'))
    .addOption(new Option('--to <YYYY-MM-DD>', 'catch-up: last accounting day of the range, inclusive; the run stops at the first day that cannot be reconciled'))
    .addOption(new Option('--report-file <path>', 'read the daily report from this JSON file').conflicts('fetch'))
    .addOption(new Option('--fetch', "fetch the day's report from the Earn API with the entity's credentials (config earnApi.<entity>); the newest report of the day if several").conflicts('reportFile'))
    .addOption(new Option('--report-id <id>', 'with --fetch: fetch this report instead of searching the list for the day'))
    .addOption(new Option('--out <dir>', `folder for summary.json, summary.html (and report.json when fetched); default ${RECONCILE_OUT_DEFAULT}`));
  addCreateOption(addBookOptions(command))
    .addHelpText(
      'after',
      `
Exit codes: 0 the day is clean, 1 breaks are open (see summary.html), 2 error (bad flags or
configuration, no report, wrong day or entity, database or API failure).

Catch-up after a weekend or an outage: --from and --to (with --fetch) reconcile each day in
order, every entity of a day before the next day (--all-entities), and stop at the first day
that cannot be reconciled (no report yet, API or database failure): exit 2, and the days after
it are not run. Otherwise exit 1 if any day has open breaks, else 0. Each day's summary goes to
<out>/<entity>/<day>; a summary over the range is printed (or --json).

Examples:
  earnbook reconcile --all-entities --from 2025-03-15 --to 2025-03-18 --fetch --config earnbook.json
  earnbook reconcile --entity defi --day 2025-03-18 --report-file reports/defi-2025-03-18.json --config earnbook.json --out out/defi/2025-03-18
  EARNBOOK_DEFI_CLIENT_SECRET=… earnbook reconcile --entity defi --day 2025-03-18 --fetch --config earnbook.json --database postgres://books@db/earn --json`,
    )
    .action(async (flags: ReconcileFlags) => setExit(await reconcile(flags, io)));
  // A value flag given twice (--day, --report-id, --from, --out, --config, …) is refused, in one
  // day, a range and --fetch alike: commander would silently take the last one.
  return command;
}

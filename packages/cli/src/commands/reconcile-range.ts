/**
 * `earnbook reconcile --from DAY --to DAY [--all-entities]`: the catch-up run after a weekend or
 * an outage. Each day in order, every entity of the day before the next day; each day's report is
 * fetched and reconciled as a single-day run would, its summary written to `<out>/<entity>/<day>`.
 * The run stops at the first day that cannot be reconciled (no report yet, an API or database
 * failure): the later days depend on it (carried settlement, the next report's opening figures).
 */
import { join, resolve } from 'node:path';
import { accountingDaysBetween, parseAccountingDay } from '@earnbook/ledger';
import { resolveConfig, withBooks, loggerOf, writeJson } from '../book-options.js';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../cli-io.js';
import type { CliConfig } from '../cli-config.js';
import { describeError } from '../describe-error.js';
import type { ErrorDescription } from '../describe-error.js';
import { EXIT_BREAKS, EXIT_CLEAN, EXIT_ERROR } from '../exit-codes.js';
import type { ExitCode } from '../exit-codes.js';
import { withFetchedReport } from '../fetch-report.js';
import type { OpenBooks } from '../open-books.js';
import { progressEnabled, stageProgress } from '../stage-progress.js';
import type { StageProgress } from '../stage-progress.js';
import { checkEntityFlag, checkPath, prepareOutputFolder } from '../text-flags.js';
import type { OutputFolder } from '../text-flags.js';
import { writeDaySummary } from './reconcile-command.js';
import { singleLine } from '../terminal-text.js';
import type { ReconcileFlags } from './reconcile-command.js';

/** Days one catch-up run may span. */
export const RECONCILE_RANGE_DAYS_MAX = 366;

/** The outcome of one (entity, day) of a range. */
export interface RangeDayOutcome {
  readonly entity: string;
  readonly day: string;
  /** `clean`, `breaks` (open breaks), `error` (the run stopped here) or `not_run` (after the stop). */
  readonly status: 'clean' | 'breaks' | 'error' | 'not_run';
  readonly openBreaks?: number;
  readonly reportId?: string;
  readonly files?: readonly string[];
  readonly error?: ErrorDescription;
}

/** The summary of a catch-up run, printed as text or with `--json`. */
export interface RangeSummary {
  readonly kind: 'earnbook_reconcile_range';
  readonly fromDay: string;
  readonly toDay: string;
  readonly entities: readonly string[];
  readonly exitCode: ExitCode;
  /** The (entity, day) the run stopped at, or null when every day ran. */
  readonly stoppedAt: { readonly entity: string; readonly day: string } | null;
  readonly days: readonly RangeDayOutcome[];
}

function checkRange(flags: ReconcileFlags): { fromDay: string; toDay: string } {
  if (flags.from === undefined || flags.to === undefined) throw new CliError('invalid_flag', 'a range needs both --from and --to', { field: flags.from === undefined ? '--from' : '--to' });
  if (flags.fetch !== true) throw new CliError('invalid_flag', 'a range of days fetches each day\'s report: give --fetch (--report-file holds one day)', { field: '--fetch' });
  if (flags.reportId !== undefined) throw new CliError('invalid_flag', '--report-id names one report; it cannot be used with a range', { field: '--report-id', value: flags.reportId });
  if ((flags.entity === undefined) === (flags.allEntities !== true)) throw new CliError('invalid_flag', 'give exactly one of --entity <id> or --all-entities', { field: '--entity' });
  if (flags.entity !== undefined) checkEntityFlag(flags.entity, '--entity');
  const fromDay = parseAccountingDay(flags.from, '--from');
  const toDay = parseAccountingDay(flags.to, '--to');
  if (toDay < fromDay) throw new CliError('invalid_flag', `--to ${toDay} is before --from ${fromDay}`, { field: '--to', value: toDay });
  return { fromDay, toDay };
}

/** One (entity, day): fetch, reconcile, write its summary. */
async function runDay(flags: ReconcileFlags, io: CliIo, input: { opened: OpenBooks; config: Awaited<ReturnType<typeof resolveConfig>>; entity: string; day: string; out: string; progress: StageProgress }): Promise<RangeDayOutcome> {
  const { entity, day } = input;
  const out = join(input.out, entity, day);
  // The day's folder holds the download; one this day made is removed again if the day fails.
  const folder = await prepareOutputFolder(out, '--out');
  let reconciled = false;
  try {
    return await withFetchedReport({ config: input.config, entity, day, env: io.env, logger: loggerOf(flags, io), folder: out }, async (fetched) => {
      const result = await input.opened.reconciler.reconcileDay({ entity, day, report: fetched.report, onProgress: ({ phase, rows }) => input.progress.rows(phase, rows) });
      reconciled = true;
      const { summary, files } = await writeDaySummary({ result, fetchedFile: fetched.file, out, io });
      return { entity, day, status: summary.clean ? 'clean' : 'breaks', openBreaks: summary.openBreaks, reportId: summary.report.id, files } as const;
    });
  } catch (error) {
    // Once the books committed the day, what was written of its files stays (report.json first).
    if (!reconciled) await folder.discard();
    throw error;
  }
}

/** The range summary as text, each line a {@link singleLine} (an error's message may quote anything). */
export function formatRangeText(summary: RangeSummary): string {
  const lines = summary.days.map((item) => {
    if (item.status === 'clean') return `${item.entity} ${item.day}: CLEAN`;
    if (item.status === 'breaks') return `${item.entity} ${item.day}: NOT CLEAN, ${item.openBreaks ?? 0} open break${item.openBreaks === 1 ? '' : 's'}`;
    if (item.status === 'error') return `${item.entity} ${item.day}: FAILED: ${item.error?.message ?? ''} (code ${item.error?.code ?? '?'})`;
    return `${item.entity} ${item.day}: not run`;
  });
  const count = (status: RangeDayOutcome['status']) => summary.days.filter((item) => item.status === status).length;
  lines.push(
    `${summary.fromDay}..${summary.toDay} (${summary.entities.join(', ')}): ${count('clean')} clean, ${count('breaks')} with open breaks` +
      (summary.stoppedAt === null ? '' : `; stopped at ${summary.stoppedAt.entity} ${summary.stoppedAt.day}, ${count('not_run')} not run`),
  );
  return `${lines.map(singleLine).join('\n')}\n`;
}

/** Runs a catch-up range and returns its exit code: 2 if it stopped, else 1 if any day has breaks, else 0. */
export async function reconcileRange(flags: ReconcileFlags, io: CliIo): Promise<ExitCode> {
  const { fromDay, toDay } = checkRange(flags);
  const days = accountingDaysBetween(fromDay, toDay, { daysMax: RECONCILE_RANGE_DAYS_MAX });
  const config = await resolveConfig(flags, io);
  const out = resolve(io.cwd, flags.out === undefined ? join('.earnbook', 'reconcile') : checkPath(flags.out, '--out'));
  // Before the books are opened (with --create that makes them): an --out that cannot be written
  // fails with nothing written.
  const folder = await prepareOutputFolder(out, '--out');
  const outcomes: RangeDayOutcome[] = [];
  try {
    return await reconcileRangeIn(flags, io, { config, days, fromDay, toDay, out, folder, outcomes });
  } catch (error) {
    // Opening the books (or closing them) failed: keep the files of days that were reconciled.
    if (!outcomes.some(reconciled)) await folder.discard();
    throw error;
  }
}

const reconciled = (item: RangeDayOutcome): boolean => item.status === 'clean' || item.status === 'breaks';

async function reconcileRangeIn(
  flags: ReconcileFlags,
  io: CliIo,
  input: { config: CliConfig; days: readonly string[]; fromDay: string; toDay: string; out: string; folder: OutputFolder; outcomes: RangeDayOutcome[] },
): Promise<ExitCode> {
  const { config, days, fromDay, toDay, out, folder, outcomes } = input;
  return withBooks(flags, config, io, async (opened) => {
    const entities = flags.entity !== undefined ? [opened.ledger.entity(flags.entity, '--entity').id] : [...opened.ledger.entities.keys()].sort();
    const progress = stageProgress({ io, enabled: progressEnabled(io, flags), title: `reconcile ${fromDay}..${toDay}`, stages: days.length * entities.length });
    let stoppedAt: RangeSummary['stoppedAt'] = null;
    try {
      for (const day of days) {
        for (const entity of entities) {
          if (stoppedAt !== null) {
            outcomes.push({ entity, day, status: 'not_run' });
            continue;
          }
          progress.stage(`${entity} ${day}`);
          try {
            outcomes.push(await runDay(flags, io, { opened, config, entity, day, out, progress }));
          } catch (error) {
            outcomes.push({ entity, day, status: 'error', error: describeError(error) });
            stoppedAt = { entity, day };
            loggerOf(flags, io).error({ event: 'reconcile.range.stopped', entity, day, code: describeError(error).code }, `catch-up stopped at ${entity} ${day}`);
          }
        }
      }
    } finally {
      progress.stop();
    }
    // A run that reconciled no day leaves nothing behind, not even the folder.
    if (!outcomes.some(reconciled)) await folder.discard();
    const exitCode: ExitCode = stoppedAt !== null ? EXIT_ERROR : outcomes.some((item) => item.status === 'breaks') ? EXIT_BREAKS : EXIT_CLEAN;
    const summary: RangeSummary = { kind: 'earnbook_reconcile_range', fromDay, toDay, entities, exitCode, stoppedAt, days: outcomes };
    if (flags.json === true) writeJson(io, summary);
    else if (flags.quiet !== true || exitCode === EXIT_ERROR) (exitCode === EXIT_ERROR && flags.quiet === true ? io.stderr : io.stdout).write(formatRangeText(summary));
    return exitCode;
  });
}

/**
 * The partner's nightly job after the provider's accounting cycle, for one accounting day and
 * every legal entity: fetch the day's report (its newest version) with that entity's credentials, reconcile them
 * with the partner's books (which books the interest, margin and fees), and answer an exit code
 * a scheduler can act on. Running it again for the same day changes nothing.
 */
import { EarnApiError, partialDownloadsOf } from '@earnbook/earn-client';
import type { EarnClient } from '@earnbook/earn-client';
import { LedgerError } from '@earnbook/ledger';
import type { EarnBooks } from '@earnbook/ledger';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReconcileError, findDayReports, openReportFile } from '@earnbook/reconcile';
import type { ReconcileResult, Reconciler, ReportFile } from '@earnbook/reconcile';

/** Exit code: every entity reconciled and no open break. */
export const EXIT_CLEAN = 0;
/** Exit code: the job ran and found open breaks (books and report differ): alert finance ops. */
export const EXIT_BREAKS = 1;
/** Exit code: the job could not run for some entity (no report yet, API or database failure): alert on-call. */
export const EXIT_ERROR = 2;

/** One of the exit codes. */
export type NightlyExitCode = typeof EXIT_CLEAN | typeof EXIT_BREAKS | typeof EXIT_ERROR;

/** Options of {@link runNightlyReconciliation}. */
export interface NightlyOptions {
  readonly books: EarnBooks;
  readonly reconciler: Reconciler;
  /** One client per legal entity (its own credentials), keyed by entity id. */
  readonly clients: Readonly<Record<string, EarnClient>>;
  /** The accounting day to reconcile (`YYYY-MM-DD` in the partner's zone): usually yesterday. */
  readonly day: string;
  /** Where progress and alerts are written, one line each; default nowhere. */
  readonly log?: (line: string) => void;
  /**
   * An existing folder to keep the downloaded reports in, as `<entity>-<day>-<report id>.json`
   * (the bytes as the provider sent them: an audit trail, and what the CLI's `--report-file`
   * re-runs). Default: a temporary folder, removed when the run ends.
   */
  readonly reportFolder?: string;
}

/** What the job did for one entity. */
export interface EntityNight {
  readonly entity: string;
  /** The result of the report reconciled this run (at most one: the rule's choice; empty on an error). */
  readonly results: readonly ReconcileResult[];
  /** The report files of those results, in the same order (gone after the run unless `reportFolder` was given). */
  readonly reports: readonly ReportFile[];
  /** The outcome for the day: the latest version's result. */
  readonly latest: ReconcileResult | undefined;
  /** Ids of older versions of the day the rule superseded (never processed, not reconciled), for the audit trail. */
  readonly superseded: readonly string[];
  /** Why the entity could not be reconciled, if it could not. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/** What the job did, and the exit code to end with. */
export interface NightlyResult {
  readonly day: string;
  readonly exitCode: NightlyExitCode;
  readonly entities: readonly EntityNight[];
}

/** The report files being downloaded now: a signal ends the process before any `finally` runs. */
const downloading = new Set<string>();

/**
 * Removes the partial files of the downloads in progress (the Earn client writes a body beside
 * its file and renames it when whole), so that a run stopped by a signal leaves none in a kept
 * `reportFolder`; the reports already downloaded stay. Synchronous, for a signal handler that
 * exits just after; never throws.
 */
export function removeDownloadsInProgress(): void {
  for (const path of downloading) {
    for (const file of partialDownloadsOf(path)) {
      try {
        rmSync(file, { force: true });
      } catch {
        // Nothing more can be done on the way out.
      }
    }
  }
  downloading.clear();
}

/**
 * Downloads the day's report to reconcile into `folder`, chosen by reconcile's
 * {@link findDayReports} (the rule the CLI's `--fetch` applies too): the newest version of the
 * day, the provider's statement of record (already processed on a re-run: then reconciling it is
 * a no-op that yields the day's result). Older versions never processed are superseded: listed,
 * not downloaded. The report goes to a file as it arrives and is streamed from it by the
 * reconciler, never held whole: a day of 1M Earn accounts is hundreds of MiB of JSON.
 */
export async function reportsToReconcile(input: { readonly client: EarnClient; readonly books: EarnBooks; readonly entity: string; readonly day: string; readonly folder: string }): Promise<{ readonly files: ReportFile[]; readonly superseded: string[] }> {
  const processed = await input.books.processedReports({ entity: input.entity, accountingDay: input.day });
  const found = await findDayReports({ summaries: input.client.reports(), day: input.day, source: input.entity, processedReportIds: processed.map((row) => row.reportId) });
  if (found.toReconcile.length === 0) {
    throw new ReconcileError('no_report', `the provider lists no report of ${input.entity} for ${input.day} yet`, { field: 'day', value: input.day });
  }
  const files: ReportFile[] = [];
  for (const summary of found.toReconcile) {
    const path = join(input.folder, `${input.entity}-${input.day}-${fileNameOf(summary.id)}.json`);
    downloading.add(path);
    try {
      await input.client.fetchReportToFile({ reportId: summary.id, path });
    } finally {
      downloading.delete(path);
    }
    files.push({ ...(await openReportFile(path, { format: 'json' })), source: `${input.entity} report ${summary.id}` });
  }
  return { files, superseded: found.superseded.map((summary) => summary.id) };
}

/**
 * A report id as a file name: the provider's id when it is a plain one (letters, digits, `.`,
 * `_`, `-`, at most 100), else a safe form of it followed by a hash of the whole id, so that two
 * ids never share a file (`a/b` and `a_b`, or long ids alike in their first 100 characters).
 */
function fileNameOf(id: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/.test(id)) return id;
  return `${id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof EarnApiError || error instanceof ReconcileError || error instanceof LedgerError) return { code: error.code, message: error.message };
  return { code: 'unexpected', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Reconciles one accounting day for every entity and says how it went. Errors of one entity do
 * not stop the others. Exit code: {@link EXIT_ERROR} if any entity failed, else
 * {@link EXIT_BREAKS} if any has an open break, else {@link EXIT_CLEAN}.
 *
 * @example
 * const result = await runNightlyReconciliation({ books, reconciler, clients: { defi, lending }, day: '2025-03-18', log: console.log });
 * process.exitCode = result.exitCode;
 */
export async function runNightlyReconciliation(options: NightlyOptions): Promise<NightlyResult> {
  const folder = options.reportFolder ?? (await mkdtemp(join(tmpdir(), 'earnbook-nightly-')));
  try {
    return await reconcileEntities(options, folder);
  } finally {
    if (options.reportFolder === undefined) await rm(folder, { recursive: true, force: true });
  }
}

async function reconcileEntities(options: NightlyOptions, folder: string): Promise<NightlyResult> {
  const log = options.log ?? (() => {});
  const entities: EntityNight[] = [];
  for (const [entity, client] of Object.entries(options.clients)) {
    try {
      const results: ReconcileResult[] = [];
      const { files: reports, superseded } = await reportsToReconcile({ client, books: options.books, entity, day: options.day, folder });
      if (superseded.length > 0) log(`${entity} ${options.day}: superseded by a newer version, not reconciled: report ${superseded.join(', ')}`);
      for (const report of reports) {
        const result = await options.reconciler.reconcileDay({ entity, day: options.day, report });
        results.push(result);
        const synced = result.synced;
        log(
          `${entity} ${options.day}: report ${result.reportId} v${result.reportVersion} (${result.reportStatus === 'created' ? 'new' : 'already processed'}), ${result.reportEntries} entries, booked ${synced.interest} interest / ${synced.partnerMargin} margin / ${synced.fee} fee, ${result.openBreaks} open break(s)`,
        );
      }
      const latest = results[results.length - 1];
      for (const found of latest?.breaks ?? []) {
        log(`ALERT ${entity} ${options.day}: break ${found.id} ${found.kind}${found.currency === null ? '' : ` ${found.currency}`}${found.providerId === null ? '' : ` ${found.providerId}`} (ours ${found.expected ?? '-'}, report ${found.actual ?? '-'})`);
      }
      // The result lists the first breaks of a large day (the reconciler's resultBreaksMax); it counts them all.
      if (latest !== undefined && latest.breaks.length < latest.openBreaks) log(`ALERT ${entity} ${options.day}: ${latest.openBreaks - latest.breaks.length} more open break(s) not listed here: reconciler.breaks({ entity, day, status: 'open' }) pages through them all`);
      for (const instruction of latest?.instructions ?? []) {
        if (instruction.status === 'confirmed') continue;
        // Held (a disputed figure) or cancelled (the day settles nothing now): nothing to move.
        if (instruction.status === 'held' || instruction.status === 'cancelled') {
          log(`${instruction.status === 'held' ? 'ALERT ' : ''}${entity} ${options.day}: settlement ${instruction.id} ${instruction.currency} ${instruction.status}, do not send: ${instruction.statusReason ?? 'no reason given'}`);
          continue;
        }
        log(`${entity} ${options.day}: settlement ${instruction.id} ${instruction.currency} ${instruction.direction === 'to_provider' ? 'to send to the provider' : 'to receive from the provider'}: ${instruction.amount} (${instruction.status})`);
      }
      entities.push(Object.freeze({ entity, results, reports, latest, superseded, error: undefined }));
    } catch (error) {
      const described = describe(error);
      log(`ALERT ${entity} ${options.day}: not reconciled: ${described.code}: ${described.message}`);
      entities.push(Object.freeze({ entity, results: [], reports: [], latest: undefined, superseded: [], error: described }));
    }
  }
  const exitCode: NightlyExitCode = entities.some((night) => night.error !== undefined) ? EXIT_ERROR : entities.some((night) => (night.latest?.openBreaks ?? 0) > 0) ? EXIT_BREAKS : EXIT_CLEAN;
  return Object.freeze({ day: options.day, exitCode, entities });
}

/**
 * Fetching an entity's daily report from the Earn API with that entity's credentials: find the
 * report of the accounting day in the report list (by reconcile's {@link findDayReports}, the
 * rule the nightly job applies the same way: the newest version is the statement of record),
 * download it to a file as its bytes arrive (never held whole: a day of 1M Earn accounts is
 * hundreds of MiB), and hand it to the reconciler as a file to stream, which validates it.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EarnClient } from '@earnbook/earn-client';
import { findDayReports, openReportFile } from '@earnbook/reconcile';
import type { ReportFile } from '@earnbook/reconcile';
import { CliError } from './cli-error.js';
import { releaseTemporaryFile, trackTemporaryFile } from './temporary-files.js';
import type { CliLogger } from './cli-logger.js';
import { earnClientSettings } from './cli-config.js';
import type { CliConfig } from './cli-config.js';

/** Options of {@link fetchDailyReport}. */
export interface FetchDailyReportOptions {
  readonly config: CliConfig;
  readonly entity: string;
  readonly day: string;
  /** A report id to fetch instead of searching the list. */
  readonly reportId?: string;
  /** Ids of the day's reports the books already processed, when the caller has them open; default none. */
  readonly processedReportIds?: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** Where the Earn client logs its requests, answers and retries (no secret reaches it). */
  readonly logger?: CliLogger;
  /**
   * An existing folder to download into: the report is written there under a hidden temporary
   * name ({@link FetchedReport.file}), which the caller renames or removes.
   */
  readonly folder: string;
}

/** A fetched report, and the list items that were for its day. */
export interface FetchedReport {
  /**
   * The downloaded file to reconcile, streamed and validated as it is read; its content hash is
   * the SHA-256 of the bytes as the provider sent them. Its `source` names the API and the report.
   */
  readonly report: ReportFile;
  /** Where the bytes are: a hidden file in `folder`, to keep (rename) or remove. */
  readonly file: string;
  /** Reports listed for the day (1 when only one; 0 when fetched by `--report-id`). */
  readonly candidates: number;
  /** Ids of the older versions of the day the rule superseded (not fetched; `processedReportIds` excepted), oldest first. */
  readonly superseded: readonly string[];
}

/**
 * The names {@link earnClientOf} repeats in an error: an environment variable name by POSIX
 * convention (upper-case letters, digits and `_`, starting with a letter), at most 64 characters,
 * no part between underscores longer than 24. `clientSecretEnv` accepts any
 * `[A-Za-z_][A-Za-z0-9_]*`, so a user who pastes the secret itself there (a lowercase hex or
 * alphanumeric secret fits) would see it in the "not set" error, on stderr and in `--json`
 * output: a name that does not look conventional is not repeated. The last rule keeps out a long
 * upper-case hex or base32 secret, which has no underscores; a short all-upper-case secret would
 * still pass for a name (no rule on the name alone can tell them apart).
 */
export function isConventionalEnvName(name: string): boolean {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(name) && name.split('_').every((part) => part.length <= 24);
}

function secretEnvNotSet(name: string, entity: string): CliError {
  const field = `earnApi.${entity}.clientSecretEnv`;
  if (isConventionalEnvName(name)) {
    return new CliError('invalid_config', `environment variable ${name} (named by config field ${field}) is not set`, { field, value: name });
  }
  return new CliError(
    'invalid_config',
    `the environment variable named in config field ${field} is not set (its name is not shown: it does not look like a variable name; the field takes the NAME of the variable that holds the secret, such as EARNBOOK_${entity.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_CLIENT_SECRET, never the secret itself)`,
    { field },
  );
}

/** Makes the entity's client from the config, with the secret from the environment. */
export function earnClientOf(options: Pick<FetchDailyReportOptions, 'config' | 'entity' | 'env' | 'logger'>): EarnClient {
  const api = options.config.earnApi[options.entity];
  if (api === undefined) {
    throw new CliError('invalid_config', `config field earnApi.${options.entity} is needed to fetch reports of ${options.entity} (baseUrl, tokenUrl, clientId, clientSecretEnv)`, { field: `earnApi.${options.entity}` });
  }
  const secret = options.env[api.clientSecretEnv];
  if (secret === undefined || secret.length === 0) throw secretEnvNotSet(api.clientSecretEnv, options.entity);
  return new EarnClient({ ...earnClientSettings(options.entity, api, secret), ...(options.logger === undefined ? {} : { logger: options.logger }) });
}

/**
 * Fetches the report of `day` for `entity` (or the report `reportId`) and downloads it into
 * `folder` (not parsed yet: the reconciler validates it as it streams). The report is chosen by
 * reconcile's {@link findDayReports} (the rule the nightly job applies too): the newest version
 * of the day, the provider's statement of record, which the reconciler records as the next
 * version of the day (or answers as already processed); older versions are superseded and never
 * fetched. No report for the day is a `CliError` `no_report`. The caller owns the file it returns
 * (renames or removes it); {@link withFetchedReport} does that for a run.
 */
export async function fetchDailyReport(options: FetchDailyReportOptions): Promise<FetchedReport> {
  const file = downloadName(options.folder);
  try {
    return await fetchInto(options, file);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}

/**
 * Runs `use` with the fetched report ({@link fetchDailyReport}), then removes its file unless
 * `use` moved it (to `report.json`): every way out, an interrupted run's included
 * (`temporary-files.ts`), leaves no download behind.
 */
export async function withFetchedReport<T>(options: FetchDailyReportOptions, use: (fetched: FetchedReport) => Promise<T>): Promise<T> {
  const file = downloadName(options.folder);
  trackTemporaryFile(file);
  try {
    return await use(await fetchInto(options, file));
  } finally {
    await rm(file, { force: true });
    releaseTemporaryFile(file);
  }
}

/** A hidden name in `folder` for a download, new for each run. */
function downloadName(folder: string): string {
  return join(folder, `.report-${randomUUID()}.json`);
}

async function fetchInto(options: FetchDailyReportOptions, file: string): Promise<FetchedReport> {
  const client = earnClientOf(options);
  const api = options.config.earnApi[options.entity];
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  let reportId = options.reportId;
  let candidates = 0;
  let superseded: readonly string[] = [];
  if (reportId === undefined) {
    const found = await findDayReports({ summaries: client.reports(signal), day: options.day, source: options.entity, processedReportIds: options.processedReportIds ?? [] });
    const [chosen] = found.toReconcile;
    if (chosen === undefined) {
      throw new CliError('no_report', `no report of type Report for accounting day ${options.day} among the ${found.listed} reports the ${options.entity} API lists`, { field: '--day', value: options.day });
    }
    reportId = chosen.id;
    candidates = found.candidates;
    superseded = found.superseded.map((summary) => summary.id);
  }
  await client.fetchReportToFile({ reportId, path: file, ...signal });
  const opened = await openReportFile(file, { format: 'json' });
  return { report: { ...opened, source: `${api?.baseUrl ?? options.entity} report ${reportId}` }, file, candidates, superseded };
}

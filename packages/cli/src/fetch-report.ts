/**
 * Fetching an entity's daily report from the Earn API with that entity's credentials: find the
 * report of the accounting day in the report list (by reconcile's {@link findDayReports}, the
 * rule the nightly job applies the same way: the newest version is the statement of record),
 * download it, and validate it.
 */
import { EarnClient } from '@earnbook/earn-client';
import { findDayReports, loadReportObject } from '@earnbook/reconcile';
import type { LoadedReport } from '@earnbook/reconcile';
import { CliError } from './cli-error.js';
import type { CliLogger } from './cli-logger.js';
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
}

/** A fetched report, and the list items that were for its day. */
export interface FetchedReport {
  readonly loaded: LoadedReport;
  /** The report's JSON as downloaded (validated), to keep beside the summary. */
  readonly json: unknown;
  /** Reports listed for the day (1 when only one; 0 when fetched by `--report-id`). */
  readonly candidates: number;
  /** Ids of the older versions of the day the rule superseded (not fetched; `processedReportIds` excepted), oldest first. */
  readonly superseded: readonly string[];
}

/** Makes the entity's client from the config, with the secret from the environment. */
export function earnClientOf(options: Pick<FetchDailyReportOptions, 'config' | 'entity' | 'env' | 'logger'>): EarnClient {
  const api = options.config.earnApi[options.entity];
  if (api === undefined) {
    throw new CliError('invalid_config', `config field earnApi.${options.entity} is needed to fetch reports of ${options.entity} (baseUrl, tokenUrl, clientId, clientSecretEnv)`, { field: `earnApi.${options.entity}` });
  }
  const secret = options.env[api.clientSecretEnv];
  if (secret === undefined || secret.length === 0) {
    throw new CliError('invalid_config', `environment variable ${api.clientSecretEnv} (named by config field earnApi.${options.entity}.clientSecretEnv) is not set`, {
      field: `earnApi.${options.entity}.clientSecretEnv`,
      value: api.clientSecretEnv,
    });
  }
  return new EarnClient({
    entityId: options.entity,
    baseUrl: api.baseUrl,
    tokenUrl: api.tokenUrl,
    clientId: api.clientId,
    clientSecret: secret,
    ...(api.clientAuthMethod === undefined ? {} : { clientAuthMethod: api.clientAuthMethod }),
    ...(api.scope === undefined ? {} : { scope: api.scope }),
    ...(api.timeoutMs === undefined ? {} : { timeoutMs: api.timeoutMs }),
    ...(api.attemptsMax === undefined ? {} : { attemptsMax: api.attemptsMax }),
    ...(api.retryTotalMsMax === undefined ? {} : { retryTotalMsMax: api.retryTotalMsMax }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}

/**
 * Fetches the report of `day` for `entity` (or the report `reportId`), downloads and validates
 * it. The report is chosen by reconcile's {@link findDayReports} (the rule the nightly job
 * applies too): the newest version of the day, the provider's statement of record, which the
 * reconciler records as the next version of the day (or answers as already processed); older
 * versions are superseded and never fetched. No report for the day is a `CliError` `no_report`.
 */
export async function fetchDailyReport(options: FetchDailyReportOptions): Promise<FetchedReport> {
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
  const json = await client.fetchReport({ reportId, ...signal });
  return { loaded: loadReportObject(json, `${api?.baseUrl ?? options.entity} report ${reportId}`), json, candidates, superseded };
}

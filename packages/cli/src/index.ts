/**
 * The public surface of `@earnbook/cli`: the in-process entry {@link run} of the `earnbook`
 * command, its exit codes, the configuration format, and the summary renderers.
 */
export { CLI_VERSION, buildProgram, run } from './run.js';
export { EXIT_BREAKS, EXIT_CLEAN, EXIT_ERROR } from './exit-codes.js';
export type { ExitCode } from './exit-codes.js';
export { processIo } from './cli-io.js';
export type { CliIo, CliOutput } from './cli-io.js';
export { CliError } from './cli-error.js';
export { repeatedFlagError } from './book-options.js';
export { singleLine, stackFrames } from './terminal-text.js';
export type { CliErrorCode, CliErrorDetails } from './cli-error.js';
export { CONFIG_BYTES_MAX, CONFIG_CURRENCIES_MAX, CONFIG_ENTITIES_MAX, EMPTY_CONFIG, loadConfig, parseConfig } from './cli-config.js';
export type { CliConfig, EarnApiEntityConfig } from './cli-config.js';
export { CONFIG_JSON_SCHEMA, CONFIG_SCHEMA_FILE_NAME, configSchemaError } from './config-schema.js';
export type { ConfigSchemaError } from './config-schema.js';
export { DATABASE_DEFAULT, describeDatabase, openBooks, parseDatabaseTarget } from './open-books.js';
export type { DatabaseTarget, OpenBooks } from './open-books.js';
export { fetchDailyReport } from './fetch-report.js';
export type { FetchDailyReportOptions, FetchedReport } from './fetch-report.js';
export { buildReconcileSummary, describeTransfer, formatReconcileText, shortAmount } from './reconcile-summary.js';
export type { ReconcileSummary, SettlementLine } from './reconcile-summary.js';
export { BREAK_KIND_DESCRIPTIONS, HtmlFragment, SUMMARY_HTML_BREAKS_MAX, escapeHtml, html, renderSummaryHtml } from './summary-html.js';
export { CHART_LABELS_MAX, CHART_SERIES_MAX, CHART_STYLE, barChart, chartGrid, lineChart, nightCalendar } from './svg-charts.js';
export type { ChartInput, ChartSeries, NightCell } from './svg-charts.js';
export { describeError, formatError } from './describe-error.js';
export type { ErrorDescription } from './describe-error.js';
export { RECONCILE_FILE_NAMES } from './commands/reconcile-command.js';
export { EXPORT_FORMATS, EXPORT_WHATS, exportFormatsOf } from './commands/export-command.js';

/**
 * The public surface of `@earnbook/reconcile`: daily reconciliation of the partner's books with
 * the provider's reports, settlement netting and instructions, and audit exports.
 */
export { ReconcileError } from './errors.js';
export type { ReconcileErrorCode, ReconcileErrorDetails, UnrecordedBooking } from './errors.js';
export { REPORT_BYTES_MAX, REPORT_MEMORY_BYTES_MAX, loadReportObject, parseReport, readReportFile, validateReport } from './report.js';
export type { LoadedReport } from './report.js';
export { REPORT_SUMMARIES_MAX, findDayReports, planDayReports } from './report-choice.js';
export type { DayReportsPlan, FindDayReportsOptions, PlanDayReportsInput } from './report-choice.js';
export { REPORT_VALUE_BYTES_MAX, openReportFile } from './report-source.js';
export { readReportEntries } from './report-stream.js';
export { REPORT_DEPTH_MAX } from './report-scan.js';
export { REPORT_FIELDS_MAX } from './report-keys.js';
export type { EntrySink, ReadReport, ReportFile, ReportInput } from './report-source.js';
export { REPORT_TEXT_LENGTHS_MAX, checkReportEntry, checkReportHeader } from './report-entry.js';
export type { ReportEntry, ReportHeader } from './report-entry.js';
export { BREAK_KINDS, REPORT_TYPE_KINDS } from './diff.js';
export { approvalBreaks, breakDraft, breakFingerprint, compareBreaks, compareKeys, diffGroup, diffInterest, entriesToBook, isOfDay, kindOfType, marginBreaks, matchKey, migrateReconcile, outstandingBreaks, reconcileMigrationState, sumReportedInterest } from './public-functions.js';
export type { BreakDraft, BreakIdentity, DayContext, KeyGroup, LocalEntry } from './diff.js';
export { DUPLICATE_ENTRIES_LISTED_MAX, diffDay } from './diff-group.js';
export { REPORT_ENTRIES_PER_KEY_MAX } from './key-groups.js';
export type { DiffInput, GroupDiff } from './diff-group.js';
export type { ReportedInterest, ReportedInterestEntry } from './interest-check.js';
export { DayFlowTotals, computeSettlement } from './settlement.js';
export type { ComputeSettlementInput, DayFlows, SettlementPosition } from './settlement.js';
export { ExternalSorter, SORT_BATCH_ITEMS, SORT_RUN_ITEMS_DEFAULT } from './external-sort.js';
export type { ExternalSorterOptions, RunCodec } from './external-sort.js';
export { Reconciler } from './reconciler.js';
export { SYNC_BATCH_POSTINGS_MAX } from './day-sync.js';
export type { ReconcileProgress, ReconcileProgressListener } from './day-progress.js';
export type { ReconcileResult } from './day-run.js';
export { RESULT_BREAKS_MAX_DEFAULT, RESULT_BREAKS_MAX_LIMIT, TOLERANCE_UNITS_DEFAULT, TOLERANCE_UNITS_MAX, WORKER_REPORT_BYTES_MIN, WORKER_REPORT_ENTRIES_MIN } from './reconciler-options.js';
export { WORKER_WAIT_MS_DEFAULT, WORKER_WAIT_MS_MAX } from './worker-start.js';
export { COMPARE_ASIDE_INTEREST_ENTRIES_MIN } from './interest-projection.js';
export type { ReconcilerOptions, WorkerThreads } from './reconciler-options.js';
export type { Break } from './break-store.js';
export { BREAKS_PAGE_SIZE_MAX, INSTRUCTIONS_PAGE_SIZE_MAX } from './list-page.js';
export type { SettlementInstruction } from './instructions.js';
export { TRANSACTION_HASH_PATTERN, TRANSACTION_HASH_RULE, isTransactionHash } from './instructions.js';
export type { BreakKind, ReconcileDatabase, ReconcileTables } from './db/schema.js';
export * from './export/index.js';
export { PRODUCT_SYNC_PRODUCTS_MAX, bookThenRecord, productTermsOf, syncProducts } from './provider-glue.js';
export type { BookThenRecordInput, BookThenRecordResult, BookingProvider, ProductSource, SyncedProduct } from './provider-glue.js';

/**
 * The public surface of `@earnbook/reconcile`: daily reconciliation of the partner's books with
 * the provider's reports, settlement netting and instructions, and audit exports.
 */
export { ReconcileError } from './errors.js';
export type { ReconcileErrorCode, ReconcileErrorDetails } from './errors.js';
export { REPORT_BYTES_MAX, loadReportObject, parseReport, readReportFile, validateReport } from './report.js';
export type { LoadedReport } from './report.js';
export { REPORT_SUMMARIES_MAX, findDayReports, planDayReports } from './report-choice.js';
export type { DayReportsPlan, FindDayReportsOptions, PlanDayReportsInput } from './report-choice.js';
export { BREAK_KINDS, REPORT_TYPE_KINDS, compareBreaks, diffDay, matchKey } from './diff.js';
export type { BreakDraft, DiffInput, LocalEntry, ReportEntry } from './diff.js';
export { computeSettlement } from './settlement.js';
export type { ComputeSettlementInput, DayFlows, SettlementPosition } from './settlement.js';
export { Reconciler, SYNC_BATCH_POSTINGS_MAX, TOLERANCE_UNITS_DEFAULT, TOLERANCE_UNITS_MAX } from './reconciler.js';
export type { Break, ReconcileResult, ReconcilerOptions, SettlementInstruction } from './reconciler.js';
export { migrateReconcile } from './db/migrations.js';
export type { BreakKind, ReconcileDatabase } from './db/schema.js';
export * from './export/index.js';
export { PRODUCT_SYNC_PRODUCTS_MAX, bookThenRecord, productTermsOf, syncProducts } from './provider-glue.js';
export type { BookThenRecordInput, BookThenRecordResult, BookingProvider, ProductSource, SyncedProduct } from './provider-glue.js';

/**
 * Audit exports: streaming CSV files of the journal, the balances at the end of a day, the
 * breaks and the settlements; an hledger / ledger-cli journal; and a directory export with a
 * manifest of row counts, totals per entity and currency and SHA-256 digests.
 */
export { AUDIT_FILE_FORMATS, AUDIT_FILE_NAMES, AUDIT_MANIFEST_NAME, auditFileNames, checkAuditExportDirectory, exportAudit } from './audit-export.js';
export type { AuditExportOptions, AuditExportResult, AuditFileFormat, AuditManifest, AuditManifestFile } from './audit-export.js';
export { BALANCES_CSV_AMOUNT_COLUMNS, BALANCES_CSV_HEADERS, BALANCES_CSV_TEXT_COLUMNS, exportBalancesCsv } from './balances-csv.js';
export type { BalancesCsvOptions } from './balances-csv.js';
export { BREAKS_CSV_AMOUNT_COLUMNS, BREAKS_CSV_HEADERS, BREAKS_CSV_TEXT_COLUMNS, exportBreaksCsv } from './breaks-csv.js';
export type { BreakCounts, BreaksCsvOptions } from './breaks-csv.js';
export { FORMULA_TRIGGER_CHARACTERS, escapeFormulaText } from './csv-cells.js';
export { CSV_DELIMITERS, SPREADSHEET_TEXT_LENGTH_MAX, spreadsheetText, spreadsheetTextCell } from './csv-sink.js';
export type { CsvDelimiter, CsvProfileOptions, ExportOutput } from './csv-sink.js';
export { EXPORT_DAYS_MAX, EXPORT_PAGE_SIZE_DEFAULT, EXPORT_PAGE_SIZE_MAX } from './export-options.js';
export type { ExportDayRange, ExportPaging, ExportScope, LedgerReader } from './export-options.js';
export type { DebitCreditTotals, EntityTotals, ExportResult } from './export-result.js';
export type { WrittenBytes } from './hashing-stream.js';
export { HLEDGER_ACCOUNT_TYPES, HLEDGER_ENTRIES_PER_PAGE_MAX, HLEDGER_TRANSACTIONS_PER_PAGE_MAX, exportHledgerJournal, hledgerAccountName, hledgerAccountType, hledgerCommodity, hledgerTagValue } from './hledger-journal.js';
export type { HledgerAccountType, HledgerJournalOptions, HledgerJournalResult } from './hledger-journal.js';
export { JOURNAL_CSV_AMOUNT_COLUMNS, JOURNAL_CSV_HEADERS, JOURNAL_CSV_TEXT_COLUMNS, exportJournalCsv, interestDayOf } from './journal-csv.js';
export type { JournalCsvOptions } from './journal-csv.js';
export { SETTLEMENTS_CSV_AMOUNT_COLUMNS, SETTLEMENTS_CSV_HEADERS, SETTLEMENTS_CSV_TEXT_COLUMNS, exportSettlementsCsv } from './settlements-csv.js';
export type { SettlementTotals, SettlementsCsvOptions } from './settlements-csv.js';

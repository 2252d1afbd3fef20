/**
 * The public surface of `@earnbook/ledger`. Storage factories live in the subpath exports
 * `@earnbook/ledger/sqlite` and `@earnbook/ledger/postgres`, so that importing this module loads
 * no native driver.
 */
export { LedgerError, LedgerInvariantError, assertInvariant, describeValue } from './errors.js';
export { SILENT_LEDGER_LOGGER, isLedgerLogger } from './logger.js';
export type { LedgerLogMethod, LedgerLogger } from './logger.js';
export type { LedgerErrorCode, LedgerErrorDetails } from './errors.js';
export {
  AMOUNT_INTEGER_DIGITS_MAX,
  AMOUNT_SCALE_DEFAULT,
  AMOUNT_SCALE_MAX,
  addAmounts,
  compareAmounts,
  formatUnits,
  isRoundingMode,
  negateAmount,
  parseAmount,
  parseUnits,
  roundDecimal,
  subtractAmounts,
  sumAmounts,
  toDecimal,
  toUnits,
} from './money.js';
export type { Amount, ParseAmountOptions, RoundingMode, RoundOptions } from './money.js';
export {
  ACCOUNTING_DAY_PATTERN,
  accountingDayBounds,
  accountingDayOf,
  accountingDaysBetween,
  assertTimeZone,
  daysBetween,
  formatInstant,
  nextAccountingDay,
  parseAccountingDay,
  parseInstant,
  previousAccountingDay,
  sameTimeZone,
  startOfAccountingDay,
} from './calendar.js';
export type { AccountingDay } from './calendar.js';
export { ACCOUNT_KINDS, ACCOUNT_KIND_RULES, POSTING_RULES, SYSTEM_ACCOUNT_KINDS, postingRuleEntries, isAccountKind, userAccountCode } from './chart.js';
export type { AccountKind, AccountKindRule, PostingRuleAccounts, PostingRuleKind, NormalSide } from './chart.js';
export { COMPOSED_KEY_LENGTH_MAX, ENTRIES_PER_TRANSACTION_MAX, KEY_LENGTH_MAX, RESERVED_KEY_PREFIX, REVERSAL_ENTRIES_MAX, TRANSACTION_KINDS } from './posting.js';
export type { EntryInput } from './entry-input.js';
export type { PostingInput, TransactionKind } from './posting.js';
export { LINES_PER_TRANSACTION_MAX, lineOfRefusal } from './posting-lines.js';
export type { LineInput, LineResult, LinesInput, LinesResult } from './posting-lines.js';
export { ACCOUNTS_PAGE_SIZE_MAX, CACHED_USER_ACCOUNTS_MAX, DAY_PAGE_SIZE_MAX, DEFAULT_ENTITIES, ENTITIES_MAX, HISTORY_PAGE_SIZE_MAX, Ledger, POST_BATCH_MAX, parseCurrency } from './ledger.js';
export type {
  LedgerAccount,
  LedgerEntity,
  HistoryItem,
  HistoryOptions,
  HistoryPage,
  JournalEntry,
  JournalTransaction,
  LedgerOptions,
  LedgerStorage,
  PostResult,
  PostingScope,
  ReverseInput,
  ScopeLinesOptions,
  VerifyReport,
} from './ledger.js';
export type { SystemAccountIds } from './system-accounts.js';
export type { LedgerDialect } from './db/dialect.js';
export type { LedgerDatabase } from './db/schema.js';
export { appliedMigrationNames, ledgerMigrationState, migrateLedger, migrationState } from './db/migrations.js';
export type { MigrationState } from './db/migrations.js';
export { redactConnectionString } from './connection-string.js';
export { textDefect } from './text.js';
export { EarnBooks, PRODUCT_TERMS_BYTES_MAX, PROVIDER_DATA_BYTES_MAX } from './earn-books.js';
export type { RecordBookingInput, CurrencyEntryInput, EarnAccount, EarnProduct, InterestInput, MirrorResult, SettlementInput } from './earn-books.js';
export * from './interest/index.js';
export { CYCLE_COMMIT_LINES_DEFAULT, CYCLE_COMMIT_LINES_MAX, CYCLE_READ_AHEAD_AFTER_ACCOUNTS, runAccountingCycle } from './accounting-cycle.js';
export { CYCLE_BATCH_SIZE_DEFAULT, cycleLines, cycleLinesMark, projectAccountingCycle, sameCycleLinesMark } from './cycle-read.js';
export { cycleInterestEntryId, interestKey, localEntryId, marginKey } from './cycle-ids.js';
export { CYCLE_READ_AHEAD_MODES } from './cycle-read-ahead.js';
export type { CycleReadAheadMode } from './cycle-read-ahead.js';
export type { CycleSummary, RunCycleOptions } from './accounting-cycle.js';
export type { CycleLine, CycleLinesMark, CycleLinesOptions, CycleOptions } from './cycle-read.js';
export { PROVIDER_ENTRY_PAGE_SIZE_MAX, PROVIDER_LOOKUP_IDS_MAX, earnAccountsByIds, providerEntriesByIds, providerEntriesDayMark, providerEntriesOfDayInBookOrder, sameProviderDayMark } from './provider-entries.js';
export type { ProviderDayMark, ProviderEntry, ProviderEntryBookCursor, ProviderEntryBookPage } from './provider-entries.js';

/**
 * Table types of the ledger's storage, shared by both dialects.
 *
 * Amounts are canonical decimal strings at the storage scale (18 decimals). SQLite stores them
 * as TEXT and PostgreSQL as NUMERIC(60,18): both exact, both read back as strings. Sums are never
 * taken over a float column: balances are kept per account and per (account, accounting day), and
 * the invariant checks sum in the application with bigint (or exact NUMERIC on PostgreSQL).
 */
import type { ColumnType, Generated } from 'kysely';

/** An integer id: PostgreSQL BIGINT is parsed to a JS number (ids stay far below 2^53). */
type Id = Generated<number>;

export interface LedgerEntityTable {
  id: string;
  time_zone: string;
  created_at: string;
}

export interface LedgerAccountTable {
  id: Id;
  entity: string;
  currency: string;
  code: string;
  kind: string;
  normal_side: 'debit' | 'credit';
  /** Balance on the account's normal side, canonical at 18 decimals. */
  balance: string;
  /** The latest accounting day with a posting; decides whether a posting is back-dated. */
  last_day: string | null;
  /** Number of entries posted; a cheap optimistic version. */
  entry_count: ColumnType<number, number | undefined, number>;
  created_at: string;
}

export interface JournalTransactionTable {
  id: Id;
  entity: string;
  kind: string;
  idempotency_key: string;
  request_hash: string;
  occurred_at: string;
  accounting_day: string;
  provider_id: string | null;
  reverses_transaction_id: number | null;
  description: string | null;
  metadata: string | null;
  created_at: string;
}

export interface JournalEntryTable {
  id: Id;
  transaction_id: number;
  entity: string;
  account_id: number;
  currency: string;
  /** Signed: debit positive, credit negative; a transaction's entries sum to zero per currency. */
  amount: string;
  /** The normal-side balance after this entry, in posting order, of its series: the account's own row, or the shard `balance_shard`. */
  balance_after: string;
  accounting_day: string;
  /** The provider's id of this one entry, in a compound transaction of many lines (else null). */
  provider_id: ColumnType<string | null, string | null | undefined, never>;
  /** The balance shard whose running balance `balance_after` is; null: the account's own row. */
  balance_shard: ColumnType<number | null, number | null | undefined, never>;
}

export interface AccountDayBalanceTable {
  account_id: number;
  accounting_day: string;
  /** Normal-side balance at the end of the accounting day. */
  balance: string;
}

/**
 * One shard of an account's balance (PostgreSQL, system accounts): a running balance of its own,
 * written by one writer at a time, so that concurrent writers of the same account never wait on
 * one row. The account's balance is its own row's plus its shards'.
 */
export interface AccountBalanceShardTable {
  account_id: number;
  shard: number;
  balance: string;
  last_day: string | null;
  entry_count: ColumnType<number, number | undefined, number>;
}

/** A shard's balance at the end of an accounting day (the shard's own closing balance). */
export interface AccountShardDayBalanceTable {
  account_id: number;
  shard: number;
  accounting_day: string;
  balance: string;
}

export interface EarnProductTable {
  entity: string;
  provider_product_id: string;
  effective_day: string;
  currency: string;
  name: string;
  terms: string;
  content_hash: string;
  created_at: string;
}

export interface PartnerUserTable {
  partner_user_id: string;
  created_at: string;
}

export interface EarnUserTable {
  entity: string;
  earn_user_id: string;
  partner_user_id: string;
  created_at: string;
}

export interface EarnAccountTable {
  entity: string;
  earn_account_id: string;
  earn_user_id: string;
  provider_product_id: string;
  currency: string;
  ledger_account_id: number;
  created_at: string;
}

export interface EarnBookingTable {
  entity: string;
  provider_booking_id: string;
  kind: string;
  earn_account_id: string;
  amount: string;
  currency: string;
  occurred_at: string;
  provider_data: string;
  transaction_id: number;
}

export interface ProcessedReportTable {
  entity: string;
  report_id: string;
  content_hash: string;
  accounting_day: string;
  version: number;
  processed_at: string;
}

export interface InterestResidueTable {
  account_id: number;
  accounting_day: string;
  /** Carried remainders with 18 + 48 decimals (see the interest engine). */
  user_residue: string;
  margin_residue: string;
}

export interface AccountingCycleTable {
  entity: string;
  accounting_day: string;
  accounts: number;
  completed_at: string;
}

/** The ledger's tables, as Kysely sees them. */
export interface LedgerDatabase {
  ledger_entities: LedgerEntityTable;
  ledger_accounts: LedgerAccountTable;
  journal_transactions: JournalTransactionTable;
  journal_entries: JournalEntryTable;
  account_day_balances: AccountDayBalanceTable;
  account_balance_shards: AccountBalanceShardTable;
  account_shard_day_balances: AccountShardDayBalanceTable;
  earn_products: EarnProductTable;
  partner_users: PartnerUserTable;
  earn_users: EarnUserTable;
  earn_accounts: EarnAccountTable;
  earn_bookings: EarnBookingTable;
  processed_reports: ProcessedReportTable;
  interest_residues: InterestResidueTable;
  accounting_cycles: AccountingCycleTable;
}

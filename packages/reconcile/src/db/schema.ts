/**
 * Tables of the reconcile package, beside the ledger's in the same database. Amounts are
 * canonical 18-decimal strings (TEXT on SQLite, NUMERIC(60,18) on PostgreSQL), as in the ledger.
 */
import type { Generated } from 'kysely';
import type { LedgerDatabase } from '@earnbook/ledger';

/** The kinds of break a reconciliation reports. */
export type BreakKind =
  | 'missing_in_ledger'
  | 'missing_in_report'
  | 'amount_mismatch'
  | 'currency_mismatch'
  | 'account_mismatch'
  | 'day_mismatch'
  | 'duplicate_in_report'
  | 'interest_mismatch'
  | 'margin_mismatch'
  | 'unexpected_interest'
  | 'missing_interest'
  | 'outstanding_balance_mismatch'
  | 'restated_entry'
  | 'unknown_entry_type'
  | 'approval_required';

export interface ReconcileBreakTable {
  id: Generated<number>;
  entity: string;
  accounting_day: string;
  kind: BreakKind;
  /** Identity of the break within (entity, day), without its figure: re-running a day finds its open row. */
  fingerprint: string;
  /** The report entry id (or booking id) concerned, if any. */
  provider_id: string | null;
  earn_account_id: string | null;
  currency: string | null;
  /** What the partner's books say (amount or value), if any. */
  expected: string | null;
  /** What the report says, if any. */
  actual: string | null;
  /** JSON with what is needed to act on the break (e.g. the report entry to book). */
  details: string;
  /** At most one open row per (entity, day, fingerprint); resolved rows are the break's history. */
  status: 'open' | 'resolved';
  /**
   * Who resolved it: `run`, a reconciliation that no longer found it (or found its figure covered
   * by a person's resolution); `person`, `resolveBreak` or `repairMissingBooking`. Null while open
   * (and on a resolved row written by a tool that does not know the column: it covers nothing).
   */
  resolved_by: 'run' | 'person' | null;
  resolution_reason: string | null;
  /** The adjusting journal transaction, when one resolved the break. */
  resolution_transaction_id: number | null;
  /** Report version in which the break was last seen. */
  report_version: number;
  created_at: string;
  resolved_at: string | null;
}

export interface SettlementPositionTable {
  entity: string;
  currency: string;
  accounting_day: string;
  payables: string;
  receivables: string;
  /** receivables − payables of the day. */
  net: string;
  /** Outstanding balance carried in from the previous day (below the threshold then). */
  carried_in: string;
  /** net + carried_in: what the report's outstandingBalance should say. */
  outstanding: string;
  /** Part of `outstanding` settled by transfer (0 when below the threshold). */
  settled: string;
  /** Part carried to the next day. */
  carried_out: string;
  /** The report's outstandingBalance, if the report had the currency. */
  reported_outstanding: string | null;
  computed_at: string;
}

export interface SettlementInstructionTable {
  id: Generated<number>;
  entity: string;
  currency: string;
  accounting_day: string;
  /** `to_provider`: the partner sends; `from_provider`: the partner expects to receive. */
  direction: 'to_provider' | 'from_provider';
  amount: string;
  /** The entity's configured wallet address for the currency (where the partner sends, or receives). */
  wallet: string | null;
  /**
   * `pending` → `sent` → `confirmed` (`to_provider`), `pending` → `confirmed` (`from_provider`).
   * A run may set a pending one `held` (its currency's figure is disputed or its fees await
   * approval) or `cancelled` (the day settles nothing any more), and bring either back to
   * `pending`; neither can be sent or confirmed.
   */
  status: 'pending' | 'held' | 'cancelled' | 'sent' | 'confirmed';
  /** Why it is held or cancelled (null otherwise). */
  status_reason: string | null;
  transaction_hash: string | null;
  /** The ledger transaction that booked the transfer once confirmed. */
  ledger_transaction_id: number | null;
  created_at: string;
  updated_at: string;
}

/** Reconcile's own tables. */
export type ReconcileTables = {
  reconcile_breaks: ReconcileBreakTable;
  settlement_positions: SettlementPositionTable;
  settlement_instructions: SettlementInstructionTable;
  reconciled_days: ReconciledDayTable;
};

/**
 * The report version whose reconciliation a day's breaks, positions and instructions reflect: the
 * newest processed. Reconciling an older version again is refused; see `day-run.ts`.
 */
export interface ReconciledDayTable {
  entity: string;
  accounting_day: string;
  report_id: string;
  content_hash: string;
  report_version: number;
  reconciled_at: string;
}

/** The ledger's tables and reconcile's. */
export interface ReconcileDatabase extends LedgerDatabase {
  reconcile_breaks: ReconcileBreakTable;
  settlement_positions: SettlementPositionTable;
  settlement_instructions: SettlementInstructionTable;
  reconciled_days: ReconciledDayTable;
}

/**
 * The sandbox's own tables, beside the ledger's in the same SQLite database: what the provider
 * keeps that the ledger does not (idempotent answers, users' references, published reports,
 * settlement positions, closed days and the clock).
 */
import type { Generated, Kysely } from 'kysely';
import type { LedgerDatabase } from '@earnbook/ledger';

/** The first answer to an Idempotency-Key, replayed for a repeated request. */
export interface SandboxIdempotencyTable {
  entity: string;
  idempotency_key: string;
  /** SHA-256 of the operation, path and canonical body. */
  request_hash: string;
  status_code: number;
  /** The JSON body answered. */
  response: string;
  created_at: string;
}

/** An Earn user of one entity. */
export interface SandboxUserTable {
  entity: string;
  user_id: string;
  external_reference: string | null;
  created_at: string;
}

/** A published daily report (one row per version). */
export interface SandboxReportTable {
  sequence: Generated<number>;
  report_id: string;
  entity: string;
  accounting_day: string;
  version: number;
  created_at: string;
  /** The report JSON, exactly as downloaded. */
  content: string;
}

/** The settlement position of one currency at the end of an accounting day. */
export interface SandboxSettlementTable {
  entity: string;
  currency: string;
  accounting_day: string;
  outstanding: string;
  settled: string;
  carried_out: string;
}

/** An accounting day whose cycle, settlement and report are done. */
export interface SandboxClosedDayTable {
  entity: string;
  accounting_day: string;
  closed_at: string;
}

/** Named values: the sandbox clock. */
export interface SandboxStateTable {
  name: string;
  value: string;
}

/** The sandbox's tables. */
export type SandboxTables = {
  sandbox_idempotency: SandboxIdempotencyTable;
  sandbox_users: SandboxUserTable;
  sandbox_reports: SandboxReportTable;
  sandbox_settlements: SandboxSettlementTable;
  sandbox_closed_days: SandboxClosedDayTable;
  sandbox_state: SandboxStateTable;
};

/** The ledger's tables and the sandbox's, through one connection. */
export type SandboxDatabase = LedgerDatabase & SandboxTables;

/** A Kysely handle on {@link SandboxDatabase}. */
export type SandboxDb = Kysely<SandboxDatabase>;

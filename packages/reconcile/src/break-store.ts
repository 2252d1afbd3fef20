/**
 * The lifecycle of stored breaks: a run's drafts are written once per fingerprint (a break seen
 * again is updated while open, never reopened once resolved), breaks a run no longer finds are
 * resolved with that reason, and a person resolves one by hand.
 */
import type { Kysely } from 'kysely';
import type { BreakDraft } from './diff.js';
import type { ReconcileDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { BreakRow } from './db/repository.js';

/** A stored break. */
export interface Break {
  readonly id: number;
  readonly entity: string;
  readonly accountingDay: string;
  readonly kind: BreakDraft['kind'];
  readonly providerId: string | null;
  readonly earnAccountId: string | null;
  readonly currency: string | null;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly status: 'open' | 'resolved';
  readonly resolutionReason: string | null;
  readonly resolutionTransactionId: number | null;
  readonly reportVersion: number;
}

/** Breaks inserted per statement. */
const BREAK_INSERT_BATCH_ROWS = 500;

/** A stored row as a {@link Break}. */
export function rowToBreak(row: BreakRow): Break {
  return {
    id: row.id,
    entity: row.entity,
    accountingDay: row.accounting_day,
    kind: row.kind,
    providerId: row.provider_id,
    earnAccountId: row.earn_account_id,
    currency: row.currency,
    expected: row.expected,
    actual: row.actual,
    details: JSON.parse(row.details) as Record<string, unknown>,
    status: row.status,
    resolutionReason: row.resolution_reason,
    resolutionTransactionId: row.resolution_transaction_id,
    reportVersion: row.report_version,
  };
}

/**
 * Writes a run's breaks of a day (the first draft of a fingerprint wins) and resolves the open
 * ones the run no longer found. Returns how many were resolved.
 */
export async function storeBreaks(trx: Kysely<ReconcileDatabase>, input: { entity: string; day: string; drafts: readonly BreakDraft[]; version: number; now: string }): Promise<number> {
  const { entity, day, version, now } = input;
  const existing = new Map((await repository.selectBreaksOfDay(trx, entity, day)).map((row) => [row.fingerprint, row]));
  const current = new Set<string>();
  const inserts = [];
  for (const draft of input.drafts) {
    if (current.has(draft.fingerprint)) continue;
    current.add(draft.fingerprint);
    const row = existing.get(draft.fingerprint);
    const values = { expected: draft.expected, actual: draft.actual, details: JSON.stringify(draft.details), report_version: version };
    if (row === undefined) {
      inserts.push({ entity, accounting_day: day, kind: draft.kind, fingerprint: draft.fingerprint, provider_id: draft.providerId, earn_account_id: draft.earnAccountId, currency: draft.currency, ...values, status: 'open' as const, resolution_reason: null, resolution_transaction_id: null, created_at: now, resolved_at: null });
    } else if (row.status === 'open') {
      await repository.updateBreak(trx, row.id, values);
    }
  }
  for (let start = 0; start < inserts.length; start += BREAK_INSERT_BATCH_ROWS) await repository.insertBreaks(trx, inserts.slice(start, start + BREAK_INSERT_BATCH_ROWS));
  let resolved = 0;
  for (const row of existing.values()) {
    if (row.status !== 'open' || current.has(row.fingerprint)) continue;
    await repository.updateBreak(trx, row.id, { status: 'resolved', resolution_reason: `no longer found when reconciling report version ${version}`, resolved_at: now });
    resolved++;
  }
  return resolved;
}

/** The open breaks of a day in the drafts' order (then by id), as the run found them. */
export async function openBreaksOfDay(db: Kysely<ReconcileDatabase>, input: { entity: string; day: string; order: readonly BreakDraft[] }): Promise<Break[]> {
  const rank = new Map(input.order.map((draft, index) => [draft.fingerprint, index]));
  const rows = (await repository.selectBreaksOfDay(db, input.entity, input.day)).filter((row) => row.status === 'open');
  rows.sort((a, b) => (rank.get(a.fingerprint) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b.fingerprint) ?? Number.MAX_SAFE_INTEGER) || a.id - b.id);
  return rows.map(rowToBreak);
}

/**
 * The currencies whose settlement is held back: a disputed outstanding balance (never pay a
 * disputed figure, even if its break was closed by hand), or fees awaiting approval (until a
 * person resolves that break, which approves them). `resolved` holds the fingerprints of the
 * day's resolved breaks.
 */
export function heldCurrencies(drafts: readonly BreakDraft[], resolved: ReadonlySet<string>): Set<string> {
  const held = new Set<string>();
  for (const draft of drafts) {
    if (draft.currency === null) continue;
    if (draft.kind === 'outstanding_balance_mismatch' || (draft.kind === 'approval_required' && !resolved.has(draft.fingerprint))) held.add(draft.currency);
  }
  return held;
}

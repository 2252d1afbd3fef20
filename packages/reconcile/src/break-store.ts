/**
 * The lifecycle of stored breaks: a run's drafts are written once per fingerprint (a break seen
 * again is updated while open; once resolved, a row is never reopened: a break that comes back,
 * or comes with another figure than a person resolved, is a new row), breaks a run no longer
 * finds are resolved with that reason, and a person resolves one by hand.
 */
import type { Insertable } from 'kysely';
import type { JournalTransaction, TransactionKind } from '@earnbook/ledger';
import { breakFigure, breakFingerprint, entryKindOfDetails } from './diff.js';
import type { BreakDraft } from './diff.js';
import type { ReconcileBreakTable } from './db/schema.js';
import type { BreakFigures, BreakRow } from './db/repository.js';

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
  /** `run` when a reconciliation closed it, `person` when `resolveBreak` or `repairMissingBooking` did; null while open (or not recorded). */
  readonly resolvedBy: 'run' | 'person' | null;
  readonly resolutionReason: string | null;
  readonly resolutionTransactionId: number | null;
  readonly reportVersion: number;
}

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
    resolvedBy: row.resolved_by,
    resolutionReason: row.resolution_reason,
    resolutionTransactionId: row.resolution_transaction_id,
    reportVersion: row.report_version,
  };
}

/** The first draft of each identity, in the drafts' order (the first draft of a fingerprint wins). */
function firstOfEachIdentity(drafts: readonly BreakDraft[]): BreakDraft[] {
  const first = new Map<string, BreakDraft>();
  for (const draft of drafts) if (!first.has(draft.fingerprint)) first.set(draft.fingerprint, draft);
  return [...first.values()];
}

/**
 * The day's rows, each under the fingerprint the run's drafts give its identity. A mismatch of a
 * matched entry stored before the entry's kind was part of the identity keeps its old fingerprint
 * (migration `0006_entry_kind_fingerprints` reads the kind from the details, and these did not
 * carry it): it is the break of the draft whose fingerprint without the kind is that one and that
 * names the same local transaction (one transaction has one kind), and takes the draft's
 * fingerprint. An open row takes it only when no open row has it already.
 */
export function withLegacyRowsAdopted(rows: readonly BreakRow[], drafts: readonly BreakDraft[]): BreakRow[] {
  const byLegacy = new Map<string, BreakDraft>();
  for (const draft of drafts) {
    const transactionId = draft.details['transactionId'];
    if (draft.entryKind === null || typeof transactionId !== 'number') continue;
    const key = JSON.stringify([breakFingerprint({ ...draft, entryKind: null }), transactionId]);
    if (!byLegacy.has(key)) byLegacy.set(key, draft);
  }
  if (byLegacy.size === 0) return [...rows];
  const legacyFingerprints = new Set([...byLegacy.values()].map((draft) => breakFingerprint({ ...draft, entryKind: null })));
  const openFingerprints = new Set(rows.filter((row) => row.status === 'open').map((row) => row.fingerprint));
  return rows.map((row) => {
    if (!legacyFingerprints.has(row.fingerprint)) return row;
    const transactionId = (JSON.parse(row.details) as Record<string, unknown>)['transactionId'];
    const draft = byLegacy.get(JSON.stringify([row.fingerprint, transactionId]));
    if (draft === undefined || (row.status === 'open' && openFingerprints.has(draft.fingerprint))) return row;
    return { ...row, fingerprint: draft.fingerprint };
  });
}

/**
 * The drafts a person's resolution covers, by fingerprint, with the row that covers each: a row of
 * the same identity that a person resolved with the same figure ({@link breakFigure}). A run's
 * own resolution ("no longer found") covers nothing: the break that comes back is found again.
 */
export function coveredDrafts(rows: readonly BreakRow[], drafts: readonly BreakDraft[]): Map<string, BreakRow> {
  return coveredByAdoptedRows(withLegacyRowsAdopted(rows, drafts), drafts);
}

/** {@link coveredDrafts} over rows already under their drafts' fingerprints ({@link withLegacyRowsAdopted}). */
function coveredByAdoptedRows(rows: readonly BreakRow[], drafts: readonly BreakDraft[]): Map<string, BreakRow> {
  const resolvedByPerson = new Map<string, BreakRow[]>();
  for (const row of rows) {
    if (row.status !== 'resolved' || row.resolved_by !== 'person') continue;
    const same = resolvedByPerson.get(row.fingerprint);
    if (same === undefined) resolvedByPerson.set(row.fingerprint, [row]);
    else same.push(row);
  }
  const covered = new Map<string, BreakRow>();
  for (const draft of firstOfEachIdentity(drafts)) {
    const figure = breakFigure(draft);
    const row = resolvedByPerson.get(draft.fingerprint)?.find((candidate) => breakFigure(candidate) === figure);
    if (row !== undefined) covered.set(draft.fingerprint, row);
  }
  return covered;
}

/** What one group of a day's breaks changes (see {@link planBreakGroup}). */
export interface BreakGroupPlan {
  /** Rows stored before the entry's kind was part of the identity, moved to their draft's fingerprint ({@link withLegacyRowsAdopted}). */
  readonly fingerprints: readonly { readonly id: number; readonly fingerprint: string }[];
  /** Open rows that follow their draft's figures. */
  readonly updates: readonly BreakFigures[];
  readonly inserts: readonly Insertable<ReconcileBreakTable>[];
  /** Open rows the run no longer found, or that a person's resolution covers, with the reason. */
  readonly resolutions: readonly { readonly id: number; readonly reason: string }[];
  /** The drafts that have an open row once the plan is written, in the drafts' order. */
  readonly open: readonly BreakDraft[];
}

/**
 * What a run's drafts change in the stored breaks of one group (`break-order.ts`: every draft
 * and row one break's lifecycle reads). A draft updates the open row of its identity (an open
 * break follows the figures); with none, it opens a new row — also when an earlier row of the
 * identity was resolved, by a run (the break came back) or by a person for another figure —
 * unless a person resolved the same identity with the same figure: that resolution covers it,
 * and an open row of the identity is then resolved too. Rows are never reopened: the resolved
 * ones are the break's history. The first draft of a fingerprint wins. `rows` are the group's
 * stored breaks by id; a row stored before the entry's kind was part of the identity is moved to
 * its draft's fingerprint first ({@link withLegacyRowsAdopted}). Pure.
 */
export function planBreakGroup(stored: readonly BreakRow[], drafts: readonly BreakDraft[], input: { entity: string; day: string; version: number; now: string }): BreakGroupPlan {
  const { entity, day, version, now } = input;
  const rows = withLegacyRowsAdopted(stored, drafts);
  const fingerprints = rows.flatMap((row, index) => (row.fingerprint === stored[index]?.fingerprint ? [] : [{ id: row.id, fingerprint: row.fingerprint }]));
  const open = new Map(rows.filter((row) => row.status === 'open').map((row) => [row.fingerprint, row]));
  const covered = coveredByAdoptedRows(rows, drafts);
  const current: BreakDraft[] = [];
  const updates: BreakFigures[] = [];
  const inserts: Insertable<ReconcileBreakTable>[] = [];
  for (const draft of firstOfEachIdentity(drafts)) {
    if (covered.has(draft.fingerprint)) continue;
    current.push(draft);
    const row = open.get(draft.fingerprint);
    const values = { expected: draft.expected, actual: draft.actual, details: JSON.stringify(draft.details), report_version: version };
    if (row === undefined) {
      inserts.push({ entity, accounting_day: day, kind: draft.kind, fingerprint: draft.fingerprint, provider_id: draft.providerId, earn_account_id: draft.earnAccountId, currency: draft.currency, ...values, status: 'open', resolved_by: null, resolution_reason: null, resolution_transaction_id: null, created_at: now, resolved_at: null });
    } else {
      updates.push({ id: row.id, ...values });
    }
  }
  const currentFingerprints = new Set(current.map((draft) => draft.fingerprint));
  const resolutions: { id: number; reason: string }[] = [];
  for (const row of open.values()) {
    if (currentFingerprints.has(row.fingerprint)) continue;
    const cover = covered.get(row.fingerprint);
    resolutions.push({ id: row.id, reason: cover === undefined ? `no longer found when reconciling report version ${version}` : `found in report version ${version} with the figure a person resolved in break ${cover.id}` });
  }
  return { fingerprints, updates, inserts, resolutions, open: current };
}

/**
 * The currencies whose settlement is held back, each with the reason: a disputed outstanding
 * balance (never pay a disputed figure, even if its break was closed by hand), or fees awaiting
 * approval (until a person resolves that break for these fees, which approves them; other fees
 * need a new approval). `covered` holds the fingerprints of the drafts a person's resolution
 * covers ({@link coveredDrafts}).
 */
export function heldCurrencies(drafts: readonly BreakDraft[], covered: ReadonlySet<string> | ReadonlyMap<string, unknown>): Map<string, string> {
  const held = new Map<string, string[]>();
  const hold = (currency: string, reason: string) => {
    const reasons = held.get(currency);
    if (reasons === undefined) held.set(currency, [reason]);
    else if (!reasons.includes(reason)) reasons.push(reason);
  };
  for (const draft of drafts) {
    if (draft.currency === null) continue;
    if (draft.kind === 'outstanding_balance_mismatch') hold(draft.currency, 'the outstanding balance is disputed (outstanding_balance_mismatch)');
    else if (draft.kind === 'approval_required' && !covered.has(draft.fingerprint)) hold(draft.currency, `fees of ${draft.actual ?? '?'} await approval (approval_required)`);
  }
  return new Map([...held].map(([currency, reasons]) => [currency, reasons.join('; ')]));
}

/**
 * What {@link linkRefusal} needs besides the break and the transaction, read before deciding: the
 * ledger account of each Earn account the break names (absent when the books hold no such Earn
 * account), and the id of the settlement account of the break's currency (null when none is open).
 */
export interface LinkFacts {
  readonly earnLedgerAccountIds: ReadonlyMap<string, number>;
  readonly settlementAccountId: number | null;
}

/** The entry kind a break without one in its details is about: its account's interest, the day's margin or fees. */
const BREAK_ENTRY_KINDS: Partial<Record<BreakRow['kind'], TransactionKind>> = {
  interest_mismatch: 'interest',
  unexpected_interest: 'interest',
  missing_interest: 'interest',
  margin_mismatch: 'partner_margin',
  approval_required: 'fee',
};

/** The Earn accounts a correction of a break may touch: its own, and for `account_mismatch` the one the report names. */
export function linkableEarnAccounts(row: BreakRow): string[] {
  if (row.earn_account_id === null) return [];
  return row.kind === 'account_mismatch' && row.actual !== null && row.actual !== row.earn_account_id ? [row.earn_account_id, row.actual] : [row.earn_account_id];
}

/** The currencies a correction of a break may be in: its own, and for `currency_mismatch` both it names. */
function linkableCurrencies(row: BreakRow): string[] {
  if (row.currency === null) return [];
  return row.kind === 'currency_mismatch' ? [...new Set([row.currency, row.expected, row.actual].filter((value): value is string => value !== null))] : [row.currency];
}

/** The first day a correction may be dated: the break's, or for `day_mismatch` the earliest day it names. */
function earliestLinkableDay(row: BreakRow): string {
  const days = row.kind === 'day_mismatch' ? [row.accounting_day, row.expected, row.actual] : [row.accounting_day];
  return days.filter((value): value is string => value !== null && /^\d{4}-\d{2}-\d{2}$/.test(value)).sort()[0] ?? row.accounting_day;
}

/**
 * Why a journal transaction cannot be linked to a break as its correction, or undefined when it
 * can. A correction is of the break's entity; in its currency (either currency of a
 * `currency_mismatch`); on an Earn account's break, it touches that account's ledger account
 * (either account of an `account_mismatch`); on a break of a currency without an Earn account
 * (margin, fees, the outstanding balance: the settlement position), it touches the currency's
 * settlement account; of the kind of the entry the break is about, or a reversal or adjustment;
 * not dated before the break's day (a `day_mismatch`: before the earliest day it names); and
 * not the very transaction the break is about. Pure: the accounts are read before
 * ({@link LinkFacts}). The answer names the property and both values.
 */
export function linkRefusal(row: BreakRow, transaction: JournalTransaction, facts: LinkFacts): string | undefined {
  if (transaction.entity !== row.entity) return `is a transaction of entity ${transaction.entity}, but break ${row.id} is of entity ${row.entity}`;
  const details = JSON.parse(row.details) as Record<string, unknown>;
  if (details['transactionId'] === transaction.id) return `is the transaction the break is about (break ${row.id}), not one that corrects it`;
  const currencies = linkableCurrencies(row);
  const foreign = transaction.entries.find((entry) => currencies.length > 0 && !currencies.includes(entry.currency));
  if (foreign !== undefined) return `has an entry in currency ${foreign.currency}, but break ${row.id} is in ${currencies.join(' or ')}`;
  const accounts = linkableEarnAccounts(row);
  if (accounts.length > 0) {
    const ledgerIds = accounts.map((id) => facts.earnLedgerAccountIds.get(id)).filter((id): id is number => id !== undefined);
    if (!transaction.entries.some((entry) => ledgerIds.includes(entry.accountId))) return `does not touch the ledger account of Earn account ${accounts.join(' or ')}, which break ${row.id} is about`;
  } else if (row.currency !== null && row.kind !== 'unknown_entry_type' && !transaction.entries.some((entry) => entry.accountId === facts.settlementAccountId)) {
    return `does not touch the ${row.currency} settlement account, whose position break ${row.id} is about`;
  }
  const kind = entryKindOfDetails(details) ?? BREAK_ENTRY_KINDS[row.kind];
  if (kind !== undefined && transaction.kind !== kind && transaction.kind !== 'reversal' && transaction.kind !== 'adjustment') {
    return `is of kind ${transaction.kind}, but break ${row.id} is about a ${kind} entry (link a ${kind}, a reversal or an adjustment)`;
  }
  const earliest = earliestLinkableDay(row);
  if (transaction.accountingDay < earliest) return `is of accounting day ${transaction.accountingDay}, before ${earliest}, the day of break ${row.id}`;
  return undefined;
}

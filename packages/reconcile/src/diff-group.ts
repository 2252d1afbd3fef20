/**
 * The diff of one key group (pure), and {@link diffDay}: the whole day's diff on a report held in
 * memory, grouping and ordering it exactly as the streaming reconciler does.
 */
import { formatUnits, nextAccountingDay, toUnits } from '@earnbook/ledger';
import type { CycleLine, TransactionKind } from '@earnbook/ledger';
import type { DailyReport } from '@earnbook/earn-client/contract';
import { breakDraft, breakFingerprint, compareBreaks, earlierAmountsKey, isDatedInDay, isOfDay, kindOfType, matchKey } from './diff.js';
import type { BreakDraft, DayContext, KeyGroup, LocalEntry } from './diff.js';
import { createdDay } from './report-entry.js';
import type { ReportEntry } from './report-entry.js';
import { compareKeys } from './keys.js';
import { diffInterest, sumReportedInterest } from './interest-check.js';
import { approvalBreaks, marginBreaks, outstandingBreaks } from './day-checks.js';
import { findUnreadable, readFields } from './input-guards.js';

/** What one group contributes to the day. */
export interface GroupDiff {
  readonly breaks: readonly BreakDraft[];
  /** Local entries of the day (they count in the settlement). */
  readonly ofDay: readonly LocalEntry[];
  /** Reported partner margin, per entry. */
  readonly margin: readonly { readonly currency: string; readonly units: bigint }[];
  /**
   * The fees to approve, per fee: the larger of its booked figure (a local fee of the day) and its
   * reported one (dated in the day: the sync's rule, the day or the next). The sync never books a
   * provider id the books hold, so a fee a later version restates stays booked at its first
   * figure: approving that alone would let a fee restated upward settle unapproved. Per fee, not
   * per currency, so that one fee restated down does not hide another restated up.
   */
  readonly fees: readonly { readonly currency: string; readonly units: bigint }[];
}

function compareEntry(entry: ReportEntry, local: LocalEntry, key: string, context: DayContext): BreakDraft[] {
  const breaks: BreakDraft[] = [];
  const kind = local.kind;
  const units = toUnits(entry.amount);
  const common = { providerId: key, earnAccountId: local.earnAccountId, currency: local.currency, entryKind: kind };
  // The kind in the details lets a stored row tell its entry's kind (`entryKindOfDetails`).
  const about = { transactionId: local.transactionId, kind };
  if (local.currency !== entry.currency) {
    return [breakDraft('currency_mismatch', { ...common, expected: local.currency, actual: entry.currency, details: about })];
  }
  if (entry.accountId !== undefined && local.earnAccountId !== null && entry.accountId !== local.earnAccountId) {
    breaks.push(breakDraft('account_mismatch', { ...common, expected: local.earnAccountId, actual: entry.accountId, details: about }));
  }
  if (local.amountUnits !== units) {
    // In a later version, a figure other than the books' is the provider restating the entry,
    // unless an earlier version reported this same figure: then it is that version's disagreement
    // again, under its kind.
    const actual = formatUnits(units);
    // A row stored before its details carried the kind is filed under none: it speaks for any kind.
    const earlier = context.earlierAmounts?.get(earlierAmountsKey(key, kind))?.get(actual) ?? context.earlierAmounts?.get(earlierAmountsKey(key, null))?.get(actual);
    const restated = earlier !== undefined ? earlier === 'restated_entry' : context.version > 1 && kind !== 'deposit' && kind !== 'withdrawal';
    breaks.push(
      breakDraft(restated ? 'restated_entry' : 'amount_mismatch', {
        ...common,
        expected: formatUnits(local.amountUnits),
        actual,
        details: { ...about, reportVersion: context.version },
      }),
    );
  }
  const localDay = kind === 'deposit' || kind === 'withdrawal' ? local.accountingDay : local.interestDay;
  if (localDay !== context.day) {
    breaks.push(breakDraft('day_mismatch', { ...common, expected: localDay ?? '', actual: context.day, details: about }));
  } else if (!isDatedInDay(entry, context)) {
    breaks.push(breakDraft('day_mismatch', { ...common, expected: context.day, actual: createdDay(entry, context.timeZone), details: { ...about, createdAt: entry.createdAt, reason: 'the report dates the entry outside its day' } }));
  }
  return breaks;
}

/**
 * Extra entries of one repeated id a `duplicate_in_report` break lists in its details; further
 * ones are counted and summed, not listed (a hostile report may repeat one id a million times).
 */
export const DUPLICATE_ENTRIES_LISTED_MAX = 100;

/** The extra occurrences of report entries whose id the group has met, one break per identity. */
class Duplicates {
  readonly #byFingerprint = new Map<string, { first: ReportEntry; kind: TransactionKind | null; units: bigint; occurrences: number; entries: ReportEntry[] }>();

  add(entry: ReportEntry): void {
    const kind = kindOfType(entry.type) ?? null;
    const fingerprint = breakFingerprint({ kind: 'duplicate_in_report', providerId: entry.id, earnAccountId: entry.accountId ?? null, currency: entry.currency, entryKind: kind });
    const known = this.#byFingerprint.get(fingerprint);
    const units = toUnits(entry.amount);
    if (known === undefined) {
      this.#byFingerprint.set(fingerprint, { first: entry, kind, units, occurrences: 1, entries: [entry] });
      return;
    }
    known.units += units;
    known.occurrences++;
    if (known.entries.length < DUPLICATE_ENTRIES_LISTED_MAX) known.entries.push(entry);
  }

  /**
   * One break per identity: every draft of a fingerprint but the first would be dropped when
   * stored, so three entries under one id gave one break with the second one's amount alone. Its
   * figure is the sum of the extra occurrences' amounts; the details count them.
   */
  breaks(): BreakDraft[] {
    return [...this.#byFingerprint.values()].map(({ first, kind, units, occurrences, entries }) =>
      breakDraft('duplicate_in_report', { providerId: first.id, currency: first.currency, entryKind: kind, actual: formatUnits(units), earnAccountId: first.accountId ?? null, details: { entry: first, occurrences, entries } }),
    );
  }
}

function unmatched(entry: ReportEntry, key: string, context: DayContext): BreakDraft {
  const kind = kindOfType(entry.type) ?? null;
  const units = toUnits(entry.amount);
  if (kind !== 'deposit' && kind !== 'withdrawal' && !isDatedInDay(entry, context)) {
    // Not booked: interest, margin or a fee the report dates outside the day.
    return breakDraft('day_mismatch', { providerId: key, earnAccountId: entry.accountId ?? null, currency: entry.currency, entryKind: kind, expected: context.day, actual: createdDay(entry, context.timeZone), details: { entry, reason: 'dated outside the report day; not booked' } });
  }
  return breakDraft('missing_in_ledger', {
    providerId: key,
    earnAccountId: entry.accountId ?? null,
    currency: entry.currency,
    entryKind: kind,
    actual: formatUnits(units),
    details: { entry, repair: kind === 'deposit' || kind === 'withdrawal' ? 'repairMissingBooking' : 'not booked: its Earn account is unknown to the books, or of another currency (then a currency_mismatch names it); ingest again once the account is known' },
  });
}

/** A report entry of zero that the sync does not book: interest, margin or a fee dated in the day. */
function isUnbookedZero(entry: ReportEntry, kind: string, context: DayContext): boolean {
  return (kind === 'interest' || kind === 'partner_margin' || kind === 'fee') && toUnits(entry.amount) === 0n && isDatedInDay(entry, context);
}

/**
 * Compares one key group: each report entry with the local entry of its kind (missing in
 * ledger, currency, account, amount and day mismatches, restated entries), duplicates and
 * unknown types, and local entries of the day the report lacks (missing in report).
 */
export function diffGroup(group: KeyGroup, context: DayContext): GroupDiff {
  const breaks: BreakDraft[] = [];
  const margin: { currency: string; units: bigint }[] = [];
  const fees: { currency: string; units: bigint }[] = [];
  // Reported figures of fees dated in the day, by the local fee each matched (undefined: none);
  // made only for a group with such a fee (one group per report entry of the nightly).
  let reportedFees: Map<number | undefined, { currency: string; units: bigint }[]> | undefined;
  const seen = new Set<string>();
  const matched = new Set<number>();
  const matchedKinds = new Set<string>();
  // Made at the first repeat only: one group per report entry, and a Map per group cost the nightly's diff.
  let duplicates: Duplicates | undefined;
  for (const entry of group.report) {
    const kind = kindOfType(entry.type);
    if (seen.has(entry.id)) {
      (duplicates ??= new Duplicates()).add(entry);
      continue;
    }
    seen.add(entry.id);
    if (kind === undefined) {
      breaks.push(breakDraft('unknown_entry_type', { providerId: entry.id, currency: entry.currency, actual: formatUnits(toUnits(entry.amount)), details: { type: entry.type, entry } }));
      continue;
    }
    // Settlement transfers are tracked through settlement instructions, not matched here.
    if (kind === 'settlement') continue;
    if (kind === 'partner_margin') margin.push({ currency: entry.currency, units: toUnits(entry.amount) });
    const local = group.local.find((candidate) => candidate.kind === kind && !matched.has(candidate.transactionId));
    if (kind === 'fee' && isDatedInDay(entry, context)) {
      reportedFees ??= new Map();
      const list = reportedFees.get(local?.transactionId) ?? [];
      list.push({ currency: entry.currency, units: toUnits(entry.amount) });
      reportedFees.set(local?.transactionId, list);
    }
    if (local === undefined) {
      // Interest, margin or a fee of zero, dated in the day: the sync books nothing for it
      // (`entriesToBook`), and the books agree with it without an entry.
      if (isUnbookedZero(entry, kind, context) && !matchedKinds.has(kind)) continue;
      if (matchedKinds.has(kind)) (duplicates ??= new Duplicates()).add(entry);
      else breaks.push(unmatched(entry, group.key, context));
      continue;
    }
    matched.add(local.transactionId);
    matchedKinds.add(kind);
    breaks.push(...compareEntry(entry, local, group.key, context));
  }
  if (duplicates !== undefined) breaks.push(...duplicates.breaks());
  const ofDay = group.local.filter((entry) => isOfDay(entry, context.day));
  for (const entry of ofDay) {
    if (entry.kind !== 'fee') continue;
    const reported = reportedFees?.get(entry.transactionId)?.[0];
    reportedFees?.delete(entry.transactionId);
    fees.push({ currency: entry.currency, units: reported === undefined || reported.units < entry.amountUnits ? entry.amountUnits : reported.units });
  }
  for (const list of reportedFees?.values() ?? []) fees.push(...list);
  for (const entry of ofDay) {
    if (matched.has(entry.transactionId)) continue;
    breaks.push(
      breakDraft('missing_in_report', {
        providerId: entry.providerId,
        earnAccountId: entry.earnAccountId,
        currency: entry.currency,
        entryKind: entry.kind,
        expected: formatUnits(entry.amountUnits),
        details: { transactionId: entry.transactionId, kind: entry.kind },
      }),
    );
  }
  return { breaks, ofDay, margin, fees };
}

/** Inputs of {@link diffDay}: a day held in memory. */
export interface DiffInput {
  readonly day: string;
  readonly timeZone: string;
  readonly report: DailyReport;
  /** Report version (1 for the first report of the day; more for restatements). */
  readonly version: number;
  /** Local entries that could match (the day's, and any carrying a provider id of the report). */
  readonly local: readonly LocalEntry[];
  /** The local recomputation of the day's interest, one line per Earn account. */
  readonly projection: readonly CycleLine[];
  /** Local outstanding balance per currency (net + carried in). */
  readonly outstanding: ReadonlyMap<string, bigint>;
  /** Tolerance in minor units (18 decimals) per currency for recomputed figures. */
  readonly toleranceUnits: (currency: string) => bigint;
  /** Per currency: fees of the day above this need approval; default 0 (every fee does). */
  readonly feeApprovalLimitUnits?: (currency: string) => bigint;
}

function groupsOf(report: readonly ReportEntry[], local: readonly LocalEntry[]): KeyGroup[] {
  const groups = new Map<string, { key: string; report: ReportEntry[]; local: LocalEntry[] }>();
  const group = (key: string) => {
    let value = groups.get(key);
    if (value === undefined) groups.set(key, (value = { key, report: [], local: [] }));
    return value;
  };
  for (const entry of report) group(matchKey(entry)).report.push(entry);
  for (const entry of local) group(entry.providerId).local.push(entry);
  return [...groups.values()].sort((a, b) => compareKeys(a.key, b.key));
}

/** The fields of a {@link DiffInput}, read once. */
const DIFF_INPUT_KEYS = ['day', 'timeZone', 'report', 'version', 'local', 'projection', 'outstanding', 'toleranceUnits', 'feeApprovalLimitUnits'] as const satisfies readonly (keyof DiffInput)[];

/**
 * The whole day's breaks, in a deterministic order, for a day held in memory. A part of the
 * input that cannot be read (a revoked proxy, a getter that throws) is `invalid_input` naming it
 * (`report.transactions[3]`); any other failure (a tolerance callback's) passes through.
 */
export function diffDay(given: DiffInput): BreakDraft[] {
  const input = readFields(given, DIFF_INPUT_KEYS);
  try {
    return diffDayOf(input);
  } catch (failure) {
    // Walked only now, so that a day that is well costs no second pass.
    throw findUnreadable(input) ?? failure;
  }
}

function diffDayOf(input: DiffInput): BreakDraft[] {
  const context: DayContext = { day: input.day, nextDay: nextAccountingDay(input.day), timeZone: input.timeZone, version: input.version };
  const breaks: BreakDraft[] = [];
  const reportedMargin = new Map<string, bigint>();
  const fees = new Map<string, bigint>();
  for (const group of groupsOf(input.report.transactions, input.local)) {
    const diff = diffGroup(group, context);
    breaks.push(...diff.breaks);
    for (const { currency, units } of diff.margin) reportedMargin.set(currency, (reportedMargin.get(currency) ?? 0n) + units);
    for (const { currency, units } of diff.fees) fees.set(currency, (fees.get(currency) ?? 0n) + units);
  }
  const interest = new Map<string, ReportEntry[]>();
  for (const entry of input.report.transactions) {
    if (entry.type !== 'Interest' || entry.accountId === undefined) continue;
    interest.set(entry.accountId, [...(interest.get(entry.accountId) ?? []), entry]);
  }
  const lines = new Map(input.projection.map((line) => [line.earnAccountId, line]));
  const recomputedMargin = new Map<string, bigint>();
  for (const line of input.projection) recomputedMargin.set(line.currency, (recomputedMargin.get(line.currency) ?? 0n) + toUnits(line.partnerMargin));
  for (const accountId of [...new Set([...lines.keys(), ...interest.keys()])].sort(compareKeys)) {
    const entries = interest.get(accountId);
    breaks.push(...diffInterest(lines.get(accountId), entries === undefined ? undefined : sumReportedInterest(entries), input.toleranceUnits));
  }
  breaks.push(...marginBreaks(recomputedMargin, reportedMargin, input.toleranceUnits));
  breaks.push(...approvalBreaks(fees, input.feeApprovalLimitUnits ?? (() => 0n)));
  breaks.push(...outstandingBreaks(input.outstanding, input.report.balances, input.toleranceUnits));
  return breaks.sort(compareBreaks);
}

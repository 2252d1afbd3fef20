/**
 * The line-by-line comparison of a daily report with the partner's books, as pure functions: no
 * database and no I/O here. The report's entries and the books' provider entries arrive grouped
 * by the key they match on ({@link matchKey}). The pieces
 * that need the whole day (interest per account, margin, outstanding balances) are in
 * `interest-check.ts`; `diffGroup` (in `diff-group.ts`) compares one group, and `diffDay` runs all
 * of them on a day held in memory, in the same code the streaming reconciler runs.
 */
import { toUnits } from '@earnbook/ledger';
import type { TransactionKind } from '@earnbook/ledger';
import type { BreakKind } from './db/schema.js';
import type { ReportEntry } from './report-entry.js';
import { createdDay } from './report-entry.js';

export type { ReportEntry } from './report-entry.js';

/** The report entry types the reconciler knows, and the journal kind each becomes. */
export const REPORT_TYPE_KINDS: Readonly<Record<string, TransactionKind>> = Object.freeze({
  Deposit: 'deposit',
  Withdrawal: 'withdrawal',
  Interest: 'interest',
  PartnerMargin: 'partner_margin',
  Fee: 'fee',
  Settlement: 'settlement',
});

/** The journal kind of a report entry type, or undefined for a type the reconciler does not know. */
export function kindOfType(type: string): TransactionKind | undefined {
  return Object.hasOwn(REPORT_TYPE_KINDS, type) ? REPORT_TYPE_KINDS[type] : undefined;
}

/** A local journal transaction as the diff sees it: its one relevant line. */
export interface LocalEntry {
  readonly transactionId: number;
  readonly kind: TransactionKind;
  readonly providerId: string;
  readonly accountingDay: string;
  /** For interest, margin and fee: the day that earned it. */
  readonly interestDay: string | null;
  /** Positive amount of the relevant line (user account, or settlement for margin and fee). */
  readonly amountUnits: bigint;
  readonly currency: string;
  /** The Earn account, for deposits, withdrawals and interest. */
  readonly earnAccountId: string | null;
}

/** A break found by the diff, before it is stored. */
export interface BreakDraft {
  readonly kind: BreakKind;
  readonly fingerprint: string;
  readonly providerId: string | null;
  readonly earnAccountId: string | null;
  readonly currency: string | null;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

const BREAK_KIND_LIST = [
  'missing_in_ledger',
  'missing_in_report',
  'duplicate_in_report',
  'unknown_entry_type',
  'currency_mismatch',
  'account_mismatch',
  'amount_mismatch',
  'restated_entry',
  'day_mismatch',
  'interest_mismatch',
  'unexpected_interest',
  'missing_interest',
  'margin_mismatch',
  'approval_required',
  'outstanding_balance_mismatch',
] as const satisfies readonly BreakKind[];

// A break kind added to the schema and not listed here fails the type check.
const everyKindListed: [Exclude<BreakKind, (typeof BREAK_KIND_LIST)[number]>] extends [never] ? true : false = true;
void everyKindListed;

/** Every break kind, in the order results list them. */
export const BREAK_KINDS: readonly BreakKind[] = Object.freeze([...BREAK_KIND_LIST]);

/**
 * The identity of a break within (entity, day): what it is about, not its figure
 * ({@link breakFigure}). A re-run finds the open break of the same identity and updates it; a
 * resolved one stays resolved only while a person's resolution covers the figure (see
 * `break-store.ts`). Injective: the JSON of the four fields, so no two different breaks share one
 * (a `|` inside an id cannot make them collide).
 */
export function breakFingerprint(value: { readonly kind: BreakKind; readonly providerId: string | null; readonly earnAccountId: string | null; readonly currency: string | null }): string {
  return JSON.stringify([value.kind, value.providerId, value.earnAccountId, value.currency]);
}

/**
 * The figure of a break: what a person who resolves it has seen and accepted. Every kind carries
 * its figure in `expected` and `actual` (an amount, a day, a currency, an Earn account or an
 * instruction's direction and amount), except `approval_required`, whose `expected` is the
 * configured approval limit and not a figure of the day: its figure is the day's fees alone. A
 * person's resolution covers the figure it was given; the same identity
 * ({@link breakFingerprint}) with another figure is a new break. The JSON of the values, so that
 * no two different figures share one.
 */
export function breakFigure(value: { readonly kind: BreakKind; readonly expected: string | null; readonly actual: string | null }): string {
  return JSON.stringify(value.kind === 'approval_required' ? [value.actual] : [value.expected, value.actual]);
}

/** Makes a break draft; fields not given are null. */
export function breakDraft(kind: BreakKind, fields: Partial<Omit<BreakDraft, 'kind' | 'fingerprint'>>): BreakDraft {
  const identity = { kind, providerId: fields.providerId ?? null, earnAccountId: fields.earnAccountId ?? null, currency: fields.currency ?? null };
  return { ...identity, fingerprint: breakFingerprint(identity), expected: fields.expected ?? null, actual: fields.actual ?? null, details: fields.details ?? {} };
}

/** The local provider id a report entry should match: the booking id for bookings, else its id. */
export function matchKey(entry: ReportEntry): string {
  return entry.type === 'Deposit' || entry.type === 'Withdrawal' ? (entry.bookingId ?? entry.id) : entry.id;
}

/** Orders breaks deterministically: by kind, currency, account, provider id. */
export function compareBreaks(a: BreakDraft, b: BreakDraft): number {
  const kinds = BREAK_KINDS.indexOf(a.kind) - BREAK_KINDS.indexOf(b.kind);
  if (kinds !== 0) return kinds;
  for (const [x, y] of [
    [a.currency, b.currency],
    [a.earnAccountId, b.earnAccountId],
    [a.providerId, b.providerId],
  ] as const) {
    if ((x ?? '') < (y ?? '')) return -1;
    if ((x ?? '') > (y ?? '')) return 1;
  }
  return 0;
}

/** Report entries and local entries that share one match key. */
export interface KeyGroup {
  readonly key: string;
  readonly report: readonly ReportEntry[];
  readonly local: readonly LocalEntry[];
}

/** What the diff needs to know about the day. */
export interface DayContext {
  readonly day: string;
  /** The day after: interest, margin and fees of `day` are credited then. */
  readonly nextDay: string;
  /** The entity's zone, to read the accounting day of an entry's `createdAt`. */
  readonly timeZone: string;
  /** Report version (1 for the first report of the day; more for restatements). */
  readonly version: number;
  /**
   * Per provider id, the amounts an earlier version of the day reported against the books, with
   * the kind that version's break gave them (`amount_mismatch` or `restated_entry`): a later
   * version that reports the same amount repeats that disagreement under the same kind, so a
   * person's resolution of it still covers it. Absent: no earlier break (the day's first run, or
   * the pure diff of tests).
   */
  readonly earlierAmounts?: ReadonlyMap<string, ReadonlyMap<string, 'amount_mismatch' | 'restated_entry'>>;
}

const isBooking = (kind: TransactionKind): boolean => kind === 'deposit' || kind === 'withdrawal';

/** Whether a local entry belongs to the day: a booking of the day, or interest, margin, fee earned that day. */
export function isOfDay(entry: LocalEntry, day: string): boolean {
  return isBooking(entry.kind) ? entry.accountingDay === day : entry.interestDay === day;
}

/** Interest, margin and fees of day D are dated D or D+1; anything else is not the day's. */
export function isDatedInDay(entry: ReportEntry, context: DayContext): boolean {
  const created = createdDay(entry, context.timeZone);
  const kind = kindOfType(entry.type);
  if (kind === undefined || isBooking(kind)) return created === context.day;
  return created === context.day || created === context.nextDay;
}

/**
 * The interest, margin and fee entries of a group the books lack: to book before the diff. An
 * entry dated outside the day is not booked (the diff reports it as a `day_mismatch`).
 */
export function entriesToBook(group: KeyGroup, context: DayContext): ReportEntry[] {
  const seen = new Set<string>();
  const toBook: ReportEntry[] = [];
  for (const entry of group.report) {
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    const kind = kindOfType(entry.type);
    if (kind !== 'interest' && kind !== 'partner_margin' && kind !== 'fee') continue;
    if (group.local.some((local) => local.kind === kind) || toBook.some((other) => other.type === entry.type)) continue;
    if (toUnits(entry.amount) === 0n || !isDatedInDay(entry, context)) continue;
    toBook.push(entry);
  }
  return toBook;
}

/** Whether a group has a report entry with no local entry of its kind (a lookup elsewhere may find one). */
export function needsLookup(group: KeyGroup): boolean {
  return group.report.some((entry) => {
    const kind = kindOfType(entry.type);
    return kind !== undefined && kind !== 'settlement' && !group.local.some((local) => local.kind === kind);
  });
}

/**
 * The line-by-line comparison of a daily report with the partner's books, as pure functions: no
 * database and no I/O here. The report's entries and the books' provider entries arrive grouped
 * by the key they match on ({@link matchKey}). The pieces
 * that need the whole day (interest per account, margin, outstanding balances) are in
 * `interest-check.ts`; `diffGroup` (in `diff-group.ts`) compares one group, and `diffDay` runs all
 * of them on a day held in memory, in the same code the streaming reconciler runs.
 */
import { TRANSACTION_KINDS, toUnits } from '@earnbook/ledger';
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
  /**
   * The kind of the entry the break is about: the local entry's, or the one the report entry's
   * type becomes; null for a break about no one entry (a day's or an account's figure, or an entry
   * of a type the reconciler does not know).
   */
  readonly entryKind: TransactionKind | null;
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

/** What {@link breakFingerprint} reads of a break. */
export interface BreakIdentity {
  readonly kind: BreakKind;
  readonly providerId: string | null;
  readonly earnAccountId: string | null;
  readonly currency: string | null;
  /** The entry's kind ({@link BreakDraft.entryKind}); absent or null for a break about no one entry. */
  readonly entryKind?: TransactionKind | null;
}

/**
 * The identity of a break within (entity, day): what it is about, not its figure
 * ({@link breakFigure}). A re-run finds the open break of the same identity and updates it; a
 * resolved one stays resolved only while a person's resolution covers the figure (see
 * `break-store.ts`). Injective: the JSON of the fields, so no two different breaks share one (a
 * `|` inside an id cannot make them collide). The entry's kind is part of it because the books
 * hold one provider id once per kind: a partner margin and a fee under one id, neither with an
 * Earn account, are two breaks. A break about no one entry (`entryKind` null) keeps the four-field
 * form stored before the kind was added, so its stored rows needed no rewrite; a four-element
 * array never equals a five-element one, so this stays injective.
 *
 * @example
 * breakFingerprint({ kind: 'missing_in_report', providerId: 'x', earnAccountId: null, currency: 'BTC', entryKind: 'fee' });
 * // '["missing_in_report","x",null,"BTC","fee"]'
 */
export function breakFingerprint(value: BreakIdentity): string {
  const fields = [value.kind, value.providerId, value.earnAccountId, value.currency];
  return JSON.stringify(value.entryKind === undefined || value.entryKind === null ? fields : [...fields, value.entryKind]);
}

/**
 * The entry kind a stored break's details name: `kind` (missing in report, and every mismatch of
 * a matched entry since the kind is part of the identity), else the kind of the report entry's
 * type (`entry.type`); null when they name none (a break about no one entry, an unknown type, or
 * a mismatch stored before its details carried the kind).
 */
export function entryKindOfDetails(details: Readonly<Record<string, unknown>>): TransactionKind | null {
  const kind = details['kind'];
  if (typeof kind === 'string' && (TRANSACTION_KINDS as readonly string[]).includes(kind)) return kind as TransactionKind;
  const entry = details['entry'];
  if (typeof entry !== 'object' || entry === null) return null;
  const type = (entry as Record<string, unknown>)['type'];
  return typeof type === 'string' ? (kindOfType(type) ?? null) : null;
}

/**
 * The key of `DayContext.earlierAmounts`: a provider id with the entry kind its earlier breaks
 * were about (null for a break stored before its details carried the kind).
 */
export function earlierAmountsKey(providerId: string, entryKind: TransactionKind | null): string {
  return JSON.stringify([providerId, entryKind]);
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
  const identity = { kind, providerId: fields.providerId ?? null, earnAccountId: fields.earnAccountId ?? null, currency: fields.currency ?? null, entryKind: fields.entryKind ?? null };
  return { ...identity, fingerprint: breakFingerprint(identity), expected: fields.expected ?? null, actual: fields.actual ?? null, details: fields.details ?? {} };
}

/** The local provider id a report entry should match: the booking id for bookings, else its id. */
export function matchKey(entry: ReportEntry): string {
  return entry.type === 'Deposit' || entry.type === 'Withdrawal' ? (entry.bookingId ?? entry.id) : entry.id;
}

/** Orders breaks deterministically: by kind, currency, account, provider id, entry kind. */
export function compareBreaks(a: BreakDraft, b: BreakDraft): number {
  const kinds = BREAK_KINDS.indexOf(a.kind) - BREAK_KINDS.indexOf(b.kind);
  if (kinds !== 0) return kinds;
  for (const [x, y] of [
    [a.currency, b.currency],
    [a.earnAccountId, b.earnAccountId],
    [a.providerId, b.providerId],
    [a.entryKind, b.entryKind],
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
   * Per provider id and entry kind ({@link earlierAmountsKey}), the amounts an earlier version of
   * the day reported against the books, with the kind that version's break gave them
   * (`amount_mismatch` or `restated_entry`): a later version that reports the same amount repeats
   * that disagreement under the same kind, so a person's resolution of it still covers it. A
   * margin and a fee under one provider id keep theirs apart. Absent: no earlier break (the day's
   * first run, or the pure diff of tests).
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

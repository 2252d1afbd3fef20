/**
 * The line-by-line comparison of a daily report with the partner's books, as a pure function:
 * no database here. Inputs are the validated report, the local entries that could match it, and
 * the local recomputation of the day's interest; the output is the list of breaks in a
 * deterministic order.
 */
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { CycleLine, TransactionKind } from '@earnbook/ledger';
import type { DailyReport } from '@earnbook/earn-client/contract';
import type { BreakKind } from './db/schema.js';

/** One report entry, as the report gives it. */
export type ReportEntry = DailyReport['transactions'][number];

/** The report entry types the reconciler knows, and the journal kind each becomes. */
export const REPORT_TYPE_KINDS: Readonly<Record<string, TransactionKind>> = Object.freeze({
  Deposit: 'deposit',
  Withdrawal: 'withdrawal',
  Interest: 'interest',
  PartnerMargin: 'partner_margin',
  Fee: 'fee',
  Settlement: 'settlement',
});

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

/** Inputs of {@link diffDay}. */
export interface DiffInput {
  readonly day: string;
  readonly report: DailyReport;
  /** Report version (1 for the first report of the day; more for restatements). */
  readonly version: number;
  /** Local entries by provider id (several if a provider id was booked under several kinds). */
  readonly local: ReadonlyMap<string, readonly LocalEntry[]>;
  /** The local recomputation of the day's interest, per Earn account. */
  readonly projection: ReadonlyMap<string, CycleLine>;
  /** Local outstanding balance per currency (net + carried in). */
  readonly outstanding: ReadonlyMap<string, bigint>;
  /** Tolerance in minor units (18 decimals) per currency for recomputed figures. */
  readonly toleranceUnits: (currency: string) => bigint;
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
  'outstanding_balance_mismatch',
] as const satisfies readonly BreakKind[];

// A break kind added to the schema and not listed here fails the type check.
const everyKindListed: [Exclude<BreakKind, (typeof BREAK_KIND_LIST)[number]>] extends [never] ? true : false = true;
void everyKindListed;

/** Every break kind, in the order results list them. */
export const BREAK_KINDS: readonly BreakKind[] = Object.freeze([...BREAK_KIND_LIST]);

function draft(kind: BreakKind, fields: Partial<Omit<BreakDraft, 'kind' | 'fingerprint'>> & { readonly details?: Record<string, unknown> }): BreakDraft {
  const providerId = fields.providerId ?? null;
  const earnAccountId = fields.earnAccountId ?? null;
  const currency = fields.currency ?? null;
  return {
    kind,
    fingerprint: [kind, providerId ?? '', earnAccountId ?? '', currency ?? ''].join('|'),
    providerId,
    earnAccountId,
    currency,
    expected: fields.expected ?? null,
    actual: fields.actual ?? null,
    details: fields.details ?? {},
  };
}

function absolute(value: bigint): bigint {
  return value < 0n ? -value : value;
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

/**
 * Compares a report with the books. Breaks: missing in ledger, missing in report, currency,
 * account, amount and accounting-day mismatch, duplicate in report, unknown entry type, interest
 * or margin differing from the recomputation beyond tolerance, unexpected interest (zero
 * balance), missing interest (positive balance), and outstanding balance mismatch.
 */
export function diffDay(input: DiffInput): BreakDraft[] {
  const breaks: BreakDraft[] = [];
  const seen = new Set<string>();
  const matched = new Set<number>();
  const reportedInterest = new Map<string, { units: bigint; currency: string; ids: string[] }>();
  const reportedMargin = new Map<string, bigint>();
  const relevantLocal = (entry: LocalEntry): boolean =>
    entry.kind === 'deposit' || entry.kind === 'withdrawal' ? entry.accountingDay === input.day : entry.interestDay === input.day;

  for (const entry of input.report.transactions) {
    if (seen.has(entry.id)) {
      breaks.push(draft('duplicate_in_report', { providerId: entry.id, currency: entry.currency, actual: entry.amount, earnAccountId: entry.accountId ?? null, details: { entry } }));
      continue;
    }
    seen.add(entry.id);
    const kind = REPORT_TYPE_KINDS[entry.type];
    if (kind === undefined) {
      breaks.push(draft('unknown_entry_type', { providerId: entry.id, currency: entry.currency, actual: entry.amount, details: { type: entry.type, entry } }));
      continue;
    }
    // Settlement transfers are tracked through settlement instructions, not matched here.
    if (kind === 'settlement') continue;
    const units = toUnits(entry.amount);
    if (kind === 'interest' && entry.accountId !== undefined) {
      const sum = reportedInterest.get(entry.accountId) ?? { units: 0n, currency: entry.currency, ids: [] };
      sum.units += units;
      sum.ids.push(entry.id);
      reportedInterest.set(entry.accountId, sum);
    }
    if (kind === 'partner_margin') reportedMargin.set(entry.currency, (reportedMargin.get(entry.currency) ?? 0n) + units);
    const key = matchKey(entry);
    const local = (input.local.get(key) ?? []).find((candidate) => candidate.kind === kind);
    if (local === undefined) {
      breaks.push(
        draft('missing_in_ledger', {
          providerId: key,
          earnAccountId: entry.accountId ?? null,
          currency: entry.currency,
          actual: formatUnits(units),
          details: { entry, repair: kind === 'deposit' || kind === 'withdrawal' ? 'repairMissingBooking' : 'ingest again once the account is known' },
        }),
      );
      continue;
    }
    matched.add(local.transactionId);
    const common = { providerId: key, earnAccountId: local.earnAccountId, currency: local.currency };
    if (local.currency !== entry.currency) {
      breaks.push(draft('currency_mismatch', { ...common, expected: local.currency, actual: entry.currency, details: { transactionId: local.transactionId } }));
      continue;
    }
    if (entry.accountId !== undefined && local.earnAccountId !== null && entry.accountId !== local.earnAccountId) {
      breaks.push(draft('account_mismatch', { ...common, expected: local.earnAccountId, actual: entry.accountId, details: { transactionId: local.transactionId } }));
    }
    if (local.amountUnits !== units) {
      const restated = input.version > 1 && kind !== 'deposit' && kind !== 'withdrawal';
      breaks.push(
        draft(restated ? 'restated_entry' : 'amount_mismatch', {
          ...common,
          expected: formatUnits(local.amountUnits),
          actual: formatUnits(units),
          details: { transactionId: local.transactionId, reportVersion: input.version },
        }),
      );
    }
    const localDay = kind === 'deposit' || kind === 'withdrawal' ? local.accountingDay : local.interestDay;
    if (localDay !== input.day) {
      breaks.push(draft('day_mismatch', { ...common, expected: localDay ?? '', actual: input.day, details: { transactionId: local.transactionId } }));
    }
  }

  for (const entries of input.local.values()) {
    for (const entry of entries) {
      if (entry.kind === 'settlement' || entry.kind === 'reversal' || entry.kind === 'adjustment') continue;
      if (!matched.has(entry.transactionId) && relevantLocal(entry)) {
        breaks.push(
          draft('missing_in_report', {
            providerId: entry.providerId,
            earnAccountId: entry.earnAccountId,
            currency: entry.currency,
            expected: formatUnits(entry.amountUnits),
            details: { transactionId: entry.transactionId, kind: entry.kind },
          }),
        );
      }
    }
  }

  const recomputedMargin = new Map<string, bigint>();
  for (const line of input.projection.values()) {
    recomputedMargin.set(line.currency, (recomputedMargin.get(line.currency) ?? 0n) + toUnits(line.partnerMargin));
    const expectedUnits = toUnits(line.userInterest);
    const reported = reportedInterest.get(line.earnAccountId);
    const tolerance = input.toleranceUnits(line.currency);
    if (reported === undefined) {
      if (expectedUnits > tolerance) {
        breaks.push(draft('missing_interest', { earnAccountId: line.earnAccountId, currency: line.currency, expected: line.userInterest, details: { balance: line.balance } }));
      }
      continue;
    }
    if (toUnits(line.balance) === 0n && reported.units > 0n) {
      breaks.push(draft('unexpected_interest', { earnAccountId: line.earnAccountId, currency: line.currency, expected: line.userInterest, actual: formatUnits(reported.units), details: { balance: line.balance, entryIds: reported.ids } }));
    } else if (absolute(reported.units - expectedUnits) > tolerance) {
      breaks.push(
        draft('interest_mismatch', {
          earnAccountId: line.earnAccountId,
          currency: line.currency,
          expected: line.userInterest,
          actual: formatUnits(reported.units),
          details: { balance: line.balance, differenceUnits: String(reported.units - expectedUnits), toleranceUnits: String(tolerance), entryIds: reported.ids },
        }),
      );
    }
  }
  for (const [accountId, reported] of reportedInterest) {
    if (!input.projection.has(accountId)) {
      breaks.push(draft('unexpected_interest', { earnAccountId: accountId, currency: reported.currency, expected: formatUnits(0n), actual: formatUnits(reported.units), details: { reason: 'no local Earn account with a balance', entryIds: reported.ids } }));
    }
  }
  for (const currency of new Set([...recomputedMargin.keys(), ...reportedMargin.keys()])) {
    const expected = recomputedMargin.get(currency) ?? 0n;
    const actual = reportedMargin.get(currency) ?? 0n;
    if (absolute(expected - actual) > input.toleranceUnits(currency)) {
      breaks.push(draft('margin_mismatch', { currency, expected: formatUnits(expected), actual: formatUnits(actual), details: { differenceUnits: String(actual - expected) } }));
    }
  }

  const reportedOutstanding = new Map(input.report.balances.map((balance) => [balance.currency, toUnits(balance.outstandingBalance)]));
  for (const currency of new Set([...input.outstanding.keys(), ...reportedOutstanding.keys()])) {
    const expected = input.outstanding.get(currency) ?? 0n;
    const actual = reportedOutstanding.get(currency);
    if (actual === undefined ? expected !== 0n : absolute(expected - actual) > input.toleranceUnits(currency)) {
      breaks.push(
        draft('outstanding_balance_mismatch', {
          currency,
          expected: formatUnits(expected),
          actual: actual === undefined ? null : formatUnits(actual),
          details: actual === undefined ? { reason: 'the report has no balance for the currency' } : { differenceUnits: String(actual - expected) },
        }),
      );
    }
  }
  return breaks.sort(compareBreaks);
}

/**
 * Sync: booking the report's interest, margin and fee entries that the books lack, inside the
 * day's transaction. Interest needs a known Earn account of the entry's currency; an entry that
 * cannot be booked is left to the diff (it reports it). An entry the ledger refuses rejects the
 * whole report (the transaction rolls back).
 */
import { LedgerError, POST_BATCH_MAX, earnAccountsByIds, formatUnits, toUnits } from '@earnbook/ledger';
import type { AccountKind, PostingRuleKind, Ledger, PostingInput, PostingScope } from '@earnbook/ledger';
import { postingRuleEntries } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { kindOfType } from './diff.js';
import type { ReportEntry } from './report-entry.js';
import { systemAccountsFor } from './instructions.js';

/** Counts of entries booked, per kind. */
export interface SyncCounts {
  readonly interest: number;
  readonly partnerMargin: number;
  readonly fee: number;
}

type SyncKind = Extract<PostingRuleKind, 'interest' | 'partner_margin' | 'fee'>;

/** The entry's amount at its currency's scale; more decimals reject the report. */
function amountOf(ledger: Ledger, entry: ReportEntry): string {
  try {
    return ledger.parseAmount(formatUnits(toUnits(entry.amount)), { field: 'amount', currency: entry.currency });
  } catch (cause) {
    throw new ReconcileError('invalid_report', `report entry ${entry.id} cannot be booked: ${(cause as Error).message}`, { field: 'amount', value: entry.amount, cause });
  }
}

function postingOf(input: { entity: string; day: string; entry: ReportEntry; kind: SyncKind; amount: string; accounts: Partial<Record<AccountKind, number>> }): PostingInput {
  const { entry, kind, amount } = input;
  return {
    entity: input.entity,
    kind,
    idempotencyKey: `report:${entry.type}:${entry.id}`,
    occurredAt: entry.createdAt,
    providerId: entry.id,
    metadata: kind === 'interest' ? { interestDay: input.day, earnAccountId: entry.accountId ?? '' } : { interestDay: input.day },
    entries: postingRuleEntries(kind, input.accounts, amount),
  };
}

/** Books entries in the scope's transaction, {@link POST_BATCH_MAX} per `postMany`; returns what was created. */
export async function bookEntries(ledger: Ledger, input: { entity: string; day: string; entries: readonly ReportEntry[]; scope: PostingScope }): Promise<SyncCounts> {
  const counts = { interest: 0, partnerMargin: 0, fee: 0 };
  for (let start = 0; start < input.entries.length; start += POST_BATCH_MAX) {
    const booked = await bookBatch(ledger, { ...input, entries: input.entries.slice(start, start + POST_BATCH_MAX) });
    counts.interest += booked.interest;
    counts.partnerMargin += booked.partnerMargin;
    counts.fee += booked.fee;
  }
  return counts;
}

async function bookBatch(ledger: Ledger, input: { entity: string; day: string; entries: readonly ReportEntry[]; scope: PostingScope }): Promise<SyncCounts> {
  const { entity, scope } = input;
  const accountIds = [...new Set(input.entries.flatMap((entry) => (entry.type === 'Interest' && entry.accountId !== undefined ? [entry.accountId] : [])))];
  const accounts = accountIds.length === 0 ? new Map() : await earnAccountsByIds(ledger, { entity, earnAccountIds: accountIds }, scope.db);
  const systems = new Map<string, Partial<Record<AccountKind, number>>>();
  const postings: PostingInput[] = [];
  for (const entry of input.entries) {
    const kind = kindOfType(entry.type) as SyncKind;
    const account = entry.accountId === undefined ? undefined : accounts.get(entry.accountId);
    // Interest to an unknown account or in another currency cannot be booked: the diff reports it.
    if (kind === 'interest' && (account === undefined || account.currency !== entry.currency)) continue;
    // Checked before any account is opened: the ledger caches accounts it opens, even in a transaction that rolls back.
    const amount = amountOf(ledger, entry);
    const systemKey = `${kind} ${entry.currency}`;
    let system = systems.get(systemKey);
    if (system === undefined) {
      system = await systemAccountsFor(ledger, { entity, currency: entry.currency, kind }, scope.db);
      systems.set(systemKey, system);
    }
    postings.push(postingOf({ entity, day: input.day, entry, kind, amount, accounts: kind === 'interest' ? { ...system, user: account?.ledgerAccountId } : system }));
  }
  const counts = { interest: 0, partnerMargin: 0, fee: 0 };
  if (postings.length === 0) return counts;
  let results;
  try {
    results = await scope.postMany(postings);
  } catch (cause) {
    if (!(cause instanceof LedgerError)) throw cause;
    throw new ReconcileError('invalid_report', `the report's entries cannot be booked: ${cause.message}`, { ...(cause.field === undefined ? {} : { field: cause.field }), ...(cause.value === undefined ? {} : { value: cause.value }), cause });
  }
  results.forEach((result, index) => {
    if (result.status !== 'created') return;
    const kind = postings[index]?.kind;
    if (kind === 'interest') counts.interest++;
    else if (kind === 'partner_margin') counts.partnerMargin++;
    else counts.fee++;
  });
  return counts;
}

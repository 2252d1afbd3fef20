/**
 * The lifecycle of settlement instructions: one per (entity, currency, day), issued pending when
 * a position settles; a pending one follows a restated figure, a sent or confirmed one never
 * changes (a restated figure then is a break); `to_provider` goes pending → sent → confirmed,
 * `from_provider` pending → confirmed. Confirming books the transfer in the same transaction.
 */
import type { Kysely } from 'kysely';
import { POSTING_RULES, postingRuleEntries, formatUnits, toUnits } from '@earnbook/ledger';
import type { AccountKind, PostingRuleKind, Ledger, LedgerDatabase, PostingInput } from '@earnbook/ledger';
import { breakDraft } from './diff.js';
import type { BreakDraft } from './diff.js';
import type { SettlementPosition } from './settlement.js';
import type { ReconcileDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { InstructionRow } from './db/repository.js';

/** A settlement instruction. */
/** An on-chain transaction hash as the reconciler takes it: 8 to 200 letters, digits, ":", "_" or "-". */
export const TRANSACTION_HASH_PATTERN = /^[A-Za-z0-9:_-]{8,200}$/;
/** What {@link TRANSACTION_HASH_PATTERN} asks, for error messages. */
export const TRANSACTION_HASH_RULE = 'must be 8 to 200 letters, digits, ":", "_" or "-"';

/** Whether `value` is a transaction hash the reconciler takes. */
export function isTransactionHash(value: unknown): value is string {
  return typeof value === 'string' && TRANSACTION_HASH_PATTERN.test(value);
}

export interface SettlementInstruction {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly accountingDay: string;
  readonly direction: 'to_provider' | 'from_provider';
  readonly amount: string;
  readonly wallet: string | null;
  readonly status: 'pending' | 'sent' | 'confirmed';
  readonly transactionHash: string | null;
  readonly ledgerTransactionId: number | null;
}

/** A stored row as a {@link SettlementInstruction}. */
export function rowToInstruction(row: InstructionRow): SettlementInstruction {
  return {
    id: row.id,
    entity: row.entity,
    currency: row.currency,
    accountingDay: row.accounting_day,
    direction: row.direction,
    amount: formatUnits(toUnits(row.amount)),
    wallet: row.wallet,
    status: row.status,
    transactionHash: row.transaction_hash,
    ledgerTransactionId: row.ledger_transaction_id,
  };
}

/**
 * Issues (or updates while still pending) the day's instruction of a currency. A changed figure
 * for an instruction already sent or confirmed is returned as an `outstanding_balance_mismatch`.
 */
export async function instruct(trx: Kysely<ReconcileDatabase>, input: { entity: string; day: string; position: SettlementPosition; wallet: string | null; now: string }): Promise<BreakDraft | null> {
  const { entity, day, position, now } = input;
  const settledUnits = toUnits(position.settled);
  const existing = await repository.findInstructionOfDay(trx, { entity, currency: position.currency, day });
  const direction = settledUnits < 0n ? 'to_provider' : 'from_provider';
  const amount = formatUnits(settledUnits < 0n ? -settledUnits : settledUnits);
  if (existing === undefined) {
    if (settledUnits === 0n) return null;
    await repository.insertInstruction(trx, { entity, currency: position.currency, accounting_day: day, direction, amount, wallet: input.wallet, status: 'pending', transaction_hash: null, ledger_transaction_id: null, created_at: now, updated_at: now });
    return null;
  }
  if (existing.direction === direction && toUnits(existing.amount) === toUnits(amount)) return null;
  if (existing.status === 'pending') {
    if (settledUnits !== 0n) await repository.updateInstruction(trx, existing.id, 'pending', { direction, amount, updated_at: now });
    return null;
  }
  return breakDraft('outstanding_balance_mismatch', {
    providerId: `instruction:${existing.id}`,
    currency: position.currency,
    expected: `${direction} ${amount}`,
    actual: `${existing.direction} ${formatUnits(toUnits(existing.amount))}`,
    details: { reason: `instruction ${existing.id} is already ${existing.status}; the restated figure needs a manual adjustment`, instructionId: existing.id },
  });
}

/** The system accounts a booking kind posts to, opened inside `db` if needed. */
export async function systemAccountsFor(ledger: Ledger, input: { entity: string; currency: string; kind: PostingRuleKind }, db: Kysely<LedgerDatabase>): Promise<Partial<Record<AccountKind, number>>> {
  const accounts: Partial<Record<AccountKind, number>> = {};
  for (const [accountKind] of POSTING_RULES[input.kind]) {
    if (accountKind === 'user') continue;
    accounts[accountKind] = (await ledger.systemAccount(input.entity, input.currency, accountKind, db)).id;
  }
  return accounts;
}

/** The idempotency key of the transfer that settles an instruction. */
export function settlementKey(row: InstructionRow): string {
  return `settlement:${row.entity}:${row.currency}:${row.accounting_day}`;
}

/**
 * Books the transfer of an instruction and marks it confirmed, in one transaction; the same
 * posting as `EarnBooks.recordSettlement`, so a booking made before a crash is the same one.
 * `bookedId` is the transaction already booked under the instruction's key, if any (a retry
 * after a crash): then only the status is written.
 */
export async function confirmWithin(ledger: Ledger, input: { row: InstructionRow; occurredAt: string | Date; hash: string; bookedId: number | undefined; now: string }): Promise<void> {
  const { row } = input;
  await ledger.transact(async (scope) => {
    let transactionId = input.bookedId;
    if (transactionId === undefined) {
      const kind = row.direction === 'to_provider' ? 'settlement_to_provider' : 'settlement_from_provider';
      const accounts = await systemAccountsFor(ledger, { entity: row.entity, currency: row.currency, kind }, scope.db);
      const posting: PostingInput = {
        entity: row.entity,
        kind: 'settlement',
        idempotencyKey: settlementKey(row),
        occurredAt: input.occurredAt,
        providerId: input.hash,
        metadata: { direction: row.direction },
        entries: postingRuleEntries(kind, accounts, ledger.parseAmount(row.amount, { field: 'amount', currency: row.currency })),
      };
      transactionId = (await scope.post(posting)).transaction.id;
    }
    await repository.updateInstruction(repository.withReconcileTables(scope.db), row.id, row.status, {
      status: 'confirmed',
      transaction_hash: input.hash,
      ledger_transaction_id: transactionId,
      updated_at: input.now,
    });
  });
}

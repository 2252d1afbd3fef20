/**
 * The lifecycle of settlement instructions: one per (entity, currency, day), issued pending when
 * a position settles; a pending one follows a restated figure, is held while its currency is
 * (a disputed figure, fees awaiting approval) and is cancelled when the day no longer settles; a
 * sent or confirmed one never changes (a restated figure then is a break); `to_provider` goes
 * pending → sent → confirmed, `from_provider` pending → confirmed. Confirming books the transfer
 * in the same transaction.
 */
import type { Kysely, Updateable } from 'kysely';
import { POSTING_RULES, assertInvariant, postingRuleEntries, formatUnits, toUnits } from '@earnbook/ledger';
import type { AccountKind, EntryInput, JournalTransaction, PostingRuleKind, Ledger, LedgerDatabase, PostingInput } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { breakDraft } from './diff.js';
import type { BreakDraft } from './diff.js';
import type { SettlementPosition } from './settlement.js';
import type { ReconcileDatabase, SettlementInstructionTable } from './db/schema.js';
import * as repository from './db/repository.js';
import type { InstructionRow } from './db/repository.js';

/** An on-chain transaction hash as the reconciler takes it: 8 to 200 letters, digits, ":", "_" or "-". */
export const TRANSACTION_HASH_PATTERN = /^[A-Za-z0-9:_-]{8,200}$/;
/** What {@link TRANSACTION_HASH_PATTERN} asks, for error messages. */
export const TRANSACTION_HASH_RULE = 'must be 8 to 200 letters, digits, ":", "_" or "-"';

/** Whether `value` is a transaction hash the reconciler takes. */
export function isTransactionHash(value: unknown): value is string {
  return typeof value === 'string' && TRANSACTION_HASH_PATTERN.test(value);
}

/** A settlement instruction. */
export interface SettlementInstruction {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly accountingDay: string;
  readonly direction: 'to_provider' | 'from_provider';
  readonly amount: string;
  readonly wallet: string | null;
  /** See {@link SettlementInstructionTable.status}: only `pending` can be sent (or, incoming, confirmed). */
  readonly status: 'pending' | 'held' | 'cancelled' | 'sent' | 'confirmed';
  /** Why it is held or cancelled; absent otherwise. */
  readonly statusReason?: string;
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
    ...(row.status_reason === null ? {} : { statusReason: row.status_reason }),
    transactionHash: row.transaction_hash,
    ledgerTransactionId: row.ledger_transaction_id,
  };
}

/** What a run says about its currency's instruction: the position, and why it is held if it is. */
export interface InstructInput {
  readonly entity: string;
  readonly day: string;
  readonly position: SettlementPosition;
  readonly wallet: string | null;
  /** Why the currency's settlement is held back (a disputed figure, fees awaiting approval); undefined if it is not. */
  readonly heldReason: string | undefined;
  /** The report version the run reconciles, for the reasons it writes. */
  readonly version: number;
  readonly now: string;
  /** Lock the instruction's row as it is read (the dialect's `supportsRowLocks`: PostgreSQL). */
  readonly rowLocks: boolean;
}

/** A position's settled amount as an instruction carries it: its units, direction and amount. */
function settledFigure(position: SettlementPosition): { settledUnits: bigint; direction: 'to_provider' | 'from_provider'; amount: string } {
  const settledUnits = toUnits(position.settled);
  return { settledUnits, direction: settledUnits < 0n ? 'to_provider' : 'from_provider', amount: formatUnits(settledUnits < 0n ? -settledUnits : settledUnits) };
}

/**
 * What becomes of an instruction a run may still change (pending, held or cancelled), as the
 * values to write, or undefined when it stays as it is:
 * - held back: a pending one becomes `held`, keeping the figure it was issued with (never pay a
 *   disputed figure, nor fees awaiting approval); a held one takes the new reason; a cancelled one
 *   stays cancelled (nothing to pay either way);
 * - nothing to settle (the outstanding balance is carried, or nets to zero): `cancelled`, keeping
 *   the figure it had, so that the same money is not paid while the position carries it forward;
 * - else `pending` with the run's figure (a held or cancelled one comes back).
 */
export function nextInstructionState(existing: InstructionRow, input: InstructInput): Updateable<SettlementInstructionTable> | undefined {
  const { position, version } = input;
  const { settledUnits, direction, amount } = settledFigure(position);
  if (input.heldReason !== undefined) {
    const reason = `held by report version ${version}: ${input.heldReason}`;
    if (existing.status === 'cancelled' || (existing.status === 'held' && existing.status_reason === reason)) return undefined;
    return { status: 'held', status_reason: reason };
  }
  if (settledUnits === 0n) {
    if (existing.status === 'cancelled') return undefined;
    const why = toUnits(position.outstanding) === 0n ? 'the outstanding balance nets to zero' : `the outstanding balance of ${position.outstanding} is carried to the next day (below the settlement threshold)`;
    return { status: 'cancelled', status_reason: `cancelled by report version ${version}: ${why}` };
  }
  if (existing.status === 'pending' && existing.direction === direction && toUnits(existing.amount) === toUnits(amount)) return undefined;
  return { status: 'pending', status_reason: null, direction, amount };
}

/**
 * Issues the day's instruction of a currency, or moves the one issued while a run may still
 * change it ({@link nextInstructionState}). A changed figure for an instruction already sent or
 * confirmed is returned as an `outstanding_balance_mismatch` (unless the currency is held: its
 * own break says so).
 */
export async function instruct(trx: Kysely<ReconcileDatabase>, input: InstructInput): Promise<BreakDraft | null> {
  const { entity, day, position, now } = input;
  const { settledUnits, direction, amount } = settledFigure(position);
  const existing = await repository.findInstructionOfDay(trx, { entity, currency: position.currency, day, forUpdate: input.rowLocks });
  if (existing === undefined) {
    if (settledUnits === 0n || input.heldReason !== undefined) return null;
    await repository.insertInstruction(trx, { entity, currency: position.currency, accounting_day: day, direction, amount, wallet: input.wallet, status: 'pending', status_reason: null, transaction_hash: null, ledger_transaction_id: null, created_at: now, updated_at: now });
    return null;
  }
  if (existing.status === 'pending' || existing.status === 'held' || existing.status === 'cancelled') {
    const next = nextInstructionState(existing, input);
    if (next !== undefined) {
      const updated = await repository.updateInstruction(trx, existing.id, existing.status, { ...next, updated_at: now });
      assertInvariant(updated, `instruction ${existing.id} changed status inside the day's transaction`);
    }
    return null;
  }
  if (input.heldReason !== undefined || (existing.direction === direction && toUnits(existing.amount) === toUnits(amount))) return null;
  return breakDraft('outstanding_balance_mismatch', {
    providerId: `instruction:${existing.id}`,
    currency: position.currency,
    expected: `${direction} ${amount}`,
    actual: `${existing.direction} ${formatUnits(toUnits(existing.amount))}`,
    details: { reason: `instruction ${existing.id} is already ${existing.status}; the restated figure needs a manual adjustment`, instructionId: existing.id },
  });
}

/** What {@link holdNextDayInstructions} did and found. */
export interface NextDayOutcome {
  /** The next day's pending instructions it held. */
  readonly held: number[];
  /**
   * One `outstanding_balance_mismatch` per next-day instruction already sent or confirmed with a
   * carried-in figure this run changed: that money has moved, so what this day settles may pay it
   * again. Its currency is held on this day too ({@link heldCurrencies}), until a person sorts it out.
   */
  readonly conflicts: BreakDraft[];
}

/**
 * Holds the next day's pending instructions of the currencies whose carried-out figure this run
 * of `day` changed: the next day, reconciled already, settled what it carried in then, so a
 * restatement of `day` that now settles (or carries) another figure would have both days pay the
 * same money (or lose it). Each stays held, unpayable, until a run of the next day issues it
 * again from the new figure (its `statusReason` says so). A sent or confirmed one cannot be held:
 * it is returned as a break of this day naming it ({@link NextDayOutcome.conflicts}), so that
 * this day's own instruction is not paid beside it in silence.
 */
export async function holdNextDayInstructions(
  trx: Kysely<ReconcileDatabase>,
  input: { entity: string; day: string; nextDay: string; positions: readonly SettlementPosition[]; version: number; now: string; rowLocks: boolean },
): Promise<NextDayOutcome> {
  const { entity, day, nextDay } = input;
  const carriedOut = new Map(input.positions.map((position) => [position.currency, toUnits(position.carriedOut)]));
  const held: number[] = [];
  const conflicts: BreakDraft[] = [];
  for (const row of await repository.selectPositionsOfDay(trx, { entity, day: nextDay })) {
    const out = carriedOut.get(row.currency) ?? 0n;
    const carriedIn = toUnits(row.carried_in);
    if (carriedIn === out) continue;
    const instruction = await repository.findInstructionOfDay(trx, { entity, currency: row.currency, day: nextDay, forUpdate: input.rowLocks });
    if (instruction?.status === 'sent' || instruction?.status === 'confirmed') {
      conflicts.push(nextDayConflict({ day, nextDay, instruction, out, carriedIn }));
      continue;
    }
    if (instruction?.status !== 'pending') continue;
    const reason = `held by report version ${input.version} of ${day}: ${day} now carries out ${formatUnits(out)} ${row.currency}, but ${nextDay} was reconciled with ${formatUnits(carriedIn)} carried in; reconcile ${nextDay} again`;
    const updated = await repository.updateInstruction(trx, instruction.id, 'pending', { status: 'held', status_reason: reason, updated_at: input.now });
    assertInvariant(updated, `instruction ${instruction.id} changed status inside the day's transaction`);
    held.push(instruction.id);
  }
  return { held, conflicts };
}

/** The break of `day` about the next day's sent or confirmed `instruction`, issued with `carriedIn` where `day` now carries out `out`. */
function nextDayConflict(input: { day: string; nextDay: string; instruction: InstructionRow; out: bigint; carriedIn: bigint }): BreakDraft {
  const { day, nextDay, instruction } = input;
  const moved = `${instruction.direction} ${formatUnits(toUnits(instruction.amount))}`;
  return breakDraft('outstanding_balance_mismatch', {
    providerId: `instruction:${instruction.id}`,
    currency: instruction.currency,
    expected: formatUnits(input.out),
    actual: formatUnits(input.carriedIn),
    details: {
      reason: `${day} now carries out ${formatUnits(input.out)} ${instruction.currency}, but instruction ${instruction.id} of ${nextDay} (${moved}) is already ${instruction.status} with ${formatUnits(input.carriedIn)} carried in from ${day}; ${day}'s settlement is held so that the same money is not paid twice: it needs a manual adjustment`,
      instructionId: instruction.id,
      nextDay,
      instructionStatus: instruction.status,
    },
  });
}

/**
 * The system accounts a booking kind posts to, opened inside `db` (a caller's transaction) if
 * needed. They are rows of that transaction: a caller must let a refusal that follows roll the
 * transaction back, never catch it and commit, or a currency never booked keeps accounts of a
 * posting that was refused. Both callers do (the day's sync rejects the whole report; confirming
 * an instruction throws out of its transaction); a caller that must commit past a refusal posts
 * with `Ledger.postWithSystemAccounts` instead, which opens them after a savepoint.
 */
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

/** Where a booking under an instruction's settlement key differs from the transfer the instruction settles. */
export interface SettlementDifference {
  /** The differing field: `kind`, `direction`, `currency`, `accountId`, `amount` or `transactionHash`. */
  readonly field: string;
  /** The booking's value. */
  readonly booked: string;
  /** The instruction's value. */
  readonly instruction: string;
}

/**
 * The first way `booked` (the transaction under the instruction's settlement key) differs from the
 * transfer that settles the instruction — a settlement of the instruction's direction, currency
 * and amount posting `entries`, with the transaction hash as provider id where one is stored — or
 * undefined when it is that transfer (pure). Its date is not compared: a retry may give another.
 */
export function settlementDifference(booked: JournalTransaction, expected: { row: InstructionRow; hash: string; entries: readonly EntryInput[] }): SettlementDifference | undefined {
  const { row } = expected;
  if (booked.kind !== 'settlement') return { field: 'kind', booked: booked.kind, instruction: 'settlement' };
  const direction = booked.metadata?.['direction'] ?? 'none';
  if (direction !== row.direction) return { field: 'direction', booked: direction, instruction: row.direction };
  const foreign = booked.entries.find((entry) => entry.currency !== row.currency);
  if (foreign !== undefined) return { field: 'currency', booked: foreign.currency, instruction: row.currency };
  const amount = formatUnits(toUnits(row.amount));
  if (booked.entries.length !== expected.entries.length) return { field: 'accountId', booked: `${booked.entries.length} entries`, instruction: `${expected.entries.length} entries` };
  for (const entry of expected.entries) {
    const same = booked.entries.find((candidate) => candidate.accountId === entry.accountId);
    if (same === undefined) return { field: 'accountId', booked: booked.entries.map((candidate) => candidate.accountId).join(','), instruction: expected.entries.map((candidate) => candidate.accountId).join(',') };
    if (same.side !== entry.side) return { field: 'direction', booked: `${same.side} on account ${same.accountId}`, instruction: `${entry.side} on account ${entry.accountId} (${row.direction})` };
    if (toUnits(same.amount) !== toUnits(entry.amount)) return { field: 'amount', booked: formatUnits(toUnits(same.amount)), instruction: amount };
  }
  if (booked.providerId !== null && booked.providerId !== expected.hash) return { field: 'transactionHash', booked: booked.providerId, instruction: expected.hash };
  return undefined;
}

/**
 * Books the transfer of an instruction and marks it confirmed, in one transaction; the same
 * posting as `EarnBooks.recordSettlement`, so a booking made before a crash is the same one.
 * `booked` is the transaction already booked under the instruction's key, if any (a retry after a
 * crash): then only the status is written, once the booking is checked to be this transfer (else
 * `idempotency_conflict` naming the differing field, with the booking's value, nothing written).
 */
export async function confirmWithin(ledger: Ledger, input: { row: InstructionRow; occurredAt: string | Date; hash: string; booked: JournalTransaction | undefined; now: string }): Promise<void> {
  const { row, booked } = input;
  await ledger.transact(async (scope) => {
    const db = repository.withReconcileTables(scope.db);
    // A run may have held, cancelled or restated it since it was read: then nothing is booked.
    const current = await repository.findInstruction(db, row.id);
    if (current === undefined || current.status !== row.status || current.direction !== row.direction || toUnits(current.amount) !== toUnits(row.amount)) {
      throw new ReconcileError('invalid_transition', `instruction ${row.id} changed while it was being confirmed (now ${current?.status ?? 'gone'}); read it again`, { field: 'instructionId', value: String(row.id) });
    }
    const kind = row.direction === 'to_provider' ? 'settlement_to_provider' : 'settlement_from_provider';
    const accounts = await systemAccountsFor(ledger, { entity: row.entity, currency: row.currency, kind }, scope.db);
    const entries = postingRuleEntries(kind, accounts, ledger.parseAmount(row.amount, { field: 'amount', currency: row.currency }));
    let transactionId: number;
    if (booked === undefined) {
      const posting: PostingInput = { entity: row.entity, kind: 'settlement', idempotencyKey: settlementKey(row), occurredAt: input.occurredAt, providerId: input.hash, metadata: { direction: row.direction }, entries };
      transactionId = (await scope.post(posting)).transaction.id;
    } else {
      const difference = settlementDifference(booked, { row, hash: input.hash, entries });
      if (difference !== undefined) {
        throw new ReconcileError(
          'idempotency_conflict',
          `instruction ${row.id} settles ${row.direction} ${formatUnits(toUnits(row.amount))} ${row.currency}, but its settlement key ${settlementKey(row)} already holds journal transaction ${booked.id} with ${difference.field} ${difference.booked}, not ${difference.instruction}; nothing was confirmed`,
          { field: difference.field, value: difference.booked },
        );
      }
      transactionId = booked.id;
    }
    const confirmed = await repository.updateInstruction(db, row.id, row.status, {
      status: 'confirmed',
      transaction_hash: input.hash,
      ledger_transaction_id: transactionId,
      updated_at: input.now,
    });
    if (!confirmed) throw new ReconcileError('invalid_transition', `instruction ${row.id} is no longer ${row.status}; read it again`, { field: 'instructionId', value: String(row.id) });
  });
}

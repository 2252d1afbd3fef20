/**
 * A booking recorded again under its provider booking id (split from `earn-books.ts`): checked
 * against the stored booking before anything is posted, naming the caller's field that differs.
 */
import type { Selectable } from 'kysely';
import { LedgerError } from './errors.js';
import { toUnits } from './money.js';
import type { EarnBookingTable } from './db/schema.js';

/** What a booking call asks for, as `#recordBooking` normalised it. */
export interface BookingAsked {
  readonly kind: 'deposit' | 'withdrawal';
  readonly providerBookingId: string;
  readonly earnAccountId: string;
  readonly amount: string;
  readonly occurredAt: string;
  /** JSON text. */
  readonly providerData: string;
}

/** JSON text with every object's keys sorted, so that two renderings of one value compare equal. */
function canonicalJson(text: string): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])]));
  };
  return JSON.stringify(sorted(JSON.parse(text)));
}

/**
 * Refuses a booking whose provider booking id is stored as another booking, before it is posted:
 * as the other kind (`duplicate_provider_id`: a deposit's id given to a withdrawal was posted,
 * then its booking row refused by the table's key with a raw driver error, and a caller that
 * caught it inside `transact` committed the posting without its booking), or with another Earn
 * account, amount, instant or provider data (`idempotency_conflict` naming that field: another
 * `providerData` was answered `exists` and dropped). The same booking again passes: its posting
 * answers `exists`.
 */
export function checkBookingRepeat(stored: Selectable<EarnBookingTable>, asked: BookingAsked): void {
  const id = asked.providerBookingId;
  if (stored.kind !== asked.kind) {
    throw new LedgerError('duplicate_provider_id', `providerBookingId ${id} is booked already as a ${stored.kind} (transaction ${stored.transaction_id}), not a ${asked.kind}`, { field: 'providerBookingId', value: id });
  }
  const differing =
    stored.earn_account_id !== asked.earnAccountId ? 'earnAccountId'
    : toUnits(stored.amount) !== toUnits(asked.amount) ? 'amount'
    : stored.occurred_at !== asked.occurredAt ? 'occurredAt'
    : canonicalJson(stored.provider_data) !== canonicalJson(asked.providerData) ? 'providerData'
    : undefined;
  if (differing === undefined) return;
  throw new LedgerError('idempotency_conflict', `providerBookingId ${id} was booked (transaction ${stored.transaction_id}) with a different ${differing}`, {
    field: differing,
    value: id,
    context: { differingField: differing, transactionId: String(stored.transaction_id) },
  });
}

/** The booking's name of a posting field an `idempotency_conflict` names, or undefined for one named alike. */
function bookingField(postingField: string | undefined): string | undefined {
  if (postingField === 'providerId') return 'providerBookingId';
  if (postingField?.endsWith('.accountId') === true) return 'earnAccountId';
  if (postingField?.endsWith('.amount') === true) return 'amount';
  return undefined;
}

/**
 * A booking refused by its posting, in the booking's words: the ledger names the posting's fields
 * (`providerId`, `entries[1].accountId`, `entries[0].amount`), the booking's caller gave
 * `providerBookingId`, `earnAccountId` and `amount`. A booking id booked under another key is
 * `duplicate_provider_id` naming `providerBookingId`; a key used before for another posting an
 * `idempotency_conflict` naming `idempotencyKey`, its `differingField` the caller's. The message
 * is made from the error's fields and context; the ledger's error is its `cause`. Any other error
 * is returned as it is.
 */
export function bookingKeyConflict(error: unknown): unknown {
  if (!(error instanceof LedgerError)) return error;
  const transactionId = error.context?.['transactionId'];
  if (error.code === 'duplicate_provider_id' && error.field === 'providerId') {
    const where = transactionId === undefined ? '' : ` (transaction ${transactionId})`;
    return new LedgerError('duplicate_provider_id', `providerBookingId ${error.value ?? ''} is already booked${where} under another idempotency key`, {
      field: 'providerBookingId',
      ...(error.value === undefined ? {} : { value: error.value }),
      ...(error.context === undefined ? {} : { context: error.context }),
      cause: error,
    });
  }
  if (error.code !== 'idempotency_conflict' || error.field !== 'idempotencyKey') return error;
  const differing = bookingField(error.context?.['differingField']);
  if (differing === undefined) return error;
  const where = transactionId === undefined ? 'another posting' : `transaction ${transactionId}`;
  return new LedgerError('idempotency_conflict', `idempotencyKey ${error.value ?? ''} was used for ${where} with a different ${differing}`, {
    field: 'idempotencyKey',
    ...(error.value === undefined ? {} : { value: error.value }),
    context: { ...error.context, differingField: differing },
    cause: error,
  });
}

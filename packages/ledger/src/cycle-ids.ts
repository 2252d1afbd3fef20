/**
 * The ids the accounting cycle books under: provider-style entry ids for its interest lines (in
 * ledger account order, so the journal's provider-id indexes grow at their end) and the
 * idempotency keys of a day's interest and margin.
 */
import { createHash } from 'node:crypto';
import { LedgerError, describeValue } from './errors.js';
import { parseEpochDay } from './calendar.js';

/** A deterministic provider-style id (UUID layout) for a locally booked entry. */
export function localEntryId(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Hex digits of the ledger account id in a cycle entry id: 40 bits. */
const CYCLE_ENTRY_ACCOUNT_HEX = 10;

/** The greatest ledger account id a cycle entry id holds (40 bits): a day's ids end with its. */
export const CYCLE_ENTRY_ACCOUNT_MAX = 2 ** (4 * CYCLE_ENTRY_ACCOUNT_HEX) - 1;

/**
 * The provider-style id of an account's interest line for a day (UUID layout, version 8:
 * RFC 9562's custom layout): the day (days since 1970) in the first group, the ledger account
 * id in the next 40 bits, the last group zero (reserved). Ids of one day sort in ledger account
 * order, and a later day's after an earlier's: the cycle writes its lines in that order, so the
 * journal's provider-id indexes grow at their end. Random ids (`localEntryId`, as the cycle used
 * before) land on a random index page each: at 1M accounts the cycle took 122 s with them and
 * 57 s with these (`bench/interest-cycle.ts`, same day, same machine). Unique per database: a
 * ledger account belongs to one entity.
 */
export function cycleInterestEntryId(day: string, ledgerAccountId: number): string {
  return cycleEntryIdOfDay(day)(ledgerAccountId);
}

/** {@link cycleInterestEntryId} of one day, the day parsed once. */
export function cycleEntryIdOfDay(day: string): (ledgerAccountId: number) => string {
  const prefix = parseEpochDay(day, 'day').toString(16).padStart(8, '0');
  return (ledgerAccountId) => {
    if (!Number.isSafeInteger(ledgerAccountId) || ledgerAccountId < 1 || ledgerAccountId > CYCLE_ENTRY_ACCOUNT_MAX) {
      throw new LedgerError('invalid_input', `ledgerAccountId must be an integer from 1 to 2^40 - 1, got ${describeValue(ledgerAccountId)}`, { field: 'ledgerAccountId', value: describeValue(ledgerAccountId) });
    }
    const account = ledgerAccountId.toString(16).padStart(CYCLE_ENTRY_ACCOUNT_HEX, '0');
    return `${prefix}-${account.slice(0, 4)}-8${account.slice(4, 7)}-8${account.slice(7, 10)}-000000000000`;
  };
}

/** The idempotency key of an account's interest for a day. */
export function interestKey(entity: string, day: string, earnAccountId: string): string {
  return `cycle:interest:${entity}:${day}:${earnAccountId}`;
}

/** The idempotency key of a currency's partner margin for a day. */
export function marginKey(entity: string, day: string, currency: string): string {
  return `cycle:margin:${entity}:${day}:${currency}`;
}

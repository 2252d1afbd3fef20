/**
 * One range of instants from parse to storage: `parseInstant` refuses what `formatInstant` and
 * `accountingDayOf` refuse (years 0000 to 9999 UTC only). It read `9999-12-31T23:00:00-08:00` as
 * an instant of year 10000 that no posting could store, so a posting there failed later, naming
 * `instant` and the `+010000-…` form instead of the caller's field and text (review h4).
 */
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerError, parseInstant } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

function refusal(action: () => unknown): LedgerError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    return error as LedgerError;
  }
  throw new Error('expected a LedgerError');
}

describe('parseInstant reads only the instants the ledger can store', () => {
  it('refuses texts and Dates of year 10000 or year -1 UTC, naming the field and the value given', () => {
    const texts = [
      '9999-12-31T23:00:00-08:00',
      '9999-12-31T16:00-08',
      '9999-12-31 23:59:59.999-00:01',
      '0000-01-01T00:00:00+01:00',
      '0000-01-01T00:00+05:30',
    ];
    for (const text of texts) {
      const error = refusal(() => parseInstant(text, 'occurredAt'));
      expect(error, text).toMatchObject({ code: 'invalid_instant', field: 'occurredAt', value: JSON.stringify(text) });
    }
    for (const date of [new Date(Date.UTC(10_000, 0, 1)), new Date(Date.parse('-000001-12-31T23:59:59.999Z'))]) {
      expect(refusal(() => parseInstant(date, 'at'))).toMatchObject({ code: 'invalid_instant', field: 'at', value: JSON.stringify(date.toISOString()) });
    }
  });

  it('still reads the first and last instants of the range, in any offset', () => {
    expect(parseInstant('9999-12-31T23:59:59.999Z').toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parseInstant('9999-12-31T15:59:59.999-08:00').toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parseInstant('0000-01-01T00:00:00.000Z').toISOString()).toBe('0000-01-01T00:00:00.000Z');
    expect(parseInstant('0000-01-01T00:00:00-01:00').toISOString()).toBe('0000-01-01T01:00:00.000Z');
    expect(parseInstant(new Date(Date.UTC(10_000, 0, 1) - 1)).toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });
});

describe.each(DIALECTS)('a posting at an instant of year 10000 on %s', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  it('is refused naming occurredAt and the text given, and writes nothing (post, postLines, reverse)', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'e', timeZone: 'America/Los_Angeles' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'e', currency: 'BTC', code: 'user:a', kind: 'user' });
    const funds = await ledger.systemAccount('e', 'BTC', 'customer_funds');
    const assets = await ledger.systemAccount('e', 'BTC', 'earn_assets');
    const booked = await ledger.post({ entity: 'e', kind: 'deposit', idempotencyKey: 'first', occurredAt: '2025-03-18T10:00:00Z', entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const late = '9999-12-31T23:00:00-08:00';
    const attempts: [string, () => Promise<unknown>][] = [
      ['post', () => ledger.post({ entity: 'e', kind: 'deposit', idempotencyKey: 'late', occurredAt: late, entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] })],
      ['postMany', () => ledger.postMany([{ entity: 'e', kind: 'deposit', idempotencyKey: 'late-many', occurredAt: late, entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] }])],
      ['postLines', () => ledger.postLines({ entity: 'e', kind: 'interest', occurredAt: late, side: 'credit', contraAccountId: assets.id, lines: [{ accountId: user.id, amount: '1', providerId: 'p-late' }] })],
      ['reverse', () => ledger.reverse({ entity: 'e', transactionId: booked.transaction.id, idempotencyKey: 'late-reversal', occurredAt: late })],
    ];
    for (const [name, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, name).toBeInstanceOf(LedgerError);
      expect(error, name).toMatchObject({ code: 'invalid_instant', field: 'occurredAt', value: JSON.stringify(late) });
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    await ledger.verify({ entity: 'e' });
  });
});

/**
 * The last accounting day, 9999-12-31, in a zone west of UTC: its late hours are instants of year
 * 10000 UTC, which the ledger could store only as `+010000-…` (text no instant parser reads).
 * A posting there is refused, naming `occurredAt` and its text, and nothing is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerError, parseInstant } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

describe.each(DIALECTS)('the end of 9999-12-31 west of UTC on %s', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  it('refuses a posting in year 10000 UTC and books the last hours of year 9999', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'e', timeZone: 'America/Los_Angeles' }] });
    close = opened.close;
    const ledger: Ledger = opened.ledger;
    const user = await ledger.openAccount({ entity: 'e', currency: 'BTC', code: 'user:a', kind: 'user' });
    const funds = await ledger.systemAccount('e', 'BTC', 'customer_funds');
    const deposit = (idempotencyKey: string, occurredAt: string) =>
      ledger.post({ entity: 'e', kind: 'deposit', idempotencyKey, occurredAt, entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });

    const refused = await deposit('late', '9999-12-31T23:00:00-08:00').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LedgerError);
    // Refused where the text is read, naming the caller's field and text (review h4; it named `instant` and `+010000-…`).
    expect(refused).toMatchObject({ code: 'invalid_instant', field: 'occurredAt', value: '"9999-12-31T23:00:00-08:00"' });
    expect(await ledger.balance(user.id)).toBe('0.000000000000000000');

    const booked = await deposit('last', '9999-12-31T15:59:59.999-08:00');
    expect(booked.transaction).toMatchObject({ occurredAt: '9999-12-31T23:59:59.999Z', accountingDay: '9999-12-31' });
    expect(parseInstant(booked.transaction.occurredAt).toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(await ledger.balanceAtEndOfDay(user.id, '9999-12-31')).toBe('1.000000000000000000');
    await ledger.verify({ entity: 'e' });
  });
});

/**
 * `verify()` checks every end-of-day row of an account's own series against its entries up to
 * that day, as it checked every shard's; it checked only the latest own row, so a wrong earlier
 * row (which `balanceAtEndOfDay` answers) passed (found in review, session 22).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LedgerInvariantError } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

describe.each(DIALECTS)('verify() and the own end-of-day rows (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  it('finds a tampered earlier end-of-day row of a user account', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    for (const [key, day] of [['a', '2025-03-17'], ['b', '2025-03-18']] as const) {
      await ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: key, occurredAt: `${day}T09:00:00Z`, entries: [
        { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    }
    await ledger.verify({ entity: 'defi' });
    await sql`update account_day_balances set balance = 100 where account_id = ${user.id} and accounting_day = '2025-03-17'`.execute(ledger.db);
    const shown = await ledger.balanceAtEndOfDay(user.id, '2025-03-17');
    const verdict = await ledger.verify({ entity: 'defi' }).then(() => 'passed', (error: unknown) => (error instanceof LedgerInvariantError ? 'invariant error' : String(error)));
    expect({ shown, verdict }).toEqual({ shown: expect.stringMatching(/^100/), verdict: 'invariant error' });
  });

  it('finds a missing earlier end-of-day row, and one on a day without entries', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    for (const [key, day] of [['a', '2025-03-16'], ['b', '2025-03-18']] as const) {
      await ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: key, occurredAt: `${day}T09:00:00Z`, entries: [
        { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    }
    const verdict = () => ledger.verify({ entity: 'defi' }).then(() => 'passed', (error: unknown) => (error instanceof LedgerInvariantError ? 'invariant error' : String(error)));
    expect(await verdict()).toBe('passed');
    await sql`insert into account_day_balances (account_id, accounting_day, balance) values (${user.id}, '2025-03-17', 1)`.execute(ledger.db);
    expect(await verdict()).toBe('invariant error');
    await sql`delete from account_day_balances where account_id = ${user.id} and accounting_day <= '2025-03-17'`.execute(ledger.db);
    expect(await verdict()).toBe('invariant error');
  });

  it('finds an account whose last day is not its latest end-of-day row', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    await ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'a', occurredAt: '2025-03-17T09:00:00Z', entries: [
      { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    await ledger.verify({ entity: 'defi' });
    await sql`update ledger_accounts set last_day = '2025-03-19' where id = ${user.id}`.execute(ledger.db);
    await expect(ledger.verify({ entity: 'defi' })).rejects.toThrow(/latest day row 2025-03-17 is not its last day 2025-03-19/);
  });
});

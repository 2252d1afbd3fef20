/**
 * Inputs of the wrong shape are typed refusals naming the field, and write nothing (found in
 * review, h2): `reverse(null)` was a TypeError, and `scope.postMany(null)` inside `transact` a
 * TypeError that also marked the scope as partly written, so it rolled back. `history(id, null)`
 * (review h4) read `null.limit`: a TypeError.
 */
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/index.js';
import type { ReverseInput } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T09:00:00Z';

describe.each(DIALECTS)('inputs of the wrong shape (%s)', (dialect) => {
  async function books() {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const user = await opened.ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
    const funds = await opened.ledger.systemAccount('defi', 'BTC', 'customer_funds');
    return { ...opened, user, funds };
  }

  it('reverse(null), reverse(undefined), reverse(a string): invalid_input naming input, nothing written', async () => {
    const { ledger, close } = await books();
    try {
      const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
      for (const input of [null, undefined, 'r1']) {
        const error = await ledger.reverse(input as unknown as ReverseInput).then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(LedgerError);
        expect(error).toMatchObject({ code: 'invalid_input', field: 'input' });
        expect((error as LedgerError).value).toBeDefined();
      }
      expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    } finally {
      await close();
    }
  });

  it('postMany(null) and scope.postMany(null): invalid_input naming inputs; the scope goes on and commits', async () => {
    const { ledger, close, user, funds } = await books();
    try {
      const top = await ledger.postMany(null as never).then(() => undefined, (caught: unknown) => caught);
      expect(top).toMatchObject({ name: 'LedgerError', code: 'invalid_input', field: 'inputs', value: 'null' });
      let refusal: unknown;
      const result = await ledger.transact(async (scope) => {
        refusal = await scope.postMany(null as never).then(() => undefined, (caught: unknown) => caught);
        // A refused posting wrote nothing: the scope may go on.
        return scope.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'after', occurredAt: AT, entries: [
          { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
      });
      expect(refusal).toBeInstanceOf(LedgerError);
      expect(refusal).toMatchObject({ code: 'invalid_input', field: 'inputs', value: 'null' });
      expect(result.status).toBe('created');
      expect(await ledger.balance(user.id)).toBe('1.000000000000000000');
      await ledger.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  });

  it('history(id, null) and other non-object options: invalid_input naming options, nothing written', async () => {
    const { ledger, close, user } = await books();
    try {
      const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
      for (const options of [null, 'desc', 50, ['limit']]) {
        const error = await ledger.history(user.id, options as never).then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(LedgerError);
        expect(error).toMatchObject({ code: 'invalid_input', field: 'options' });
        expect((error as LedgerError).value).toBe(JSON.stringify(options));
      }
      expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
      // Absent options still take the defaults.
      expect((await ledger.history(user.id, undefined)).items).toEqual([]);
      expect((await ledger.history(user.id)).nextCursor).toBeNull();
    } finally {
      await close();
    }
  });
});

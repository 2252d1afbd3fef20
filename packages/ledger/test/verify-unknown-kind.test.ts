/**
 * An account row of a kind the chart does not know (written behind the ledger's back: the
 * identity triggers refuse an update of `kind`, not an insert) makes the books inconsistent:
 * verify() answers it as a broken invariant naming the account, not as a TypeError.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LedgerInvariantError } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

describe.each(DIALECTS)('verify() and an account of an unknown kind on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] }));
  });
  afterEach(async () => close());

  it('is a broken invariant naming the account and its kind', async () => {
    await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    await sql`insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, last_day, entry_count, created_at) values ('defi', 'BTC', 'odd', 'bogus', 'credit', '0.000000000000000000', null, 0, '2025-03-18T00:00:00.000Z')`.execute(ledger.db);
    const { id } = await ledger.db.selectFrom('ledger_accounts').select('id').where('code', '=', 'odd').executeTakeFirstOrThrow();
    for (const options of [{ entity: 'defi' }, { allEntities: true as const }]) {
      const error = await ledger.verify(options).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(LedgerInvariantError);
      expect((error as Error).message).toBe(`account ${id} has unknown kind bogus`);
    }
  });
});

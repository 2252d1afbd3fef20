/**
 * verify()'s transaction check: every stored transaction has entries and balances per currency,
 * an entity's check reads that entity's transactions only (its own span of ids, its own entries),
 * and a transaction broken behind the ledger's back (the journal refuses updates and deletes, not
 * inserts) is a broken invariant naming it, in its entity's check and in the whole books' check.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LedgerInvariantError } from '../src/index.js';
import type { Ledger, LedgerAccount } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

describe.each(DIALECTS)('verify() and the transactions of two entities on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  const users = new Map<string, LedgerAccount>();
  const funds = new Map<string, LedgerAccount>();

  beforeEach(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] }));
    for (const entity of ['defi', 'lending']) {
      funds.set(entity, await ledger.systemAccount(entity, 'BTC', 'customer_funds'));
      users.set(entity, await ledger.openAccount({ entity, currency: 'BTC', code: 'user:a1', kind: 'user' }));
    }
    // Interleaved: each entity's span of ids holds the other's transactions too.
    for (let index = 0; index < 6; index++) {
      for (const entity of ['defi', 'lending']) {
        await ledger.post({
          entity,
          kind: 'deposit',
          idempotencyKey: `dep-${index}`,
          occurredAt: '2025-03-18T10:00:00Z',
          entries: [
            { accountId: funds.get(entity)?.id ?? 0, side: 'debit', amount: '1' },
            { accountId: users.get(entity)?.id ?? 0, side: 'credit', amount: '1' },
          ],
        });
      }
    }
  });
  afterEach(async () => close());

  const verdict = (options: { entity: string } | { allEntities: true }) =>
    ledger.verify(options).then(
      (report) => report,
      (caught: unknown) => {
        expect(caught).toBeInstanceOf(LedgerInvariantError);
        return (caught as Error).message;
      },
    );

  async function transactionOf(entity: string, key: string): Promise<number> {
    const row = await ledger.db.selectFrom('journal_transactions').select('id').where('entity', '=', entity).where('idempotency_key', '=', key).executeTakeFirstOrThrow();
    return Number(row.id);
  }

  it('counts each entity its own transactions', async () => {
    for (const entity of ['defi', 'lending']) expect(await verdict({ entity })).toEqual({ accounts: 2, transactions: 6, entries: 12 });
    expect(await verdict({ allEntities: true })).toEqual({ accounts: 4, transactions: 12, entries: 24 });
  });

  it('names a transaction that does not balance, in its own entity only', async () => {
    const id = await transactionOf('lending', 'dep-3');
    const user = users.get('lending')?.id ?? 0;
    await sql`insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id) values (${id}, 'lending', ${user}, 'BTC', ${'-0.500000000000000000'}, ${'0.500000000000000000'}, '2025-03-18', null)`.execute(ledger.db);
    expect(await verdict({ entity: 'defi' })).toEqual({ accounts: 2, transactions: 6, entries: 12 });
    expect(await verdict({ entity: 'lending' })).toMatch(new RegExp(`^transaction ${id} does not balance in BTC: -0\\.5`));
    expect(await verdict({ allEntities: true })).toMatch(new RegExp(`^transaction ${id} does not balance in BTC: -0\\.5`));
  });

  it('names a stored transaction without entries, in its own entity only', async () => {
    await sql`insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at) values ('defi', 'deposit', 'bare', 'x', '2025-03-18T10:00:00.000Z', '2025-03-18', null, null, null, '{}', '2025-03-18T10:00:00.000Z')`.execute(ledger.db);
    expect(await verdict({ entity: 'lending' })).toEqual({ accounts: 2, transactions: 6, entries: 12 });
    expect(await verdict({ entity: 'defi' })).toBe('7 transactions are stored but 6 have entries');
    expect(await verdict({ allEntities: true })).toBe('13 transactions are stored but 12 have entries');
  });

  // Another entity's entries under a transaction: its own entity's check sees its own entries
  // balance; the other's sees entries of a transaction it does not store, inside its span of ids
  // as a count, and wherever the transaction is through its accounts' sums.
  for (const { key, where, expected } of [
    { key: 'dep-5', where: 'inside', expected: () => '6 transactions are stored but 7 have entries' },
    // lending's customer_funds (its lowest account id) is read first: it stores -6, its entries now sum to -8.
    { key: 'dep-0', where: 'before', expected: () => `account ${funds.get('lending')?.id} stores -6.000000000000000000 but its entries sum to -8.000000000000000000` },
  ]) {
    it(`finds another entity's entries under a transaction ${where} that entity's span of ids`, async () => {
      const id = await transactionOf('defi', key);
      const lendingUser = users.get('lending')?.id ?? 0;
      const lendingFunds = funds.get('lending')?.id ?? 0;
      await sql`insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id) values (${id}, 'lending', ${lendingFunds}, 'BTC', ${'2.000000000000000000'}, ${'0'}, '2025-03-18', null), (${id}, 'lending', ${lendingUser}, 'BTC', ${'-2.000000000000000000'}, ${'0'}, '2025-03-18', null)`.execute(ledger.db);
      expect(await verdict({ entity: 'defi' })).toEqual({ accounts: 2, transactions: 6, entries: 12 });
      expect(await verdict({ entity: 'lending' })).toBe(expected());
      expect(await verdict({ allEntities: true })).toMatch(/does not balance|are stored but|stores/);
    });
  }
});

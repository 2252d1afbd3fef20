import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { CACHED_USER_ACCOUNTS_MAX } from '../src/index.js';
import type { Ledger, LedgerAccount, PostingScope } from '../src/index.js';
import { AccountDirectory } from '../src/accounts.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

class Rollback extends Error {}

/** Runs `work` in a ledger transaction that then rolls back. */
async function rolledBack(ledger: Ledger, work: (db: PostingScope['db']) => Promise<unknown>): Promise<void> {
  await expect(
    ledger.transact(async (scope) => {
      await work(scope.db);
      throw new Rollback('roll back');
    }),
  ).rejects.toBeInstanceOf(Rollback);
}

/** The stored account row of an id, read past the ledger's cache. */
async function storedAccount(ledger: Ledger, id: number): Promise<{ entity: string; currency: string; code: string } | undefined> {
  return ledger.db.selectFrom('ledger_accounts').select(['entity', 'currency', 'code']).where('id', '=', id).executeTakeFirst();
}

describe.each(DIALECTS)('account cache on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let funds: LedgerAccount;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
  });
  afterEach(async () => close());

  const deposit = (user: number, key: string) => ({
    entity: 'defi',
    kind: 'deposit' as const,
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit' as const, amount: '1' },
      { accountId: user, side: 'credit' as const, amount: '1' },
    ],
  });

  it('forgets a user account opened in a transaction that rolls back', async () => {
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    let phantom: LedgerAccount | undefined;
    await rolledBack(ledger, async (db) => {
      phantom = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' }, db);
      expect(await ledger.account(phantom.id, db)).toEqual(phantom);
    });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    expect(await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1' })).toBeUndefined();
    await expect(ledger.account(phantom?.id ?? 0)).rejects.toMatchObject({ code: 'unknown_account' });

    // Another account opened meanwhile may take the rolled-back id (SQLite does).
    const other = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:b2', kind: 'user' });
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    expect(await storedAccount(ledger, user.id)).toEqual({ entity: 'defi', currency: 'BTC', code: 'user:a1' });
    expect(user.id).not.toBe(other.id);
    expect((await ledger.post(deposit(user.id, 'd1'))).status).toBe('created');
    expect(await ledger.balance(user.id)).toBe('1.000000000000000000');
    expect(await ledger.balance(other.id)).toBe('0.000000000000000000');
  });

  it('forgets system accounts opened in a transaction that rolls back', async () => {
    const user = await ledger.openAccount({ entity: 'defi', currency: 'ETH', code: 'user:a1', kind: 'user' });
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    await rolledBack(ledger, async (db) => {
      await ledger.systemAccountIds('defi', 'ETH', db);
    });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    expect(await ledger.findAccount({ entity: 'defi', currency: 'ETH', code: 'customer_funds' })).toBeUndefined();

    const ids = await ledger.systemAccountIds('defi', 'ETH');
    for (const [kind, id] of Object.entries(ids)) expect(await storedAccount(ledger, id)).toEqual({ entity: 'defi', currency: 'ETH', code: kind });
    const result = await ledger.post({
      entity: 'defi',
      kind: 'deposit',
      idempotencyKey: 'd1',
      occurredAt: '2025-03-18T10:00:00Z',
      entries: [
        { accountId: ids.customer_funds, side: 'debit', amount: '2' },
        { accountId: user.id, side: 'credit', amount: '2' },
      ],
    });
    expect(result.status).toBe('created');
    expect(await ledger.balance(user.id)).toBe('2.000000000000000000');
    expect((await ledger.verify({ entity: 'defi' })).transactions).toBe(1);
  });

  it('forgets an account opened in a transaction that a refused posting rolls back', async () => {
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    await expect(
      ledger.transact(async (scope) => {
        const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' }, scope.db);
        await scope.post(deposit(user.id, 'd1'));
        await scope.post({ ...deposit(user.id, 'd2'), entries: [deposit(user.id, 'd2').entries[0]!, { accountId: 999_999, side: 'credit', amount: '1' }] });
      }),
    ).rejects.toMatchObject({ code: 'unknown_account' });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    expect(await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1' })).toBeUndefined();
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    expect((await ledger.post(deposit(user.id, 'd1'))).status).toBe('created');
  });

  it('does not remember an account opened in a transaction the ledger did not start', async () => {
    await expect(
      ledger.db.transaction().execute(async (trx) => {
        await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' }, trx);
        throw new Rollback('roll back');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    const other = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:b2', kind: 'user' });
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    expect(user.id).not.toBe(other.id);
    expect(await storedAccount(ledger, user.id)).toEqual({ entity: 'defi', currency: 'BTC', code: 'user:a1' });
  });

  it('keeps at most its bound of committed user accounts, the first remembered forgotten first, and every system account', async () => {
    const directory = new AccountDirectory({ db: ledger.db, now: () => new Date('2025-03-18T00:00:00Z'), cachedUserAccountsMax: 3 });
    const system = await directory.open(ledger.db, { entity: 'defi', currency: 'ETH', code: 'customer_funds', kind: 'customer_funds' });
    const users: LedgerAccount[] = [];
    for (let index = 0; index < 5; index++) users.push(await directory.open(ledger.db, { entity: 'defi', currency: 'ETH', code: `user:u${index}`, kind: 'user' }));
    const settlement = await directory.open(ledger.db, { entity: 'defi', currency: 'ETH', code: 'settlement', kind: 'settlement' });
    expect(users.map((user) => directory.cached(ledger.db, user.id) !== undefined)).toEqual([false, false, true, true, true]);
    expect(directory.cached(ledger.db, system.id)).toBe(system);
    expect(directory.cached(ledger.db, settlement.id)).toBe(settlement);
    expect(directory.knownSystemAccounts(ledger.db, 'defi', 'ETH').ids).toEqual({ customer_funds: system.id, settlement: settlement.id });
    // A forgotten account is read again from the books, the same account; opening it again finds it.
    expect(await directory.byId(ledger.db, users[0]!.id)).toEqual(users[0]);
    expect(await directory.open(ledger.db, { entity: 'defi', currency: 'ETH', code: 'user:u1', kind: 'user' })).toEqual(users[1]);
    // Reading them back remembered them again, and forgot the then first ones.
    expect(users.map((user) => directory.cached(ledger.db, user.id) !== undefined)).toEqual([true, true, false, false, true]);
    expect(await storedAccount(ledger, users[2]!.id)).toEqual({ entity: 'defi', currency: 'ETH', code: 'user:u2' });
  });

  it(`keeps ${CACHED_USER_ACCOUNTS_MAX} committed user accounts by default`, () => {
    const directory = new AccountDirectory({ db: ledger.db, now: () => new Date() });
    const account = (id: number): LedgerAccount => ({ id, entity: 'defi', currency: 'BTC', code: `user:c${id}`, kind: 'user', normalSide: 'credit' });
    for (let id = 1; id <= CACHED_USER_ACCOUNTS_MAX + 2; id++) directory.remember(ledger.db, account(id));
    expect([1, 2, 3, CACHED_USER_ACCOUNTS_MAX + 2].map((id) => directory.cached(ledger.db, id)?.code)).toEqual([undefined, undefined, 'user:c3', `user:c${CACHED_USER_ACCOUNTS_MAX + 2}`]);
  });

  it('remembers accounts opened in a transaction that commits', async () => {
    const opened = await ledger.transact(async (scope) => ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' }, scope.db));
    expect(await storedAccount(ledger, opened.id)).toEqual({ entity: 'defi', currency: 'BTC', code: 'user:a1' });
    expect(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' })).toEqual(opened);
    expect((await ledger.post(deposit(opened.id, 'd1'))).status).toBe('created');
  });
});

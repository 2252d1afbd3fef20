/**
 * Amounts have at most 24 whole digits, and so must every sum the books store: a balance (of a
 * user, a system or contra account, or a balance shard on PostgreSQL), a day's closing balance, an
 * entry's running balance, the contra entry of a compound posting. A posting that would store a
 * larger one is refused with `limit_exceeded` before anything is written; what is stored stays
 * readable by balance(), history(), verify() and later postings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { LedgerError } from '../src/index.js';
import type { Ledger, LedgerAccount, LinesInput, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { holdTransaction } from './support/hold.js';
import { snapshotDatabase } from './support/snapshot.js';

/** The largest amount: 24 whole digits. */
const BIG = '999999999999999999999999';
/** The largest storable balance. */
const MAX = '999999999999999999999999.999999999999999999';

async function expectLimit(promise: Promise<unknown>, field: string, value?: string): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect([(error as LedgerError).code, (error as LedgerError).field]).toEqual(['limit_exceeded', field]);
  if (value !== undefined) expect((error as LedgerError).value).toBe(value);
  return error as LedgerError;
}

describe.each(DIALECTS)('the storable bound of balances on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let users: LedgerAccount[];
  let funds: LedgerAccount;
  let earnAssets: LedgerAccount;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    users = [];
    for (const code of ['user:a', 'user:b', 'user:holder', 'user:c']) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code, kind: 'user' }));
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
  });
  afterEach(async () => close());

  const user = (index: number): LedgerAccount => {
    const account = users[index];
    if (account === undefined) throw new Error(`no user ${index}`);
    return account;
  };
  const dep = (key: string, amount: string, to = 0, occurredAt = '2025-03-18T10:00:00Z'): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt,
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: user(to).id, side: 'credit', amount },
    ],
  });
  const withdraw = (key: string, amount: string, from: number, occurredAt: string): PostingInput => ({
    entity: 'defi',
    kind: 'withdrawal',
    idempotencyKey: key,
    occurredAt,
    entries: [
      { accountId: user(from).id, side: 'debit', amount },
      { accountId: funds.id, side: 'credit', amount },
    ],
  });
  const interest = (lines: LinesInput['lines'], occurredAt = '2025-03-19T00:00:00Z'): LinesInput => ({ entity: 'defi', kind: 'interest', occurredAt, side: 'credit', contraAccountId: earnAssets.id, lines });
  const snapshot = async () => snapshotDatabase(ledger.db as Kysely<unknown>);

  /** Every read a stored balance goes through still parses it. */
  async function expectReadable(): Promise<void> {
    for (const account of [...users, funds, earnAssets]) {
      await ledger.balance(account.id);
      await ledger.balanceAtEndOfDay(account.id, '2025-03-20');
      await ledger.history(account.id);
    }
    await ledger.verify({ entity: 'defi' });
  }

  it('refuses compound lines whose sums pass the bound: a user, the contra entry, the contra account', async () => {
    const before = await snapshot();
    const sameUser = await expectLimit(
      ledger.postLines(interest([{ accountId: user(0).id, amount: BIG, providerId: 'p-0' }, { accountId: user(0).id, amount: BIG, providerId: 'p-1' }])),
      'lines',
      '1999999999999999999999998.000000000000000000',
    );
    expect(sameUser.context).toEqual({ accountId: String(user(0).id), currency: 'BTC', line: '1' });
    const contraEntry = await expectLimit(ledger.postLines(interest([{ accountId: user(0).id, amount: BIG, providerId: 'p-0' }, { accountId: user(1).id, amount: BIG, providerId: 'p-1' }])), 'lines');
    expect(contraEntry.context).toEqual({ accountId: String(earnAssets.id), currency: 'BTC' });
    await ledger.transact(async (scope) => {
      await expectLimit(scope.postLines(interest([{ accountId: user(0).id, amount: BIG, providerId: 'p-0' }, { accountId: user(0).id, amount: BIG, providerId: 'p-1' }])), 'lines');
    });
    expect(await snapshot()).toBe(before);
    await ledger.postLines(interest([{ accountId: user(0).id, amount: BIG, providerId: 'p-0' }]));
    const afterOne = await snapshot();
    // The contra account would hold two of them, though each line and the user's balance fit.
    const contraBalance = await expectLimit(ledger.postLines(interest([{ accountId: user(1).id, amount: BIG, providerId: 'p-1' }])), 'lines', '1999999999999999999999998.000000000000000000');
    expect(contraBalance.context?.['accountId']).toBe(String(earnAssets.id));
    expect(await snapshot()).toBe(afterOne);
    expect(await ledger.balance(earnAssets.id)).toBe(`${BIG}.000000000000000000`);
    await expectReadable();
  });

  it('takes a balance exactly at the bound and refuses the least unit more, through every way of posting', async () => {
    await ledger.post(dep('at-max', MAX));
    expect(await ledger.balance(user(0).id)).toBe(MAX);
    expect(await ledger.balance(funds.id)).toBe(`-${MAX}`);
    const before = await snapshot();
    const more = dep('more', '0.000000000000000001');
    const posted = await expectLimit(ledger.post(more), 'entries', '-1000000000000000000000000.000000000000000000');
    // The first entry's account is checked first: customer_funds, which may go negative but not without bound.
    expect(posted.context).toEqual({ accountId: String(funds.id), currency: 'BTC' });
    await expectLimit(ledger.postMany([dep('fine', '1', 1), more]), 'entries');
    await expectLimit(ledger.transact((scope) => scope.post(more)), 'entries');
    await expectLimit(ledger.transact((scope) => scope.postMany([more])), 'entries');
    // Concurrent callers: the refused one gets its error, the others their results.
    const settled = await Promise.allSettled([ledger.post(withdraw('w', '1', 0, '2025-03-18T11:00:00Z')), ledger.post(dep('again', '2'))]);
    expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
    expect(((settled[1] as PromiseRejectedResult).reason as LedgerError).code).toBe('limit_exceeded');
    expect(await ledger.balance(user(0).id)).toBe('999999999999999999999998.999999999999999999');
    expect(before).not.toBe(await snapshot());
    await expectReadable();
  });

  it('refuses an entry whose running balance passes the bound though the posting ends below it', async () => {
    await ledger.post(dep('seed', BIG));
    const before = await snapshot();
    const through: PostingInput = {
      entity: 'defi',
      kind: 'adjustment',
      idempotencyKey: 'through',
      occurredAt: '2025-03-18T12:00:00Z',
      entries: [
        { accountId: user(0).id, side: 'credit', amount: BIG },
        { accountId: user(0).id, side: 'debit', amount: BIG },
      ],
    };
    const error = await expectLimit(ledger.post(through), 'entries', '1999999999999999999999998.000000000000000000');
    expect(error.context?.['accountId']).toBe(String(user(0).id));
    expect(await snapshot()).toBe(before);
    await expectReadable();
  });

  it('refuses a back-dated posting that would take a past closing balance over the bound', async () => {
    await ledger.post(dep('d18', BIG, 0, '2025-03-18T10:00:00Z'));
    await ledger.post(withdraw('w19', BIG, 0, '2025-03-19T10:00:00Z'));
    const before = await snapshot();
    // Now and on the 19th the balances are 0: only the 18th would pass the bound.
    const posted = await expectLimit(ledger.post(dep('back', '1', 0, '2025-03-18T11:00:00Z')), 'entries', '-1000000000000000000000000.000000000000000000');
    expect(posted.context).toEqual({ accountId: String(funds.id), currency: 'BTC', accountingDay: '2025-03-18' });
    const lines = await expectLimit(ledger.postLines(interest([{ accountId: user(0).id, amount: '1', providerId: 'p-0' }], '2025-03-18T11:00:00Z')), 'lines', '1000000000000000000000000.000000000000000000');
    expect(lines.context).toEqual({ accountId: String(user(0).id), currency: 'BTC', accountingDay: '2025-03-18' });
    expect(await snapshot()).toBe(before);
    await expectReadable();
  });

  it('bounds a balance series written while another transaction holds the system accounts (a shard on PostgreSQL)', async () => {
    const half = '600000000000000000000000';
    // Warm the account cache, as a running back office has it; customer_funds' own row stays at 0.
    await ledger.post(dep('warm', '1', 3, '2025-03-17T10:00:00Z'));
    await ledger.post(withdraw('warm-back', '1', 3, '2025-03-17T11:00:00Z'));
    await ledger.postLines(interest([{ accountId: user(1).id, amount: half, providerId: 'p-b' }], '2025-03-17T12:00:00Z'));
    const holder = dialect === 'postgres' ? await holdTransaction(ledger, (scope) => scope.post(dep('hold', '1', 2, '2025-03-01T10:00:00Z'))) : undefined;
    try {
      const before = await snapshot();
      await expectLimit(ledger.postMany([dep('a', BIG, 0), dep('c', '1', 3)]), 'entries', '-1000000000000000000000000.000000000000000000');
      expect(await snapshot()).toBe(before);
      // One write transaction (one shard): customer_funds' series goes to -half on the 18th and
      // +half on the 19th, a day whose entries sum to more than one amount may hold.
      const results = await ledger.postMany([dep('a18', half, 0, '2025-03-18T10:00:00Z'), withdraw('a19', half, 0, '2025-03-19T10:00:00Z'), withdraw('b19', half, 1, '2025-03-19T11:00:00Z')]);
      expect(results.map((result) => result.status)).toEqual(['created', 'created', 'created']);
    } finally {
      await holder?.release();
    }
    if (dialect === 'postgres') {
      const shards = await ledger.db.selectFrom('account_balance_shards').select('balance').where('account_id', '=', funds.id).execute();
      expect(shards.map((shard) => shard.balance)).toEqual([`${half}.000000000000000000`]);
    }
    // PostgreSQL: the holder's deposit of 1 in the own row, the shard's +half.
    expect(await ledger.balance(funds.id)).toBe(dialect === 'postgres' ? '599999999999999999999999.000000000000000000' : `${half}.000000000000000000`);
    await expectReadable();
  });
});

/**
 * Write inputs whose fields are getters (or a Proxy) that change value between reads or throw
 * (session 25). The ledger reads each field of a write's input once, and writes exactly what it
 * validated. Found: `post` read `kind` four times (checked, then hashed and stored later reads, so
 * a getter could store a kind no posting may have), `entries` three times (the bound on their
 * number was checked on one array and another was written), an entry's `accountId` three times,
 * and `entity` twice (the accounting day was computed in one entity's zone and the posting stored
 * in another); `postLines` read `kind` and `side` again when storing; `recordSettlement` read
 * `direction` three times (the entries of one direction were stored with the metadata of the
 * other). A getter that throws was the caller's raw error, and inside `transact` it aborted the
 * whole transaction although nothing was written: it is `invalid_input` naming the field now.
 * Unknown fields are ignored, as the reads do: never read, never stored.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, accountingDayOf, parseInstant, runAccountingCycle } from '../src/index.js';
import type { Ledger, LedgerAccount } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T12:00:00Z';
const ZONES: Record<string, string> = { defi: 'UTC', lending: 'Pacific/Auckland' };

/** `target` with the named fields turned into getters answering `values[i]` at the i-th read (the last one after). */
function changing<T extends object>(target: T, fields: Record<string, readonly unknown[]>): T {
  const copy = { ...target } as Record<string, unknown>;
  for (const [key, values] of Object.entries(fields)) {
    let reads = 0;
    Object.defineProperty(copy, key, { enumerable: true, get: () => values[Math.min(reads++, values.length - 1)] });
  }
  return copy as T;
}

/** A Proxy of `target` that counts the reads of each field. */
function counting<T extends object>(target: T): { proxy: T; most: () => number; reads: Map<PropertyKey, number> } {
  const reads = new Map<PropertyKey, number>();
  const proxy = new Proxy(target, {
    get(object, key, receiver) {
      if (typeof key === 'string') reads.set(key, (reads.get(key) ?? 0) + 1);
      return Reflect.get(object, key, receiver) as unknown;
    },
  });
  return { proxy, reads, most: () => Math.max(0, ...reads.values()) };
}

function throwing<T extends object>(target: T, field: string): T {
  return Object.defineProperty({ ...target }, field, { enumerable: true, get: () => { throw new Error(`no ${field} today`); } }) as T;
}

describe.each(DIALECTS)('write inputs that change between reads, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let user: LedgerAccount;
  let funds: LedgerAccount;
  let serial = 0;

  beforeAll(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: Object.entries(ZONES).map(([id, timeZone]) => ({ id, timeZone })) }));
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] } });
    await books.registerUser({ partnerUserId: 'p', earnUsers: [{ entity: 'defi', earnUserId: 'u' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a', earnUserId: 'u', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a', providerBookingId: 'b0', amount: '5', occurredAt: '2025-03-17T09:00:00Z', idempotencyKey: 'k0', providerData: {} });
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
  });
  afterAll(async () => close());

  const snapshot = () => snapshotDatabase(ledger.db as Kysely<unknown>);
  const pair = (amount = '1') => [{ accountId: funds.id, side: 'debit' as const, amount }, { accountId: user.id, side: 'credit' as const, amount }];
  const deposit = (extra: Record<string, unknown> = {}) => ({ entity: 'defi', kind: 'deposit' as const, idempotencyKey: `d${++serial}`, occurredAt: AT, entries: pair(), ...extra });

  /** A write that is refused changed nothing; one that is not wrote what `check` expects. */
  async function writesWhatItChecked(work: () => Promise<{ status: string; transaction: { id: number } }>, check: (stored: Awaited<ReturnType<Ledger['transaction']>>) => void): Promise<void> {
    const before = await snapshot();
    const outcome = await work().then((result) => result, (error: unknown) => error);
    if (outcome instanceof LedgerError) {
      expect(await snapshot()).toBe(before);
      return;
    }
    if (outcome instanceof Error) throw outcome;
    check(await ledger.transaction((outcome as { transaction: { id: number } }).transaction.id));
    await ledger.verify({ entity: 'defi' });
  }

  it('post stores the kind, entity, entries and account ids it checked', async () => {
    await writesWhatItChecked(() => ledger.post(changing(deposit(), { kind: ['deposit', 'bogus'] })), (stored) => expect(stored.kind).toBe('deposit'));
    await writesWhatItChecked(() => ledger.post(changing(deposit(), { kind: ['deposit', 'deposit', 'reversal'] })), (stored) => expect(stored.kind).toBe('deposit'));
    await writesWhatItChecked(
      () => ledger.post(changing(deposit(), { entity: ['lending', 'defi'] })),
      (stored) => expect(stored.accountingDay).toBe(accountingDayOf(parseInstant(AT), ZONES[stored.entity] ?? 'none')),
    );
    const many = Array.from({ length: 33 }, () => pair('0.01')).flat();
    await writesWhatItChecked(() => ledger.post(changing(deposit(), { entries: [pair(), pair(), pair(), many] })), (stored) => expect(stored.entries).toHaveLength(2));
    const entries = [pair()[0], changing(pair()[1] as object, { accountId: [user.id, user.id, funds.id] })];
    await writesWhatItChecked(() => ledger.post(deposit({ entries })), (stored) => expect(stored.entries.map((entry) => entry.accountId)).toEqual([funds.id, user.id]));
  });

  it('postLines stores the kind and side it checked', async () => {
    const lines = (extra: Record<string, readonly unknown[]>) =>
      changing({ entity: 'defi', kind: 'interest' as const, occurredAt: AT, side: 'credit' as const, contraAccountId: funds.id, lines: [{ accountId: user.id, amount: '0.5', providerId: `l${++serial}` }] }, extra);
    for (const fields of [{ kind: ['interest', 'interest', 'reversal'] }, { kind: ['interest', 'interest', 'bogus'] }, { side: ['credit', 'credit', 'debit'] }]) {
      const before = await snapshot();
      const outcome = await ledger.postLines(lines(fields)).then((result) => result, (error: unknown) => error);
      if (outcome instanceof LedgerError) {
        expect(await snapshot()).toBe(before);
        continue;
      }
      if (outcome instanceof Error) throw outcome;
      const stored = await ledger.transaction((outcome as { transactionId: number }).transactionId);
      expect(stored.kind).toBe('interest');
      expect(stored.entries.find((entry) => entry.accountId === user.id)?.side).toBe('credit');
    }
    await ledger.verify({ entity: 'defi' });
  });

  it('recordSettlement stores the direction it posted', async () => {
    const settlement = { entity: 'defi', currency: 'BTC', amount: '0.1', occurredAt: AT, idempotencyKey: 's-ref', direction: 'to_provider' as const };
    const reference = await books.recordSettlement(settlement);
    const sides = (transaction: typeof reference.transaction) => transaction.entries.map((entry) => [entry.accountId, entry.side]);
    await writesWhatItChecked(
      () => books.recordSettlement(changing({ ...settlement, idempotencyKey: 's-1' }, { direction: ['to_provider', 'from_provider'] })),
      (stored) => {
        expect(stored.metadata).toEqual({ direction: 'to_provider' });
        expect(sides(stored)).toEqual(sides(reference.transaction));
      },
    );
  });

  it('reads every field of a write once', async () => {
    const post = counting(deposit());
    await ledger.post(post.proxy);
    const entry = counting(pair()[1] as object);
    await ledger.post(deposit({ entries: [pair()[0], entry.proxy] }));
    const lines = counting({ entity: 'defi', kind: 'interest' as const, occurredAt: AT, side: 'credit' as const, contraAccountId: funds.id, lines: [{ accountId: user.id, amount: '0.5', providerId: 'once' }] });
    await ledger.postLines(lines.proxy);
    const settlement = counting({ entity: 'defi', currency: 'BTC', amount: '0.1', occurredAt: AT, idempotencyKey: 's-once', direction: 'from_provider' as const });
    await books.recordSettlement(settlement.proxy);
    const interest = counting({ entity: 'defi', earnAccountId: 'a', providerEntryId: 'i-once', amount: '0.01', occurredAt: AT, interestDay: '2025-03-17' });
    await books.recordInterest(interest.proxy);
    const cycle = counting({ books, entity: 'defi', day: '2025-03-17', now: () => new Date('2025-03-18T01:00:00Z') });
    await runAccountingCycle(cycle.proxy);
    const counted = { post, entry, lines, settlement, interest, cycle };
    expect(Object.fromEntries(Object.entries(counted).map(([name, { most }]) => [name, most()]))).toEqual({ post: 1, entry: 1, lines: 1, settlement: 1, interest: 1, cycle: 1 });
  });

  it('a field whose getter throws is invalid_input naming it; in a scope the transaction goes on', async () => {
    const before = await snapshot();
    const refusals = [
      await ledger.post(throwing(deposit(), 'occurredAt')).catch((error: unknown) => error),
      await ledger.post(deposit({ entries: [pair()[0], throwing(pair()[1] as object, 'amount')] })).catch((error: unknown) => error),
      await books.recordDeposit(throwing({ entity: 'defi', earnAccountId: 'a', providerBookingId: 'b9', amount: '1', occurredAt: AT, idempotencyKey: 'k9', providerData: {} }, 'amount')).catch((error: unknown) => error),
    ];
    expect(refusals.map((error) => (error instanceof LedgerError ? [error.code, error.field] : String(error)))).toEqual([
      ['invalid_input', 'occurredAt'],
      ['invalid_input', 'entries[1].amount'],
      ['invalid_input', 'amount'],
    ]);
    expect(await snapshot()).toBe(before);
    const result = await ledger.transact(async (scope) => {
      await expect(scope.post(throwing(deposit(), 'kind'))).rejects.toMatchObject({ code: 'invalid_input', field: 'kind' });
      return scope.post(deposit());
    });
    expect(result.status).toBe('created');
  });

  it('ignores fields it does not know: never read, never stored', async () => {
    const plain = deposit();
    const first = await ledger.post({ ...plain, note: 'extra', entries: plain.entries.map((entry) => ({ ...entry, memo: 'x' })) } as never);
    expect(first.status).toBe('created');
    expect((await ledger.post(plain)).status).toBe('exists');
  });
});

/**
 * Accounts and Earn accounts listed in pages (`afterId` / `afterLedgerAccountId`, `limit`): the
 * pages of any size walk the whole listing once, in id order, with the same filters as the whole
 * listing; a bad page bound is a typed error naming the field and the value, and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { ACCOUNTS_PAGE_SIZE_MAX, EarnBooks, LedgerError } from '../src/index.js';
import type { EarnAccount, Ledger, LedgerAccount } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

/** Every page of `limit` from the first, each starting after the last id of the one before. */
async function walk<T>(limit: number, page: (afterId: number) => Promise<T[]>, idOf: (item: T) => number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let afterId = 0;
  for (let pages = 1; ; pages++) {
    const found = await page(afterId);
    expect(found.length).toBeLessThanOrEqual(limit);
    items.push(...found);
    const last = found[found.length - 1];
    if (found.length < limit || last === undefined) return { items, pages };
    afterId = idOf(last);
  }
}

describe.each(DIALECTS)('accounts in pages on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] }));
    books = new EarnBooks(ledger);
    const terms = { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] };
    for (const currency of ['BTC', 'ETH']) {
      await books.recordProduct({ entity: 'defi', providerProductId: `p-${currency}`, currency, name: currency, effectiveDay: '2025-01-01', terms });
    }
    await books.recordProduct({ entity: 'lending', providerProductId: 'p-BTC', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    for (let index = 0; index < 9; index++) {
      await books.registerUser({ partnerUserId: `partner-${index}`, earnUsers: [{ entity: 'defi', earnUserId: `d${index}` }, { entity: 'lending', earnUserId: `l${index}` }] });
      const currency = index % 3 === 0 ? 'ETH' : 'BTC';
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${index}`, earnUserId: `d${index}`, providerProductId: `p-${currency}`, currency });
      if (index % 2 === 0) await books.openEarnAccount({ entity: 'lending', earnAccountId: `la${index}`, earnUserId: `l${index}`, providerProductId: 'p-BTC', currency: 'BTC' });
    }
    await ledger.systemAccountIds('defi', 'BTC');
  });
  afterAll(async () => close());

  it('walks every account of a listing once, in id order, whatever the page size', async () => {
    for (const filter of [{ entity: 'defi' }, { entity: 'defi', currency: 'BTC' }, { entity: 'defi', kind: 'user' as const }, { entity: 'lending', currency: 'BTC', kind: 'user' as const }]) {
      const whole = await ledger.listAccounts(filter);
      expect(whole.length).toBeGreaterThan(2);
      expect(whole.map((account) => account.id)).toEqual([...whole.map((account) => account.id)].sort((a, b) => a - b));
      for (const limit of [1, 2, 3, whole.length - 1, whole.length, whole.length + 1, ACCOUNTS_PAGE_SIZE_MAX]) {
        const walked = await walk<LedgerAccount>(limit, (afterId) => ledger.listAccounts({ ...filter, afterId, limit }), (account) => account.id);
        expect(walked.items, `${JSON.stringify(filter)} limit ${limit}`).toEqual(whole);
        expect(walked.pages).toBe(Math.floor(whole.length / limit) + 1);
      }
      // A page after the last account is empty; afterId alone lists the rest.
      const last = whole[whole.length - 1]!;
      expect(await ledger.listAccounts({ ...filter, afterId: last.id, limit: 5 })).toEqual([]);
      expect(await ledger.listAccounts({ ...filter, afterId: whole[1]!.id })).toEqual(whole.slice(2));
    }
  });

  it('walks every Earn account of a listing once, in ledger account order, whatever the page size', async () => {
    for (const filter of [{ entity: 'defi' }, { entity: 'defi', currency: 'BTC' }, { entity: 'defi', currency: 'ETH' }, { entity: 'lending' }]) {
      const whole = await books.earnAccounts(filter);
      expect(whole.length).toBeGreaterThan(2);
      for (const limit of [1, 2, whole.length, whole.length + 1]) {
        const walked = await walk<EarnAccount>(limit, (afterLedgerAccountId) => books.earnAccounts({ ...filter, afterLedgerAccountId, limit }), (account) => account.ledgerAccountId);
        expect(walked.items, `${JSON.stringify(filter)} limit ${limit}`).toEqual(whole);
      }
    }
    const defi = await books.earnAccounts({ entity: 'defi' });
    expect(defi.map((account) => account.earnAccountId)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8']);
    expect((await books.earnAccounts({ entity: 'defi', currency: 'ETH', limit: 2 })).map((account) => account.earnAccountId)).toEqual(['a0', 'a3']);
    expect((await books.earnAccounts({ entity: 'defi', afterLedgerAccountId: defi[6]!.ledgerAccountId })).map((account) => account.earnAccountId)).toEqual(['a7', 'a8']);
  });

  it('refuses a bad page bound, naming the field and the value, and writes nothing', async () => {
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const refusals: [() => Promise<unknown>, string, string][] = [
      [() => ledger.listAccounts({ entity: 'defi', limit: 0 }), 'limit', '0'],
      [() => ledger.listAccounts({ entity: 'defi', limit: ACCOUNTS_PAGE_SIZE_MAX + 1 }), 'limit', String(ACCOUNTS_PAGE_SIZE_MAX + 1)],
      [() => ledger.listAccounts({ entity: 'defi', limit: 2.5 }), 'limit', '2.5'],
      [() => ledger.listAccounts({ entity: 'defi', limit: '10' as never }), 'limit', '"10"'],
      [() => ledger.listAccounts({ entity: 'defi', limit: null as never }), 'limit', 'null'],
      [() => ledger.listAccounts({ entity: 'defi', afterId: -1 }), 'afterId', '-1'],
      [() => ledger.listAccounts({ entity: 'defi', afterId: Number.NaN }), 'afterId', 'NaN'],
      [() => ledger.listAccounts({ entity: 'defi', afterId: '3' as never, limit: 2 }), 'afterId', '"3"'],
      [() => books.earnAccounts({ entity: 'defi', limit: -3 }), 'limit', '-3'],
      [() => books.earnAccounts({ entity: 'defi', afterLedgerAccountId: 2 ** 53 }), 'afterLedgerAccountId', String(2 ** 53)],
      [() => books.earnAccounts({ entity: 'defi', afterLedgerAccountId: Number.POSITIVE_INFINITY, limit: 1 }), 'afterLedgerAccountId', 'Infinity'],
    ];
    for (const [work, field, value] of refusals) {
      const error = await work().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, field).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'invalid_input', field, value });
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

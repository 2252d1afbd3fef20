import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, earnAccountsByIds, providerEntriesByIds, providerEntriesOfDayInBookOrder } from '../src/index.js';
import type { Ledger, ProviderEntry, ProviderEntryBookCursor, TransactionKind } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };
const DAY = '2025-03-18';

/** Code point order, the order the reconciler merges in. */
function codePointOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return x.length - y.length;
}

describe.each(DIALECTS)('provider entries on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'u1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'u1', providerProductId: 'btc', currency: 'BTC' });
  });
  afterEach(async () => close());

  // Ids chosen so that code point order differs from a locale's order and from UTF-16 order.
  const ids = ['b', 'B', 'a-2', 'a10', 'é', 'z', '\u{1F600}', '\uFF5E', 'a_1'];

  async function deposits(): Promise<void> {
    for (const [index, id] of ids.entries()) {
      await books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: id, amount: `${index + 1}`, occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: `k${index}`, providerData: {} });
    }
  }

  /** Every page of the day in book order; checks the order (transaction, then line) on the way. */
  async function allBookPages(limit: number, kinds?: readonly TransactionKind[]): Promise<ProviderEntry[]> {
    const seen: ProviderEntry[] = [];
    let after: ProviderEntryBookCursor | null = null;
    let guard = 0;
    do {
      if (guard++ > 50) throw new Error(`book-order pages did not end (cursor ${JSON.stringify(after)})`);
      const page = await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after, limit, ...(kinds === undefined ? {} : { kinds }) });
      expect(page.entries.length).toBeLessThanOrEqual(limit);
      seen.push(...page.entries);
      after = page.next;
    } while (after !== null);
    const ids = seen.map((entry) => entry.transactionId);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    return seen;
  }

  /** Entries in provider id order, then transaction id: the order the reconciler merges in. */
  function inProviderOrder(entries: readonly ProviderEntry[]): ProviderEntry[] {
    return [...entries].sort((a, b) => codePointOrder(a.providerId, b.providerId) || a.transactionId - b.transactionId);
  }

  /** Every page of the day (book order, checked), in provider id order. */
  async function allPages(limit: number, kinds?: readonly TransactionKind[]): Promise<ProviderEntry[]> {
    return inProviderOrder(await allBookPages(limit, kinds));
  }

  it('reads a day in book order, in pages, each entry with its relevant line', async () => {
    await deposits();
    await books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'b', amount: '0.1', occurredAt: '2025-03-18T23:00:00Z', interestDay: '2025-03-17' });
    await books.recordFee({ entity: 'defi', currency: 'BTC', providerEntryId: 'fee-1', amount: '0.01', occurredAt: '2025-03-18T12:00:00Z' });
    const expected = [...ids, 'b', 'fee-1'].sort(codePointOrder);
    for (const limit of [1, 2, 3, 100]) {
      const entries = await allPages(limit);
      expect(entries.map((entry) => entry.providerId)).toEqual(expected);
    }
    const entries = await allPages(100);
    const deposit = entries.find((entry) => entry.providerId === 'z');
    expect(deposit).toMatchObject({ kind: 'deposit', amount: '6.000000000000000000', currency: 'BTC', earnAccountId: 'acc-1', interestDay: null, accountingDay: DAY });
    expect(entries.find((entry) => entry.kind === 'interest')).toMatchObject({ providerId: 'b', amount: '0.100000000000000000', earnAccountId: 'acc-1', interestDay: '2025-03-17' });
    expect(entries.find((entry) => entry.kind === 'fee')).toMatchObject({ providerId: 'fee-1', amount: '0.010000000000000000', earnAccountId: null, interestDay: DAY });
    // The two transactions of provider id "b" come in transaction id order.
    const both = entries.filter((entry) => entry.providerId === 'b');
    expect(both.map((entry) => entry.kind)).toEqual(['deposit', 'interest']);
  });

  it('finds entries by provider id on any day, and Earn accounts by id', async () => {
    await deposits();
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'other-day', amount: '1', occurredAt: '2025-03-20T10:00:00Z', idempotencyKey: 'kx', providerData: {} });
    expect((await allPages(100)).some((entry) => entry.providerId === 'other-day')).toBe(false);
    const found = await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['other-day', 'nope', 'z'] });
    expect(found.map((entry) => [entry.providerId, entry.accountingDay])).toEqual([
      ['z', DAY],
      ['other-day', '2025-03-20'],
    ]);
    const accounts = await earnAccountsByIds(ledger, { entity: 'defi', earnAccountIds: ['acc-1', 'acc-2'] });
    expect([...accounts.keys()]).toEqual(['acc-1']);
    expect(accounts.get('acc-1')?.currency).toBe('BTC');
  });

  it('reads lines of compound transactions like whole transactions: order, pages, lines, lookups', async () => {
    await deposits();
    await books.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'u2' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'u2', providerProductId: 'btc', currency: 'BTC' });
    const user1 = (await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-1' })).ledgerAccountId;
    const user2 = (await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-2' })).ledgerAccountId;
    const earnAssets = (await ledger.systemAccount('defi', 'BTC', 'earn_assets')).id;
    // An interest entry booked the older way (a whole transaction with the provider id) ...
    await books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'i-old', amount: '0.5', occurredAt: '2025-03-18T23:00:00Z', interestDay: '2025-03-17' });
    // ... and compound lines whose ids fall between the deposits' in code point order (one shares "b").
    const lineIds = ['\u{1F601}', 'a-3', 'c', '\uFF5F', 'b'];
    const compound = await ledger.postLines({
      entity: 'defi',
      kind: 'interest',
      occurredAt: '2025-03-18T22:00:00Z',
      side: 'credit',
      contraAccountId: earnAssets,
      metadata: { interestDay: '2025-03-17' },
      lines: lineIds.map((providerId, index) => ({ accountId: index % 2 === 0 ? user1 : user2, amount: `0.00${index + 1}`, providerId })),
    });
    const expected = [...ids, 'i-old', ...lineIds].sort(codePointOrder);
    for (const limit of [1, 2, 3, 4, 100]) {
      const entries = await allPages(limit);
      expect(entries.map((entry) => entry.providerId)).toEqual(expected);
    }
    const entries = await allPages(100);
    const lines = entries.filter((entry) => entry.transactionId === compound.transactionId);
    expect(lines.map((entry) => entry.providerId).sort(codePointOrder)).toEqual([...lineIds].sort(codePointOrder));
    expect(lines.find((entry) => entry.providerId === 'a-3')).toMatchObject({ kind: 'interest', amount: '0.002000000000000000', currency: 'BTC', earnAccountId: 'acc-2', interestDay: '2025-03-17', accountingDay: DAY, occurredAt: '2025-03-18T22:00:00.000Z' });
    expect(entries.find((entry) => entry.providerId === 'i-old')).toMatchObject({ kind: 'interest', amount: '0.500000000000000000', earnAccountId: 'acc-1', interestDay: '2025-03-17' });
    // "b" is a deposit (whole transaction) and an interest line: both, in transaction id order.
    expect(entries.filter((entry) => entry.providerId === 'b').map((entry) => entry.kind)).toEqual(['deposit', 'interest']);
    // A kinds filter applies to both stores.
    const interest = await allPages(2, ['interest']);
    expect(interest.map((entry) => entry.providerId)).toEqual(['i-old', ...lineIds].sort(codePointOrder));
    expect(interest).toEqual(entries.filter((entry) => entry.kind === 'interest'));
    expect(await allBookPages(3, ['fee'])).toEqual([]);
    // Lookups by provider id find lines too, by transaction id.
    const found = await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['c', 'i-old', 'z', 'nope'] });
    expect(found.map((entry) => [entry.providerId, entry.kind])).toEqual([
      ['z', 'deposit'],
      ['i-old', 'interest'],
      ['c', 'interest'],
    ]);
    // An id asked for twice is answered once, on both dialects (a whole transaction's and a line's).
    expect(await providerEntriesByIds(ledger, { entity: 'defi', providerIds: ['c', 'z', 'c', 'z', 'nope'] })).toEqual(found.filter((entry) => entry.providerId !== 'i-old'));
    // The books know a line's provider id: the transaction of it, and no whole posting may book it again.
    expect((await books.transactionOf({ entity: 'defi', kind: 'interest', providerId: 'c' }))?.id).toBe(compound.transactionId);
    await expect(books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'c', amount: '0.005', occurredAt: '2025-03-18T22:00:00Z' })).rejects.toMatchObject({
      code: 'duplicate_provider_id',
      field: 'providerId',
      value: 'c',
    });
  });

  it('refuses bad limits and unknown entities with typed errors', async () => {
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: '2025-02-30', after: null, limit: 10 })).rejects.toBeInstanceOf(LedgerError);
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'nope', day: DAY, after: null, limit: 10 })).rejects.toMatchObject({ code: 'unknown_entity' });
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10_001 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: { transactionId: 1.5, entryId: 1 }, limit: 10 })).rejects.toMatchObject({ code: 'invalid_input', field: 'after' });
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10, kinds: [] })).rejects.toMatchObject({ code: 'invalid_input', field: 'kinds' });
    await expect(providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: DAY, after: null, limit: 10, kinds: ['interest', 'bogus' as TransactionKind] })).rejects.toMatchObject({
      code: 'invalid_input',
      field: 'kinds[1]',
      value: '"bogus"',
    });
    await expect(providerEntriesByIds(ledger, { entity: 'defi', providerIds: Array.from({ length: 1001 }, (_, i) => `p${i}`) })).rejects.toMatchObject({ code: 'invalid_input' });
  });
});

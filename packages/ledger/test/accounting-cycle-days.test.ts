/**
 * The accounting cycle over several days through the journal equals a plain replay of the
 * interest engine on each account's end-of-day balance (review h4): compounding (each day's
 * interest is in the next day's balance), the product version in force on each day (a new
 * version applies from the end-of-day balance of its effective day), marginal tiers around an
 * edge, a rate-difference margin, a dust balance, a withdrawal, an account opened in the last
 * millisecond of a day, and a deposit in the first of the next; across a 23-hour DST day in
 * Berlin and the 24- and 25-hour days where America/Santiago changes its clocks at midnight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, computeDailyInterest, nextAccountingDay, parseInterestTerms, runAccountingCycle, toUnits, formatUnits } from '../src/index.js';
import type { InterestTermsInput, Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

const V1: InterestTermsInput = {
  tiers: [
    { fromAmount: '0', toAmount: '1', apy: '0.03' },
    { fromAmount: '1', toAmount: null, apy: '0.01' },
  ],
  partnerMargin: { mode: 'rate-difference', productApy: '0.04' },
};
const V2: InterestTermsInput = { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.05' }], tierMode: 'whole-balance', partnerMargin: { apy: '0.005' }, roundingMode: 'down' };

interface Booking {
  readonly account: string;
  readonly kind: 'deposit' | 'withdrawal';
  readonly amount: string;
  readonly occurredAt: string;
  /** The accounting day in Berlin, written out by hand. */
  readonly day: string;
}

const BOOKINGS: readonly Booking[] = [
  { account: 'a0', kind: 'deposit', amount: '1.5', occurredAt: '2025-03-28T09:00:00Z', day: '2025-03-28' },
  { account: 'a2', kind: 'deposit', amount: '0.000000000000000007', occurredAt: '2025-03-28T09:00:00Z', day: '2025-03-28' },
  { account: 'a3', kind: 'deposit', amount: '2', occurredAt: '2025-03-28T22:59:59.999Z', day: '2025-03-28' },
  { account: 'a3', kind: 'withdrawal', amount: '0.5', occurredAt: '2025-03-29T12:00:00Z', day: '2025-03-29' },
  // 2025-03-30 has 23 hours in Berlin: its last millisecond is 21:59:59.999Z.
  { account: 'a1', kind: 'deposit', amount: '0.25', occurredAt: '2025-03-30T21:59:59.999Z', day: '2025-03-30' },
  { account: 'a3', kind: 'deposit', amount: '1', occurredAt: '2025-03-30T22:00:00.000Z', day: '2025-03-31' },
];
const DAYS = [
  ['2025-03-28', '2025-03-28T23:00:00.000Z'],
  ['2025-03-29', '2025-03-29T23:00:00.000Z'],
  ['2025-03-30', '2025-03-30T22:00:00.000Z'],
  ['2025-03-31', '2025-03-31T22:00:00.000Z'],
  ['2025-04-01', '2025-04-01T22:00:00.000Z'],
] as const;

describe.each(DIALECTS)('the accounting cycle over days on %s', (dialect) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function open(timeZone: string): Promise<{ ledger: Ledger; books: EarnBooks }> {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone }] });
    close = opened.close;
    return { ledger: opened.ledger, books: new EarnBooks(opened.ledger) };
  }

  async function account(books: EarnBooks, id: string): Promise<number> {
    await books.registerUser({ partnerUserId: `p-${id}`, earnUsers: [{ entity: 'defi', earnUserId: `u-${id}` }] });
    return (await books.openEarnAccount({ entity: 'defi', earnAccountId: id, earnUserId: `u-${id}`, providerProductId: 'btc', currency: 'BTC' })).value.ledgerAccountId;
  }

  it('books what the engine gives on each end-of-day balance, compounding, with the version in force each day', async () => {
    const { ledger, books } = await open('Europe/Berlin');
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-03-01', terms: V1 });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-03-31', terms: V2 });
    const ids = new Map<string, number>();
    for (const id of ['a0', 'a1', 'a2', 'a3']) ids.set(id, await account(books, id));
    for (const [index, booking] of BOOKINGS.entries()) {
      const input = { entity: 'defi', earnAccountId: booking.account, providerBookingId: `b${index}`, amount: booking.amount, occurredAt: booking.occurredAt, idempotencyKey: `k${index}`, providerData: {} };
      await (booking.kind === 'deposit' ? books.recordDeposit(input) : books.recordWithdrawal(input));
    }
    // The replay: balances in units, each day's bookings, then the day's interest on the closing balance.
    const balances = new Map<string, bigint>([...ids.keys()].map((id) => [id, 0n]));
    let marginTotal = 0n;
    for (const [day, creditedAt] of DAYS) {
      const terms = parseInterestTerms(day >= '2025-03-31' ? V2 : V1);
      for (const booking of BOOKINGS.filter((b) => b.day === day)) {
        const units = toUnits(booking.amount);
        balances.set(booking.account, (balances.get(booking.account) ?? 0n) + (booking.kind === 'deposit' ? units : -units));
      }
      const expected = new Map<string, { balance: string; userInterest: string; partnerMargin: string }>();
      for (const [id, balance] of balances) {
        const result = computeDailyInterest({ balance: formatUnits(balance), terms });
        expected.set(id, { balance: formatUnits(balance), userInterest: result.userInterest, partnerMargin: result.partnerMargin });
      }
      const booked: { id: string; balance: string; userInterest: string; partnerMargin: string }[] = [];
      const summary = await runAccountingCycle({ books, entity: 'defi', day, batchSize: 3, onLines: (lines) => booked.push(...lines.map((line) => ({ id: line.earnAccountId, balance: line.balance, userInterest: line.userInterest, partnerMargin: line.partnerMargin }))) });
      expect(summary.creditedAt).toBe(creditedAt);
      expect(Object.fromEntries(booked.map(({ id, ...line }) => [id, line]))).toEqual(Object.fromEntries(expected));
      for (const [id, line] of expected) {
        balances.set(id, (balances.get(id) ?? 0n) + toUnits(line.userInterest));
        marginTotal += toUnits(line.partnerMargin);
      }
    }
    // Every booking is in the replay by now: the balances now are its final ones.
    for (const [id, balance] of balances) expect(await ledger.balance(ids.get(id) ?? 0)).toBe(formatUnits(balance));
    // The dust account never earned; a1 (opened in the last millisecond of the 23-hour day) earned from that day on.
    expect(balances.get('a2')).toBe(7n);
    expect((await ledger.history(ids.get('a1') ?? 0, { order: 'asc' })).items.map((item) => [item.kind, item.accountingDay])).toEqual([
      ['deposit', '2025-03-30'],
      ['interest', '2025-03-31'],
      ['interest', '2025-04-01'],
      ['interest', '2025-04-02'],
    ]);
    const income = await ledger.systemAccount('defi', 'BTC', 'partner_margin_income');
    expect(await ledger.balance(income.id)).toBe(formatUnits(marginTotal));
    await ledger.verify({ entity: 'defi' });
  });

  it('credits at the first instant of the next day where America/Santiago changes its clocks at midnight', async () => {
    const { books } = await open('America/Santiago');
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: V2 });
    for (const id of ['a0', 'a1', 'a2', 'a3']) await account(books, id);
    const deposits = [
      // 2025-04-05 has 25 hours: 23:30 comes twice, the second time (UTC−4) at 03:30Z; the 6th starts at 04:00Z.
      ['a0', '2025-04-06T03:30:00.000Z'],
      ['a1', '2025-04-06T04:00:00.000Z'],
      // 2025-09-06 ends at 04:00Z: the 7th starts at 01:00 local (midnight does not exist).
      ['a2', '2025-09-07T03:59:59.999Z'],
      ['a3', '2025-09-07T04:00:00.000Z'],
    ] as const;
    for (const [index, [id, at]] of deposits.entries()) {
      await books.recordDeposit({ entity: 'defi', earnAccountId: id, providerBookingId: `b${index}`, amount: '1', occurredAt: at, idempotencyKey: `k${index}`, providerData: {} });
    }
    const balancesOf = (lines: readonly { earnAccountId: string; balance: string }[]) => lines.filter((line) => line.balance !== '0.000000000000000000').map((line) => line.earnAccountId);
    const seen: string[][] = [];
    const april = await runAccountingCycle({ books, entity: 'defi', day: '2025-04-05', onLines: (lines) => seen.push(balancesOf(lines)) });
    expect(april.creditedAt).toBe('2025-04-06T04:00:00.000Z');
    // The days between run first: a0 and a1 hold balances on them (a day is refused before the day before it has run).
    await expect(runAccountingCycle({ books, entity: 'defi', day: '2025-09-06' })).rejects.toMatchObject({ code: 'cycle_out_of_order', field: 'day', value: '2025-09-06', context: { nextDay: '2025-04-06' } });
    for (let day = '2025-04-06'; day < '2025-09-06'; day = nextAccountingDay(day)) await runAccountingCycle({ books, entity: 'defi', day, batchSize: 4 });
    const september = await runAccountingCycle({ books, entity: 'defi', day: '2025-09-06', onLines: (lines) => seen.push(balancesOf(lines)) });
    expect(september.creditedAt).toBe('2025-09-07T04:00:00.000Z');
    expect(seen).toEqual([['a0'], ['a0', 'a1', 'a2']]);
  });
});

/**
 * The accounting cycle runs its days in order (review h4): a day's interest is computed on the
 * end-of-day balance, which holds the interest of the day before only once that day's cycle has
 * run. A day run while the day before it has not (an account holding a balance then), or after a
 * later day, is refused before anything is written, naming the day and the next day to run; the
 * first day ever run, a day run again, and a gap over days on which no Earn account held a balance
 * (and none carried a residue) are allowed. The projection (the reconciler's) reads any day.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { EarnBooks, LedgerError, computeDailyInterest, parseInterestTerms, projectAccountingCycle, runAccountingCycle, toUnits, formatUnits } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { DIALECTS, freshLedger } from './dialects.js';

const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { apy: '0.005' } };

async function refusal(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

describe.each(DIALECTS)('the order of accounting cycle days on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  const snapshot = () => snapshotDatabase(ledger.db as Kysely<unknown>);

  async function setUp(terms: unknown = TERMS): Promise<void> {
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
  }
  const move = (kind: 'deposit' | 'withdrawal', amount: string, id: string, occurredAt: string) => {
    const input = { entity: 'defi', earnAccountId: 'a0', providerBookingId: id, amount, occurredAt, idempotencyKey: id, providerData: { id } };
    return kind === 'deposit' ? books.recordDeposit(input) : books.recordWithdrawal(input);
  };
  const balance = async () => ledger.balance((await books.earnAccount({ entity: 'defi', earnAccountId: 'a0' })).ledgerAccountId);
  const run = (day: string) => runAccountingCycle({ books, entity: 'defi', day, now: () => new Date('2026-01-01T00:00:00Z') });

  async function expectRefused(day: string, nextDay: string): Promise<void> {
    const before = await snapshot();
    const error = await refusal(run(day));
    expect({ code: error.code, field: error.field, value: error.value, nextDay: error.context?.['nextDay'] }).toEqual({ code: 'cycle_out_of_order', field: 'day', value: day, nextDay });
    expect(error.message).toContain(nextDay);
    expect(await snapshot()).toBe(before);
  }

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
  });
  afterEach(async () => close());

  it('refuses a day whose day before has not run, and books it right once that day has', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    await expectRefused('2025-03-20', '2025-03-19');
    await run('2025-03-19');
    const afterNineteenth = await balance();
    const third = await run('2025-03-20');
    // The 20th earns on a balance that holds the 19th's interest.
    const expected = computeDailyInterest({ balance: afterNineteenth, terms: parseInterestTerms(TERMS) });
    expect(third.totals.get('BTC')?.userInterest).toBe(expected.userInterest);
    expect(await balance()).toBe(formatUnits(toUnits(afterNineteenth) + toUnits(expected.userInterest)));
    await ledger.verify({ entity: 'defi' });
  });

  it('refuses a day before the last day run that never ran, and runs a day that ran again (booking nothing)', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-17T09:00:00Z');
    await run('2025-03-18');
    await run('2025-03-19');
    await expectRefused('2025-03-17', '2025-03-20');
    await expectRefused('2025-03-01', '2025-03-20');
    const again = await run('2025-03-18');
    expect(again.interestBooked).toBe(0);
    expect(again.interestAlreadyBooked).toBe(1);
    await ledger.verify({ entity: 'defi' });
  });

  it('the first day ever run may be any day', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-01T09:00:00Z');
    expect((await run('2025-03-18')).interestBooked).toBe(1);
    expect((await run('2025-03-19')).interestBooked).toBe(1);
  });

  it('allows a gap over days on which no Earn account held a balance', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    // Everything leaves on the 19th: the 19th to the 24th earn nothing and need not run.
    await move('withdrawal', await balance(), 'w1', '2025-03-19T09:00:00Z');
    await move('deposit', '2', 'd2', '2025-03-25T09:00:00Z');
    const summary = await run('2025-03-25');
    expect(summary.interestBooked).toBe(1);
    // A day of the gap cannot run afterwards (its cycle would come after the 25th's).
    await expectRefused('2025-03-20', '2025-03-26');
    await ledger.verify({ entity: 'defi' });
  });

  it('refuses a gap over a day that held a balance, even if the day before the run held none', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    // The 19th held a balance (its interest was never booked); it all left on the 20th.
    await move('withdrawal', await balance(), 'w1', '2025-03-20T09:00:00Z');
    await move('deposit', '2', 'd2', '2025-03-22T09:00:00Z');
    await expectRefused('2025-03-22', '2025-03-19');
  });

  it('refuses a gap over days with no balance when the last day run carried residues to them', async () => {
    await setUp({ ...TERMS, residueMode: 'carry' });
    await move('deposit', '0.123456789012345678', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    await move('withdrawal', await balance(), 'w1', '2025-03-19T09:00:00Z');
    await move('deposit', '2', 'd2', '2025-03-25T09:00:00Z');
    await expectRefused('2025-03-25', '2025-03-19');
  });

  it('the projection reads any day, in any order, without writing', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    const before = await snapshot();
    expect((await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-25' })).map((line) => line.earnAccountId)).toEqual(['a0']);
    expect((await projectAccountingCycle({ books, entity: 'defi', day: '2025-03-10' })).map((line) => line.balance)).toEqual(['0.000000000000000000']);
    expect(await snapshot()).toBe(before);
  });

  it('keeps each entity in its own order', async () => {
    await setUp();
    await move('deposit', '1', 'd1', '2025-03-18T09:00:00Z');
    await run('2025-03-18');
    expect((await runAccountingCycle({ books, entity: 'lending', day: '2025-03-25' })).accounts).toBe(0);
    await expectRefused('2025-03-25', '2025-03-19');
  });
});

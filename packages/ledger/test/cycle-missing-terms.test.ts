/**
 * A product with no version in force on the cycle's day (its first version takes effect later)
 * whose Earn account holds a balance then: the run found it at that account's batch, after
 * committing the batches before it (session 25). It is refused before anything is written, as
 * `invalid_input` naming the product (`providerProductId`) and the day (`context.day`). Accounts of
 * such a product that hold nothing that day are skipped, as before; the projection refuses too.
 */
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError, projectAccountingCycle, runAccountingCycle } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const flat = { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] };

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
}

describe.each(DIALECTS)('a product with no version in force on the cycle day, on %s', (dialect) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function setUp(): Promise<EarnBooks> {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
    close = opened.close;
    const books = new EarnBooks(opened.ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'eth', currency: 'ETH', name: 'ETH', effectiveDay: '2025-01-01', terms: flat });
    // btc's first version takes effect after the day the cycle runs.
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-04-01', terms: flat });
    await books.registerUser({ partnerUserId: 'p', earnUsers: [{ entity: 'defi', earnUserId: 'u' }] });
    // The ETH account comes first in account order: its batch was booked before the BTC one.
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a-eth', earnUserId: 'u', providerProductId: 'eth', currency: 'ETH' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a-btc', earnUserId: 'u', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a-eth', providerBookingId: 'b-eth', amount: '1', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'k-eth', providerData: {} });
    return books;
  }

  it('is refused before anything is written when one of its accounts holds a balance, naming the product and the day', async () => {
    const books = await setUp();
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a-btc', providerBookingId: 'b-btc', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-btc', providerData: {} });
    const db = books.ledger.db as Kysely<unknown>;
    const before = await snapshotDatabase(db);
    const error = await caught(runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 1, commitLines: 1 }));
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'providerProductId', value: 'btc', context: { day: '2025-03-18', earnAccountId: 'a-btc' } });
    expect((error as Error).message).toContain('2025-03-18');
    expect(await snapshotDatabase(db)).toBe(before);
    expect(await caught(projectAccountingCycle({ books, entity: 'defi', day: '2025-03-18' }))).toMatchObject({ code: 'invalid_input', field: 'providerProductId', value: 'btc' });
    // Once the product has a version in force that day, the day runs.
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-03-01', terms: flat });
    expect((await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 1, commitLines: 1 })).interestBooked).toBe(2);
    await books.ledger.verify({ entity: 'defi' });
  });

  it('skips its accounts that hold nothing on the day', async () => {
    const books = await setUp();
    // A deposit after the day: the account held nothing at the end of it.
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a-btc', providerBookingId: 'b-btc', amount: '1', occurredAt: '2025-03-20T10:00:00Z', idempotencyKey: 'k-btc', providerData: {} });
    const summary = await runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: 1, commitLines: 1 });
    expect(summary.interestBooked).toBe(1);
    expect([...summary.totals.keys()]).toEqual(['ETH']);
    await books.ledger.verify({ entity: 'defi' });
  });
});

/**
 * Keys the library composes from an id and a prefix (an Earn account's code `user:<id>`, the
 * default idempotency keys `interest:<id>`, `partner_margin:<id>`, `fee:<id>`, the cycle's
 * `cycle:margin:<entity>:<day>:<currency>`) fit whatever id the ledger takes (a review, session
 * 44: ids of 196 to 200 characters were refused under the composed field, `code` or
 * `idempotencyKey`, which the caller never gave). Longer input is refused naming the caller's
 * field, nothing written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { COMPOSED_KEY_LENGTH_MAX, EarnBooks, KEY_LENGTH_MAX, runAccountingCycle } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
const id = (letter: string, length = KEY_LENGTH_MAX) => letter.repeat(length);

async function refusal(promise: Promise<unknown>): Promise<{ code: string | undefined; field: string | undefined } | undefined> {
  return promise.then(
    () => undefined,
    (error: { code?: string; field?: string }) => ({ code: error.code, field: error.field }),
  );
}

describe.each(DIALECTS)('keys composed from the longest ids (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  async function open(entity: string): Promise<{ ledger: Ledger; books: EarnBooks }> {
    const opened = await freshLedger(dialect, { entities: [{ id: entity, timeZone: 'UTC' }] });
    close = opened.close;
    const books = new EarnBooks(opened.ledger);
    await books.recordProduct({ entity, providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity, earnUserId: 'eu-1' }] });
    return { ledger: opened.ledger, books };
  }

  it('books an Earn account, a booking, interest, margin and a fee whose ids have 200 characters, and repeats them as exists', async () => {
    const { ledger, books } = await open('defi');
    const account = await books.openEarnAccount({ entity: 'defi', earnAccountId: id('a'), earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    expect(account.status).toBe('created');
    expect((await ledger.account(account.value.ledgerAccountId)).code).toBe(`user:${id('a')}`);
    const deposit = { entity: 'defi', earnAccountId: id('a'), providerBookingId: id('b'), amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: id('k', COMPOSED_KEY_LENGTH_MAX), providerData: {} };
    const interest = { entity: 'defi', earnAccountId: id('a'), providerEntryId: id('i'), amount: '0.001', occurredAt: '2025-03-19T00:00:00Z' };
    const margin = { entity: 'defi', currency: 'BTC', providerEntryId: id('m'), amount: '0.0001', occurredAt: '2025-03-19T00:00:00Z' };
    const fee = { entity: 'defi', currency: 'BTC', providerEntryId: id('f'), amount: '0.0001', occurredAt: '2025-03-19T00:00:00Z' };
    const first = [await books.recordDeposit(deposit), await books.recordInterest(interest), await books.recordPartnerMargin(margin), await books.recordFee(fee)];
    expect(first.map((result) => result.status)).toEqual(['created', 'created', 'created', 'created']);
    expect(first.slice(1).map((result) => result.transaction.idempotencyKey)).toEqual([`interest:${id('i')}`, `partner_margin:${id('m')}`, `fee:${id('f')}`]);
    const again = [await books.openEarnAccount({ entity: 'defi', earnAccountId: id('a'), earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' }), await books.recordDeposit(deposit), await books.recordInterest(interest), await books.recordPartnerMargin(margin), await books.recordFee(fee)];
    expect(again.map((result) => result.status)).toEqual(['exists', 'exists', 'exists', 'exists', 'exists']);
  });

  it('runs the accounting cycle of an entity whose id has 200 characters (its margin key holds the entity)', async () => {
    const entity = id('e');
    const { books } = await open(entity);
    await books.openEarnAccount({ entity, earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity, earnAccountId: 'acc-1', providerBookingId: 'd1', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'd1', providerData: {} });
    const summary = await runAccountingCycle({ books, entity, day: '2025-03-18' });
    expect(summary.interestBooked).toBe(1);
    expect((await books.ledger.transactionByKey(entity, `cycle:margin:${entity}:2025-03-18:BTC`))?.kind).toBe('partner_margin');
  });

  it('refuses longer ids and keys naming the field given, and writes nothing', async () => {
    const { ledger, books } = await open('defi');
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const user = (await books.earnAccount({ entity: 'defi', earnAccountId: 'acc-1' })).ledgerAccountId;
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const posting = { entity: 'defi', kind: 'deposit' as const, occurredAt: '2025-03-18T10:00:00Z', entries: [{ accountId: funds.id, side: 'debit' as const, amount: '1' }, { accountId: user, side: 'credit' as const, amount: '1' }] };
    const refusals = [
      await refusal(books.openEarnAccount({ entity: 'defi', earnAccountId: id('a', KEY_LENGTH_MAX + 1), earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' })),
      await refusal(books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: id('b', KEY_LENGTH_MAX + 1), amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k', providerData: {} })),
      await refusal(books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'b', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: id('k', COMPOSED_KEY_LENGTH_MAX + 1), providerData: {} })),
      await refusal(books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: id('i', KEY_LENGTH_MAX + 1), amount: '0.001', occurredAt: '2025-03-19T00:00:00Z' })),
      await refusal(ledger.post({ ...posting, idempotencyKey: id('k', COMPOSED_KEY_LENGTH_MAX + 1) })),
      await refusal(ledger.openAccount({ entity: 'defi', currency: 'BTC', code: id('c', COMPOSED_KEY_LENGTH_MAX + 1), kind: 'user' })),
    ];
    expect(refusals).toEqual([
      { code: 'invalid_input', field: 'earnAccountId' },
      { code: 'invalid_input', field: 'providerBookingId' },
      { code: 'invalid_input', field: 'idempotencyKey' },
      { code: 'invalid_input', field: 'providerEntryId' },
      { code: 'invalid_input', field: 'idempotencyKey' },
      { code: 'invalid_input', field: 'code' },
    ]);
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

/**
 * The provider glue in the library, against the local sandbox, on every dialect: the product list
 * of both entities copied into the mirror, and "book on the provider, then record" recovering
 * from a crash between the two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnApiError, EarnFacade } from '@earnbook/earn-client';
import type { Booking } from '@earnbook/earn-client';
import { EarnBooks, LedgerError } from '@earnbook/ledger';
import { startSandbox } from '../../earn-sandbox/src/index.js';
import type { Sandbox } from '../../earn-sandbox/src/index.js';
import { ReconcileError } from '../src/errors.js';
import { bookThenRecord, syncProducts } from '../src/index.js';
import { DIALECTS, openTestBooks } from './export-books.js';
import { freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import type { TestBooks } from './export-books.js';

const PRODUCTS = [
  { id: 'eth-defi', entity: 'defi', name: 'ETH DeFi', currency: 'ETH', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }], partnerMargin: { mode: 'own-apy', apy: '0.005' } } },
  { id: 'btc-lending', entity: 'lending', name: 'BTC lending', currency: 'BTC', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null } },
] as const;

/** A sandbox and fresh books with one end user, both entities' products, and one Earn account of `productId` opened at the provider and in the books. */
async function openGlueWorld(dialect: (typeof DIALECTS)[number], input: { user: string; productId: string; effectiveDay: string; key: string }) {
  const sandbox = await startSandbox({ timeZone: 'UTC', products: PRODUCTS.map((product) => ({ ...product, terms: { ...product.terms } })), seed: 5, startAt: new Date('2025-03-10T08:00:00Z') });
  const books = await openTestBooks(dialect);
  const earnBooks = new EarnBooks(books.ledger);
  const earn = new EarnFacade({ entities: { defi: sandbox.clientConfig('defi'), lending: sandbox.clientConfig('lending') } });
  const users = await earn.onboardEndUser({ endUserReference: input.user });
  await earnBooks.registerUser({ partnerUserId: input.user, earnUsers: Object.entries(users).map(([entity, user]) => ({ entity, earnUserId: user.id })) });
  await syncProducts({ source: earn, books: earnBooks, effectiveDay: input.effectiveDay });
  const opened = await earn.openAccount({ earnUserIds: { defi: users['defi']?.id ?? '', lending: users['lending']?.id ?? '' }, productId: input.productId, idempotencyKey: input.key });
  await earnBooks.openEarnAccount({ entity: opened.entityId, earnAccountId: opened.account.id, earnUserId: opened.account.userId, providerProductId: input.productId, currency: opened.account.currency });
  return { sandbox, books, earnBooks, earn, accountId: opened.account.id };
}

describe.each(DIALECTS)('provider glue on %s', (dialect) => {
  let sandbox: Sandbox;
  let books: TestBooks;
  let earnBooks: EarnBooks;
  let earn: EarnFacade;
  let accountId: string;

  beforeAll(async () => {
    ({ sandbox, books, earnBooks, earn, accountId } = await openGlueWorld(dialect, { user: 'alice', productId: 'eth-defi', effectiveDay: '2025-03-10', key: 'open-alice-eth' }));
  }, 60_000);
  afterAll(async () => {
    await books.close();
    await sandbox.close();
  });

  it('copies the products of both entities into the mirror, idempotently', async () => {
    const again = await syncProducts({ source: earn, books: earnBooks, effectiveDay: '2025-03-10' });
    expect(again.map((item) => `${item.entity} ${item.productId} ${item.currency} ${item.status}`).sort()).toEqual(['defi eth-defi ETH exists', 'lending btc-lending BTC exists']);
    expect((await earnBooks.productInForce({ entity: 'lending', providerProductId: 'btc-lending', day: '2025-03-10' }))?.currency).toBe('BTC');
  });

  it('books on the provider, then records; after a crash between the two, the same key records it once', async () => {
    const first = await bookThenRecord({ provider: earn, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '2.5', idempotencyKey: 'order-1' });
    expect(first.status).toBe('created');
    expect(first.booking?.amount).toMatch(/^2\.5/);
    // Replayed: the books hold the key, the provider is not called again.
    let calls = 0;
    const counting = { deposit: async (call: Parameters<EarnFacade['deposit']>[0]) => ((calls += 1), earn.deposit(call)), withdraw: async (call: Parameters<EarnFacade['withdraw']>[0]) => ((calls += 1), earn.withdraw(call)) };
    expect((await bookThenRecord({ provider: counting, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '2.5', idempotencyKey: 'order-1' })).status).toBe('exists');
    expect(calls).toBe(0);
    // A crash after the provider booked and before the books recorded: the provider has it, the books not.
    const crashing = { ...counting, withdraw: async (call: Parameters<EarnFacade['withdraw']>[0]): Promise<Booking> => {
      await earn.withdraw(call);
      throw new Error('process killed before recording');
    } };
    await expect(bookThenRecord({ provider: crashing, books: earnBooks, kind: 'withdrawal', entity: 'defi', earnAccountId: accountId, amount: '1', idempotencyKey: 'order-2' })).rejects.toThrow('process killed');
    expect(await books.ledger.transactionByKey('defi', 'order-2')).toBeUndefined();
    const recovered = await bookThenRecord({ provider: counting, books: earnBooks, kind: 'withdrawal', entity: 'defi', earnAccountId: accountId, amount: '1', idempotencyKey: 'order-2' });
    expect(recovered.status).toBe('created');
    const providerBookings = (await sandbox.books.bookings({ entity: 'defi' })).filter((booking) => booking.accountId === accountId);
    expect(providerBookings).toHaveLength(2);
    const account = await earnBooks.earnAccount({ entity: 'defi', earnAccountId: accountId });
    expect(await books.ledger.balance(account.ledgerAccountId)).toBe('1.500000000000000000');
  });

  it('refuses a booking answered in another currency than the account\'s, recording nothing', async () => {
    const otherCurrency = {
      deposit: async (call: Parameters<EarnFacade['deposit']>[0]): Promise<Booking> => ({ ...(await earn.deposit(call)), currency: 'BTC' }),
      withdraw: async (call: Parameters<EarnFacade['withdraw']>[0]) => earn.withdraw(call),
    };
    const before = await snapshotDatabase(books.db as never);
    const error = await bookThenRecord({ provider: otherCurrency, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '0.25', idempotencyKey: 'order-btc' }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(EarnApiError);
    expect(error).toMatchObject({ code: 'invalid_response', field: 'currency' });
    expect((error as Error).message).toContain('currency expected "ETH"');
    expect((error as Error).message).toContain('received "BTC"');
    expect(await snapshotDatabase(books.db as never)).toBe(before);
  });

  it('refuses bad input before calling the provider, writing nothing', async () => {
    let calls = 0;
    const never = { deposit: async () => ((calls += 1), Promise.reject(new Error('called'))), withdraw: async () => ((calls += 1), Promise.reject(new Error('called'))) };
    const count = async () => (await books.db.selectFrom('journal_transactions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const before = Number(await count());
    await expect(bookThenRecord({ provider: never, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'no-such-account', amount: '1', idempotencyKey: 'k' })).rejects.toBeInstanceOf(LedgerError);
    await expect(bookThenRecord({ provider: never, books: earnBooks, kind: 'refund' as 'deposit', entity: 'defi', earnAccountId: accountId, amount: '1', idempotencyKey: 'k' })).rejects.toBeInstanceOf(ReconcileError);
    await expect(bookThenRecord({ provider: never, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '1', idempotencyKey: '' })).rejects.toMatchObject({ field: 'idempotencyKey' });
    // One character past what the Earn API and the books take (255).
    await expect(bookThenRecord({ provider: never, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '1', idempotencyKey: 'k'.repeat(256) })).rejects.toMatchObject({ code: 'invalid_input', field: 'idempotencyKey' });
    expect(calls).toBe(0);
    expect(Number(await count())).toBe(before);
  });

  // Session 45: the glue refused keys past 200 characters (the ledger's ids), which the Earn API
  // takes up to 255; the books now take such a key too.
  it('books and records under an idempotency key as long as the Earn API takes (255 characters)', async () => {
    const key = 'o'.repeat(255);
    const first = await bookThenRecord({ provider: earn, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '0.5', idempotencyKey: key });
    expect(first.status).toBe('created');
    expect((await books.ledger.transactionByKey('defi', key))?.id).toBe(first.transactionId);
    expect((await bookThenRecord({ provider: earn, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: accountId, amount: '0.5', idempotencyKey: key })).status).toBe('exists');
  });
});

describe.each(DIALECTS)('provider glue with a currency of fewer decimals on %s', (dialect) => {
  it('records a booking the provider answers with 18 decimals in a currency the ledger keeps with 6', async () => {
    const { ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }], currencyScales: { USDC: 6 } });
    try {
      const earnBooks = new EarnBooks(ledger);
      await earnBooks.recordProduct({ entity: 'defi', providerProductId: 'usdc', currency: 'USDC', name: 'USDC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }], partnerMargin: null } });
      await earnBooks.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'u-bob' }] });
      await earnBooks.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-usdc', earnUserId: 'u-bob', providerProductId: 'usdc', currency: 'USDC' });
      // What the API answers (all currencies with 18 decimals, EARN_API.md).
      const answer = (call: { amount: string; idempotencyKey: string }) => ({ id: `bk-${call.idempotencyKey}`, accountId: 'acc-usdc', amount: `${call.amount}000000000000`, currency: 'USDC', createdAt: '2025-03-18T10:00:00.000Z' }) as unknown as Booking;
      const provider = { deposit: async (call: { amount: string; idempotencyKey: string }) => answer(call), withdraw: async (call: { amount: string; idempotencyKey: string }) => answer(call) };
      const result = await bookThenRecord({ provider: provider as never, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'acc-usdc', amount: '2.500000', idempotencyKey: 'order-usdc' });
      expect(result.status).toBe('created');
      expect(await earnBooks.booking({ entity: 'defi', providerBookingId: 'bk-order-usdc' })).toMatchObject({ amount: '2.500000000000000000', earnAccountId: 'acc-usdc' });
      // A digit past the currency's 6 decimals is still refused, typed.
      const odd = { deposit: async () => ({ ...answer({ amount: '1.000000', idempotencyKey: 'odd' }), amount: '1.000000000000000001' }) as unknown as Booking, withdraw: async () => answer({ amount: '1', idempotencyKey: 'odd' }) };
      const before = await snapshotDatabase(ledger.db as never);
      // The provider booked it: the refusal is said as a booking the books lack, with its cause.
      const refused = await bookThenRecord({ provider: odd as never, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'acc-usdc', amount: '1.000000', idempotencyKey: 'order-odd' }).then(
        () => expect.fail('expected a refusal'),
        (caught: unknown) => caught as ReconcileError,
      );
      expect(refused).toMatchObject({ code: 'booked_not_recorded', field: 'idempotencyKey', value: 'order-odd', booking: { kind: 'deposit', providerBookingId: 'bk-odd', amount: '1.000000000000000001', earnAccountId: 'acc-usdc' } });
      expect(refused.cause).toMatchObject({ code: 'invalid_amount', field: 'amount' });
      // Refused whole: nothing of the booking reached the books (the nightly reports it as missing).
      expect(await snapshotDatabase(ledger.db as never)).toBe(before);
      await ledger.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  });
});

describe.each(DIALECTS)('provider glue when the provider booked and the books cannot record on %s', (dialect) => {
  let sandbox: Sandbox;
  let books: TestBooks;
  let earnBooks: EarnBooks;
  let earn: EarnFacade;
  let accountId: string;

  beforeAll(async () => {
    ({ sandbox, books, earnBooks, earn, accountId } = await openGlueWorld(dialect, { user: 'bob', productId: 'btc-lending', effectiveDay: '2025-03-01', key: 'open-bob-btc' }));
  }, 60_000);
  afterAll(async () => {
    await books.close();
    await sandbox.close();
  });

  it('says a withdrawal the provider booked and the lagging books refused is booked_not_recorded, the same on a retry, never insufficient_balance', async () => {
    await bookThenRecord({ provider: earn, books: earnBooks, kind: 'deposit', entity: 'lending', earnAccountId: accountId, amount: '1', idempotencyKey: 'dep-1' });
    // The provider's cycle credits a day of interest; the partner's nightly job has not run yet.
    await sandbox.clock.advanceDays(1);
    const providerBalance = await sandbox.books.accountBalance({ entity: 'lending', accountId });
    expect(providerBalance).toBe('1.000094254925873501');
    const before = await snapshotDatabase(books.db as never);
    const attempt = () =>
      bookThenRecord({ provider: earn, books: earnBooks, kind: 'withdrawal', entity: 'lending', earnAccountId: accountId, amount: providerBalance, idempotencyKey: 'wd-all' }).then(
        () => expect.fail('expected booked_not_recorded'),
        (caught: unknown) => caught,
      );
    for (const error of [await attempt(), await attempt()]) {
      expect(error).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({
        code: 'booked_not_recorded',
        field: 'idempotencyKey',
        value: 'wd-all',
        booking: { kind: 'withdrawal', entity: 'lending', earnAccountId: accountId, amount: providerBalance, currency: 'BTC', idempotencyKey: 'wd-all' },
      });
      expect((error as ReconcileError).booking?.providerBookingId).toMatch(/./);
      expect((error as Error).cause).toBeInstanceOf(LedgerError);
      expect((error as Error).cause).toMatchObject({ code: 'insufficient_balance' });
      // The refusal's context (the account at fault) is the error's too.
      expect((error as ReconcileError).context).toEqual(((error as Error).cause as LedgerError).context);
      expect((error as ReconcileError).context).toMatchObject({ accountId: expect.stringMatching(/^\d+$/) });
      expect((error as Error).message).toContain('missing_in_ledger');
    }
    // Booked once on the provider, nothing in the books.
    expect((await sandbox.books.bookings({ entity: 'lending' })).filter((booking) => booking.kind === 'withdrawal')).toHaveLength(1);
    expect(await snapshotDatabase(books.db as never)).toBe(before);
    // Once the books caught up (the day's interest), the same key records the one booking.
    await earnBooks.recordInterest({ entity: 'lending', earnAccountId: accountId, providerEntryId: 'interest-1', amount: '0.000094254925873501', occurredAt: '2025-03-11T00:00:00Z' });
    const recorded = await bookThenRecord({ provider: earn, books: earnBooks, kind: 'withdrawal', entity: 'lending', earnAccountId: accountId, amount: providerBalance, idempotencyKey: 'wd-all' });
    expect(recorded.status).toBe('created');
    expect((await sandbox.books.bookings({ entity: 'lending' })).filter((booking) => booking.kind === 'withdrawal')).toHaveLength(1);
    await books.ledger.verify({ entity: 'lending' });
  });

  it('refuses a key the books hold for another kind, Earn account or amount, naming the field, without calling the provider', async () => {
    await bookThenRecord({ provider: earn, books: earnBooks, kind: 'deposit', entity: 'lending', earnAccountId: accountId, amount: '2', idempotencyKey: 'order-k' });
    let calls = 0;
    const counting = { deposit: async (call: Parameters<EarnFacade['deposit']>[0]) => ((calls += 1), earn.deposit(call)), withdraw: async (call: Parameters<EarnFacade['withdraw']>[0]) => ((calls += 1), earn.withdraw(call)) };
    await earnBooks.recordProduct({ entity: 'lending', providerProductId: 'btc-other', currency: 'BTC', name: 'BTC other', effectiveDay: '2025-03-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.01' }], partnerMargin: null } });
    const bob = (await earnBooks.earnAccount({ entity: 'lending', earnAccountId: accountId })).earnUserId;
    await earnBooks.openEarnAccount({ entity: 'lending', earnAccountId: 'acc-other', earnUserId: bob, providerProductId: 'btc-other', currency: 'BTC' });
    const before = await snapshotDatabase(books.db as never);
    const cases = [
      { kind: 'withdrawal' as const, earnAccountId: accountId, amount: '2', field: 'kind', value: 'withdrawal' },
      { kind: 'deposit' as const, earnAccountId: accountId, amount: '0.4', field: 'amount', value: '0.4' },
      { kind: 'deposit' as const, earnAccountId: 'acc-other', amount: '2', field: 'earnAccountId', value: 'acc-other' },
    ];
    for (const item of cases) {
      const error = await bookThenRecord({ provider: counting, books: earnBooks, kind: item.kind, entity: 'lending', earnAccountId: item.earnAccountId, amount: item.amount, idempotencyKey: 'order-k' }).then(
        () => expect.fail(`expected a conflict on ${item.field}`),
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code: 'idempotency_conflict', field: item.field, value: item.value });
      expect((error as Error).message).toContain('order-k');
    }
    expect(calls).toBe(0);
    expect(await snapshotDatabase(books.db as never)).toBe(before);
    // The same request again is still a replay.
    expect((await bookThenRecord({ provider: counting, books: earnBooks, kind: 'deposit', entity: 'lending', earnAccountId: accountId, amount: '2.000000000000000000', idempotencyKey: 'order-k' })).status).toBe('exists');
    expect(calls).toBe(0);
  });
});

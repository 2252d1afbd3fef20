/**
 * `bookThenRecord` and a provider's answer whose fields cannot be turned into text (an object
 * whose `toString` throws, a revoked proxy): the glue's errors quote the provider's text, and
 * quoting it must not throw in their place. A currency that differs is still `invalid_response`
 * naming `currency`; a booking the books refuse is still `booked_not_recorded` carrying the
 * booking (the money moved: a raw error would hide that). Nothing is recorded, on every dialect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError } from '@earnbook/earn-client';
import type { Booking } from '@earnbook/earn-client';
import { EarnBooks } from '@earnbook/ledger';
import { ReconcileError } from '../src/errors.js';
import { bookThenRecord } from '../src/index.js';
import type { BookingProvider } from '../src/index.js';
import { DIALECTS } from './export-books.js';
import { freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

/** A value whose conversion to text throws (its `toString` and `valueOf`). */
class HostileText {
  toString(): string {
    throw new Error('hostile toString');
  }

  valueOf(): never {
    throw new Error('hostile valueOf');
  }
}

function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy as never;
}

/** A provider that books and answers `answer` (a contract booking with some fields replaced). */
function providerAnswering(change: Record<string, unknown>): BookingProvider {
  const answer = (): Booking => ({ id: 'bk-1', accountId: 'account-1', type: 'Deposit', amount: '0.5', currency: 'ETH', createdAt: '2025-03-18T10:00:00.000Z', balanceAfter: '0.5', ...change }) as never;
  return { deposit: async () => answer(), withdraw: async () => answer() };
}

describe.each(DIALECTS)('bookThenRecord quoting a provider answer that cannot be made text, on %s', (dialect) => {
  let world: Awaited<ReturnType<typeof freshLedger>>;
  let books: EarnBooks;

  beforeEach(async () => {
    const quiet = () => undefined;
    world = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }], logger: { info: quiet, warn: quiet, error: quiet, debug: quiet } });
    books = new EarnBooks(world.ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'eth-defi', currency: 'ETH', name: 'ETH DeFi', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }], partnerMargin: null } });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'u-alice' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'account-1', earnUserId: 'u-alice', providerProductId: 'eth-defi', currency: 'ETH' });
  });
  afterEach(async () => world.close());

  const book = (provider: BookingProvider) => bookThenRecord({ provider, books, kind: 'deposit', entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: 'order-1' });
  const caught = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a refusal'),
      (error: unknown) => error,
    );

  it('a currency that differs and cannot be made text is invalid_response naming currency, nothing recorded', async () => {
    const before = await snapshotDatabase(world.ledger.db as never);
    for (const currency of [new HostileText(), revoked()]) {
      const error = await caught(book(providerAnswering({ currency })));
      expect(error, String((error as Error).message)).toBeInstanceOf(EarnApiError);
      expect(error).toMatchObject({ code: 'invalid_response', field: 'currency' });
    }
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('a booking the books refuse, whose amount or id cannot be made text, is booked_not_recorded carrying it, nothing recorded', async () => {
    const before = await snapshotDatabase(world.ledger.db as never);
    for (const change of [{ amount: new HostileText() }, { id: new HostileText() }, { amount: revoked() }]) {
      const error = await caught(book(providerAnswering(change)));
      expect(error, String((error as Error).message)).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code: 'booked_not_recorded', field: 'idempotencyKey', value: 'order-1' });
      expect((error as ReconcileError).message).toContain('the books did not record it');
    }
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('an answer that cannot be read at all is invalid_response naming booking, logged, nothing recorded', async () => {
    const before = await snapshotDatabase(world.ledger.db as never);
    // (A promise cannot resolve to a revoked proxy: it reads its `then`, so the provider's own call
    // rejects, as any provider failure does. A proxy whose key listing throws stands for it.)
    const answers: unknown[] = [
      new Proxy({}, { ownKeys: () => { throw new Error('hostile ownKeys'); } }),
      Object.defineProperty({ id: 'bk-1' }, 'currency', { enumerable: true, get: () => { throw new Error('hostile getter currency'); } }),
      undefined,
    ];
    for (const answer of answers) {
      const provider: BookingProvider = { deposit: async () => answer as never, withdraw: async () => answer as never };
      const error = await caught(book(provider));
      expect(error, String((error as Error).message)).toBeInstanceOf(EarnApiError);
      expect(error).toMatchObject({ code: 'invalid_response', field: 'booking' });
      expect((error as Error).message).toContain('the provider may have booked: the next reconciliation shows such a booking as missing_in_ledger');
    }
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('an answer whose fields are its class\'s getters is read through them and recorded, as before', async () => {
    class BookingAnswer {
      readonly #fields = { id: 'bk-9', accountId: 'account-1', type: 'Deposit', amount: '0.5', currency: 'ETH', createdAt: '2025-03-18T10:00:00.000Z', balanceAfter: '0.5' };
      get id(): string { return this.#fields.id; }
      get accountId(): string { return this.#fields.accountId; }
      get type(): string { return this.#fields.type; }
      get amount(): string { return this.#fields.amount; }
      get currency(): string { return this.#fields.currency; }
      get createdAt(): string { return this.#fields.createdAt; }
      get balanceAfter(): string { return this.#fields.balanceAfter; }
    }
    const provider: BookingProvider = { deposit: async () => new BookingAnswer() as never, withdraw: async () => new BookingAnswer() as never };
    const result = await book(provider);
    expect(result).toMatchObject({ status: 'created', booking: { id: 'bk-9', amount: '0.5', currency: 'ETH' } });
  });
});

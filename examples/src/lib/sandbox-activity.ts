/**
 * A little activity on a sandbox, for the examples that need books with something in them
 * (nightly reconciliation, audit export) and their tests: a few end users onboarded with their
 * Earn users, an account per product, deposits and a withdrawal, each booked on the provider and
 * recorded in the partner's books.
 */
import type { EarnFacade } from '@earnbook/earn-client';
import type { EarnBooks } from '@earnbook/ledger';

/** Options of {@link bookSampleActivity}. */
export interface SampleActivityOptions {
  readonly earn: EarnFacade;
  readonly books: EarnBooks;
  /** End users to onboard (or reuse), 1..100. */
  readonly users: number;
  /** Prefix of the partner's booking ids; make it unique per call (e.g. the day). */
  readonly bookingPrefix: string;
}

/** Onboards `users` end users, opens an account in every product and books deposits and withdrawals. */
export async function bookSampleActivity(options: SampleActivityOptions): Promise<{ bookings: number }> {
  if (!Number.isInteger(options.users) || options.users < 1 || options.users > 100) throw new RangeError(`users must be 1..100, got ${options.users}`);
  const products = await options.earn.listProducts();
  let bookings = 0;
  for (let index = 1; index <= options.users; index++) {
    const partnerUserId = `sample-customer-${index}`;
    const earnUsers = await options.earn.onboardEndUser({ endUserReference: partnerUserId });
    await options.books.registerUser({ partnerUserId, earnUsers: Object.entries(earnUsers).map(([entity, user]) => ({ entity, earnUserId: user.id })) });
    const earnUserIds = Object.fromEntries(Object.entries(earnUsers).map(([entity, user]) => [entity, user.id]));
    for (const { product } of products) {
      const { entityId, account } = await options.earn.openAccount({ earnUserIds, productId: product.id, idempotencyKey: `open-${partnerUserId}-${product.id}` });
      await options.books.openEarnAccount({ entity: entityId, earnAccountId: account.id, earnUserId: account.userId, providerProductId: product.id, currency: account.currency });
      for (const [kind, amount] of [['deposit', `${index}.5`], ['withdrawal', '0.25']] as const) {
        const idempotencyKey = `${options.bookingPrefix}-${kind}-${partnerUserId}-${product.id}`;
        const call = { productId: product.id, accountId: account.id, amount, idempotencyKey };
        const booking = kind === 'deposit' ? await options.earn.deposit(call) : await options.earn.withdraw(call);
        const record = { entity: entityId, earnAccountId: account.id, providerBookingId: booking.id, amount: booking.amount, occurredAt: booking.createdAt, idempotencyKey, providerData: booking };
        if (kind === 'deposit') await options.books.recordDeposit(record);
        else await options.books.recordWithdrawal(record);
        bookings++;
      }
    }
  }
  return { bookings };
}

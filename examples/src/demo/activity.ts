/**
 * The end users' side of the demo: onboarding (two Earn users per end user, through the facade,
 * then stored in the partner's books), and each day's deposits and withdrawals, booked on the
 * provider first and then recorded in the partner's books with what the provider returned.
 */
import { EarnApiError } from '@earnbook/earn-client';
import type { EarnFacade } from '@earnbook/earn-client';
import { formatUnits, toUnits } from '@earnbook/ledger';
import type { EarnBooks } from '@earnbook/ledger';
import type { KeyedQueue } from '../lib/keyed-queue.js';
import { randomAmount } from '../random.js';
import type { DemoProduct } from './world.js';

/** An end user of the demo and what the partner knows of them. */
export interface DemoUser {
  readonly partnerUserId: string;
  /** The products this user is interested in (1 to 3). */
  readonly products: readonly DemoProduct[];
  /** Earn user id per entity, once onboarded. */
  earnUserIds: Readonly<Record<string, string>> | undefined;
  /** Earn account per product id, once opened, with the balance the provider last answered. */
  readonly accounts: Map<string, { readonly earnAccountId: string; balanceUnits: bigint }>;
}

/** Counters of the activity, per `entity currency`. */
export interface ActivityCounters {
  bookings: number;
  deposits: number;
  withdrawals: number;
  /** Withdrawals the provider refused with `insufficient_balance`. */
  refused: number;
  /** Bookings whose answer never came (the client gave up): the nightly reconciliation finds them. */
  unknownOutcome: number;
  /** Operations skipped because the account waits for such a repair. */
  skippedInDoubt: number;
  accountsOpened: number;
}

/** Everything the activity needs. */
export interface ActivityContext {
  readonly earn: EarnFacade;
  readonly books: EarnBooks;
  readonly queue: KeyedQueue;
  /** Accounts with a booking of unknown outcome, until the nightly repair books it. */
  readonly inDoubt: Set<string>;
  readonly counters: Map<string, ActivityCounters>;
  /** Each booking whose answer was lost for good, for the fault report. */
  readonly lostBookings: { day: string; entity: string; earnAccountId: string; idempotencyKey: string; error: string }[];
}

/** The counters of `entity currency`, created at zero. */
export function countersOf(counters: Map<string, ActivityCounters>, entity: string, currency: string): ActivityCounters {
  const key = `${entity} ${currency}`;
  let value = counters.get(key);
  if (value === undefined) {
    value = { bookings: 0, deposits: 0, withdrawals: 0, refused: 0, unknownOutcome: 0, skippedInDoubt: 0, accountsOpened: 0 };
    counters.set(key, value);
  }
  return value;
}

/** Makes `count` end users with their product interests, drawn from `random`. */
export function makeUsers(input: { readonly count: number; readonly products: readonly DemoProduct[]; readonly random: () => number }): DemoUser[] {
  return Array.from({ length: input.count }, (_, index) => {
    const wanted = 1 + Math.floor(input.random() * 3);
    const offset = Math.floor(input.random() * input.products.length);
    const products = Array.from({ length: wanted }, (__, k) => input.products[(offset + k) % input.products.length]).filter((product): product is DemoProduct => product !== undefined);
    return { partnerUserId: `customer-${String(index + 1).padStart(6, '0')}`, products, earnUserIds: undefined, accounts: new Map() };
  });
}

/** Onboards every user: one Earn user per entity on the provider, then the mapping in the partner's books. */
export function queueOnboarding(context: ActivityContext, users: readonly DemoUser[]): void {
  for (const user of users) {
    context.queue.push(user.partnerUserId, async () => {
      const earnUsers = await context.earn.onboardEndUser({ endUserReference: user.partnerUserId });
      const earnUserIds = Object.fromEntries(Object.entries(earnUsers).map(([entity, earnUser]) => [entity, earnUser.id]));
      await context.books.registerUser({ partnerUserId: user.partnerUserId, earnUsers: Object.entries(earnUserIds).map(([entity, earnUserId]) => ({ entity, earnUserId })) });
      user.earnUserIds = earnUserIds;
    });
  }
}

/** One planned operation; its random draws are taken when it is planned, so that a run is deterministic. */
export interface PlannedOperation {
  readonly user: DemoUser;
  readonly product: DemoProduct;
  /** The partner's own booking id, sent as the Idempotency-Key. */
  readonly idempotencyKey: string;
  /** Below 0.65 a deposit, else a withdrawal (when there is a balance). */
  readonly kindDraw: number;
  readonly depositAmount: string;
  /** Share of the known balance to withdraw, in millionths (10 % to 115 %: some are refused). */
  readonly withdrawPartsPerMillion: bigint;
}

/** Plans `count` operations of a day. */
export function planDay(input: { readonly day: string; readonly count: number; readonly users: readonly DemoUser[]; readonly random: () => number }): PlannedOperation[] {
  const operations: PlannedOperation[] = [];
  for (let index = 0; index < input.count; index++) {
    const user = input.users[Math.floor(input.random() * input.users.length)];
    const productDraw = input.random();
    const kindDraw = input.random();
    const share = input.random();
    if (user === undefined) continue;
    const product = user.products[Math.floor(productDraw * user.products.length)];
    if (product === undefined) continue;
    let depositAmount = randomAmount(input.random, product.wholeMax, 8);
    if (toUnits(depositAmount) === 0n) depositAmount = '0.00000001';
    operations.push({ user, product, idempotencyKey: `booking-${input.day}-${String(index).padStart(5, '0')}`, kindDraw, depositAmount, withdrawPartsPerMillion: BigInt(Math.floor((0.1 + share * 1.05) * 1_000_000)) });
  }
  return operations;
}

/** Units of the 18th decimal per 10^-8: withdrawals are rounded down to 8 decimals. */
const EIGHT_DECIMALS_UNITS = 10n ** 10n;

function isOutcomeUnknown(error: unknown): error is EarnApiError {
  return error instanceof EarnApiError && (error.code === 'retries_exhausted' || error.code === 'network_error' || error.code === 'timeout');
}

/** Queues one operation under its user's key. */
export function queueOperation(context: ActivityContext, day: string, operation: PlannedOperation): void {
  const { user, product } = operation;
  context.queue.push(user.partnerUserId, async () => {
    const counters = countersOf(context.counters, product.entity, product.currency);
    const earnUserIds = user.earnUserIds;
    if (earnUserIds === undefined) throw new Error(`${user.partnerUserId} is not onboarded`);
    let account = user.accounts.get(product.id);
    if (account === undefined) {
      // Accounts are opened when the user first deposits in a product.
      const opened = await context.earn.openAccount({ earnUserIds, productId: product.id, idempotencyKey: `open-${user.partnerUserId}-${product.id}` });
      await context.books.openEarnAccount({ entity: opened.entityId, earnAccountId: opened.account.id, earnUserId: opened.account.userId, providerProductId: product.id, currency: opened.account.currency });
      account = { earnAccountId: opened.account.id, balanceUnits: 0n };
      user.accounts.set(product.id, account);
      counters.accountsOpened++;
    }
    if (context.inDoubt.has(account.earnAccountId)) {
      counters.skippedInDoubt++;
      return;
    }
    const withdraw = account.balanceUnits > 0n && operation.kindDraw >= 0.65;
    let amount = operation.depositAmount;
    if (withdraw) {
      const units = ((account.balanceUnits * operation.withdrawPartsPerMillion) / 1_000_000n / EIGHT_DECIMALS_UNITS) * EIGHT_DECIMALS_UNITS;
      if (units === 0n) return;
      amount = formatUnits(units);
    }
    const call = { productId: product.id, accountId: account.earnAccountId, amount, idempotencyKey: operation.idempotencyKey };
    let booking;
    try {
      booking = withdraw ? await context.earn.withdraw(call) : await context.earn.deposit(call);
    } catch (error) {
      if (error instanceof EarnApiError && error.code === 'insufficient_balance') {
        counters.refused++;
        return;
      }
      if (isOutcomeUnknown(error)) {
        // The provider may have booked it. Hold the account until the nightly reconciliation
        // tells (missing_in_ledger) and repairs it from the report.
        counters.unknownOutcome++;
        context.inDoubt.add(account.earnAccountId);
        context.lostBookings.push({ day, entity: product.entity, earnAccountId: account.earnAccountId, idempotencyKey: operation.idempotencyKey, error: error.code });
        return;
      }
      throw error;
    }
    const record = { entity: product.entity, earnAccountId: account.earnAccountId, providerBookingId: booking.id, amount: booking.amount, occurredAt: booking.createdAt, idempotencyKey: operation.idempotencyKey, providerData: booking };
    if (withdraw) await context.books.recordWithdrawal(record);
    else await context.books.recordDeposit(record);
    account.balanceUnits = toUnits(booking.balanceAfter);
    counters.bookings++;
    if (withdraw) counters.withdrawals++;
    else counters.deposits++;
  });
}

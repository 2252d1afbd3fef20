/**
 * `bookThenRecord` and a booking answered in another currency than the Earn account's: the
 * provider's text reaches the error as the earn-client quotes provider text (credentials
 * redacted, controls, bidi overrides and line separators escaped), never raw, and nothing is
 * recorded. Against a real `EarnClient` talking to a loopback server, on every dialect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '@earnbook/earn-client';
import type { Booking } from '@earnbook/earn-client';
import { EarnBooks } from '@earnbook/ledger';
import { ReconcileError } from '../src/errors.js';
import { bookThenRecord } from '../src/index.js';
import type { BookingProvider } from '../src/index.js';
import { DIALECTS } from './export-books.js';
import { freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { FakeEarnServer, json } from '../../earn-client/test/support/fake-earn-server.js';

const CLIENT_SECRET = 'glue-secret-value-7';
const DEPOSIT_PATH = '/v1/accounts/account-1/deposits';
const WITHDRAWAL_PATH = '/v1/accounts/account-1/withdrawals';

/** A booking the provider answers on `account-1`, as the contract describes it. */
function answered(type: 'Deposit' | 'Withdrawal', currency: string, amount = '0.5'): Record<string, unknown> {
  return { id: `bk-${type}-${amount}`, accountId: 'account-1', type, amount, currency, createdAt: '2025-03-18T10:00:00.000Z', balanceAfter: amount };
}

async function refusal(promise: Promise<unknown>): Promise<EarnApiError> {
  const caught = await promise.then(
    () => expect.fail('expected a refusal'),
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(EarnApiError);
  return caught as EarnApiError;
}

/** No character a terminal or a log reader would act on or hide. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

describe.each(DIALECTS)('bookThenRecord quotes a currency answered by the provider safely on %s', (dialect) => {
  let server: FakeEarnServer;
  let world: Awaited<ReturnType<typeof freshLedger>>;
  let earnBooks: EarnBooks;
  /** Every log call: its fields (data, kept as they are) and its message. */
  let logged: { fields: Record<string, unknown>; message: string }[];

  beforeEach(async () => {
    server = await FakeEarnServer.start({ clientSecret: CLIENT_SECRET });
    logged = [];
    const line = (fields: Record<string, unknown>, message: string) => void logged.push({ fields, message });
    world = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }], logger: { info: line, warn: line, error: line, debug: line } });
    earnBooks = new EarnBooks(world.ledger);
    await earnBooks.recordProduct({ entity: 'defi', providerProductId: 'eth-defi', currency: 'ETH', name: 'ETH DeFi', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.04' }], partnerMargin: null } });
    await earnBooks.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'u-alice' }] });
    await earnBooks.openEarnAccount({ entity: 'defi', earnAccountId: 'account-1', earnUserId: 'u-alice', providerProductId: 'eth-defi', currency: 'ETH' });
  });
  afterEach(async () => {
    await world.close();
    await server.close();
  });

  it.each([
    ['a bidi override', 'deposit', 'BTC\u202e', '"BTC\\u202e"'],
    ['a C1 control sequence (CSI)', 'withdrawal', '\u009b2J', '"\\u009b2J"'],
    ['a line separator', 'deposit', 'BTC\u2028ETH', '"BTC\\u2028ETH"'],
  ] as const)('a currency holding %s is invalid_response naming currency, quoted escaped; nothing is recorded', async (_label, kind, currency, quoted) => {
    server.on('POST', kind === 'deposit' ? DEPOSIT_PATH : WITHDRAWAL_PATH, json(201, answered(kind === 'deposit' ? 'Deposit' : 'Withdrawal', currency)));
    const before = await snapshotDatabase(world.ledger.db as never);
    const error = await refusal(bookThenRecord({ provider: new EarnClient(server.config()), books: earnBooks, kind, entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: `order-${kind}` }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'currency', path: 'currency' });
    expect(error.message).toContain('currency expected "ETH"');
    expect(error.message).toContain(`received ${quoted}`);
    expect(error.message).not.toMatch(UNSAFE);
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('a credential the provider echoes as the currency never reaches the error; nothing is recorded', async () => {
    server.on('POST', DEPOSIT_PATH, json(201, answered('Deposit', CLIENT_SECRET)));
    const before = await snapshotDatabase(world.ledger.db as never);
    const error = await refusal(bookThenRecord({ provider: new EarnClient(server.config()), books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: 'order-echo' }));
    // The client refuses a body carrying its credential whole, before any field is compared.
    expect(error).toMatchObject({ code: 'invalid_response', path: '(root)' });
    expect(JSON.stringify(error)).not.toContain(CLIENT_SECRET);
    expect(error.stack ?? '').not.toContain(CLIENT_SECRET);
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('the account\'s currency is passed to the provider, which checks the answer itself', async () => {
    const calls: Parameters<BookingProvider['deposit']>[0][] = [];
    const client = new EarnClient(server.config());
    server.on('POST', DEPOSIT_PATH, json(201, answered('Deposit', 'ETH')));
    const recording: BookingProvider = {
      deposit: async (call) => (calls.push(call), client.deposit(call)),
      withdraw: async (call) => (calls.push(call), client.withdraw(call)),
    };
    const result = await bookThenRecord({ provider: recording, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: 'order-ok' });
    expect(result.status).toBe('created');
    expect(calls).toEqual([{ productId: 'eth-defi', accountId: 'account-1', amount: '0.5', idempotencyKey: 'order-ok', currency: 'ETH' }]);
    // The currency is not sent: the request names none.
    expect(JSON.parse(server.requestsTo('POST', DEPOSIT_PATH)[0]?.body ?? '{}')).toEqual({ amount: '0.5' });
  });

  it('a provider that does not check the currency: the glue refuses it, quoting it and the booking id escaped', async () => {
    const client = new EarnClient(server.config());
    server.on('POST', DEPOSIT_PATH, json(201, answered('Deposit', 'ETH')));
    // Changed after the client's checks, as a provider of the structural interface may answer.
    const unchecked: BookingProvider = {
      deposit: async (call): Promise<Booking> => ({ ...(await client.deposit(call)), id: 'bk\u202e-1', currency: '\u009b2JBTC\u2029' }),
      withdraw: async (call) => client.withdraw(call),
    };
    const before = await snapshotDatabase(world.ledger.db as never);
    const error = await refusal(bookThenRecord({ provider: unchecked, books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: 'order-unchecked' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'currency', path: 'currency' });
    expect(error.message).toContain('currency expected "ETH"');
    expect(error.message).toContain('received "\\u009b2JBTC\\u2029"');
    expect(error.message).toContain('bk\\u202e-1');
    expect(error.message).not.toMatch(UNSAFE);
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });

  it('booked_not_recorded quotes the booking id the provider chose escaped, in the message and the log line', async () => {
    // A withdrawal the provider booked beyond the books' balance: the books refuse to record it.
    server.on('POST', DEPOSIT_PATH, json(201, answered('Deposit', 'ETH', '0.25')));
    await bookThenRecord({ provider: new EarnClient(server.config()), books: earnBooks, kind: 'deposit', entity: 'defi', earnAccountId: 'account-1', amount: '0.25', idempotencyKey: 'order-dep' });
    server.on('POST', WITHDRAWAL_PATH, json(201, { ...answered('Withdrawal', 'ETH'), id: 'bk-\u202e1\u009b2J' }));
    const before = await snapshotDatabase(world.ledger.db as never);
    const refused = await bookThenRecord({ provider: new EarnClient(server.config()), books: earnBooks, kind: 'withdrawal', entity: 'defi', earnAccountId: 'account-1', amount: '0.5', idempotencyKey: 'order-wd' }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught as ReconcileError,
    );
    expect(refused).toMatchObject({ code: 'booked_not_recorded', field: 'idempotencyKey', value: 'order-wd', booking: { providerBookingId: 'bk-\u202e1\u009b2J' } });
    expect(refused.message).toContain('withdrawal bk-\\u202e1\\u009b2J of 0.5 ETH');
    expect(refused.message).not.toMatch(UNSAFE);
    // The log message is text a reader sees; its fields are data, kept as the provider sent them.
    const notRecorded = logged.find((entry) => entry.fields['event'] === 'booking.not_recorded');
    expect(notRecorded?.message).toBe('withdrawal bk-\\u202e1\\u009b2J booked by the provider but not recorded');
    expect(notRecorded?.fields['providerBookingId']).toBe('bk-\u202e1\u009b2J');
    expect(await snapshotDatabase(world.ledger.db as never)).toBe(before);
  });
});

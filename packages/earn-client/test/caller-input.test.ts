/**
 * What a caller's string becomes on the wire: a path segment must stay the segment it was (no
 * dot segment), and an idempotency key must arrive as given (fetch strips whitespace from header
 * values and throws on characters beyond U+00FF). Refusals are `invalid_input` naming the field
 * and the value, before anything is sent, not even a token request.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient, EarnFacade } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { account, booking, user } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const item of iterable) void item;
}

function expectNothingSent(): void {
  expect(server.requests).toHaveLength(0);
  expect(server.tokenRequests).toHaveLength(0);
}

/** Every method that puts a caller's id into the path, by the field it names. */
const pathCalls: [string, string, (client: EarnClient, id: string) => Promise<unknown>][] = [
  ['getUser', 'userId', (client, id) => client.getUser({ userId: id })],
  ['listUserAccountsPage', 'userId', (client, id) => client.listUserAccountsPage({ userId: id })],
  ['userAccounts', 'userId', (client, id) => drain(client.userAccounts({ userId: id }))],
  ['getAccount', 'accountId', (client, id) => client.getAccount({ accountId: id })],
  ['deposit', 'accountId', (client, id) => client.deposit({ accountId: id, amount: '1', idempotencyKey: 'key-1' })],
  ['withdraw', 'accountId', (client, id) => client.withdraw({ accountId: id, amount: '1', idempotencyKey: 'key-1' })],
  ['listAccountTransactionsPage', 'accountId', (client, id) => client.listAccountTransactionsPage({ accountId: id })],
  ['accountTransactions', 'accountId', (client, id) => drain(client.accountTransactions({ accountId: id }))],
  ['getReportDownloadUri', 'reportId', (client, id) => client.getReportDownloadUri({ reportId: id })],
  ['fetchReport', 'reportId', (client, id) => client.fetchReport({ reportId: id })],
];

describe('path parameters', () => {
  it.each(pathCalls)('%s refuses "." and ".." as %s, sending nothing', async (_name, field, call) => {
    const client = new EarnClient(server.config());
    for (const id of ['.', '..']) {
      const error = await failure(call(client, id));
      expect(error).toMatchObject({ code: 'invalid_input', field, path: field });
      expect(error.message).toContain(`${field} must not be "." or ".."`);
      expect(error.message).toContain(`got ${JSON.stringify(id)}`);
    }
    expectNothingSent();
  });

  it('keeps every other id inside its segment, dots and percent signs included', async () => {
    server.on('GET', '/v1/accounts/.../transactions', json(200, { items: [], nextCursor: null }));
    const client = new EarnClient(server.config());
    await client.listAccountTransactionsPage({ accountId: '...' });
    for (const id of ['%2e', '%2E%2e', '.%2e', './..', '../deposits', '.a', 'a.']) await client.getAccount({ accountId: id }).catch(() => undefined);
    expect(server.requests.map((request) => request.url.pathname)).toEqual([
      '/v1/accounts/.../transactions',
      '/v1/accounts/%252e',
      '/v1/accounts/%252E%252e',
      '/v1/accounts/.%252e',
      '/v1/accounts/.%2F..',
      '/v1/accounts/..%2Fdeposits',
      '/v1/accounts/.a',
      '/v1/accounts/a.',
    ]);
  });
});

/** Keys that fetch would change (whitespace stripped) or refuse (beyond U+00FF, controls). */
const badKeys: [string, RegExp][] = [
  ['key-1 ', /must not start or end with whitespace/],
  [' key-1', /must not start or end with whitespace/],
  ['\tkey-1', /must not start or end with whitespace/],
  ['key-1\n', /must not start or end with whitespace/],
  ['\r\nkey-1', /must not start or end with whitespace/],
  ['k€', /U\+20AC at index 1/],
  ['key-😀', /U\+1F600 at index 4/],
  ['k\u0001y', /U\+0001 at index 1/],
  ['k\ny', /U\+000A at index 1/],
  ['k\u007fy', /U\+007F at index 1/],
  ['k\u0085y', /U\+0085 at index 1/],
];

const keyedCalls: [string, (client: EarnClient, key: string) => Promise<unknown>][] = [
  ['deposit', (client, key) => client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: key })],
  ['withdraw', (client, key) => client.withdraw({ accountId: 'account-1', amount: '1', idempotencyKey: key })],
  ['createUser', (client, key) => client.createUser({ idempotencyKey: key })],
  ['createAccount', (client, key) => client.createAccount({ userId: 'user-1', productId: 'btc-fixed', idempotencyKey: key })],
];

describe('idempotency keys', () => {
  it.each(keyedCalls)('%s refuses a key fetch would change or refuse, naming it, sending nothing', async (_name, call) => {
    const client = new EarnClient(server.config());
    for (const [key, reason] of badKeys) {
      const error = await failure(call(client, key));
      expect(error, JSON.stringify(key)).toMatchObject({ code: 'invalid_input', field: 'idempotencyKey', path: 'idempotencyKey' });
      expect(error.message).toMatch(reason);
      expect(error.message).toContain(`got ${JSON.stringify(key)}`);
    }
    expectNothingSent();
  });

  it('sends a key with inner spaces or Latin-1 letters exactly as given', async () => {
    server.on('POST', '/v1/accounts/account-1/deposits', json(201, booking('b-1', 'Deposit', '1')));
    server.on('POST', '/v1/users', json(201, user('user-1')));
    server.on('POST', '/v1/accounts', json(201, account('account-1')));
    const client = new EarnClient(server.config());
    await client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'key 1' });
    await client.createUser({ idempotencyKey: 'clé-ü\u00a0ÿ' });
    await client.createAccount({ userId: 'user-1', productId: 'btc-fixed', idempotencyKey: '~!@#$%^&*()' });
    // Node's server reads header bytes as Latin-1, as fetch sent them.
    expect(server.requests.map((request) => request.headers['idempotency-key'])).toEqual(['key 1', 'clé-ü\u00a0ÿ', '~!@#$%^&*()']);
  });

  it('onboarding refuses keys its prefix would make unsendable, naming the field they come from', async () => {
    const { entityId: _entityId, ...config } = server.config();
    const facade = new EarnFacade({ entities: { defi: config } });
    const fromReference = await failure(facade.onboardEndUser({ endUserReference: '李雷' }));
    expect(fromReference).toMatchObject({ code: 'invalid_input', field: 'endUserReference' });
    expect(fromReference.message).toContain('endUserReference "李雷" cannot make the idempotency key "onboard:李雷:defi"');
    expect(fromReference.message).toContain('U+674E at index 8');
    expect(fromReference.message).toContain('pass an idempotencyKeyPrefix');
    for (const prefix of [' onboard-42', '\tonboard-42', 'onboard-€']) {
      const error = await failure(facade.onboardEndUser({ endUserReference: '李雷', idempotencyKeyPrefix: prefix }));
      expect(error).toMatchObject({ code: 'invalid_input', field: 'idempotencyKeyPrefix' });
      expect(error.message).toContain(`idempotencyKeyPrefix ${JSON.stringify(prefix)}`);
    }
    expect((await failure(facade.onboardEndUser({ endUserReference: 'customer-42', idempotencyKeyPrefix: 'p'.repeat(255) }))).message).toContain('longer than 255');
    expectNothingSent();
    // A reference the default prefix carries as it is still onboards; so does a good prefix.
    server.on('POST', '/v1/users', json(201, user('user-1')));
    await facade.onboardEndUser({ endUserReference: 'José 42' });
    await facade.onboardEndUser({ endUserReference: '李雷', idempotencyKeyPrefix: 'onboard-42' });
    expect(server.requests.map((request) => request.headers['idempotency-key'])).toEqual(['onboard:José 42:defi', 'onboard-42:defi']);
  });
});

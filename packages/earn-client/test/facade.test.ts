import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnFacade } from '../src/index.js';
import { FakeEarnServer, errorBody, json } from './support/fake-earn-server.js';
import { account, booking, product, transaction, user } from './support/fixtures.js';
import { failure } from './support/failure.js';

let defi: FakeEarnServer;
let lending: FakeEarnServer;
let facade: EarnFacade;

beforeEach(async () => {
  defi = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: 'defi-secret-value' });
  lending = await FakeEarnServer.start({ clientId: 'partner-lending', clientSecret: 'lending-secret-value' });
  defi.on('GET', '/v1/products', json(200, { items: [product('eth-defi', 'ETH')] }));
  lending.on('GET', '/v1/products', json(200, { items: [product('btc-lending', 'BTC'), product('xrp-lending', 'XRP')] }));
  const { entityId: _defi, ...defiConfig } = defi.config();
  const { entityId: _lending, ...lendingConfig } = lending.config();
  facade = new EarnFacade({ entities: { defi: defiConfig, lending: lendingConfig } });
});

afterEach(async () => {
  await defi.close();
  await lending.close();
});

describe('EarnFacade', () => {
  it('lists the union of both entities products, each tagged with its entity', async () => {
    const products = await facade.listProducts();
    expect(products.map(({ entityId, product: item }) => `${entityId}:${item.id}`)).toEqual(['defi:eth-defi', 'lending:btc-lending', 'lending:xrp-lending']);
    expect(defi.tokenRequests).toHaveLength(1);
    expect(lending.tokenRequests).toHaveLength(1);
  });

  it('fails the union list when one entity fails, rather than hiding its products', async () => {
    lending.on('GET', '/v1/products', errorBody(403, 'forbidden', 'no'));
    expect((await failure(facade.listProducts())).status).toBe(403);
  });

  it('onboarding creates two Earn users, each with its own entity credentials', async () => {
    defi.on('POST', '/v1/users', json(201, user('defi-user-1', 'customer-42')));
    lending.on('POST', '/v1/users', json(201, user('lending-user-1', 'customer-42')));
    const users = await facade.onboardEndUser({ endUserReference: 'customer-42' });
    expect(users.defi?.id).toBe('defi-user-1');
    expect(users.lending?.id).toBe('lending-user-1');
    const defiRequest = defi.requestsTo('POST', '/v1/users')[0];
    const lendingRequest = lending.requestsTo('POST', '/v1/users')[0];
    // Each server only accepts tokens it issued itself, to its own client id.
    expect(defi.validTokens.has(String(defiRequest?.headers.authorization).slice(7))).toBe(true);
    expect(lending.validTokens.has(String(lendingRequest?.headers.authorization).slice(7))).toBe(true);
    expect(defiRequest?.headers['idempotency-key']).toBe('onboard:customer-42:defi');
    expect(lendingRequest?.headers['idempotency-key']).toBe('onboard:customer-42:lending');
    expect(JSON.parse(defiRequest?.body ?? '')).toEqual({ externalReference: 'customer-42' });
  });

  it('repeating a half-failed onboarding sends the same idempotency keys', async () => {
    defi.on('POST', '/v1/users', json(201, user('defi-user-1')));
    lending.on('POST', '/v1/users', errorBody(400, 'bad', 'no'), json(201, user('lending-user-1')));
    await failure(facade.onboardEndUser({ endUserReference: 'customer-7' }));
    const users = await facade.onboardEndUser({ endUserReference: 'customer-7' });
    expect(users.lending?.id).toBe('lending-user-1');
    const keys = defi.requestsTo('POST', '/v1/users').map((request) => request.headers['idempotency-key']);
    expect(keys).toEqual(['onboard:customer-7:defi', 'onboard:customer-7:defi']);
  });

  it('routes account, booking and history calls to the credentials of the product entity', async () => {
    lending.on('POST', '/v1/accounts', json(201, account('lending-account-1', { userId: 'lending-user-1', productId: 'btc-lending' })));
    lending.on('POST', '/v1/accounts/lending-account-1/deposits', json(201, booking('booking-1', 'Deposit', '1', { accountId: 'lending-account-1' })));
    lending.on('POST', '/v1/accounts/lending-account-1/withdrawals', errorBody(422, 'insufficient_balance', 'too much'));
    lending.on('GET', '/v1/accounts/lending-account-1', json(200, account('lending-account-1')));
    lending.on('GET', '/v1/accounts/lending-account-1/transactions', json(200, { items: [transaction('t-1')], nextCursor: null }));
    defi.on('POST', '/v1/accounts', json(201, account('defi-account-1', { productId: 'eth-defi', currency: 'ETH' })));

    const opened = await facade.openAccount({ earnUserIds: { defi: 'defi-user-1', lending: 'lending-user-1' }, productId: 'btc-lending' });
    expect(opened.entityId).toBe('lending');
    expect(JSON.parse(lending.requestsTo('POST', '/v1/accounts')[0]?.body ?? '')).toEqual({ userId: 'lending-user-1', productId: 'btc-lending' });
    expect(defi.requestsTo('POST', '/v1/accounts')).toHaveLength(0);

    const deposit = await facade.deposit({ productId: 'btc-lending', accountId: 'lending-account-1', amount: '1', idempotencyKey: 'key-6' });
    expect(deposit.id).toBe('booking-1');
    const withdrawal = await failure(facade.withdraw({ productId: 'btc-lending', accountId: 'lending-account-1', amount: '2', idempotencyKey: 'key-7' }));
    expect(withdrawal.code).toBe('insufficient_balance');
    expect((await facade.getAccount({ productId: 'btc-lending', accountId: 'lending-account-1' })).id).toBe('lending-account-1');
    const history = [];
    for await (const item of facade.accountTransactions({ productId: 'btc-lending', accountId: 'lending-account-1' })) history.push(item.id);
    expect(history).toEqual(['t-1']);

    const defiAccount = await facade.openAccount({ earnUserIds: { defi: 'defi-user-1', lending: 'lending-user-1' }, productId: 'eth-defi' });
    expect(defiAccount.entityId).toBe('defi');
    expect(JSON.parse(defi.requestsTo('POST', '/v1/accounts')[0]?.body ?? '')).toEqual({ userId: 'defi-user-1', productId: 'eth-defi' });
    // The product lists were fetched once for routing, not per call.
    expect(lending.requestsTo('GET', '/v1/products')).toHaveLength(1);
  });

  it('an unknown product refreshes the list once and then fails with invalid_input', async () => {
    await facade.listProducts();
    const error = await failure(facade.deposit({ productId: 'doge', accountId: 'a', amount: '1', idempotencyKey: 'key-8' }));
    expect(error.code).toBe('invalid_input');
    expect(error.field).toBe('productId');
    expect(defi.requestsTo('GET', '/v1/products')).toHaveLength(2);
  });

  it('a product listed by both entities is ambiguous', async () => {
    defi.on('GET', '/v1/products', json(200, { items: [product('btc-lending', 'BTC')] }));
    const error = await failure(facade.clientForProduct('btc-lending'));
    expect(error.message).toContain('several entities');
  });

  it('openAccount needs the Earn user of the owning entity', async () => {
    const error = await failure(facade.openAccount({ earnUserIds: { defi: 'defi-user-1' }, productId: 'btc-lending' }));
    expect(error.code).toBe('invalid_input');
    expect(error.path).toBe('earnUserIds.lending');
  });
});

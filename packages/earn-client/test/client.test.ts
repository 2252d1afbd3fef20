import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import type { Account, Transaction } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { account, booking, dailyReport, product, transaction, user } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('typed methods', () => {
  it('cover every operation of the contract with validated, typed results', async () => {
    server
      .on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC')] }))
      .on('POST', '/v1/users', json(201, user('user-1', 'customer-42')))
      .on('GET', '/v1/users/user-1', json(200, user('user-1')))
      .on('POST', '/v1/accounts', json(201, account('account-1')))
      .on('GET', '/v1/accounts/account-1', json(200, account('account-1')))
      .on('POST', '/v1/accounts/account-1/deposits', json(201, booking('booking-1', 'Deposit', '0.5')))
      .on('POST', '/v1/accounts/account-1/withdrawals', json(201, booking('booking-2', 'Withdrawal', '0.25', { balanceAfter: '0.25' })))
      .on('GET', '/v1/outstanding-balances', json(200, { asOf: '2025-03-19T00:00:00Z', balances: [{ currency: 'BTC', outstandingBalance: '-0.25' }] }))
      .on('GET', '/v1/reports', json(200, { items: [{ id: 'report-1', type: 'Report', accountingDay: '2025-03-18', createdAt: '2025-03-19T00:02:00Z' }], nextCursor: null }))
      .on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: `${server.baseUrl}/downloads/report-1.json?signature=abc` }))
      .on('GET', '/downloads/report-1.json', json(200, dailyReport()));
    const client = new EarnClient(server.config());

    const products = await client.listProducts();
    expect(products[0]?.interest.tiers[1]?.toAmount).toBeNull();
    expect(products[0]?.partnerMargin?.mode).toBe('own-apy');

    const created = await client.createUser({ externalReference: 'customer-42' });
    expect(created.id).toBe('user-1');
    expect(JSON.parse(server.requestsTo('POST', '/v1/users')[0]?.body ?? '')).toEqual({ externalReference: 'customer-42' });
    expect(server.requestsTo('POST', '/v1/users')[0]?.headers['idempotency-key']).toBeTruthy();
    expect((await client.getUser({ userId: 'user-1' })).id).toBe('user-1');

    const opened: Account = await client.createAccount({ userId: 'user-1', productId: 'btc-fixed' });
    expect(opened.balance).toBe('0.5');
    expect(JSON.parse(server.requestsTo('POST', '/v1/accounts')[0]?.body ?? '')).toEqual({ userId: 'user-1', productId: 'btc-fixed' });
    expect((await client.getAccount({ accountId: 'account-1' })).currency).toBe('BTC');

    const deposit = await client.deposit({ accountId: 'account-1', amount: '0.5', reference: 'partner-dep-1', idempotencyKey: 'key-1' });
    expect(deposit.type).toBe('Deposit');
    expect(JSON.parse(server.requestsTo('POST', '/v1/accounts/account-1/deposits')[0]?.body ?? '')).toEqual({ amount: '0.5', reference: 'partner-dep-1' });
    const withdrawal = await client.withdraw({ accountId: 'account-1', amount: '0.25', idempotencyKey: 'key-2' });
    expect(withdrawal.balanceAfter).toBe('0.25');

    const balances = await client.getOutstandingBalances();
    expect(balances.balances[0]?.outstandingBalance).toBe('-0.25');

    const reports = await collect(client.reports());
    expect(reports.map((report) => report.id)).toEqual(['report-1']);
    expect(server.requestsTo('GET', '/v1/reports')[0]?.url.searchParams.get('type')).toBe('Report');

    const report = await client.fetchReport({ reportId: 'report-1' });
    expect(report.balances[0]?.outstandingBalance).toBe('-1.000000000000000000');
    const download = server.requestsTo('GET', '/downloads/report-1.json')[0];
    expect(download?.url.searchParams.get('signature')).toBe('abc');
    // The pre-signed download must not receive the bearer token.
    expect(download?.headers.authorization).toBeUndefined();
  });

  it('tolerates unknown fields in responses', async () => {
    server.on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC', { brandNew: 1, interest: { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035', note: 'x' }], extra: true } })], total: 1 }));
    const products = await new EarnClient(server.config()).listProducts();
    expect(products[0]?.interest.tierMode).toBe('whole-balance');
  });

  it('a response missing a required field fails naming the path and the field', async () => {
    const broken = product('btc-fixed', 'BTC');
    delete (broken.interest as { tiers?: unknown }).tiers;
    server.on('GET', '/v1/products', json(200, { items: [product('eth', 'ETH'), broken] }));
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error.code).toBe('invalid_response');
    expect(error.path).toBe('items[1].interest.tiers');
    expect(error.field).toBe('tiers');
    expect(error.operation).toBe('GET /v1/products');
    expect(error.status).toBe(200);
    expect(error.requestId).toBe('req-200');
    expect(error.message).toContain('GET /v1/products');
    expect(error.message).toContain('items[1].interest.tiers');
  });

  it('a wrongly typed field fails naming the path, the field and the value', async () => {
    server.on('POST', '/v1/accounts/account-1/deposits', json(201, booking('booking-1', 'Deposit', '0.5', { balanceAfter: 0.5 })));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-3' }));
    expect(error.path).toBe('balanceAfter');
    expect(error.field).toBe('balanceAfter');
    expect(error.message).toContain('got 0.5');
  });

  it('rejects invalid input before sending anything', async () => {
    const client = new EarnClient(server.config());
    const keyless = await failure(client.deposit({ accountId: 'account-1', amount: '0.5' } as unknown as Parameters<EarnClient['deposit']>[0]));
    expect(keyless.code).toBe('invalid_input');
    expect(keyless.field).toBe('idempotencyKey');
    const numberAmount = await failure(client.deposit({ accountId: 'account-1', amount: 0.5 as unknown as string, idempotencyKey: 'key-4' }));
    expect(numberAmount.code).toBe('invalid_input');
    expect(numberAmount.field).toBe('amount');
    for (const amount of ['0', '-1', '1e-8', '0.0000000000000000001', '']) {
      const error = await failure(client.withdraw({ accountId: 'account-1', amount, idempotencyKey: 'key-5' }));
      expect(error.code).toBe('invalid_input');
      expect(error.field).toBe('amount');
      expect(error.message).toContain(JSON.stringify(amount));
    }
    expect((await failure(client.getAccount({ accountId: '' }))).field).toBe('accountId');
    expect((await failure(client.createAccount({ userId: 'u', productId: '' }))).field).toBe('productId');
    expect((await failure(client.listUserAccountsPage({ userId: 'u', limit: 5000 }))).field).toBe('pageSize');
    expect((await failure(client.deposit({ accountId: 'a', amount: '1', idempotencyKey: '' }))).field).toBe('idempotencyKey');
    expect(server.requests).toHaveLength(0);
  });

  it('an oversized response fails with limit_exceeded', async () => {
    server.on('GET', '/v1/products', json(200, { items: Array.from({ length: 50 }, (_, index) => product(`p-${index}`, 'BTC')) }));
    const error = await failure(new EarnClient(server.config({ responseBytesMax: 2048 })).listProducts());
    expect(error.code).toBe('limit_exceeded');
  });

  it('refuses a report download URI that is plain http on a non-loopback host', async () => {
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: 'http://reports.example.com/r.json' }));
    expect(error.code).toBe('invalid_response');
    expect(error.field).toBe('uri');
  });

  it('a downloaded report that breaks the contract names the JSON path', async () => {
    const report = dailyReport();
    (report.transactions as Record<string, unknown>[])[1]!.amount = '1.5e-7';
    server.on('GET', '/downloads/bad.json', json(200, report));
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/bad.json` }));
    expect(error.path).toBe('transactions[1].amount');
    expect(error.field).toBe('amount');
  });
});

describe('pagination', () => {
  function pages(count: number, perPage: number): void {
    server.on('GET', '/v1/accounts/account-1/transactions', (request, response) => {
      const cursor = request.url.searchParams.get('cursor');
      const index = cursor === null ? 0 : Number(cursor.replace('page-', ''));
      const items = Array.from({ length: perPage }, (_, item) => transaction(`t-${index}-${item}`));
      return json(200, { items, nextCursor: index + 1 < count ? `page-${index + 1}` : null })(request, response);
    });
  }

  it('iterates every item of every page, lazily, with the page size asked', async () => {
    pages(3, 2);
    const client = new EarnClient(server.config());
    const items: Transaction[] = await collect(client.accountTransactions({ accountId: 'account-1', pageSize: 2 }));
    expect(items.map((item) => item.id)).toEqual(['t-0-0', 't-0-1', 't-1-0', 't-1-1', 't-2-0', 't-2-1']);
    const requests = server.requestsTo('GET', '/v1/accounts/account-1/transactions');
    expect(requests.map((request) => request.url.searchParams.get('cursor'))).toEqual([null, 'page-1', 'page-2']);
    expect(requests.every((request) => request.url.searchParams.get('limit') === '2')).toBe(true);
  });

  it('stops fetching when the consumer breaks early', async () => {
    pages(5, 2);
    const client = new EarnClient(server.config());
    for await (const item of client.accountTransactions({ accountId: 'account-1' })) {
      if (item.id === 't-0-1') break;
    }
    expect(server.requestsTo('GET', '/v1/accounts/account-1/transactions')).toHaveLength(1);
  });

  it('fails with limit_exceeded beyond pagesMax', async () => {
    pages(10, 1);
    const error = await failure(collect(new EarnClient(server.config({ pagesMax: 3 })).accountTransactions({ accountId: 'account-1' })));
    expect(error.code).toBe('limit_exceeded');
    expect(server.requestsTo('GET', '/v1/accounts/account-1/transactions')).toHaveLength(3);
  });

  it('detects a provider that loops on the same cursor', async () => {
    server.on('GET', '/v1/users/user-1/accounts', json(200, { items: [account('a')], nextCursor: 'same' }));
    const error = await failure(collect(new EarnClient(server.config()).userAccounts({ userId: 'user-1' })));
    expect(error.code).toBe('invalid_response');
    expect(error.field).toBe('nextCursor');
  });

  it('a missing nextCursor is a contract violation, not the last page', async () => {
    server.on('GET', '/v1/users/user-1/accounts', json(200, { items: [account('a')] }));
    const error = await failure(collect(new EarnClient(server.config()).userAccounts({ userId: 'user-1' })));
    expect(error.field).toBe('nextCursor');
  });

  it('stops with aborted when the signal aborts between pages', async () => {
    pages(5, 1);
    const controller = new AbortController();
    const client = new EarnClient(server.config());
    const error = await failure(
      (async () => {
        for await (const item of client.accountTransactions({ accountId: 'account-1', signal: controller.signal })) {
          if (item.id === 't-1-0') controller.abort();
        }
      })(),
    );
    expect(error.code).toBe('aborted');
    expect(server.requestsTo('GET', '/v1/accounts/account-1/transactions')).toHaveLength(2);
  });
});

/**
 * `JSON.parse` keeps the last of two values under one key without a word, so
 * `{"amount":"0.1","amount":"5"}` was read as 5 by `parseDailyReport`, `downloadReport`,
 * `fetchReport` and every API answer, while another reader (or the reconciler, which refuses it)
 * may keep the first. For money that is ambiguous: an answer that writes a key twice in one
 * object is `invalid_response` naming the path and the key, and so is a `__proto__` key (no field
 * of the contract has that name, and readers disagree on it). Keys and colons inside strings,
 * the same key in two objects and deep unknown fields stay accepted.
 */
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient, parseDailyReport } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import type { FakeRequest, Responder } from './support/fake-earn-server.js';
import { account, booking, dailyReport } from './support/fixtures.js';
import { failure } from './support/failure.js';

function thrown(action: () => unknown): EarnApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return error as EarnApiError;
  }
  throw new Error('expected an EarnApiError');
}

/** The fixture report as text, with `"accountId":"account-2"` (of transactions[1]) edited by `edit`. */
const SECOND_ACCOUNT = '"accountId":"account-2"';
function reportWith(edit: (field: string) => string): string {
  const text = JSON.stringify(dailyReport());
  expect(text).toContain(SECOND_ACCOUNT);
  return text.replace(SECOND_ACCOUNT, edit(SECOND_ACCOUNT));
}

/** A body answered as it is written (the fake server's `json` would serialize an object, losing the repeat). */
function raw(status: number, body: string | ((request: FakeRequest) => string)): Responder {
  return (request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-raw-${status}` });
    response.end(typeof body === 'string' ? body : body(request));
  };
}

describe('parseDailyReport', () => {
  it.each([
    ['the amount written twice, the second larger', (field: string) => `"amount":"5",${field}`, 'transactions[1].amount', 'amount'],
    ['the amount written twice, the second spelled with an escape', (field: string) => `"amo\\u0075nt":"5",${field}`, 'transactions[1].amount', 'amount'],
    ['the id written twice', (field: string) => `"id":"00000000-0000-4000-8000-000000000099",${field}`, 'transactions[1].id', 'id'],
    ['a key repeated inside an unknown nested field', (field: string) => `"memo":{"note":"x","list":[{"a":1,"a":2}]},${field}`, 'transactions[1].memo.list[0].a', 'a'],
    ['an odd key repeated', (field: string) => `"a b":1,"a b":2,${field}`, 'transactions[1]["a b"]', 'a b'],
  ])('%s is invalid_response naming the path and the key', (_name, edit, path, key) => {
    const text = reportWith(edit);
    // JSON.parse alone takes the text and keeps one of the two values.
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    const error = thrown(() => parseDailyReport(text));
    expect(error).toMatchObject({ code: 'invalid_response', path, field: key, operation: 'daily report' });
    expect(error.message).toContain(JSON.stringify(key));
    expect(error.message).toContain(path);
  });

  it('a second transactions array at the top is refused (the first would be dropped unread)', () => {
    const text = JSON.stringify(dailyReport()).replace('"balances"', '"transactions":[],"balances"');
    expect(thrown(() => parseDailyReport(text))).toMatchObject({ code: 'invalid_response', path: 'transactions', field: 'transactions' });
  });

  it.each([
    ['in an entry', (field: string) => `"__proto__":{"amount":"5"},${field}`, 'transactions[1].__proto__'],
    ['in an unknown nested field', (field: string) => `"memo":[{"__proto__":null}],${field}`, 'transactions[1].memo[0].__proto__'],
    ['spelled with an escape', (field: string) => `"\\u005f_proto__":1,${field}`, 'transactions[1].__proto__'],
  ])('a __proto__ key %s is invalid_response naming it', (_name, edit, path) => {
    const error = thrown(() => parseDailyReport(reportWith(edit)));
    expect(error).toMatchObject({ code: 'invalid_response', path, field: '__proto__' });
    expect(error.message).toContain('"__proto__"');
  });

  it('a __proto__ key at the top is refused', () => {
    const text = JSON.stringify(dailyReport()).replace('{', '{"__proto__":{},');
    expect(thrown(() => parseDailyReport(text))).toMatchObject({ code: 'invalid_response', path: '__proto__', field: '__proto__' });
  });

  it('the same key in different objects, and keys and colons inside strings, are not repeats', () => {
    const text = reportWith((field) => `"memo":{"amount":"1","nested":{"amount":"2"}},"note":"\\"amount\\":\\"9\\",\\"amount\\":\\"9\\"","a:b":"c:d","amount\\\\":"x","q\\"":{"q\\"":1},${field}`);
    const report = parseDailyReport(text);
    expect(report.transactions[1]?.amount).toBe('0.000000173182690071');
    expect((report.transactions[1] as Record<string, unknown>)['note']).toBe('"amount":"9","amount":"9"');
  });

  it('an unknown field nested 100,000 levels is read as before, and a repeat inside it is still found', () => {
    const levels = 100_000;
    const deep = (inner: string) => reportWith((field) => `"memo":${'['.repeat(levels)}${inner}${']'.repeat(levels)},${field}`);
    expect(parseDailyReport(deep('{"a":1,"b":2}')).transactions).toHaveLength(2);
    const error = thrown(() => parseDailyReport(deep('{"a":1,"a":2}')));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'a' });
    expect(error.path?.startsWith('transactions[1].memo[0][0]')).toBe(true);
    expect(error.path?.length).toBeLessThan(600);
  });

  it('a very long repeated key is named cut, and control characters in it are escaped', () => {
    const key = `k\u202e${'x'.repeat(5000)}`;
    const error = thrown(() => parseDailyReport(reportWith((field) => `${JSON.stringify(key)}:1,${JSON.stringify(key)}:2,${field}`)));
    expect(error.code).toBe('invalid_response');
    expect(error.message.length).toBeLessThan(600);
    expect(error.message).not.toContain('\u202e');
    expect(error.field).toContain('\\u202e');
  });
});

describe('answers of the API', () => {
  let server: FakeEarnServer;
  beforeEach(async () => {
    server = await FakeEarnServer.start({ clientSecret: 'S3cr3t-never-show-me-0002' });
  });
  afterEach(async () => {
    await server.close();
  });

  it('a downloaded report repeating an amount is invalid_response naming it, not retried', async () => {
    server.on('GET', '/downloads/r.json', raw(200, reportWith((field) => `"amount":"5",${field}`)));
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/r.json` }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'transactions[1].amount', field: 'amount', status: 200, operation: 'GET report download', requestId: 'req-raw-200' });
    expect(server.requestsTo('GET', '/downloads/r.json')).toHaveLength(1);
  });

  it('fetchReport refuses a report holding a __proto__ key', async () => {
    server
      .on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: `${server.baseUrl}/downloads/p.json` }))
      .on('GET', '/downloads/p.json', raw(200, reportWith((field) => `"__proto__":{"amount":"5"},${field}`)));
    const error = await failure(new EarnClient(server.config()).fetchReport({ reportId: 'report-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'transactions[1].__proto__', field: '__proto__' });
  });

  it('a deposit answered with the amount written twice, the last one the amount asked for, is invalid_response', async () => {
    const body = JSON.stringify(booking('booking-1', 'Deposit', '0.5')).replace('"amount":"0.5"', '"amount":"5","amount":"0.5"');
    server.on('POST', '/v1/accounts/account-1/deposits', raw(201, body));
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: 'amount', field: 'amount', status: 201, operation: 'POST /v1/accounts/{accountId}/deposits' });
    // Not retried: the same body would come again (and the booking is made once, by its key).
    expect(server.requestsTo('POST', '/v1/accounts/account-1/deposits')).toHaveLength(1);
  });

  it('a withdrawal answered with a __proto__ key is invalid_response', async () => {
    const body = JSON.stringify(booking('booking-2', 'Withdrawal', '0.5')).replace('{', '{"__proto__":{"balanceAfter":"9"},');
    server.on('POST', '/v1/accounts/account-1/withdrawals', raw(201, body));
    const error = await failure(new EarnClient(server.config()).withdraw({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-2' }));
    expect(error).toMatchObject({ code: 'invalid_response', path: '__proto__', field: '__proto__' });
  });

  it('an account answered with its balance written twice is invalid_response', async () => {
    const body = JSON.stringify(account('account-1')).replace('"balance":"0.5"', '"balance":"0.5","balance":"7"');
    server.on('GET', '/v1/accounts/account-1', raw(200, body));
    expect(await failure(new EarnClient(server.config()).getAccount({ accountId: 'account-1' }))).toMatchObject({ code: 'invalid_response', path: 'balance', field: 'balance' });
  });

  it('a repeated key that is the access token or the client secret is named redacted: no credential in the error', async () => {
    const secret = server.clientSecret;
    let token = '';
    server.on(
      'POST',
      '/v1/accounts/account-1/deposits',
      raw(201, (request) => {
        token = (request.headers.authorization ?? '').slice('Bearer '.length);
        const keys = `${JSON.stringify(token)}:1,${JSON.stringify(token)}:2,${JSON.stringify(secret)}:1`;
        return JSON.stringify(booking('booking-1', 'Deposit', '0.5')).replace('{', `{${keys},`);
      }),
    );
    const error = await failure(new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-3' }));
    expect(error).toMatchObject({ code: 'invalid_response' });
    expect(token.length).toBeGreaterThan(8);
    for (const text of [error.message, error.stack ?? '', String(error.path), String(error.field), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(secret);
    }
  });

  it('answers without repeats pass as before', async () => {
    server.on('POST', '/v1/accounts/account-1/deposits', raw(201, JSON.stringify(booking('booking-1', 'Deposit', '0.5', { memo: { amount: '1', 'x:y': '"amount":"2"' } }))));
    expect((await new EarnClient(server.config()).deposit({ accountId: 'account-1', amount: '0.5', idempotencyKey: 'key-4' })).amount).toBe('0.5');
  });
});

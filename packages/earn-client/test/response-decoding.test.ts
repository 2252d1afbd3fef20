/**
 * How answers are read: a success body must be valid UTF-8 (a lenient decoder turns invalid bytes
 * into U+FFFD, so two different ids would arrive as one), and an empty `nextCursor` ends the
 * pages as `null` does.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import type { Account } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import type { Responder } from './support/fake-earn-server.js';
import { account, dailyReport } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

/** Answers `chunks` of raw bytes, one write each, a few milliseconds apart. */
function bytes(status: number, ...chunks: Buffer[]): Responder {
  return async (_request, response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-bytes' });
    for (const chunk of chunks.slice(0, -1)) {
      response.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    response.end(chunks.at(-1));
  };
}

/** A user body whose id holds `idBytes` as they are. */
function userBody(idBytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from('{"id":"u-'), idBytes, Buffer.from('","createdAt":"2025-03-18T10:00:00Z"}')]);
}

describe('response bodies', () => {
  it.each([
    ['a byte that is never UTF-8', Buffer.from([0xff])],
    ['another such byte', Buffer.from([0xfe])],
    ['a lone continuation byte', Buffer.from([0x80])],
    ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ])('a success body with %s is invalid_response, not U+FFFD', async (_name, idBytes) => {
    server.on('GET', '/v1/users/u-1', bytes(200, userBody(idBytes)));
    const error = await failure(new EarnClient(server.config()).getUser({ userId: 'u-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', status: 200, path: '(root)', requestId: 'req-bytes', operation: 'GET /v1/users/{userId}' });
    expect(error.message).toContain('the 200 body is not valid UTF-8');
    // Not retried: the same bytes would come again.
    expect(server.requestsTo('GET', '/v1/users/u-1')).toHaveLength(1);
  });

  it('a success body that ends inside a character is invalid_response', async () => {
    const report = Buffer.from(JSON.stringify(dailyReport()));
    server.on('GET', '/downloads/cut.json', bytes(200, Buffer.concat([report, Buffer.from([0xc3])])));
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/cut.json` }));
    expect(error).toMatchObject({ code: 'invalid_response', path: '(root)' });
    expect(error.message).toContain('not valid UTF-8');
  });

  it('a character split across chunks is read whole', async () => {
    const body = userBody(Buffer.from('é€😀', 'utf8'));
    const cut = body.indexOf(Buffer.from('€', 'utf8')) + 1;
    server.on('GET', '/v1/users/u-2', bytes(200, body.subarray(0, cut), body.subarray(cut, cut + 1), body.subarray(cut + 1)));
    expect((await new EarnClient(server.config()).getUser({ userId: 'u-2' })).id).toBe('u-é€😀');
  });

  it('an error body with invalid UTF-8 keeps its status: the error is the HTTP one', async () => {
    server.on('GET', '/v1/users/u-3', bytes(400, Buffer.concat([Buffer.from('{"error":{"code":"bad_request","message":"no \\u00e9 '), Buffer.from([0xff]), Buffer.from('"}}')])));
    const error = await failure(new EarnClient(server.config()).getUser({ userId: 'u-3' }));
    expect(error).toMatchObject({ code: 'http_error', status: 400, providerCode: 'bad_request' });
  });
});

describe('an empty nextCursor', () => {
  it('ends the iteration as null does, after the page that carries it', async () => {
    server.on('GET', '/v1/users/user-1/accounts', json(200, { items: [account('a-1')], nextCursor: 'page-2' }), json(200, { items: [account('a-2')], nextCursor: '' }));
    const client = new EarnClient(server.config());
    const accounts: Account[] = [];
    for await (const item of client.userAccounts({ userId: 'user-1' })) accounts.push(item);
    expect(accounts.map((item) => item.id)).toEqual(['a-1', 'a-2']);
    expect(server.requestsTo('GET', '/v1/users/user-1/accounts').map((request) => request.url.searchParams.get('cursor'))).toEqual([null, 'page-2']);
  });

  it('is answered as null by the page methods, so passing it back never blames the caller', async () => {
    server
      .on('GET', '/v1/reports', json(200, { items: [], nextCursor: '' }))
      .on('GET', '/v1/accounts/account-1/transactions', json(200, { items: [], nextCursor: '' }))
      .on('GET', '/v1/users/user-1/accounts', json(200, { items: [], nextCursor: '' }));
    const client = new EarnClient(server.config());
    expect((await client.listReportsPage()).nextCursor).toBeNull();
    expect((await client.listAccountTransactionsPage({ accountId: 'account-1' })).nextCursor).toBeNull();
    expect((await client.listUserAccountsPage({ userId: 'user-1' })).nextCursor).toBeNull();
    const reports: unknown[] = [];
    for await (const item of client.reports()) reports.push(item);
    expect(reports).toEqual([]);
    // A caller's own empty cursor is still refused, naming it.
    const error = await failure(client.listReportsPage({ cursor: '' }));
    expect(error).toMatchObject({ code: 'invalid_input', field: 'cursor' });
  });
});

/**
 * The token endpoint's answer is read by the client itself, within `tokenTimeoutMs` and
 * `responseBytesMax`, before oauth4webapi checks it: a connection that breaks mid-body is a
 * `network_error` and a body that stalls a `timeout` (both retried, as on API calls), a body
 * beyond the limit is `limit_exceeded`, and redirects are not followed.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import type { EarnRetryEvent } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import type { Responder } from './support/fake-earn-server.js';
import { failure } from './support/failure.js';
import { product } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  server.on('GET', '/v1/products', json(200, { items: [product('btc-fixed', 'BTC')] }));
});

afterEach(async () => {
  await server.close();
});

/** A token answer that sends its headers and half a body, then drops the connection. */
const dropMidBody: Responder = (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-token-1' });
  response.write('{"access_token":"access-token-part');
  setTimeout(() => response.socket?.destroy(), 20);
};

/** A token answer that sends its headers and half a body, then nothing more. */
const stallMidBody: Responder = (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.write('{"access_token":"access-token-slo');
};

/** A valid token answer the API accepts. */
function issue(response: ServerResponse, accessToken: string): void {
  server.validTokens.add(accessToken);
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 }));
}

/** Answers the token requests with `faults` in turn, then with a valid token. */
function faultsThenToken(...faults: Responder[]): Responder {
  let calls = 0;
  return (request, response) => {
    const fault = faults[calls];
    calls += 1;
    if (fault !== undefined) return fault(request, response);
    issue(response, `access-token-recovered-${calls}-xxxxxxxxxxxxxxxx`);
  };
}

describe('a token answer that breaks or stalls mid-body', () => {
  it('a connection dropped mid-body is a network_error, retried like any dropped connection', async () => {
    server.tokenResponder = faultsThenToken(dropMidBody);
    const retries: EarnRetryEvent[] = [];
    const client = new EarnClient(server.config({ hooks: { onRetry: (event) => retries.push(event) } }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.tokenRequests).toHaveLength(2);
    expect(retries.map((event) => event.code)).toEqual(['network_error']);
  });

  it('with one attempt, a connection dropped mid-body fails as network_error, not invalid_response', async () => {
    server.tokenResponder = dropMidBody;
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error).toMatchObject({ code: 'network_error', operation: 'POST token endpoint' });
    expect(server.requests).toHaveLength(0);
  });

  it('a body that stalls past tokenTimeoutMs is a timeout naming tokenTimeoutMs', async () => {
    server.tokenResponder = stallMidBody;
    const startedMs = Date.now();
    const error = await failure(new EarnClient(server.config({ tokenTimeoutMs: 200, attemptsMax: 1 })).listProducts());
    expect(error).toMatchObject({ code: 'timeout', operation: 'POST token endpoint' });
    expect(error.message).toContain('no complete answer within 200 ms (tokenTimeoutMs)');
    // Ended by tokenTimeoutMs, not by the API attempt's timeoutMs (2000).
    expect(Date.now() - startedMs).toBeLessThan(1500);
  });

  it('a body that stalls once is retried and the call succeeds', async () => {
    server.tokenResponder = faultsThenToken(stallMidBody);
    const retries: EarnRetryEvent[] = [];
    const client = new EarnClient(server.config({ tokenTimeoutMs: 200, hooks: { onRetry: (event) => retries.push(event) } }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(server.tokenRequests).toHaveLength(2);
    expect(retries.map((event) => event.code)).toEqual(['timeout']);
  });

  it('a body that keeps breaking ends as retries_exhausted with the network_error as cause', async () => {
    server.tokenResponder = dropMidBody;
    const error = await failure(new EarnClient(server.config({ attemptsMax: 3 })).listProducts());
    expect(error).toMatchObject({ code: 'retries_exhausted', attempts: 3 });
    expect(error.cause).toMatchObject({ code: 'network_error' });
    expect(server.tokenRequests).toHaveLength(3);
  });
});

describe('the size of a token answer', () => {
  const hugeBody = `{"access_token":"access-token-huge-xxxxxxxxxxxxxxxxxxxx","token_type":"Bearer","expires_in":3600${' '.repeat(8 * 1024 * 1024)}}`;

  it('a declared content-length beyond responseBytesMax is limit_exceeded before the body is read, not retried', async () => {
    server.tokenResponder = (_request, response) => {
      server.validTokens.add('access-token-huge-xxxxxxxxxxxxxxxxxxxx');
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(hugeBody)) });
      response.end(hugeBody);
    };
    const error = await failure(new EarnClient(server.config({ responseBytesMax: 1024 })).listProducts());
    expect(error).toMatchObject({ code: 'limit_exceeded', operation: 'POST token endpoint', status: 200 });
    expect(error.message).toContain('exceeds the limit of 1024');
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
  });

  it('a body without content-length is counted as it streams and refused beyond responseBytesMax', async () => {
    server.tokenResponder = (_request, response) => {
      server.validTokens.add('access-token-huge-xxxxxxxxxxxxxxxxxxxx');
      response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      for (let offset = 0; offset < hugeBody.length; offset += 64 * 1024) response.write(hugeBody.slice(offset, offset + 64 * 1024));
      response.end();
    };
    const error = await failure(new EarnClient(server.config({ responseBytesMax: 4096 })).listProducts());
    expect(error).toMatchObject({ code: 'limit_exceeded', operation: 'POST token endpoint' });
    expect(error.message).toContain('exceeds the limit of 4096 bytes');
    expect(server.requests).toHaveLength(0);
  });

  it('an OAuth error answer is bounded too', async () => {
    server.tokenResponder = json(400, { error: 'invalid_request', error_description: 'x'.repeat(64 * 1024) });
    const error = await failure(new EarnClient(server.config({ responseBytesMax: 4096 })).listProducts());
    expect(error).toMatchObject({ code: 'limit_exceeded', status: 400 });
  });

  it('an answer within responseBytesMax is accepted', async () => {
    server.tokenResponder = (_request, response) => issue(response, `access-token-padded-${'x'.repeat(900)}`);
    expect(await new EarnClient(server.config({ responseBytesMax: 1024 })).listProducts()).toHaveLength(1);
  });

  it('a success body that is not UTF-8 is invalid_response, not retried', async () => {
    server.tokenResponder = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(Buffer.concat([Buffer.from('{"access_token":"tok-'), Buffer.from([0xff, 0xfe]), Buffer.from('","token_type":"Bearer"}')]));
    };
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'invalid_response', path: '(root)' });
    expect(server.tokenRequests).toHaveLength(1);
  });

  it('OAuth errors still map as before once the body is read by the client', async () => {
    server.tokenResponder = json(401, { error: 'invalid_client' });
    expect(await failure(new EarnClient(server.config()).listProducts())).toMatchObject({ code: 'unauthorized', providerCode: 'invalid_client', status: 401 });
    server.tokenResponder = json(400, { error: 'invalid_scope' });
    expect(await failure(new EarnClient(server.config()).listProducts())).toMatchObject({ code: 'http_error', providerCode: 'invalid_scope', status: 400 });
  });
});

describe('token endpoint redirects', () => {
  it.each([302, 307, 308])('a %i is an http_error and is not followed', async (status) => {
    let followed = false;
    server.on('POST', '/elsewhere/token', (_request, response) => {
      followed = true;
      issue(response, 'access-token-elsewhere-xxxxxxxxxxxxxxxx');
    });
    server.tokenResponder = (_request, response) => {
      response.writeHead(status, { location: `${server.baseUrl}/elsewhere/token` });
      response.end();
    };
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error).toMatchObject({ code: 'http_error', status });
    expect(followed).toBe(false);
    expect(server.requestsTo('POST', '/elsewhere/token')).toHaveLength(0);
  });
});

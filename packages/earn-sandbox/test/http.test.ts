/**
 * The wire format, with plain fetch: request validation names the field, every error has the
 * contract's error body and request id, the token endpoint follows RFC 6749 §4.4.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validateContract } from '@earnbook/earn-client';
import { startHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.finish();
  harness = undefined;
});

async function tokenFor(h: Harness, entity: string): Promise<string> {
  const { clientId, clientSecret } = h.sandbox.credentials[entity]!;
  const response = await fetch(h.sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = validateContract('TokenResponse', await response.json());
  expect(body.token_type).toBe('Bearer');
  expect(body.expires_in).toBe(3600);
  return body.access_token;
}

/** Sends a request and checks that a failure carries the contract's error body. */
async function call(h: Harness, input: { method: string; path: string; token?: string; body?: string; headers?: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { ...(input.headers ?? {}) };
  if (input.token !== undefined) headers['authorization'] = `Bearer ${input.token}`;
  if (input.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${h.sandbox.baseUrl}${input.path}`, { method: input.method, headers, ...(input.body === undefined ? {} : { body: input.body }) });
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.headers.get('x-request-id')).toMatch(/^sandbox-req-\d+$/);
  if (response.status >= 400 && !input.path.startsWith('/oauth')) {
    const error = validateContract('ErrorBody', body).error;
    expect(error.requestId).toBe(response.headers.get('x-request-id'));
  }
  return { status: response.status, body, headers: response.headers };
}

function errorOf(body: Record<string, unknown>): { code: string; message: string } {
  return body['error'] as { code: string; message: string };
}

describe('the token endpoint', () => {
  it('accepts client_secret_post and refuses other grants and wrong secrets', async () => {
    harness = await startHarness();
    await tokenFor(harness, 'lending');
    const { clientId } = harness.sandbox.credentials['defi']!;
    const wrongGrant = await call(harness, { method: 'POST', path: '/oauth/token', body: 'grant_type=password', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrongGrant).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    const wrongSecret = await call(harness, {
      method: 'POST',
      path: '/oauth/token',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong-secret' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrongSecret).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});

describe('requests', () => {
  it('without a token are 401 with a Bearer challenge', async () => {
    harness = await startHarness();
    const answer = await call(harness, { method: 'GET', path: '/v1/products' });
    expect(answer.status).toBe(401);
    expect(errorOf(answer.body).code).toBe('invalid_token');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('with an invalid body are 400 naming the field, and book nothing', async () => {
    harness = await startHarness();
    const h = harness;
    const token = await tokenFor(h, 'defi');
    const user = await call(h, { method: 'POST', path: '/v1/users', token, body: '{}', headers: { 'idempotency-key': 'u-1' } });
    expect(user.status).toBe(201);
    const account = await call(h, { method: 'POST', path: '/v1/accounts', token, body: JSON.stringify({ userId: user.body['id'], productId: 'btc-flex' }), headers: { 'idempotency-key': 'a-1' } });
    expect(account.status).toBe(201);
    const path = `/v1/accounts/${String(account.body['id'])}/deposits`;

    const exponent = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: '1e5' }), headers: { 'idempotency-key': 'd-1' } });
    expect(exponent.status).toBe(400);
    expect(errorOf(exponent.body)).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/field "amount"/) as unknown });
    const number = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: 1 }), headers: { 'idempotency-key': 'd-1' } });
    expect(errorOf(number.body).message).toMatch(/amount/);
    const tooPrecise = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: '0.0000000000000000001' }), headers: { 'idempotency-key': 'd-1' } });
    expect(errorOf(tooPrecise.body).message).toMatch(/amount/);
    const extra = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: '1', memo: 'x' }), headers: { 'idempotency-key': 'd-1' } });
    expect(extra.status).toBe(400);
    const noKey = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: '1' }) });
    expect(noKey.status).toBe(400);
    expect(errorOf(noKey.body).message).toMatch(/Idempotency-Key/);
    const badJson = await call(h, { method: 'POST', path, token, body: '{"amount":', headers: { 'idempotency-key': 'd-1' } });
    expect(badJson.status).toBe(400);
    const badType = await call(h, { method: 'POST', path, token, body: 'amount=1', headers: { 'idempotency-key': 'd-1', 'content-type': 'text/plain' } });
    expect(badType.status).toBe(415);
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toEqual([]);

    const ok = await call(h, { method: 'POST', path, token, body: JSON.stringify({ amount: '1', reference: 'my-ref' }), headers: { 'idempotency-key': 'd-1' } });
    expect(ok.status).toBe(201);
    validateContract('Booking', ok.body);
    const replay = await call(h, { method: 'POST', path, token, body: JSON.stringify({ reference: 'my-ref', amount: '1' }), headers: { 'idempotency-key': 'd-1' } });
    expect(replay.body).toEqual(ok.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('with invalid query parameters are 400 naming the parameter', async () => {
    harness = await startHarness();
    const token = await tokenFor(harness, 'defi');
    const noType = await call(harness, { method: 'GET', path: '/v1/reports', token });
    expect(errorOf(noType.body).message).toMatch(/type/);
    const zero = await call(harness, { method: 'GET', path: '/v1/reports?type=Report&limit=0', token });
    expect(zero.status).toBe(400);
    expect(errorOf(zero.body).message).toMatch(/limit/);
    const cursor = await call(harness, { method: 'GET', path: '/v1/reports?type=Report&cursor=bogus', token });
    expect(errorOf(cursor.body).message).toMatch(/cursor/);
    const route = await call(harness, { method: 'GET', path: '/v1/nothing', token });
    expect(route.status).toBe(404);
  });

  it('pages through lists with cursors', async () => {
    harness = await startHarness();
    const client = harness.client('defi');
    const user = await client.createUser({ externalReference: 'paging' });
    for (const productId of ['btc-flex', 'eth-tiered']) await client.createAccount({ userId: user.id, productId });
    const first = await client.listUserAccountsPage({ userId: user.id, limit: 1 });
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = await client.listUserAccountsPage({ userId: user.id, limit: 1, cursor: first.nextCursor! });
    expect(second.items.map((account) => account.productId)).toEqual(['eth-tiered']);
    expect(second.nextCursor).toBeNull();
    const again = await client.createAccount({ userId: user.id, productId: 'btc-flex' }).catch((error: unknown) => error);
    expect(again).toMatchObject({ status: 409, providerCode: 'account_exists' });
  });
});

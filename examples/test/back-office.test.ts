/** The back-office service's routes, through fastify's inject, against an in-process sandbox. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import type { Sandbox } from '@earnbook/earn-sandbox';
import type { FastifyInstance } from 'fastify';
import { buildBackOffice } from '../back-office/src/back-office.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';
import type { PartnerBooks } from '../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';

let sandbox: Sandbox;
let partner: PartnerBooks;
let app: FastifyInstance;

beforeAll(async () => {
  sandbox = await startSandbox({});
  partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
  await syncProducts({ source: earn, books: partner.books, effectiveDay: '2025-03-01' });
  app = buildBackOffice({ earn, books: partner.books });
});
afterAll(async () => {
  await app.close();
  await partner.close();
  expect(sandbox.contractViolations).toEqual([]);
  await sandbox.close();
});

describe('back office', () => {
  it('onboards, opens an account, books a deposit and a withdrawal, and serves balance and history from its own books', async () => {
    const products = await app.inject({ method: 'GET', url: '/products' });
    expect(products.json<{ items: { productId: string }[] }>().items.map((item) => item.productId)).toContain('btc-flex');

    const user = await app.inject({ method: 'POST', url: '/users', payload: { partnerUserId: 'customer-42' } });
    expect(user.statusCode).toBe(201);
    expect(user.json<{ earnUsers: { entity: string }[] }>().earnUsers.map((earnUser) => earnUser.entity)).toEqual(['defi', 'lending']);
    expect((await app.inject({ method: 'POST', url: '/users', payload: { partnerUserId: 'customer-42' } })).statusCode).toBe(200);

    const opened = await app.inject({ method: 'POST', url: '/accounts', payload: { partnerUserId: 'customer-42', productId: 'btc-flex' } });
    expect(opened.statusCode).toBe(201);
    const { earnAccountId } = opened.json<{ earnAccountId: string }>();

    const deposit = await app.inject({ method: 'POST', url: '/deposits', headers: { 'idempotency-key': 'dep-1' }, payload: { earnAccountId, amount: '1.5' } });
    expect(deposit.statusCode).toBe(201);
    expect(deposit.json()).toMatchObject({ kind: 'deposit', amount: '1.500000000000000000', balance: '1.500000000000000000' });
    // The same key again is a replay: booked once on the provider and in the books.
    const replay = await app.inject({ method: 'POST', url: '/deposits', headers: { 'idempotency-key': 'dep-1' }, payload: { earnAccountId, amount: '1.5' } });
    expect(replay.statusCode).toBe(200);
    expect(replay.json<{ bookingId: string }>().bookingId).toBe(deposit.json<{ bookingId: string }>().bookingId);

    const withdrawal = await app.inject({ method: 'POST', url: '/withdrawals', headers: { 'idempotency-key': 'wd-1' }, payload: { earnAccountId, amount: '0.5' } });
    expect(withdrawal.statusCode).toBe(201);
    const refused = await app.inject({ method: 'POST', url: '/withdrawals', headers: { 'idempotency-key': 'wd-2' }, payload: { earnAccountId, amount: '7' } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: { code: 'insufficient_balance' } });
    expect((await app.inject({ method: 'POST', url: '/deposits', payload: { earnAccountId, amount: '1' } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/deposits', headers: { 'idempotency-key': 'dep-x' }, payload: { earnAccountId, amount: '1e3' } })).statusCode).toBe(400);

    // Served from the partner's books: even with the provider failing every call.
    sandbox.faults.set({ errorRate: 1 });
    try {
      const balance = await app.inject({ method: 'GET', url: `/balances/${earnAccountId}` });
      expect(balance.json()).toMatchObject({ currency: 'BTC', balance: '1.000000000000000000' });
      const first = await app.inject({ method: 'GET', url: `/history/${earnAccountId}?limit=1` });
      const page = first.json<{ items: { kind: string; amount: string }[]; nextCursor: string | null }>();
      expect(page.items).toEqual([expect.objectContaining({ kind: 'withdrawal', amount: '-0.500000000000000000' })]);
      expect(page.nextCursor).not.toBeNull();
      const second = await app.inject({ method: 'GET', url: `/history/${earnAccountId}?limit=1&cursor=${encodeURIComponent(page.nextCursor ?? '')}` });
      expect(second.json<{ items: { kind: string }[]; nextCursor: string | null }>()).toMatchObject({ items: [{ kind: 'deposit' }], nextCursor: null });
    } finally {
      sandbox.faults.reset();
    }
    expect((await app.inject({ method: 'GET', url: '/balances/no-such-account' })).statusCode).toBe(404);
  });

  it('answers a body it cannot read with a 4xx naming the problem, never 500, and writes nothing', async () => {
    const before = await snapshotDatabase(partner.db as never);
    const json = { 'content-type': 'application/json', 'idempotency-key': 'dep-bad' };
    const cases = [
      { name: 'malformed JSON', payload: '{"partnerUserId":', status: 400 },
      { name: 'an empty JSON body', payload: '', status: 400 },
      { name: 'a __proto__ key', payload: '{"partnerUserId":"customer-7","__proto__":{"admin":true}}', status: 400 },
      { name: 'a body over the size limit', payload: JSON.stringify({ partnerUserId: 'x'.repeat(2 * 1024 * 1024) }), status: 413 },
    ];
    for (const url of ['/users', '/deposits']) {
      for (const { name, payload, status } of cases) {
        const answer = await app.inject({ method: 'POST', url, headers: json, payload });
        expect({ url, name, status: answer.statusCode }).toEqual({ url, name, status });
        expect(answer.json<{ error: { code: string; message: string } }>().error.code).toBe('invalid_request');
      }
    }
    expect(await snapshotDatabase(partner.db as never)).toBe(before);
  });
});

/**
 * The client against the sandbox's faults: retries happen, nothing is booked twice, errors are
 * typed and clear.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EarnApiError } from '@earnbook/earn-client';
import type { DailyReport } from '@earnbook/earn-client';
import { formatUnits, toUnits } from '@earnbook/ledger';
import { collect, startHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';
import type { SandboxOptions } from '../src/index.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.finish();
  harness = undefined;
});

/** A sandbox with one defi user and a BTC account. */
async function withAccount(options: SandboxOptions = {}): Promise<{ h: Harness; accountId: string; userIds: { defi: string; lending: string } }> {
  harness = await startHarness(options);
  const users = await harness.earn.onboardEndUser({ endUserReference: 'customer-1' });
  const userIds = { defi: users['defi']!.id, lending: users['lending']!.id };
  const { account } = await harness.earn.openAccount({ earnUserIds: userIds, productId: 'btc-flex' });
  return { h: harness, accountId: account.id, userIds };
}

async function rejection(promise: Promise<unknown>): Promise<EarnApiError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(EarnApiError);
  return caught as EarnApiError;
}

async function latestReport(h: Harness, entity: string): Promise<DailyReport> {
  const client = h.earn.entity(entity);
  const summaries = await collect(client.reports());
  const last = summaries[summaries.length - 1];
  if (last === undefined) throw new Error('no report');
  return client.fetchReport({ reportId: last.id });
}

describe('5xx and 429', () => {
  it('retries until the booking succeeds, and replays book nothing twice', async () => {
    const { h, accountId } = await withAccount();
    h.sandbox.faults.set({ errorRate: 0.3, rateLimitRate: 0.2, retryAfterSeconds: 0 });
    const bookings = [];
    for (let index = 0; index < 12; index += 1) {
      bookings.push(await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '0.1', idempotencyKey: `deposit-${index}` }));
    }
    const counters = h.sandbox.faults.counters;
    expect(counters.errors).toBeGreaterThan(0);
    expect(counters.rateLimited).toBeGreaterThan(0);
    // The same calls again (e.g. after a partner crash): the first answers, nothing booked again.
    const replays = [];
    for (let index = 0; index < 12; index += 1) {
      replays.push(await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '0.1', idempotencyKey: `deposit-${index}` }));
    }
    expect(replays).toEqual(bookings);
    h.sandbox.faults.reset();
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(12);
    expect(await h.sandbox.books.accountBalance({ entity: 'defi', accountId })).toBe('1.200000000000000000');
  });

  it('gives up with retries_exhausted naming the last failure when the errors never stop', async () => {
    const { h, accountId } = await withAccount();
    h.sandbox.faults.set({ errorRate: 1, errorStatus: 503 });
    const error = await rejection(h.earn.entity('defi').getAccount({ accountId }));
    expect(error.code).toBe('retries_exhausted');
    expect(error.attempts).toBe(8);
    expect(error.cause).toMatchObject({ code: 'http_error', status: 503, providerCode: 'service_unavailable' });
    expect(error.message).toMatch(/503/);
    h.sandbox.faults.reset();
  });

  it('honours Retry-After and concurrent identical bookings are booked once', async () => {
    const { h, accountId } = await withAccount();
    h.sandbox.faults.set({ rateLimitRate: 0.5, retryAfterSeconds: 0, latencyMs: 5 });
    const results = await Promise.all(Array.from({ length: 6 }, () => h.earn.deposit({ productId: 'btc-flex', accountId, amount: '0.25', idempotencyKey: 'same-key' })));
    expect(new Set(results.map((booking) => booking.id)).size).toBe(1);
    h.sandbox.faults.reset();
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(1);
  });
});

describe('a booking applied but its response lost', () => {
  for (const mode of ['destroy', 'bad-gateway'] as const) {
    it(`(${mode}) the retry returns the same booking and the books hold it once`, async () => {
      const { h, accountId } = await withAccount();
      h.sandbox.faults.loseNextBookingResponse({ mode });
      const booking = await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '0.5', idempotencyKey: 'lost-1' });
      expect(h.sandbox.faults.counters.lostResponses).toBe(1);
      const booked = await h.sandbox.books.bookings({ entity: 'defi' });
      expect(booked).toHaveLength(1);
      expect(booked[0]).toMatchObject({ bookingId: booking.id, idempotencyKey: 'lost-1', amount: '0.500000000000000000' });
    });
  }

  it('when every attempt loses it the client gives up, the provider has the booking, and a later retry recovers it', async () => {
    const { h, accountId } = await withAccount();
    const client = h.client('defi', { attemptsMax: 3 });
    h.sandbox.faults.loseNextBookingResponse({ responsesLost: 3 });
    const error = await rejection(client.deposit({ accountId, amount: '0.7', idempotencyKey: 'lost-forever' }));
    expect(error.code).toBe('retries_exhausted');
    expect(error.cause).toMatchObject({ code: 'network_error' });
    const booked = await h.sandbox.books.bookings({ entity: 'defi' });
    expect(booked).toHaveLength(1);
    // The provider's report has the booking the partner never learnt of (missing in its ledger).
    await h.sandbox.clock.advanceDays(1);
    const report = await latestReport(h, 'defi');
    expect(report.transactions.find((entry) => entry.type === 'Deposit')).toMatchObject({ bookingId: booked[0]!.bookingId, idempotencyKey: 'lost-forever', amount: '0.700000000000000000' });
    // Repeating the call with the same key (as a recovering partner would) returns that booking.
    const recovered = await client.deposit({ accountId, amount: '0.7', idempotencyKey: 'lost-forever' });
    expect(recovered.id).toBe(booked[0]!.bookingId);
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(1);
  });

  it('loseBookingResponseRate loses some responses, and every booking is still booked once', async () => {
    const { h, accountId } = await withAccount({ seed: 3 });
    h.sandbox.faults.set({ loseBookingResponseRate: 0.5, lostResponseMode: 'bad-gateway' });
    for (let index = 0; index < 8; index += 1) await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: `rate-${index}` });
    expect(h.sandbox.faults.counters.lostResponses).toBeGreaterThan(0);
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(8);
  });
});

describe('typed errors', () => {
  it('a withdrawal beyond the balance is insufficient_balance (422) and books nothing', async () => {
    const { h, accountId } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'd-1' });
    const error = await rejection(h.earn.withdraw({ productId: 'btc-flex', accountId, amount: '1.000000000000000001', idempotencyKey: 'w-1' }));
    expect(error).toMatchObject({ code: 'insufficient_balance', status: 422, providerCode: 'insufficient_balance' });
    expect(error.message).toMatch(/exceeds the balance 1\.000000000000000000/);
    expect(error.requestId).toMatch(/^sandbox-req-/);
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(1);
  });

  it('the same Idempotency-Key with another body is idempotency_conflict (409)', async () => {
    const { h, accountId } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'k-1' });
    const error = await rejection(h.earn.deposit({ productId: 'btc-flex', accountId, amount: '2', idempotencyKey: 'k-1' }));
    expect(error).toMatchObject({ code: 'idempotency_conflict', status: 409 });
    expect(await h.sandbox.books.bookings({ entity: 'defi' })).toHaveLength(1);
  });

  it('wrong credentials are unauthorized', async () => {
    harness = await startHarness();
    const error = await rejection(harness.client('defi', { clientSecret: 'not-the-secret' }).listProducts());
    // RFC 6749 §5.2: a 401 with a WWW-Authenticate challenge; the secret never shows in the error.
    expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(JSON.stringify(error)).not.toContain('not-the-secret');
  });
});

describe('tokens', () => {
  it('a token expired early causes one refresh and the call succeeds', async () => {
    harness = await startHarness();
    const client = harness.client('defi');
    await client.listProducts();
    expect(client.tokenRequestCount).toBe(1);
    harness.sandbox.faults.expireTokensEarly();
    expect((await client.listProducts()).length).toBe(2);
    expect(client.tokenRequestCount).toBe(2);
    expect(harness.sandbox.faults.counters.tokensRefused).toBe(1);
    await client.listProducts();
    expect(client.tokenRequestCount).toBe(2);
  });

  it('tokens that live shorter than announced are refreshed on 401', async () => {
    harness = await startHarness();
    const client = harness.client('defi');
    // Long enough that the refreshed token outlives the retry on a loaded machine (30 ms flaked).
    harness.sandbox.faults.set({ tokenValidityMs: 500 });
    await client.listProducts();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await client.listProducts();
    expect(client.tokenRequestCount).toBe(2);
    harness.sandbox.faults.reset();
  });
});

describe('legal entities', () => {
  it("one entity's credentials never see the other's accounts, products or reports", async () => {
    const { h, accountId, userIds } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'd-1' });
    const lending = h.earn.entity('lending');
    expect(await rejection(lending.getAccount({ accountId }))).toMatchObject({ code: 'http_error', status: 404, providerCode: 'not_found' });
    expect(await rejection(lending.deposit({ accountId, amount: '1', idempotencyKey: 'cross-1' }))).toMatchObject({ status: 404, providerCode: 'not_found' });
    expect(await rejection(lending.createAccount({ userId: userIds.lending, productId: 'btc-flex' }))).toMatchObject({ status: 404, providerCode: 'not_found' });
    expect(await rejection(lending.getUser({ userId: userIds.defi }))).toMatchObject({ status: 404 });
    expect((await lending.listProducts()).map((product) => product.id)).toEqual(['usdc-lending', 'xrp-staking']);
    await h.sandbox.clock.advanceDays(1);
    const lendingReport = await latestReport(h, 'lending');
    expect(lendingReport.entity).toBe('lending');
    expect(lendingReport.transactions).toEqual([]);
    const defiSummaries = await collect(h.earn.entity('defi').reports());
    expect(await rejection(lending.getReportDownloadUri({ reportId: defiSummaries[0]!.id }))).toMatchObject({ status: 404 });
    expect(await h.sandbox.books.bookings({ entity: 'lending' })).toEqual([]);
  });
});

describe('reports', () => {
  it('a download URL expires after reportUrlLifetimeMs on the sandbox clock', async () => {
    const { h } = await withAccount({ reportUrlLifetimeMs: 60_000 });
    await h.sandbox.clock.advanceDays(1);
    const client = h.earn.entity('defi');
    const [summary] = await collect(client.reports());
    const { uri, expiresAt } = await client.getReportDownloadUri({ reportId: summary!.id });
    expect(uri.startsWith(`${h.sandbox.baseUrl}/downloads/`)).toBe(true);
    expect(Date.parse(expiresAt!) - h.sandbox.clock.now().getTime()).toBe(60_000);
    expect((await client.downloadReport({ uri })).id).toBe(summary!.id);
    await h.sandbox.clock.advanceBy(60_000);
    expect(await rejection(client.downloadReport({ uri }))).toMatchObject({ code: 'http_error', status: 410, providerCode: 'download_expired' });
    expect(await rejection(client.downloadReport({ uri: `${h.sandbox.baseUrl}/downloads/never-issued` }))).toMatchObject({ status: 403, providerCode: 'download_unknown' });
    // A new URL works again.
    expect((await client.fetchReport({ reportId: summary!.id })).id).toBe(summary!.id);
  });

  it('a duplicated entry and interest off by a few units show in the downloaded report, not in the books', async () => {
    const { h, accountId } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'd-1' });
    h.sandbox.faults.duplicateReportEntry({ entity: 'defi' });
    h.sandbox.faults.interestOffByUnits({ entity: 'defi', units: 3n });
    await h.sandbox.clock.advanceDays(1);
    const report = await latestReport(h, 'defi');
    const ids = report.transactions.map((entry) => entry.id);
    expect(ids.length - new Set(ids).size).toBe(1);
    const history = await collect(h.earn.accountTransactions({ productId: 'btc-flex', accountId }));
    const booked = history.find((entry) => entry.type === 'Interest')!;
    const reported = report.transactions.find((entry) => entry.type === 'Interest')!;
    expect(reported.id).toBe(booked.id);
    expect(toUnits(reported.amount) - toUnits(booked.amount)).toBe(3n);
    // The faults were one-shot: the next day's report is clean.
    await h.sandbox.clock.advanceDays(1);
    const next = await latestReport(h, 'defi');
    expect(new Set(next.transactions.map((entry) => entry.id)).size).toBe(next.transactions.length);
  });

  it('a restated report is a second report for the same day with a changed figure', async () => {
    const { h, accountId } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'd-1' });
    h.sandbox.faults.restateReport({ entity: 'defi', deltaUnits: 5n });
    await h.sandbox.clock.advanceDays(1);
    const client = h.earn.entity('defi');
    const summaries = await collect(client.reports());
    expect(summaries.map((summary) => summary.accountingDay)).toEqual(['2025-03-18', '2025-03-18']);
    expect(summaries[0]!.id).not.toBe(summaries[1]!.id);
    const [first, second] = [await client.fetchReport({ reportId: summaries[0]!.id }), await client.fetchReport({ reportId: summaries[1]!.id })];
    const interest = (report: DailyReport) => toUnits(report.transactions.find((entry) => entry.type === 'Interest')!.amount);
    expect(interest(second) - interest(first)).toBe(5n);
    expect(second.balances).toEqual(first.balances);
    expect(formatUnits(interest(first))).toBe((await collect(h.earn.accountTransactions({ productId: 'btc-flex', accountId }))).find((entry) => entry.type === 'Interest')!.amount);
  });

  it('publishes a restatement of a day already published, later, as the next version', async () => {
    const { h, accountId } = await withAccount();
    await h.earn.deposit({ productId: 'btc-flex', accountId, amount: '1', idempotencyKey: 'd-1' });
    await h.sandbox.clock.advanceDays(1);
    const client = h.earn.entity('defi');
    const [original] = await collect(client.reports());
    await h.sandbox.clock.advanceBy(3_600_000);
    const published = await h.sandbox.publishRestatement({ entity: 'defi', accountingDay: '2025-03-18', deltaUnits: 7n });
    expect(published).toEqual({ reportId: expect.any(String), version: 2, createdAt: h.sandbox.clock.nowText() });
    const summaries = await collect(client.reports());
    expect(summaries.map((summary) => [summary.id, summary.accountingDay])).toEqual([[original!.id, '2025-03-18'], [published.reportId, '2025-03-18']]);
    expect(Date.parse(summaries[1]!.createdAt)).toBeGreaterThan(Date.parse(original!.createdAt));
    const [first, second] = [await client.fetchReport({ reportId: original!.id }), await client.fetchReport({ reportId: published.reportId })];
    const interest = (report: DailyReport) => toUnits(report.transactions.find((entry) => entry.type === 'Interest')!.amount);
    expect(interest(second) - interest(first)).toBe(7n);
    expect(second.balances).toEqual(first.balances);
    // A restatement of the restatement is version 3, built on version 2.
    const third = await h.sandbox.publishRestatement({ entity: 'defi', accountingDay: '2025-03-18' });
    expect(third.version).toBe(3);
    expect(interest(await client.fetchReport({ reportId: third.reportId })) - interest(second)).toBe(1n);
  });

  it('refuses a restatement of an unknown entity, a day without a report, or a zero change, and publishes nothing', async () => {
    const { h } = await withAccount();
    const client = h.earn.entity('defi');
    const listed = async () => (await collect(client.reports())).map((summary) => summary.id);
    const before = await listed();
    for (const [options, field] of [
      [{ entity: 'nope', accountingDay: '2025-03-18' }, 'entity'],
      [{ entity: 'defi', accountingDay: '18.03.2025' }, 'accountingDay'],
      [{ entity: 'defi', accountingDay: '2025-03-18' }, 'accountingDay'],
      [{ entity: 'defi', accountingDay: '2025-03-18', deltaUnits: 0n }, 'deltaUnits'],
    ] as const) {
      await expect(h.sandbox.publishRestatement(options)).rejects.toMatchObject({ code: 'invalid_option', field });
    }
    expect(await listed()).toEqual(before);
  });
});

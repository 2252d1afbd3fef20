/** The controllable clock: cycles at every local midnight crossed, in zones with DST, and resumed books. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnClient } from '@earnbook/earn-client';
import { SandboxError, settleCurrencyDay, startSandbox } from '../src/index.js';
import { collect, startHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.finish();
  harness = undefined;
});

describe('the sandbox clock', () => {
  it('never goes backwards', async () => {
    harness = await startHarness();
    const error = await harness.sandbox.clock.advanceTo('2025-03-17T00:00:00Z').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SandboxError);
    expect(error).toMatchObject({ code: 'invalid_option', field: 'instant' });
  });

  it('closes every day crossed, in order, with one report per entity and day', async () => {
    harness = await startHarness();
    await harness.sandbox.clock.advanceTo('2025-03-21T08:00:00Z');
    for (const entity of ['defi', 'lending']) {
      const summaries = await collect(harness.earn.entity(entity).reports());
      expect(summaries.map((summary) => [summary.accountingDay, summary.createdAt])).toEqual([
        ['2025-03-18', '2025-03-19T00:00:00.000Z'],
        ['2025-03-19', '2025-03-20T00:00:00.000Z'],
        ['2025-03-20', '2025-03-21T00:00:00.000Z'],
      ]);
    }
    expect(harness.sandbox.clock.nowText()).toBe('2025-03-21T08:00:00.000Z');
  });

  it('runs the cycle at local midnight across a 23-hour DST day (Europe/Helsinki)', async () => {
    harness = await startHarness({ timeZone: 'Europe/Helsinki', startAt: '2025-03-29T10:00:00Z' });
    const h = harness;
    const users = await h.earn.onboardEndUser({ endUserReference: 'dst' });
    const { account } = await h.earn.openAccount({ earnUserIds: { defi: users['defi']!.id, lending: users['lending']!.id }, productId: 'btc-flex' });
    await h.earn.deposit({ productId: 'btc-flex', accountId: account.id, amount: '1', idempotencyKey: 'dst-1' });
    await h.sandbox.clock.advanceDays(2);
    const client = h.earn.entity('defi');
    const summaries = await collect(client.reports());
    // Helsinki midnight is 22:00Z in winter time and 21:00Z in summer time.
    expect(summaries.map((summary) => [summary.accountingDay, summary.createdAt])).toEqual([
      ['2025-03-29', '2025-03-29T22:00:00.000Z'],
      ['2025-03-30', '2025-03-30T21:00:00.000Z'],
    ]);
    const report = await client.fetchReport({ reportId: summaries[1]!.id });
    expect(report.timeZone).toBe('Europe/Helsinki');
    expect(report.transactions.find((entry) => entry.type === 'Interest')?.createdAt).toBe('2025-03-30T21:00:00.000Z');
    // 12:00 local before and after: 10:00Z in winter time, 09:00Z in summer time.
    expect(h.sandbox.clock.nowText()).toBe('2025-03-31T09:00:00.000Z');
  });

  it('resumes books, clock and reports from a database file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'earn-sandbox-'));
    try {
      const credentials = [
        { id: 'defi', clientSecret: 'defi-secret-123' },
        { id: 'lending', clientSecret: 'lending-secret-123' },
      ];
      const options = { databaseFilename: join(directory, 'sandbox.db'), entities: credentials };
      const first = await startSandbox(options);
      const client = new EarnClient(first.clientConfig('defi'));
      const user = await client.createUser({});
      const account = await client.createAccount({ userId: user.id, productId: 'btc-flex' });
      const booking = await client.deposit({ accountId: account.id, amount: '1', idempotencyKey: 'file-1' });
      await first.clock.advanceDays(1);
      const balanceAfterCycle = (await client.getAccount({ accountId: account.id })).balance;
      expect(balanceAfterCycle).not.toBe('1.000000000000000000');
      await first.close();

      const second = await startSandbox(options);
      try {
        expect(second.clock.nowText()).toBe('2025-03-19T09:00:00.000Z');
        const again = new EarnClient(second.clientConfig('defi'));
        expect((await collect(again.reports())).map((summary) => summary.accountingDay)).toEqual(['2025-03-18']);
        expect(await again.deposit({ accountId: account.id, amount: '1', idempotencyKey: 'file-1' })).toEqual(booking);
        expect((await again.getAccount({ accountId: account.id })).balance).toBe(balanceAfterCycle);
        // A reopened file hands out new ids: nothing collides with the first run's.
        const newUser = await again.createUser({});
        expect(newUser.id).not.toBe(user.id);
        const newAccount = await again.createAccount({ userId: newUser.id, productId: 'btc-flex' });
        const newBooking = await again.deposit({ accountId: newAccount.id, amount: '2', idempotencyKey: 'file-2' });
        expect(newBooking.id).not.toBe(booking.id);
        await second.books.verify();
      } finally {
        await second.close();
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('settleCurrencyDay', () => {
  const unit = 10n ** 18n;
  it('settles at or above the threshold and carries below it', () => {
    const flows = { depositsUnits: 3n * unit, withdrawalsUnits: unit, feesUnits: 0n, partnerMarginUnits: 0n };
    expect(settleCurrencyDay({ currency: 'BTC', flows, carriedInUnits: 0n, thresholdUnits: 2n * unit })).toMatchObject({
      net: '-2.000000000000000000',
      outstanding: '-2.000000000000000000',
      settled: '-2.000000000000000000',
      carriedOut: '0.000000000000000000',
    });
    expect(settleCurrencyDay({ currency: 'BTC', flows, carriedInUnits: unit, thresholdUnits: 2n * unit })).toMatchObject({
      outstanding: '-1.000000000000000000',
      settled: '0.000000000000000000',
      carriedOut: '-1.000000000000000000',
    });
    expect(settleCurrencyDay({ currency: 'BTC', flows: { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n }, carriedInUnits: 0n, thresholdUnits: 0n }).settled).toBe('0.000000000000000000');
  });
});

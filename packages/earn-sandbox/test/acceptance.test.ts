/**
 * The provider's two acceptance scenarios, end to end through the real client (EarnFacade and
 * EarnClient) against the in-process sandbox on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EarnApiError } from '@earnbook/earn-client';
import type { DailyReport } from '@earnbook/earn-client';
import { formatUnits, toUnits } from '@earnbook/ledger';
import { collect, startHarness } from './support/harness.js';
import type { Harness } from './support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.finish();
  harness = undefined;
});

/** Every report of an entity, downloaded. */
async function reportsOf(h: Harness, entity: string): Promise<DailyReport[]> {
  const client = h.earn.entity(entity);
  const reports: DailyReport[] = [];
  for (const summary of await collect(client.reports())) reports.push(await client.fetchReport({ reportId: summary.id }));
  return reports;
}

function units(amount: string): bigint {
  return toUnits(amount);
}

describe('acceptance 1: user journey', () => {
  it('creates a user, lists products, deposits, shows balance and history with interest after the cycle, withdraws', async () => {
    harness = await startHarness();
    const h = harness;

    const products = await h.earn.listProducts();
    expect(products.map(({ entityId, product }) => `${entityId}/${product.id}/${product.currency}`)).toEqual([
      'defi/btc-flex/BTC',
      'defi/eth-tiered/ETH',
      'lending/usdc-lending/USDC',
      'lending/xrp-staking/XRP',
    ]);
    const btc = products.find(({ product }) => product.id === 'btc-flex')?.product;
    expect(btc?.interest.tiers).toEqual([{ fromAmount: '0.000000000000000000', toAmount: null, apy: expect.stringMatching(/^0\.035/) as unknown }]);

    const users = await h.earn.onboardEndUser({ endUserReference: 'customer-42' });
    expect(Object.keys(users).sort()).toEqual(['defi', 'lending']);
    // Repeating a half-failed onboarding returns the same users.
    expect(await h.earn.onboardEndUser({ endUserReference: 'customer-42' })).toEqual(users);
    const earnUserIds = { defi: users['defi']!.id, lending: users['lending']!.id };
    expect((await h.earn.entity('defi').getUser({ userId: earnUserIds.defi })).externalReference).toBe('customer-42');

    const { entityId, account } = await h.earn.openAccount({ earnUserIds, productId: 'btc-flex', idempotencyKey: 'open:customer-42:btc-flex' });
    expect(entityId).toBe('defi');
    expect(account).toMatchObject({ userId: earnUserIds.defi, productId: 'btc-flex', currency: 'BTC', balance: '0.000000000000000000' });

    // Day 1: 1 BTC at 3.5 %.
    const deposit = await h.earn.deposit({ productId: 'btc-flex', accountId: account.id, amount: '1', idempotencyKey: 'booking-1' });
    expect(deposit).toMatchObject({ accountId: account.id, type: 'Deposit', amount: '1.000000000000000000', currency: 'BTC', balanceAfter: '1.000000000000000000' });
    expect((await h.earn.getAccount({ productId: 'btc-flex', accountId: account.id })).balance).toBe('1.000000000000000000');
    expect(await collect(h.earn.accountTransactions({ productId: 'btc-flex', accountId: account.id }))).toEqual([
      expect.objectContaining({ id: deposit.id, type: 'Deposit', amount: '1.000000000000000000', bookingId: deposit.id }),
    ]);
    expect(await collect(h.earn.entity('defi').userAccounts({ userId: earnUserIds.defi }))).toEqual([expect.objectContaining({ id: account.id, balance: '1.000000000000000000' })]);

    // The cycle at midnight pays day 1's interest.
    await h.sandbox.clock.advanceDays(1);
    const history = await collect(h.earn.accountTransactions({ productId: 'btc-flex', accountId: account.id }));
    expect(history.map((entry) => entry.type)).toEqual(['Deposit', 'Interest']);
    const interest = history[1]!;
    expect(interest.createdAt).toBe('2025-03-19T00:00:00.000Z');
    // The public example: 1 BTC at 3.5 % becomes 1.00009425493 after one day.
    const balance = (await h.earn.getAccount({ productId: 'btc-flex', accountId: account.id })).balance;
    expect(balance).toBe(interest.balanceAfter);
    const error = units(balance) - units('1.00009425493');
    expect(error < 0n ? -error : error).toBeLessThan(10n ** 7n);

    // The day-1 report holds the deposit and the same interest entry.
    const [report] = await reportsOf(h, 'defi');
    expect(report?.accountingDay).toBe('2025-03-18');
    expect(report?.transactions.find((entry) => entry.type === 'Interest')).toMatchObject({ id: interest.id, amount: interest.amount, accountId: account.id });
    expect(report?.transactions.find((entry) => entry.type === 'Deposit')).toMatchObject({ bookingId: deposit.id, idempotencyKey: 'booking-1' });

    // Day 2: withdraw everything; more is refused with a typed error.
    const withdrawal = await h.earn.withdraw({ productId: 'btc-flex', accountId: account.id, amount: balance, idempotencyKey: 'booking-2' });
    expect(withdrawal).toMatchObject({ type: 'Withdrawal', amount: balance, balanceAfter: '0.000000000000000000' });
    const refused = await h.earn.withdraw({ productId: 'btc-flex', accountId: account.id, amount: '0.1', idempotencyKey: 'booking-3' }).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(EarnApiError);
    expect(refused).toMatchObject({ code: 'insufficient_balance', status: 422, providerCode: 'insufficient_balance' });

    // Day 3: no interest, the balance at the end of day 2 was zero.
    await h.sandbox.clock.advanceDays(1);
    const after = await collect(h.earn.accountTransactions({ productId: 'btc-flex', accountId: account.id }));
    expect(after.map((entry) => entry.type)).toEqual(['Deposit', 'Interest', 'Withdrawal']);
    expect(await h.sandbox.books.accountBalance({ entity: 'defi', accountId: account.id })).toBe('0.000000000000000000');
  });
});

describe('acceptance 2: settlement', () => {
  it('nets every currency on day 1 (the partner owes), carries below the threshold, and nets the withdrawals on day 2', async () => {
    harness = await startHarness({ settlementThresholds: { lending: { XRP: '1000' } } });
    const h = harness;
    const products = await h.earn.listProducts();
    const users = await h.earn.onboardEndUser({ endUserReference: 'customer-7' });
    const earnUserIds = { defi: users['defi']!.id, lending: users['lending']!.id };
    const deposits: Record<string, string> = { 'btc-flex': '2', 'eth-tiered': '20', 'usdc-lending': '5000', 'xrp-staking': '100' };
    const withdrawals: Record<string, string> = { 'btc-flex': '1', 'eth-tiered': '5', 'usdc-lending': '1000', 'xrp-staking': '50' };
    const accounts = new Map<string, string>();
    for (const { product } of products) {
      const { account } = await h.earn.openAccount({ earnUserIds, productId: product.id });
      accounts.set(product.id, account.id);
      await h.earn.deposit({ productId: product.id, accountId: account.id, amount: deposits[product.id]!, idempotencyKey: `deposit:${product.id}` });
    }
    const currencyOf = new Map(products.map(({ product }) => [product.id, product.currency]));
    const productOf = new Map(products.map(({ product }) => [product.currency, product.id]));

    // During day 1 the position already shows what the partner owes.
    const intraday = await h.earn.entity('lending').getOutstandingBalances();
    expect(intraday.balances).toEqual([
      { currency: 'USDC', outstandingBalance: '-5000.000000000000000000' },
      { currency: 'XRP', outstandingBalance: '-100.000000000000000000' },
    ]);

    await h.sandbox.clock.advanceDays(1);
    const carried = new Map<string, bigint>();
    for (const entity of ['defi', 'lending']) {
      const reports = await reportsOf(h, entity);
      expect(reports.map((report) => report.accountingDay)).toEqual(['2025-03-18']);
      const report = reports[0]!;
      expect(report.balances.map((balance) => balance.currency)).toEqual(entity === 'defi' ? ['BTC', 'ETH'] : ['USDC', 'XRP']);
      for (const balance of report.balances) {
        const productId = productOf.get(balance.currency)!;
        const margin = report.transactions.find((entry) => entry.type === 'PartnerMargin' && entry.currency === balance.currency)?.amount ?? '0';
        const expected = units(margin) - units(deposits[productId]!);
        // The partner owes in every currency: negative outstanding balance.
        expect(units(balance.outstandingBalance)).toBe(expected);
        expect(units(balance.outstandingBalance) < 0n).toBe(true);
        expect(balance.deposits).toBe(formatUnits(units(deposits[productId]!)));
        const belowThreshold = balance.currency === 'XRP';
        expect(balance.settled).toBe(belowThreshold ? '0.000000000000000000' : balance.outstandingBalance);
        expect(balance.carried).toBe(belowThreshold ? balance.outstandingBalance : '0.000000000000000000');
        carried.set(balance.currency, units(balance.carried ?? '0'));
        expect(report.transactions.filter((entry) => entry.type === 'Interest' && entry.currency === balance.currency)).toHaveLength(1);
      }
      // XRP has no partner margin; the others do.
      expect(report.transactions.filter((entry) => entry.type === 'PartnerMargin').map((entry) => entry.currency)).toEqual(entity === 'defi' ? ['BTC', 'ETH'] : ['USDC']);
      // The sandbox settled what was due: its position now is what was carried.
      for (const balance of (await h.earn.entity(entity).getOutstandingBalances()).balances) {
        expect(units(balance.outstandingBalance)).toBe(carried.get(balance.currency));
      }
    }

    // Day 2: withdrawals.
    const withdrawalIds = new Map<string, string>();
    for (const [productId, accountId] of accounts) {
      const booking = await h.earn.withdraw({ productId, accountId, amount: withdrawals[productId]!, idempotencyKey: `withdrawal:${productId}` });
      withdrawalIds.set(productId, booking.id);
    }
    await h.sandbox.clock.advanceDays(1);
    for (const entity of ['defi', 'lending']) {
      const reports = await reportsOf(h, entity);
      expect(reports.map((report) => report.accountingDay)).toEqual(['2025-03-18', '2025-03-19']);
      const report = reports[1]!;
      expect(report.transactions.filter((entry) => entry.type === 'Deposit')).toEqual([]);
      const reportedWithdrawals = report.transactions.filter((candidate) => candidate.type === 'Withdrawal');
      // Every product of the entity had one withdrawal (two per entity in this scenario).
      expect(reportedWithdrawals).toHaveLength(2);
      for (const entry of reportedWithdrawals) {
        const productId = entry.productId!;
        expect(entry).toMatchObject({ bookingId: withdrawalIds.get(productId), idempotencyKey: `withdrawal:${productId}`, accountId: accounts.get(productId), currency: currencyOf.get(productId) });
      }
      for (const balance of report.balances) {
        const productId = productOf.get(balance.currency)!;
        const margin = report.transactions.find((entry) => entry.type === 'PartnerMargin' && entry.currency === balance.currency)?.amount ?? '0';
        const expected = units(withdrawals[productId]!) + units(margin) + (carried.get(balance.currency) ?? 0n);
        expect(units(balance.outstandingBalance)).toBe(expected);
        expect(balance.withdrawals).toBe(formatUnits(units(withdrawals[productId]!)));
      }
      const xrp = report.balances.find((balance) => balance.currency === 'XRP');
      expect(xrp !== undefined).toBe(entity === 'lending');
      if (xrp !== undefined) {
        // -100 carried in + 50 withdrawn = -50: still below the threshold, carried again.
        expect(xrp.outstandingBalance).toBe('-50.000000000000000000');
        expect(xrp.carried).toBe('-50.000000000000000000');
        expect(await h.sandbox.books.outstandingBalance({ entity: 'lending', currency: 'XRP' })).toBe('-50.000000000000000000');
      }
      const btc = report.balances.find((balance) => balance.currency === 'BTC');
      // BTC: the provider now owes the partner the withdrawal plus margin.
      expect(btc !== undefined).toBe(entity === 'defi');
      if (btc !== undefined) expect(units(btc.outstandingBalance) > 0n).toBe(true);
    }
  });
});

/**
 * Resolving a break by hand with a linked journal transaction: the transaction must be one that
 * can correct the break (its entity, currency, Earn account, kind, not dated before the break's
 * day, and not the transaction the break is about). Anything else is refused as `invalid_input`
 * naming `transactionId`, its value and the property that differs, and nothing is written, on
 * every dialect. Resolving with a reason alone still works.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import type { Break } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('resolving a break with a linked transaction on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  let subjectId: number;
  const snapshot = () => snapshotDatabase(ledger.db as never);

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }, { id: 'lending', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    for (const entity of ['defi', 'lending']) {
      for (const currency of ['BTC', 'ETH']) {
        await books.recordProduct({ entity, providerProductId: currency.toLowerCase(), currency, name: `${currency} fixed interest`, effectiveDay: '2025-01-01', terms });
      }
    }
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }, { entity: 'lending', earnUserId: 'l0' }] });
    await books.registerUser({ partnerUserId: 'p1', earnUsers: [{ entity: 'defi', earnUserId: 'u1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a1', earnUserId: 'u1', providerProductId: 'btc', currency: 'BTC' });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'e0', earnUserId: 'u0', providerProductId: 'eth', currency: 'ETH' });
    await books.openEarnAccount({ entity: 'lending', earnAccountId: 'l-a0', earnUserId: 'l0', providerProductId: 'btc', currency: 'BTC' });
    const subject = await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
    subjectId = subject.transaction.id;
  });
  afterEach(async () => close());

  /** Reconciles the day with a report that says the deposit b0 into a0 was 1.5 BTC, not 1. */
  async function amountBreak(): Promise<Break> {
    const report = await buildReport(books, 'defi', DAY);
    const entry = report.transactions.find((item) => item['bookingId'] === 'b0');
    if (entry === undefined) throw new Error('the report lacks b0');
    entry['amount'] = '1.500000000000000000';
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const found = result.breaks.find((item) => item.kind === 'amount_mismatch');
    expect(found).toMatchObject({ earnAccountId: 'a0', currency: 'BTC', providerId: 'b0' });
    if (found === undefined) throw new Error('no amount_mismatch break');
    return found;
  }

  const deposit = async (input: { entity: string; earnAccountId: string; id: string; occurredAt?: string }) =>
    (await books.recordDeposit({ entity: input.entity, earnAccountId: input.earnAccountId, providerBookingId: input.id, amount: '0.5', occurredAt: input.occurredAt ?? '2025-03-19T09:00:00Z', idempotencyKey: `k-${input.id}`, providerData: { id: input.id } })).transaction.id;

  async function expectRefused(breakId: number, transactionId: number, property: RegExp): Promise<void> {
    const before = await snapshot();
    const error = await reconciler.resolveBreak({ breakId, reason: 'corrected', transactionId }).then(
      () => expect.fail(`transaction ${transactionId} should have been refused`),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'transactionId', value: String(transactionId) });
    expect((error as Error).message).toMatch(property);
    expect(await snapshot()).toBe(before);
  }

  it('refuses a transaction of another entity, writing nothing', async () => {
    const found = await amountBreak();
    await expectRefused(found.id, await deposit({ entity: 'lending', earnAccountId: 'l-a0', id: 'l-b1' }), /entity/);
  });

  it('refuses a transaction in another currency than the break, writing nothing', async () => {
    const found = await amountBreak();
    await expectRefused(found.id, await deposit({ entity: 'defi', earnAccountId: 'e0', id: 'eth-1' }), /currency ETH.*BTC/);
  });

  it("refuses a transaction that does not touch the break's Earn account, writing nothing", async () => {
    const found = await amountBreak();
    await expectRefused(found.id, await deposit({ entity: 'defi', earnAccountId: 'a1', id: 'other-account' }), /Earn account a0/);
  });

  it('refuses a transaction of another kind than the entry the break is about, writing nothing', async () => {
    const found = await amountBreak();
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: 'a0' });
    const interest = await ledger.postWithSystemAccounts({ entity: 'defi', currency: 'BTC' }, (ids) => ({
      entity: 'defi',
      kind: 'interest',
      idempotencyKey: 'interest-a0',
      occurredAt: '2025-03-19T09:00:00Z',
      entries: [
        { accountId: ids.earn_assets, side: 'debit', amount: '0.001' },
        { accountId: account.ledgerAccountId, side: 'credit', amount: '0.001' },
      ],
    }));
    await expectRefused(found.id, interest.transaction.id, /kind interest.*deposit/);
  });

  it("refuses a transaction dated before the break's day, writing nothing", async () => {
    const found = await amountBreak();
    await expectRefused(found.id, await deposit({ entity: 'defi', earnAccountId: 'a0', id: 'early', occurredAt: '2025-03-10T09:00:00Z' }), /accounting day 2025-03-10.*2025-03-18/);
  });

  it('refuses the transaction the break is about, writing nothing', async () => {
    const found = await amountBreak();
    await expectRefused(found.id, subjectId, /the transaction the break is about/);
  });

  it('links a transaction that can correct the break: a reversal of the deposit', async () => {
    const found = await amountBreak();
    const reversal = await ledger.reverse({ entity: 'defi', transactionId: subjectId, idempotencyKey: 'reverse-b0', occurredAt: '2025-03-19T10:00:00Z' });
    const resolved = await reconciler.resolveBreak({ breakId: found.id, reason: 'reversed; rebooked at 1.5', transactionId: reversal.transaction.id });
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 'person', resolutionTransactionId: reversal.transaction.id });
    await ledger.verify({ entity: 'defi' });
  });

  it("on a break without an Earn account, refuses a transaction that does not touch the currency's settlement account", async () => {
    const report = await buildReport(books, 'defi', DAY);
    const balance = report.balances.find((row) => row.currency === 'BTC');
    if (balance === undefined) throw new Error('the report lacks a BTC balance');
    balance.outstandingBalance = '-7.000000000000000000';
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    const found = result.breaks.find((item) => item.kind === 'outstanding_balance_mismatch');
    expect(found).toMatchObject({ earnAccountId: null, currency: 'BTC' });
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: 'a0' });
    const interest = await ledger.postWithSystemAccounts({ entity: 'defi', currency: 'BTC' }, (ids) => ({
      entity: 'defi',
      kind: 'interest',
      idempotencyKey: 'interest-a0',
      occurredAt: '2025-03-19T09:00:00Z',
      entries: [
        { accountId: ids.earn_assets, side: 'debit', amount: '0.001' },
        { accountId: account.ledgerAccountId, side: 'credit', amount: '0.001' },
      ],
    }));
    await expectRefused(found?.id ?? 0, interest.transaction.id, /BTC settlement account/);
    // A missing deposit moves the outstanding balance: it may correct the break.
    const late = await deposit({ entity: 'defi', earnAccountId: 'a1', id: 'late-deposit' });
    expect(await reconciler.resolveBreak({ breakId: found?.id ?? 0, reason: 'a deposit was missing', transactionId: late })).toMatchObject({ status: 'resolved', resolutionTransactionId: late });
  });

  it('still resolves with a reason alone', async () => {
    const found = await amountBreak();
    const resolved = await reconciler.resolveBreak({ breakId: found.id, reason: 'the provider confirmed 1 BTC' });
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 'person', resolutionReason: 'the provider confirmed 1 BTC', resolutionTransactionId: null });
  });
});

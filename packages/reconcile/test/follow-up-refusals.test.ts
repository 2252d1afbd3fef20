/**
 * The follow-up steps refuse what would book wrongly, writing nothing, on every dialect: a
 * missing booking reported in another currency than its Earn account's, a settlement transfer
 * dated inside the day it settles, and the second of two people resolving one break at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('follow-up refusals on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  const snapshot = () => snapshotDatabase(ledger.db as never);

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner-wallet' } } });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 2; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
  });
  afterEach(async () => close());

  const run = (report: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });

  it('refuses to repair a missing deposit reported in another currency than its Earn account, writing nothing', async () => {
    const report = await buildReport(books, 'defi', DAY);
    // a1 is a BTC account; the report says the provider booked 0.25 ETH into it.
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'ETH', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a1', bookingId: 'b-eth', idempotencyKey: 'k-eth' });
    const result = await run(report);
    const missing = result.breaks.find((item) => item.kind === 'missing_in_ledger');
    expect(missing).toBeDefined();
    const before = await snapshot();
    const error = await reconciler.repairMissingBooking({ breakId: missing?.id ?? 0 }).then(
      () => expect.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_transition', field: 'currency', value: 'ETH' });
    expect((error as Error).message).toContain('ETH');
    expect((error as Error).message).toContain('BTC');
    expect(await snapshot()).toBe(before);
    const account = await books.earnAccount({ entity: 'defi', earnAccountId: 'a1' });
    expect(await ledger.balance(account.ledgerAccountId)).toBe('0.000000000000000000');
    expect((await reconciler.breaks({ entity: 'defi', status: 'open' })).map((item) => item.id)).toContain(missing?.id);
  });

  it('refuses a settlement transfer dated before the end of the accounting day it settles, writing nothing', async () => {
    await run(await buildReport(books, 'defi', DAY));
    const [instruction] = await reconciler.instructions({ entity: 'defi' });
    expect(instruction).toMatchObject({ direction: 'to_provider', status: 'pending', accountingDay: DAY });
    await reconciler.markSent({ instructionId: instruction?.id ?? 0, transactionHash: '0xfeedbeef01' });
    const before = await snapshot();
    // The day ends at 2025-03-18T23:00:00Z in Berlin (UTC+1 in March before the change).
    for (const occurredAt of ['2025-03-18T22:59:59.999Z', '2025-03-18T12:00:00Z', '2024-03-18T12:00:00Z', new Date('2025-03-18T23:30:00+01:00')]) {
      await expect(reconciler.confirm({ instructionId: instruction?.id ?? 0, occurredAt })).rejects.toMatchObject({ name: 'ReconcileError', code: 'invalid_input', field: 'occurredAt' });
    }
    await expect(reconciler.confirm({ instructionId: instruction?.id ?? 0, occurredAt: '2025-03-18T12:00:00Z' })).rejects.toThrow(/2025-03-18T23:00:00\.000Z/);
    expect(await snapshot()).toBe(before);
    expect(await reconciler.confirm({ instructionId: instruction?.id ?? 0, occurredAt: '2025-03-18T23:00:00Z' })).toMatchObject({ status: 'confirmed' });
    await ledger.verify({ entity: 'defi' });
  });

  it('gives one of two people resolving a break at once success and the other invalid_transition', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000008', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a1', bookingId: 'b-lost', idempotencyKey: 'k-lost' });
    const [open] = (await run(report)).breaks;
    expect(open).toBeDefined();
    // Connections opened first, so that both reads happen before either write.
    await Promise.all([1, 2, 3, 4].map(async () => reconciler.breaks({ entity: 'defi' })));
    const outcomes = await Promise.allSettled([
      reconciler.resolveBreak({ breakId: open?.id ?? 0, reason: 'first person: booked by hand' }),
      reconciler.resolveBreak({ breakId: open?.id ?? 0, reason: 'second person: refunded' }),
    ]);
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(ReconcileError);
    expect(lost[0]?.reason).toMatchObject({ code: 'invalid_transition', field: 'breakId', value: String(open?.id) });
    const [stored] = await reconciler.breaks({ entity: 'defi', status: 'resolved' });
    expect(stored?.resolutionReason).toBe(won[0]?.value.resolutionReason);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject, parseReport } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { ILL_FORMED } from '../../ledger/test/support/hostile-strings.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

async function refusal(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (caught) {
    return caught;
  }
  return undefined;
}

describe.each(DIALECTS)('ill-formed strings in reports and reconcile inputs on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
  });
  afterEach(async () => close());

  it.each(['id', 'accountId', 'bookingId', 'idempotencyKey'])('a report entry whose %s is not well-formed is refused typed before anything is written', async (field) => {
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', DAY);
    const before = await snapshotDatabase(ledger.db as never);
    for (const bad of ILL_FORMED) {
      const hostile = { ...report, transactions: report.transactions.map((entry, index) => (index === 0 ? { ...entry, [field]: bad } : entry)) };
      const fromObject = await refusal(() => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(hostile) }));
      expect(fromObject).toBeInstanceOf(ReconcileError);
      expect(fromObject).toMatchObject({ code: 'invalid_report', path: `transactions[0].${field}` });
      const fromText = await refusal(() => parseReport(JSON.stringify(hostile), 'test'));
      expect(fromText).toMatchObject({ code: 'invalid_report', path: `transactions[0].${field}` });
    }
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('a report id that is not well-formed is refused typed, nothing written', async () => {
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', DAY);
    const before = await snapshotDatabase(ledger.db as never);
    for (const bad of ILL_FORMED) {
      const error = await refusal(() => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject({ ...report, id: bad }) }));
      expect(error).toMatchObject({ code: 'invalid_report', path: 'id' });
    }
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('wallet addresses that are not well-formed are refused when the reconciler opens', async () => {
    for (const bad of ILL_FORMED) {
      const error = await refusal(() => Reconciler.open({ books, wallets: { defi: { BTC: bad } } }));
      expect(error).toMatchObject({ code: 'invalid_input', field: 'wallets.defi.BTC' });
    }
  });
});

/**
 * The currency keys of the reconciler's per-currency options are checked when it opens. A key the
 * ledger would never hold (`btc` for `BTC`) was taken and never looked up: a settlement threshold
 * under it was silently 0, so every BTC position settled, dust included (found in review, session
 * h1). The CLI's configuration schema refused such keys; `Reconciler.open` did not.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import { ReconcileError, Reconciler } from '../src/index.js';
import type { ReconcilerOptions } from '../src/reconciler-options.js';
import { freshLedger } from '../../ledger/test/dialects.js';

describe('currency keys of the reconciler options', () => {
  let books: EarnBooks;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await freshLedger('sqlite', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    books = new EarnBooks(opened.ledger);
  });
  afterEach(async () => close());

  const cases: [Omit<ReconcilerOptions, 'books'>, string, string][] = [
    [{ settlementThresholds: { defi: { btc: '0.001' } } }, 'settlementThresholds.defi.btc', 'btc'],
    [{ feeApprovalLimits: { defi: { 'BTC ': '10' } } }, 'feeApprovalLimits.defi.BTC ', 'BTC '],
    [{ toleranceUnits: { Usdc: '1000' } }, 'toleranceUnits.Usdc', 'Usdc'],
    [{ wallets: { defi: { eth: '0xabc' } } }, 'wallets.defi.eth', 'eth'],
  ];
  it.each(cases)('refuses %j, naming %s', async (options, field, value) => {
    const error = await Reconciler.open({ books, ...options }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_input', field, value });
  });

  it('takes the currencies the ledger holds', async () => {
    await expect(Reconciler.open({ books, settlementThresholds: { defi: { BTC: '0.001' } }, feeApprovalLimits: { defi: { USDC: '10' } }, toleranceUnits: { ETH2: '5' }, wallets: { defi: { BTC: 'bc1q' } } })).resolves.toBeInstanceOf(Reconciler);
  });
});

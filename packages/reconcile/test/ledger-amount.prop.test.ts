/**
 * Amounts the reconciler hands to the ledger (`ledgerAmount`, `atCurrencyScale`): a report's or an instruction's
 * amount of up to 18 decimals is taken at the currency's scale whenever its value fits it, zeros
 * past the scale being no precision, and is refused, typed and naming `amount`, when a digit lies
 * past the scale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LedgerError, formatUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { atCurrencyScale, ledgerAmount } from '../src/ledger-amount.js';
import { freshLedger } from '../../ledger/test/dialects.js';

const SCALES: Readonly<Record<string, number>> = { S0: 0, S2: 2, S8: 8, S17: 17, S18: 18 };

describe('ledgerAmount', () => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ ledger, close } = await freshLedger('sqlite', { currencyScales: SCALES }));
  });
  afterAll(async () => close());

  const currency = fc.constantFrom(...Object.keys(SCALES));
  /** A positive amount at the currency's scale, written with that many decimals or any more up to 18. */
  const fitting = currency.chain((code) => {
    const scale = SCALES[code] ?? 18;
    // Up to 20 whole digits: the ledger's limit is 24.
    return fc.tuple(fc.constant(code), fc.bigInt({ min: 1n, max: 10n ** BigInt(20 + scale) }), fc.integer({ min: scale, max: 18 }));
  });

  it('takes an amount whose value fits the scale, however many zeros follow, as its canonical 18-decimal text', () => {
    fc.assert(
      fc.property(fitting, ([code, units, written]) => {
        const scale = SCALES[code] ?? 18;
        const text = formatUnits(units * 10n ** BigInt(written - scale), written);
        expect(ledgerAmount(ledger, text, code)).toBe(formatUnits(units * 10n ** BigInt(18 - scale)));
        // The input form of EarnBooks: the currency's own decimals, which its parsing takes.
        expect(atCurrencyScale(ledger, text, code)).toBe(formatUnits(units, scale));
        expect(ledger.parseAmount(atCurrencyScale(ledger, text, code), { field: 'amount', currency: code })).toBe(ledgerAmount(ledger, text, code));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a digit past the scale, typed and naming amount', () => {
    fc.assert(
      fc.property(currency.filter((code) => (SCALES[code] ?? 18) < 18), fc.bigInt({ min: 0n, max: 10n ** 20n }), (code, whole) => {
        const scale = SCALES[code] ?? 18;
        // A whole amount and one unit at the 18th decimal: a digit past any scale below 18.
        const text = formatUnits(whole * 10n ** 18n + 1n);
        let caught: unknown;
        try {
          ledgerAmount(ledger, text, code);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(LedgerError);
        expect(caught).toMatchObject({ code: 'invalid_amount', field: 'amount' });
        expect((caught as Error).message).toContain(`more than ${scale} decimal places`);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses zero, a negative amount and text that is no decimal', () => {
    for (const bad of ['0', '0.000000000000000000', '-1.5', '1e5', 'abc', '']) {
      expect(() => ledgerAmount(ledger, bad, 'S8')).toThrow(LedgerError);
    }
  });
});

/**
 * A currency's scale (`currencyScales`) bounds an amount's precision, not its text:
 * `Ledger.parseAmount` takes an amount whose value fits the scale however many zeros follow (the
 * provider writes every amount with 18 decimals), as postings do, and refuses a digit past the
 * scale, typed and naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LedgerError, formatUnits } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { freshLedger } from './dialects.js';

const SCALES: Readonly<Record<string, number>> = { S0: 0, S2: 2, S8: 8, S17: 17 };

describe('Ledger.parseAmount at a currency scale', () => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ ledger, close } = await freshLedger('sqlite', { currencyScales: SCALES }));
  });
  afterAll(async () => close());

  const currency = fc.constantFrom(...Object.keys(SCALES), 'BTC');
  const scaleOf = (code: string) => SCALES[code] ?? 18;

  it('takes an amount whose value fits the scale, written with the scale\'s decimals or any more up to 18, as its canonical 18-decimal text', () => {
    fc.assert(
      fc.property(
        currency.chain((code) => fc.tuple(fc.constant(code), fc.bigInt({ min: 1n, max: 10n ** BigInt(20 + scaleOf(code)) }), fc.integer({ min: scaleOf(code), max: 18 }))),
        ([code, units, written]) => {
          const scale = scaleOf(code);
          const text = formatUnits(units * 10n ** BigInt(written - scale), written);
          expect(ledger.parseAmount(text, { field: 'amount', currency: code })).toBe(formatUnits(units * 10n ** BigInt(18 - scale)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a digit past the scale, typed and naming the field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(SCALES)), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 1, max: 9 }), (code, whole, digit) => {
        const scale = scaleOf(code);
        // A digit at the first place past the scale.
        const text = formatUnits(whole * 10n ** 18n + BigInt(digit) * 10n ** BigInt(17 - scale));
        let caught: unknown;
        try {
          ledger.parseAmount(text, { field: 'lines[3].amount', currency: code });
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(LedgerError);
        expect(caught).toMatchObject({ code: 'invalid_amount', field: 'lines[3].amount' });
        expect((caught as Error).message).toContain(`more than ${scale} decimal places, the scale of ${code}`);
      }),
      { numRuns: 200 },
    );
  });

  it('still refuses zero (unless allowed), a negative amount, more than 18 decimals and text that is no decimal', () => {
    for (const bad of ['0', '0.000000000000000000', '-1.5', '1.0000000000000000000', '1e5', 'abc', '', ' 1']) {
      expect(() => ledger.parseAmount(bad, { field: 'amount', currency: 'S8' })).toThrow(LedgerError);
    }
    expect(ledger.parseAmount('0.000000000000000000', { field: 'amount', currency: 'S8', allowZero: true })).toBe('0.000000000000000000');
  });
});

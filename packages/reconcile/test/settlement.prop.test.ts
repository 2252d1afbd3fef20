import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toUnits } from '@earnbook/ledger';
import { computeSettlement } from '../src/index.js';

const amount = fc.bigInt({ min: 0n, max: 10n ** 30n });
const signed = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });

describe('computeSettlement properties', () => {
  it('settled + carried out = outstanding = net + carried in, and only one of settled or carried is non-zero', () => {
    fc.assert(
      fc.property(amount, amount, amount, amount, signed, amount, (depositsUnits, withdrawalsUnits, feesUnits, partnerMarginUnits, carriedInUnits, thresholdUnits) => {
        const position = computeSettlement({ currency: 'BTC', flows: { depositsUnits, withdrawalsUnits, feesUnits, partnerMarginUnits }, carriedInUnits, thresholdUnits });
        const outstanding = toUnits(position.outstanding);
        expect(toUnits(position.settled) + toUnits(position.carriedOut)).toBe(outstanding);
        expect(toUnits(position.net) + toUnits(position.carriedIn)).toBe(outstanding);
        expect(toUnits(position.receivables) - toUnits(position.payables)).toBe(toUnits(position.net));
        expect(toUnits(position.settled) === 0n || toUnits(position.carriedOut) === 0n).toBe(true);
        const magnitude = outstanding < 0n ? -outstanding : outstanding;
        expect(toUnits(position.settled) !== 0n).toBe(magnitude !== 0n && magnitude >= thresholdUnits);
      }),
      { numRuns: 500 },
    );
  });
});

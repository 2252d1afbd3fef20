import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BREAK_KINDS, diffDay } from '../src/index.js';
import type { BreakKind } from '../src/index.js';
import { MUTATIONS, cleanDay, diffInput, mutationDay } from './diff-day.js';
import type { AccountSpec } from './diff-day.js';

const units = (max: bigint) => fc.bigInt({ min: 0n, max });

/** Accounts whose withdrawal never exceeds the deposit, as books would allow; interest only on a balance. */
const account = (id: string): fc.Arbitrary<AccountSpec> =>
  fc.record({ depositUnits: units(10n ** 24n), interestUnits: units(10n ** 18n), marginUnits: units(10n ** 17n), share: fc.bigInt({ min: 0n, max: 100n }) }).map(({ depositUnits, interestUnits, marginUnits, share }) => ({
    id,
    depositUnits,
    withdrawalUnits: (depositUnits * share) / 100n,
    interestUnits: depositUnits - (depositUnits * share) / 100n > 0n ? interestUnits : 0n,
    marginUnits,
  }));

const accounts = fc.integer({ min: 0, max: 12 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => account(`acc-${String(index).padStart(3, '0')}`))));

describe('diffDay properties', () => {
  it('finds no break in a report generated from the books', () => {
    fc.assert(
      fc.property(accounts, fc.boolean(), (specs, shuffled) => {
        const day = cleanDay(specs);
        if (shuffled) day.transactions.reverse();
        expect(diffDay(diffInput(day))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('finds exactly the expected break after one random mutation', () => {
    fc.assert(
      fc.property(accounts, fc.constantFrom(...BREAK_KINDS), fc.boolean(), (extra, kind: BreakKind, shuffled) => {
        const day = mutationDay(extra);
        MUTATIONS[kind](day);
        if (shuffled) day.transactions.reverse();
        expect(diffDay(diffInput(day)).map((value) => value.kind)).toEqual([kind]);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * `DayFlowTotals` is exported: a caller may add local entries of its own. An entry that is not
 * one (an amount that is not a bigint, a kind or currency that is not text, a part that cannot be
 * read) is `invalid_input` naming the part, and the totals stay as they were. Before, an amount
 * given as text was concatenated into the day's deposits (`0n + '5'` is `'05'`), and a number or
 * a revoked proxy was a raw TypeError.
 */
import { describe, expect, it } from 'vitest';
import { DayFlowTotals, ReconcileError } from '../src/index.js';
import type { LocalEntry } from '../src/index.js';
import { revoked, throwingGetter } from './support/hostile-inputs.js';

const deposit = { kind: 'deposit', currency: 'BTC', amountUnits: 5n } as unknown as LocalEntry;

function totalsOf(flows: DayFlowTotals): string {
  return JSON.stringify(flows.entries(), (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
}

function refusal(action: () => void): { code: string; field: string | undefined } | string {
  try {
    action();
    return 'no error';
  } catch (error) {
    return error instanceof ReconcileError ? { code: error.code, field: error.field } : `untyped: ${String(error)}`;
  }
}

describe('DayFlowTotals', () => {
  it('sums the four flows per currency and ignores other kinds', () => {
    const flows = new DayFlowTotals();
    flows.add(deposit);
    flows.add({ ...deposit, amountUnits: 7n } as LocalEntry);
    flows.add({ ...deposit, kind: 'withdrawal', amountUnits: 3n } as unknown as LocalEntry);
    flows.add({ ...deposit, kind: 'fee', currency: 'ETH', amountUnits: 2n } as unknown as LocalEntry);
    flows.add({ ...deposit, kind: 'partner_margin', amountUnits: 1n } as unknown as LocalEntry);
    flows.add({ ...deposit, kind: 'interest', amountUnits: 100n } as unknown as LocalEntry);
    flows.touch('USDC');
    expect(flows.entries()).toEqual([
      ['BTC', { depositsUnits: 12n, withdrawalsUnits: 3n, feesUnits: 0n, partnerMarginUnits: 1n }],
      ['ETH', { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 2n, partnerMarginUnits: 0n }],
      ['USDC', { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n }],
    ]);
  });

  it.each([
    ['an amount as text', { ...deposit, amountUnits: '5' }, 'entry.amountUnits'],
    ['an amount as a number', { ...deposit, amountUnits: 5 }, 'entry.amountUnits'],
    ['no amount', { kind: 'deposit', currency: 'BTC' }, 'entry.amountUnits'],
    ['a kind that is not text', { ...deposit, kind: 7 }, 'entry.kind'],
    ['a kind of the prototype', { ...deposit, kind: '__proto__' }, undefined],
    ['an ignored kind whose amount cannot be read', throwingGetter({ ...deposit, kind: 'interest' }, 'amountUnits'), undefined],
    ['a currency that is not text', { ...deposit, currency: 1 }, 'entry.currency'],
    ['an empty currency', { ...deposit, currency: '' }, 'entry.currency'],
    ['a revoked proxy', revoked({ ...deposit }), 'entry'],
    ['a throwing getter of amountUnits', throwingGetter({ ...deposit }, 'amountUnits'), 'entry.amountUnits'],
    ['a throwing getter of kind', throwingGetter({ ...deposit }, 'kind'), 'entry.kind'],
    ['null', null, 'entry'],
    ['text', 'deposit', 'entry'],
  ])('refuses %s naming the part, totals unchanged', (_name, entry, field) => {
    const flows = new DayFlowTotals();
    flows.add(deposit);
    const before = totalsOf(flows);
    const outcome = refusal(() => flows.add(entry as unknown as LocalEntry));
    // A kind that is no flow is ignored, whatever else the entry holds.
    expect(outcome).toEqual(field === undefined ? 'no error' : { code: 'invalid_input', field });
    expect(totalsOf(flows)).toBe(before);
  });

  it.each([
    ['a number', 7],
    ['an empty text', ''],
    ['undefined', undefined],
  ])('touch refuses %s as a currency', (_name, currency) => {
    const flows = new DayFlowTotals();
    expect(refusal(() => flows.touch(currency as unknown as string))).toEqual({ code: 'invalid_input', field: 'currency' });
    expect(flows.entries()).toEqual([]);
  });
});

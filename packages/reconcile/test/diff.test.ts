import { describe, expect, it } from 'vitest';
import { BREAK_KINDS, breakFingerprint, diffDay } from '../src/index.js';
import type { BreakKind } from '../src/index.js';
import { MUTATIONS, diffInput, mutationDay } from './diff-day.js';

describe('diffDay (pure)', () => {
  it('finds no break on a clean day', () => {
    expect(diffDay(diffInput(mutationDay()))).toEqual([]);
  });

  it.each(BREAK_KINDS.map((kind) => [kind]))('one change yields exactly one %s', (kind: BreakKind) => {
    const day = mutationDay();
    MUTATIONS[kind](day);
    const breaks = diffDay(diffInput(day));
    expect(breaks.map((value) => value.kind)).toEqual([kind]);
  });

  it('names what differs in each break', () => {
    const at = (kind: BreakKind) => {
      const day = mutationDay();
      MUTATIONS[kind](day);
      return diffDay(diffInput(day))[0];
    };
    expect(at('currency_mismatch')).toMatchObject({ providerId: 'dep-a0', expected: 'BTC', actual: 'ETH' });
    expect(at('account_mismatch')).toMatchObject({ providerId: 'dep-a0', expected: 'a0', actual: 'elsewhere' });
    expect(at('amount_mismatch')).toMatchObject({ expected: '1.000000000000000000', actual: '1.000000000000000007' });
    expect(at('day_mismatch')).toMatchObject({ providerId: 'dep-a0', expected: '2025-03-18', actual: '2025-03-17' });
    expect(at('missing_interest')).toMatchObject({ earnAccountId: 'a0', expected: '0.000100000000000000' });
    expect(at('margin_mismatch')).toMatchObject({ currency: 'BTC', details: { differenceUnits: '-5' } });
    expect(at('approval_required')).toMatchObject({ currency: 'BTC', expected: '0.000000000000000000', actual: '0.000000000000000003' });
    expect(at('missing_in_ledger')).toMatchObject({ providerId: 'lost', details: expect.objectContaining({ repair: 'repairMissingBooking' }) });
  });

  it('accepts fees up to the approval limit', () => {
    const day = mutationDay();
    MUTATIONS.approval_required(day);
    day.feeLimitUnits = 3n;
    expect(diffDay(diffInput(day))).toEqual([]);
  });

  it('does not book or accept interest dated a week away: a day_mismatch', () => {
    const day = mutationDay();
    const interest = day.transactions.findIndex((entry) => entry.type === 'Interest');
    day.transactions[interest] = { ...day.transactions[interest]!, createdAt: '2025-03-26T00:00:00Z' };
    expect(diffDay(diffInput(day)).map((value) => value.kind)).toEqual(['day_mismatch']);
  });

  it('takes interest, margin and a fee of zero dated in the day as agreeing with no entry in the books', () => {
    const day = mutationDay();
    day.transactions.push({ id: 'zero-interest', type: 'Interest', currency: 'BTC', amount: '0.000000000000000000', createdAt: '2025-03-19T00:00:00Z', accountId: 'a0' });
    day.transactions.push({ id: 'zero-fee', type: 'Fee', currency: 'BTC', amount: '0', createdAt: '2025-03-18T23:00:00Z' });
    expect(diffDay(diffInput(day))).toEqual([]);
    // Dated outside the day, or a booking of zero, it is still a break; so is a second entry of zero
    // beside a booked one under the same key.
    const away = mutationDay();
    away.transactions.push({ id: 'zero-away', type: 'Interest', currency: 'BTC', amount: '0', createdAt: '2025-03-26T00:00:00Z', accountId: 'a0' });
    expect(diffDay(diffInput(away)).map((value) => value.kind)).toEqual(['day_mismatch']);
    const deposit = mutationDay();
    deposit.transactions.push({ id: 'zero-deposit', type: 'Deposit', currency: 'BTC', amount: '0', createdAt: '2025-03-18T10:00:00Z', accountId: 'a0' });
    expect(diffDay(diffInput(deposit)).map((value) => value.kind)).toEqual(['missing_in_ledger']);
  });

  it('treats an unknown type named like an Object property as unknown', () => {
    const day = mutationDay();
    day.transactions.push({ id: 'r-x', type: 'constructor', currency: 'BTC', amount: '1', createdAt: '2025-03-18T09:00:00Z' });
    expect(diffDay(diffInput(day)).map((value) => value.kind)).toEqual(['unknown_entry_type']);
  });

  it('has an injective fingerprint: ids holding the old separator do not collide', () => {
    const a = breakFingerprint({ kind: 'missing_in_ledger', providerId: 'x|y', earnAccountId: '', currency: null });
    const b = breakFingerprint({ kind: 'missing_in_ledger', providerId: 'x', earnAccountId: 'y|', currency: null });
    const c = breakFingerprint({ kind: 'missing_in_ledger', providerId: 'x', earnAccountId: null, currency: null });
    const d = breakFingerprint({ kind: 'missing_in_ledger', providerId: 'x', earnAccountId: '', currency: null });
    expect(new Set([a, b, c, d]).size).toBe(4);
  });

  it('has the entry kind in the fingerprint: a margin and a fee under one provider id are two breaks', () => {
    const identity = { kind: 'missing_in_report', providerId: 'x', earnAccountId: null, currency: 'BTC' } as const;
    const margin = breakFingerprint({ ...identity, entryKind: 'partner_margin' });
    const fee = breakFingerprint({ ...identity, entryKind: 'fee' });
    const none = breakFingerprint({ ...identity, entryKind: null });
    expect(new Set([margin, fee, none]).size).toBe(3);
    // A break about no one entry keeps the four-field form stored before the kind was added.
    expect(none).toBe('["missing_in_report","x",null,"BTC"]');
    expect(breakFingerprint(identity)).toBe(none);
    expect(fee).toBe('["missing_in_report","x",null,"BTC","fee"]');
  });
});

/**
 * The exported building blocks (`public-functions.ts`): arguments that cannot be read — a revoked
 * proxy or a throwing getter, at the top or nested — are `invalid_input` naming the part, never a
 * raw TypeError; readable arguments give what they gave before.
 */
import { describe, expect, it } from 'vitest';
import {
  ReconcileError,
  approvalBreaks,
  breakDraft,
  breakFingerprint,
  compareBreaks,
  compareKeys,
  diffGroup,
  diffInterest,
  entriesToBook,
  isOfDay,
  kindOfType,
  marginBreaks,
  matchKey,
  migrateReconcile,
  outstandingBreaks,
  sumReportedInterest,
} from '../src/index.js';
import type { DayContext, KeyGroup, LocalEntry, ReportEntry } from '../src/index.js';
import { revoked, throwingGetter } from './support/hostile-inputs.js';

function refusal(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectRefused(call: () => unknown, field: string): void {
  const error = refusal(call);
  expect(error).toBeInstanceOf(ReconcileError);
  expect(error).toMatchObject({ code: 'invalid_input', field });
}

const entry: ReportEntry = { id: 'e1', type: 'Deposit', currency: 'BTC', amount: '1.000000000000000000', createdAt: '2025-03-18T10:00:00.000Z', accountId: 'a1', bookingId: 'b1' } as ReportEntry;
const local: LocalEntry = { transactionId: 1, kind: 'deposit', providerId: 'b1', accountingDay: '2025-03-18', interestDay: null, amountUnits: 10n ** 18n, currency: 'BTC', earnAccountId: 'a1' } as LocalEntry;
const context: DayContext = { day: '2025-03-18', nextDay: '2025-03-19', timeZone: 'UTC', version: 1 };
const group: KeyGroup = { key: 'b1', report: [entry], local: [local] };
const draft = breakDraft('amount_mismatch', { providerId: 'b1', earnAccountId: 'a1', currency: 'BTC' });
const tolerance = () => 0n;

describe('exported building blocks and unreadable arguments', () => {
  it('work as before on readable arguments', () => {
    expect(matchKey(entry)).toBe('b1');
    expect(kindOfType('Deposit')).toBe('deposit');
    expect(typeof breakFingerprint(draft)).toBe('string');
    expect(compareBreaks(draft, draft)).toBe(0);
    expect(isOfDay(local, '2025-03-18')).toBe(true);
    expect(entriesToBook(group, context)).toEqual([]);
    expect(diffGroup(group, context).breaks).toEqual([]);
    expect(compareKeys('a', 'b')).toBeLessThan(0);
    expect(marginBreaks(new Map(), new Map(), tolerance)).toEqual([]);
  });

  it('name the unreadable part, at the top or nested, instead of a raw TypeError', () => {
    expectRefused(() => matchKey(revoked(entry)), 'entry');
    expectRefused(() => matchKey(throwingGetter(entry, 'type')), 'entry.type');
    expectRefused(() => breakFingerprint(revoked(draft)), 'value');
    expectRefused(() => compareBreaks(draft, revoked(draft)), 'b');
    expectRefused(() => isOfDay(revoked(local), '2025-03-18'), 'entry');
    expectRefused(() => entriesToBook({ ...group, report: [entry, revoked(entry)] }, context), 'group.report[1]');
    expectRefused(() => diffGroup({ ...group, local: [revoked(local)] }, context), 'group.local[0]');
    expectRefused(() => diffGroup(group, revoked(context)), 'context');
    expectRefused(() => sumReportedInterest([revoked({ id: 'i1', currency: 'BTC', amount: '1' })] as never), 'entries[0]');
    expectRefused(() => diffInterest(revoked({ earnAccountId: 'a1', currency: 'BTC', balance: '1', userInterest: '0' }) as never, undefined, tolerance), 'line');
    expectRefused(() => marginBreaks(revoked(new Map<string, bigint>()), new Map(), tolerance), 'recomputed');
    expectRefused(() => approvalBreaks(revoked(new Map<string, bigint>()), tolerance), 'fees');
    expectRefused(() => outstandingBreaks(new Map([['BTC', 0n]]), revoked([]) as never, tolerance), 'balances');
  });

  it("a caller's callback that throws is passed on as it is", () => {
    const own = new Error('the caller’s own');
    const error = refusal(() =>
      marginBreaks(new Map([['BTC', 5n]]), new Map([['BTC', 1n]]), () => {
        throw own;
      }),
    );
    expect(error).toBe(own);
  });

  it('migrateReconcile refuses a db, dialect or options that cannot be read before it runs', async () => {
    await expect(migrateReconcile(revoked({}) as never, {} as never)).rejects.toMatchObject({ code: 'invalid_input', field: 'db' });
    await expect(migrateReconcile({} as never, revoked({}) as never)).rejects.toMatchObject({ code: 'invalid_input', field: 'dialect' });
    await expect(migrateReconcile({} as never, {} as never, revoked({}))).rejects.toMatchObject({ code: 'invalid_input', field: 'options' });
    await expect(migrateReconcile({} as never, throwingGetter({ name: 'sqlite', migrate: async () => {} }, 'migrate') as never)).rejects.toMatchObject({ code: 'invalid_input', field: 'dialect.migrate' });
  });
});

/**
 * Every whole-number option of the ledger (limits, batch sizes, group commit tuning, day counts,
 * page cursors) takes the same values and refuses the same ones, with `invalid_input` naming the
 * field and the value, before anything is read or written (review h4). They were checked in
 * several places with different rules: `null` was the default in some and refused in others,
 * `transactionsOfDay`'s `afterId` was not checked at all (NaN and Infinity read an empty page,
 * "1" was compared as text), a cursor that is not a string was a TypeError, and bad group commit
 * tuning or a bad logger was refused only after the books had been created.
 */
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, LedgerError, accountingDaysBetween, cycleLines, providerEntriesOfDayInBookOrder, runAccountingCycle } from '../src/index.js';
import type { LedgerOptions } from '../src/index.js';
import { DIALECTS, dropSchema, freshLedger, freshStorage } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

/** Not whole numbers, or out of every option's range; each is refused by every option. */
const BAD_NUMBERS: readonly unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, -1, 2 ** 53, '10', '', null, 10n, true, {}];

function shown(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

async function errorOf(action: () => unknown): Promise<unknown> {
  try {
    await action();
    return 'no error';
  } catch (error) {
    return error;
  }
}

function expectRefused(error: unknown, field: string, value: unknown): void {
  expect(error, `${field} ${shown(value)}`).toBeInstanceOf(LedgerError);
  expect(error, `${field} ${shown(value)}`).toMatchObject({ code: 'invalid_input', field, value: shown(value) });
}

describe('accountingDaysBetween daysMax', () => {
  it.each(BAD_NUMBERS.map((value) => [shown(value), value]))('refuses %s', (_name, daysMax) => {
    let caught: unknown;
    try {
      accountingDaysBetween('2025-03-01', '2025-03-02', { daysMax: daysMax as number });
    } catch (error) {
      caught = error;
    }
    expectRefused(caught, 'daysMax', daysMax);
  });
});

describe.each(DIALECTS)('whole-number options on %s', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  it('Ledger.open refuses bad group commit tuning and a bad logger before it creates the books', async () => {
    const cases: [string, unknown, Partial<LedgerOptions>][] = [
      ...BAD_NUMBERS.map((value): [string, unknown, Partial<LedgerOptions>] => ['groupCommit.sizeMax', value, { groupCommit: { sizeMax: value as number } }]),
      ...BAD_NUMBERS.map((value): [string, unknown, Partial<LedgerOptions>] => ['groupCommit.lingerMs', value, { groupCommit: { lingerMs: value as number } }]),
      ['groupCommit.onGroup', 'metrics', { groupCommit: { onGroup: 'metrics' as unknown as () => void } }],
      ['logger', 'console', { logger: 'console' as unknown as NonNullable<LedgerOptions['logger']> }],
    ];
    for (const [field, value, options] of cases) {
      const storage = await freshStorage(dialect);
      try {
        const before = await snapshotDatabase(storage.db as Kysely<unknown>);
        expectRefused(await errorOf(() => Ledger.open({ ...options, storage })), field, value);
        expect(await snapshotDatabase(storage.db as Kysely<unknown>), `${field} ${shown(value)}`).toBe(before);
      } finally {
        await storage.db.destroy();
        await dropSchema(storage.schema);
      }
    }
  });

  it('reads refuse bad limits, batch sizes, page starts and cursors, and write nothing', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const books = new EarnBooks(ledger);
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    for (let i = 0; i < 3; i++) {
      await ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: `d${i}`, occurredAt: '2025-03-18T10:00:00Z', entries: [{ accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    }
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const reads: [string, (value: unknown) => Promise<unknown>][] = [
      ['limit', (limit) => ledger.history(user.id, { limit: limit as number })],
      ['limit', (limit) => ledger.transactionsOfDay({ entity: 'defi', day: '2025-03-18', limit: limit as number })],
      ['afterId', (afterId) => ledger.transactionsOfDay({ entity: 'defi', day: '2025-03-18', afterId: afterId as number })],
      ['limit', (limit) => providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: '2025-03-18', after: null, limit: limit as number })],
      ['batchSize', async (batchSize) => {
        for await (const batch of cycleLines({ books, entity: 'defi', day: '2025-03-18', batchSize: batchSize as number })) expect(batch).toBeDefined();
      }],
      ['batchSize', (batchSize) => runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', batchSize: batchSize as number })],
      ['commitLines', (commitLines) => runAccountingCycle({ books, entity: 'defi', day: '2025-03-18', commitLines: commitLines as number })],
    ];
    for (const [field, read] of reads) {
      for (const value of BAD_NUMBERS) expectRefused(await errorOf(() => read(value)), field, value);
    }
    for (const cursor of [5, {}, true]) {
      const error = await errorOf(() => ledger.history(user.id, { cursor: cursor as unknown as string }));
      expect(error, shown(cursor)).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'invalid_input', field: 'cursor', value: shown(cursor) });
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    // The good values still read: afterId 0 is the start, and past the last id the page is empty.
    const all = await ledger.transactionsOfDay({ entity: 'defi', day: '2025-03-18', afterId: 0 });
    expect(all).toHaveLength(3);
    const afterFirst = await ledger.transactionsOfDay({ entity: 'defi', day: '2025-03-18', afterId: all[0]?.id ?? 0, limit: 1 });
    expect(afterFirst.map((transaction) => transaction.id)).toEqual([all[1]?.id]);
    expect(await ledger.transactionsOfDay({ entity: 'defi', day: '2025-03-18', afterId: Number.MAX_SAFE_INTEGER })).toEqual([]);
  });
});

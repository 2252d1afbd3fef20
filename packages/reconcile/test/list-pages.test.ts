/**
 * `Reconciler.breaks` and `Reconciler.instructions` in pages (`afterId`, `limit`): pages of any
 * size walk the listing once, in its order (breaks by day then id, instructions by id), with the
 * listing's filters, skipping other entities' rows between; bad bounds and an `afterId` that is
 * not one of the entity's breaks are typed errors naming the field, and write nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import { BREAKS_PAGE_SIZE_MAX, INSTRUCTIONS_PAGE_SIZE_MAX, ReconcileError, Reconciler } from '../src/index.js';
import { DIALECTS, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

/** Every page of `limit`, each after the last id of the one before. */
async function walk<T extends { id: number }>(limit: number, page: (afterId: number) => Promise<T[]>): Promise<T[]> {
  const items: T[] = [];
  for (let afterId = 0; ; ) {
    const found = await page(afterId);
    expect(found.length).toBeLessThanOrEqual(limit);
    items.push(...found);
    const last = found[found.length - 1];
    if (found.length < limit || last === undefined) return items;
    afterId = last.id;
  }
}

describe.each(DIALECTS)('break and instruction listings in pages on %s', (dialect) => {
  let books: TestBooks;
  let reconciler: Reconciler;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    reconciler = await Reconciler.open({ books: new EarnBooks(books.ledger) });
    // Days out of id order, two entities interleaved, both statuses.
    const days = ['2025-03-17', '2025-03-18', '2025-03-19', '2025-03-18', '2025-03-20', '2025-03-18', '2025-03-19', '2025-03-16', '2025-03-18'];
    for (const [index, day] of days.entries()) {
      for (const entity of ['defi', 'lending']) {
        const status = index % 3 === 0 ? 'resolved' : 'open';
        await sql`insert into reconcile_breaks (entity, accounting_day, kind, fingerprint, provider_id, earn_account_id, currency, expected, actual, details, status, resolved_by, resolution_reason, resolution_transaction_id, report_version, created_at, resolved_at)
          values (${entity}, ${day}, 'margin_mismatch', ${`["margin_mismatch",null,null,"BTC",${index}]`}, null, null, 'BTC', '1', '2', '{}', ${status}, ${status === 'open' ? null : 'person'}, ${status === 'open' ? null : 'checked'}, null, 1, '2025-03-21T00:00:00.000Z', ${status === 'open' ? null : '2025-03-21T00:00:00.000Z'})`.execute(books.db);
        await sql`insert into settlement_instructions (entity, currency, accounting_day, direction, amount, wallet, status, status_reason, transaction_hash, ledger_transaction_id, created_at, updated_at)
          values (${entity}, ${['BTC', 'ETH', 'SOL', 'USDC', 'ADA', 'DOT', 'XRP', 'LTC', 'TRX'][index] ?? 'BTC'}, ${day}, 'to_provider', '1.000000000000000000', null, ${index % 4 === 0 ? 'sent' : 'pending'}, null, ${index % 4 === 0 ? `0xfeed${index}` : null}, null, '2025-03-21T00:00:00.000Z', '2025-03-21T00:00:00.000Z')`.execute(books.db);
      }
    }
  });
  afterAll(async () => books.close());

  it('walks every break of a listing once, by day then id, whatever the page size', async () => {
    for (const filter of [{ entity: 'defi' }, { entity: 'lending', status: 'open' as const }, { entity: 'defi', day: '2025-03-18' }, { entity: 'defi', status: 'resolved' as const }]) {
      const whole = await reconciler.breaks(filter);
      expect(whole.length).toBeGreaterThan(1);
      const order = [...whole].sort((a, b) => (a.accountingDay < b.accountingDay ? -1 : a.accountingDay > b.accountingDay ? 1 : a.id - b.id));
      expect(whole.map((item) => item.id)).toEqual(order.map((item) => item.id));
      for (const limit of [1, 2, 3, whole.length, whole.length + 1, BREAKS_PAGE_SIZE_MAX]) {
        expect(await walk(limit, (afterId) => reconciler.breaks({ ...filter, afterId, limit })), `${JSON.stringify(filter)} limit ${limit}`).toEqual(whole);
      }
    }
  });

  it('goes on after a break outside the filter: another day, another status, and at every break of a day', async () => {
    const all = await reconciler.breaks({ entity: 'defi' });
    const sorted = (items: { id: number; accountingDay: string }[]) => items.map((item) => `${item.accountingDay}#${item.id}`);
    for (const previous of all) {
      for (const filter of [{}, { day: '2025-03-18' }, { day: '2025-03-16' }, { day: '2025-03-20' }, { status: 'open' as const }, { status: 'resolved' as const }, { day: '2025-03-18', status: 'resolved' as const }]) {
        const expected = all.filter((item) => (item.accountingDay > previous.accountingDay || (item.accountingDay === previous.accountingDay && item.id > previous.id)) && (filter.day === undefined || item.accountingDay === filter.day) && (!('status' in filter) || item.status === filter.status));
        for (const limit of [1, 2, BREAKS_PAGE_SIZE_MAX]) {
          const page = await reconciler.breaks({ entity: 'defi', ...filter, afterId: previous.id, limit });
          expect(sorted(page), `after ${previous.id} (${previous.accountingDay}) ${JSON.stringify(filter)} limit ${limit}`).toEqual(sorted(expected.slice(0, limit)));
        }
      }
    }
  });

  it('walks every instruction of a listing once, by id, whatever the page size', async () => {
    for (const filter of [{ entity: 'defi' }, { entity: 'lending', status: 'pending' as const }, { entity: 'defi', day: '2025-03-18' }]) {
      const whole = await reconciler.instructions(filter);
      expect(whole.length).toBeGreaterThan(1);
      expect(whole.map((item) => item.id)).toEqual([...whole.map((item) => item.id)].sort((a, b) => a - b));
      for (const limit of [1, 2, whole.length, whole.length + 1]) {
        expect(await walk(limit, (afterId) => reconciler.instructions({ ...filter, afterId, limit })), `${JSON.stringify(filter)} limit ${limit}`).toEqual(whole);
      }
    }
  });

  it('refuses bad bounds and a break of another entity as afterId, naming the field, and writes nothing', async () => {
    const before = await snapshotDatabase(books.db as Kysely<unknown>);
    const lending = (await reconciler.breaks({ entity: 'lending' }))[0]!;
    const refusals: [() => Promise<unknown>, string, string, string][] = [
      [() => reconciler.breaks({ entity: 'defi', limit: 0 }), 'invalid_input', 'limit', '0'],
      [() => reconciler.breaks({ entity: 'defi', limit: BREAKS_PAGE_SIZE_MAX + 1 }), 'invalid_input', 'limit', String(BREAKS_PAGE_SIZE_MAX + 1)],
      [() => reconciler.breaks({ entity: 'defi', limit: '5' as never }), 'invalid_input', 'limit', '"5"'],
      [() => reconciler.breaks({ entity: 'defi', afterId: -1 }), 'invalid_input', 'afterId', '-1'],
      [() => reconciler.breaks({ entity: 'defi', afterId: Number.NaN }), 'invalid_input', 'afterId', 'NaN'],
      [() => reconciler.breaks({ entity: 'defi', afterId: lending.id }), 'unknown_break', 'afterId', String(lending.id)],
      [() => reconciler.breaks({ entity: 'defi', afterId: 999_999 }), 'unknown_break', 'afterId', '999999'],
      [() => reconciler.instructions({ entity: 'defi', limit: 1.5 }), 'invalid_input', 'limit', '1.5'],
      [() => reconciler.instructions({ entity: 'defi', limit: INSTRUCTIONS_PAGE_SIZE_MAX + 1 }), 'invalid_input', 'limit', String(INSTRUCTIONS_PAGE_SIZE_MAX + 1)],
      [() => reconciler.instructions({ entity: 'defi', afterId: null as never }), 'invalid_input', 'afterId', 'null'],
    ];
    for (const [work, code, field, value] of refusals) {
      const error = await work().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, `${field} ${value}`).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code, field, value });
    }
    expect(await snapshotDatabase(books.db as Kysely<unknown>)).toBe(before);
  });
});

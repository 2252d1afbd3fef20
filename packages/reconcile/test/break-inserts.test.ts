/**
 * `insertBreaks`: row by row on SQLite (one compiled statement), one multi-row statement on
 * PostgreSQL. Either way every column is stored as given, and a row the database refuses part-way
 * (a second open break of one fingerprint) fails the call; the transaction then rolls back whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Insertable, Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler } from '../src/index.js';
import * as repository from '../src/db/repository.js';
import type { ReconcileBreakTable, ReconcileDatabase } from '../src/db/schema.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

const DAY = '2025-03-18';

function breakRow(index: number, overrides: Partial<Insertable<ReconcileBreakTable>> = {}): Insertable<ReconcileBreakTable> {
  return {
    entity: 'defi',
    accounting_day: DAY,
    kind: 'interest_mismatch',
    fingerprint: `fp-${index}`,
    provider_id: `p-${index}`,
    earn_account_id: index % 2 === 0 ? `a-${index}` : null,
    currency: 'BTC',
    expected: '0.000000000000000100',
    actual: index % 3 === 0 ? null : '0.000000000000000200',
    details: JSON.stringify({ index, note: 'quote " and backslash \\ and ünïcode' }),
    status: 'open',
    resolved_by: null,
    resolution_reason: null,
    resolution_transaction_id: null,
    report_version: 1 + (index % 4),
    created_at: '2025-03-19T06:00:00.000Z',
    resolved_at: null,
    ...overrides,
  };
}

describe.each(DIALECTS)('inserting breaks on %s', (dialect) => {
  let ledger: Ledger;
  let db: Kysely<ReconcileDatabase>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    await Reconciler.open({ books: new EarnBooks(opened.ledger) });
    db = repository.withReconcileTables(opened.ledger.db);
  });
  afterAll(async () => close());

  it('stores every column of every row as given, resolved rows too', async () => {
    const rows = [
      ...Array.from({ length: 25 }, (_, index) => breakRow(index)),
      breakRow(100, { status: 'resolved', resolved_by: 'person', resolution_reason: 'booked by hand', resolved_at: '2025-03-19T07:00:00.000Z' }),
    ];
    await ledger.transact((scope) => repository.insertBreaks(repository.withReconcileTables(scope.db), rows, dialect));
    const stored = await repository.selectBreaksOfDay(db, 'defi', DAY);
    expect(stored.map(({ id: _id, ...rest }) => rest).sort((a, b) => a.fingerprint.localeCompare(b.fingerprint))).toEqual([...rows].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint)));
  });

  it('a second open break of a fingerprint, last of the call, fails it: the transaction rolls back whole', async () => {
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const rows = [breakRow(200), breakRow(201), breakRow(202, { fingerprint: 'fp-200' })];
    const error = await ledger.transact((scope) => repository.insertBreaks(repository.withReconcileTables(scope.db), rows, dialect)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

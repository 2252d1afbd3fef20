/**
 * Two writers on one SQLite file: the second waits up to its busy timeout for the first's write
 * lock, then fails with a typed `storage_busy` naming the timeout, having written nothing; the
 * first commits, and the second's retry once the lock is free is booked.
 *
 * Two ledgers on one file in one process show two processes: better-sqlite3 waits for the lock
 * synchronously, so the first writer holds its transaction open across an await while the second
 * waits, and commits once the second has given up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import type { LedgerAccount, PostingInput } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { snapshotDatabase } from './support/snapshot.js';
import { holdTransaction } from './support/hold.js';

const BUSY_TIMEOUT_MS = 150;

describe('a SQLite file whose write lock another ledger holds', () => {
  let directory: string;
  let file: string;
  let first: Ledger;
  let second: Ledger;
  let funds: LedgerAccount;
  let user: LedgerAccount;
  const deposit = (amount: string, key: string): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: user.id, side: 'credit', amount },
    ],
  });

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-busy-'));
    file = join(directory, 'books.sqlite');
    first = await Ledger.open({ storage: openSqliteDatabase({ filename: file }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    second = await Ledger.open({ storage: openSqliteDatabase({ filename: file, busyTimeoutMs: BUSY_TIMEOUT_MS }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    funds = await first.systemAccount('defi', 'BTC', 'customer_funds');
    user = await first.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
  });
  afterEach(async () => {
    await first.close();
    await second.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it.each([
    ['post', (ledger: Ledger, input: PostingInput) => ledger.post(input)],
    ['postMany', (ledger: Ledger, input: PostingInput) => ledger.postMany([input])],
    ['transact', (ledger: Ledger, input: PostingInput) => ledger.transact((scope) => scope.post(input))],
  ] as const)('%s: storage_busy naming the busy timeout, nothing written; the retry once the lock is free is booked', async (_name, write) => {
    const before = await snapshotDatabase(second.db as never);
    const held = await holdTransaction(first, (scope) => scope.post(deposit('1', 'holder')));
    let failure: unknown;
    try {
      failure = await write(second, deposit('2', 'waiter')).then(
        () => undefined,
        (error: unknown) => error,
      );
      // Read while the first writer still holds its transaction: the waiter wrote nothing.
      expect(await snapshotDatabase(second.db as never)).toBe(before);
    } finally {
      await held.release();
    }
    expect(failure).toBeInstanceOf(LedgerError);
    expect(failure).toMatchObject({ code: 'storage_busy', field: 'storage', value: String(BUSY_TIMEOUT_MS) });
    expect(String(failure)).toContain(`busyTimeoutMs ${BUSY_TIMEOUT_MS}`);
    expect((failure as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(await second.balance(user.id)).toBe('1.000000000000000000');
    expect((await write(second, deposit('2', 'waiter')).then(() => 'booked'))).toBe('booked');
    expect(await second.balance(user.id)).toBe('3.000000000000000000');
    await second.verify({ entity: 'defi' });
  });
});

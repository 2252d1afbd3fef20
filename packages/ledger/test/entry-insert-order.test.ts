/**
 * A compound posting's entries go in as one statement when their provider ids ascend and row by
 * row when they do not (SQLite, `db/sqlite/journal-bulk.ts`): either way, on both dialects, the
 * entries are stored in line order, each with its own account, amount (signed: credits negative) and provider id, and a row
 * the database refuses part-way leaves nothing of the transaction.
 */
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/index.js';
import type { Ledger, LedgerAccount, LinesInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { interestLines } from './support/compound.js';
import { snapshotDatabase } from './support/snapshot.js';

const USERS = 6;

describe.each(DIALECTS)('the entries of a compound posting, whatever the order of their provider ids, on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let earnAssets: LedgerAccount;
  let users: LedgerAccount[];

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    users = [];
    for (let i = 0; i < USERS; i++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' }));
  });
  afterEach(async () => close());

  const interest = (lines: LinesInput['lines']): LinesInput => interestLines(earnAssets.id, lines);
  const userAt = (index: number): LedgerAccount => users[index % USERS] as LedgerAccount;

  async function storedLines(transactionId: number): Promise<{ accountId: number; amount: string; providerId: string }[]> {
    const rows = await ledger.db
      .selectFrom('journal_entries')
      .select(['account_id', 'amount', 'provider_id'])
      .where('transaction_id', '=', transactionId)
      .where('provider_id', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ accountId: Number(row.account_id), amount: String(row.amount), providerId: String(row.provider_id) }));
  }

  it('stores the lines in their order, each with its account, amount and provider id: ids ascending, descending or in any order', async () => {
    let day = 0;
    const ids = fc.uniqueArray(fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9:_-]{0,11}$/)), { minLength: 1, maxLength: 40 });
    const order = fc.constantFrom('as given', 'ascending', 'descending');
    await fc.assert(
      fc.asyncProperty(ids, order, fc.array(fc.integer({ min: 1, max: 999_999 }), { minLength: 40, maxLength: 40 }), async (given, how, units) => {
        // Each run's ids are its own (a prefix per run): no line of an earlier run exists.
        const run = `r${day++}-`;
        const sorted = how === 'as given' ? given : [...given].sort();
        const providerIds = (how === 'descending' ? sorted.reverse() : sorted).map((id) => `${run}${id}`);
        const lines = providerIds.map((providerId, index) => ({ accountId: userAt(index).id, amount: `0.${String(units[index]).padStart(6, '0')}`, providerId }));
        const result = await ledger.postLines(interest(lines));
        expect(result.lines.every((line) => line.status === 'created')).toBe(true);
        const stored = await storedLines(result.transactionId ?? 0);
        expect(stored).toEqual(lines.map((line) => ({ accountId: line.accountId, amount: `-${line.amount}000000000000`, providerId: line.providerId })));
      }),
      { numRuns: 30 },
    );
    await ledger.verify({ entity: 'defi' });
  });

  it('a stored provider id at the end of lines whose ids do not ascend, said absent, fails the posting: the transaction rolls back whole', async () => {
    await ledger.postLines(interest([{ accountId: userAt(0).id, amount: '0.1', providerId: 'p-000' }]));
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    // Descending ids: on SQLite the rows go in one by one, and the last one meets the unique index.
    const lines = Array.from({ length: 30 }, (_, index) => ({ accountId: userAt(index).id, amount: '0.01', providerId: `p-${String(999 - index).padStart(3, '0')}` }));
    lines.push({ accountId: userAt(1).id, amount: '0.02', providerId: 'p-000' });
    const error = await ledger
      .transact(async (scope) => {
        await scope.postLines(interest([{ accountId: userAt(2).id, amount: '0.3', providerId: 'q-1' }]));
        await scope.postLines(interest(lines), { providerIdsAbsent: true }).catch(() => undefined);
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('transaction_aborted');
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    await ledger.verify({ entity: 'defi' });
  });
});

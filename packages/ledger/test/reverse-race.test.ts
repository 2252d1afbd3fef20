/**
 * `reverse()` of one transaction called at once (found in review, h2). The key lookup and the
 * reversal lookup were plain reads: on PostgreSQL two reversals under different keys both found
 * none and the second failed on the unique index `journal_transactions_reverses` with the
 * driver's error 23505. The reverse now locks the original's row first, so the second waits for
 * the first's commit and answers `already_reversed` (another key) or `exists` (the same key).
 * Both dialects, one ledger and (PostgreSQL) two ledgers on the same books.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import type { PostResult, ReverseInput } from '../src/index.js';
import { isUniqueViolation } from '../src/db/repository.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL, dropSchema, freshLedger } from './dialects.js';

const ROUNDS = 15;
const ENTITIES = [{ id: 'defi', timeZone: 'UTC' }];

/** Two ledgers (two pools) on one PostgreSQL schema. */
async function twoLedgers(groupCommit: { sizeMax?: number }) {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const open = async () => Ledger.open({ storage: await openPostgresDatabase({ connectionString: PG_URL, schema }), entities: ENTITIES, groupCommit });
  const a = await open();
  const b = await open();
  return { a, b, close: async () => { await a.close(); await b.close(); await dropSchema(schema); } };
}

function describeOutcome(outcome: PromiseSettledResult<PostResult>): string {
  if (outcome.status === 'fulfilled') return outcome.value.status;
  const error = outcome.reason as { name?: string; code?: string; message?: string };
  return error instanceof LedgerError ? error.code : `${error?.name}:${error?.code}:${String(error?.message).slice(0, 120)}`;
}

/** Rounds of two reversals of one new transaction at once; the outcomes of the rounds that went otherwise than `want`. */
async function race(a: Ledger, b: Ledger, options: { sameKey: boolean; userAccount: boolean; want: string }): Promise<string[]> {
  const treasury = await a.systemAccount('defi', 'BTC', 'treasury');
  const settlement = await a.systemAccount('defi', 'BTC', 'settlement');
  const funds = await a.systemAccount('defi', 'BTC', 'customer_funds');
  const user = await a.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
  // Plenty on the user, so that a second reversal would never be refused for its balance.
  await a.post({ entity: 'defi', kind: 'deposit', idempotencyKey: 'seed', occurredAt: '2025-03-18T09:00:00Z', entries: [
    { accountId: funds.id, side: 'debit', amount: '1000' }, { accountId: user.id, side: 'credit', amount: '1000' }] });
  const [debit, credit] = options.userAccount ? [funds, user] : [treasury, settlement];
  const bad: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { transaction } = await a.post({ entity: 'defi', kind: options.userAccount ? 'deposit' : 'adjustment', idempotencyKey: `orig-${round}`, occurredAt: '2025-03-18T10:00:00Z', entries: [
      { accountId: debit.id, side: 'debit', amount: '1' }, { accountId: credit.id, side: 'credit', amount: '1' }] });
    const input = (key: string): ReverseInput => ({ entity: 'defi', transactionId: transaction.id, idempotencyKey: key, occurredAt: '2025-03-18T11:00:00Z' });
    const outcomes = await Promise.allSettled([a.reverse(input(`rev-${round}`)), b.reverse(input(options.sameKey ? `rev-${round}` : `rev-b-${round}`))]);
    const got = outcomes.map(describeOutcome).sort().join(' | ');
    if (got !== options.want) bad.push(`round ${round}: ${got}`);
  }
  const report = await a.verify({ entity: 'defi' });
  // The seed, the originals and one reversal each.
  expect(report.transactions).toBe(1 + 2 * ROUNDS);
  return bad;
}

const CASES = [
  { sameKey: false, userAccount: false, want: 'already_reversed | created' },
  { sameKey: false, userAccount: true, want: 'already_reversed | created' },
  { sameKey: true, userAccount: false, want: 'created | exists' },
] as const;

describe.each(DIALECTS)('concurrent reverse() of one transaction (%s)', (dialect) => {
  for (const options of CASES) {
    {
      // reverse() commits on its own, not through group commit: one setting is enough.
      const groupCommit = {};
      const label = `${options.sameKey ? 'same key' : 'two keys'}, ${options.userAccount ? 'a user account' : 'system accounts'}`;
      it(`one ledger, ${label}: ${options.want}, every round`, async () => {
        const opened = await freshLedger(dialect, { entities: ENTITIES, groupCommit });
        try {
          expect(await race(opened.ledger, opened.ledger, options)).toEqual([]);
        } finally {
          await opened.close();
        }
      });
      // SQLite: two connections of one process would block each other's event loop; its write lock serialises processes anyway.
      it.runIf(dialect === 'postgres')(`two ledgers on the same books, ${label}: ${options.want}, every round`, async () => {
        const { a, b, close } = await twoLedgers(groupCommit);
        try {
          expect(await race(a, b, options)).toEqual([]);
        } finally {
          await close();
        }
      });
    }
  }

});

describe('isUniqueViolation: the driver errors the ledger answers as its own', () => {
  it('knows PostgreSQL by SQLSTATE and index name, SQLite by its message', () => {
    expect(isUniqueViolation({ code: '23505', constraint: 'journal_transactions_reverses' }, 'journal_transactions_reverses')).toBe(true);
    expect(isUniqueViolation({ code: '23505', constraint: 'journal_transactions_entity_key' }, 'journal_transactions_reverses')).toBe(false);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_UNIQUE', message: 'UNIQUE constraint failed: journal_transactions.reverses_transaction_id' }, 'journal_transactions_reverses')).toBe(true);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_UNIQUE', message: 'UNIQUE constraint failed: journal_transactions.entity, journal_transactions.idempotency_key' }, 'journal_transactions_entity_key')).toBe(true);
    expect(isUniqueViolation(new Error('UNIQUE constraint failed: journal_transactions.reverses_transaction_id'), 'journal_transactions_reverses')).toBe(false);
    expect(isUniqueViolation(null, 'journal_transactions_reverses')).toBe(false);
  });
});

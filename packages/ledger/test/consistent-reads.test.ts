/**
 * Reads that span several rows answer one snapshot of the books, while writers commit.
 * - `balance()` of a sharded system account (PostgreSQL) read the own row, then the shards, in two
 *   statements: two writers committing between them (the own row's, then a shard's) gave a balance
 *   the account never had. Now one statement.
 * - `verify()` ran its eight or so statements outside a snapshot and reported broken books while
 *   postings committed. Now one read snapshot.
 * Both found in review (session 22).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KyselyPlugin } from 'kysely';
import { formatUnits } from '../src/index.js';
import type { LedgerAccount, PostingInput } from '../src/index.js';
import { readBalanceUnits } from '../src/balances.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { holdTransaction } from './support/hold.js';

describe.runIf(DIALECTS.includes('postgres'))('a balance read across the own row and the shards (PostgreSQL)', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  it('answers a balance the account had at some commit', { timeout: 15_000 }, async () => {
    const opened = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const users: LedgerAccount[] = [];
    for (const code of ['u0', 'u1', 'u2']) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code, kind: 'user' }));
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    let n = 0;
    const deposit = (amount: string, user = users[n % 3]!): PostingInput => ({ entity: 'defi', kind: 'deposit', idempotencyKey: `k${n++}`, occurredAt: '2025-03-18T09:00:00Z', entries: [
      { accountId: funds.id, side: 'debit', amount }, { accountId: user.id, side: 'credit', amount }] });
    await ledger.post(deposit('10'));
    const ownWriter = await holdTransaction(ledger, (scope) => scope.post(deposit('1')));   // takes funds' own row
    const shardWriter = await holdTransaction(ledger, (scope) => scope.post(deposit('2'))); // own row held: a shard
    let queries = 0;
    let afterFirst: () => void = () => undefined;
    const firstDone = new Promise<void>((resolve) => { afterFirst = resolve; });
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => { resume = resolve; });
    const pause: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        if (++queries === 1) { afterFirst(); await resumed; }
        return args.result;
      },
    };
    const reading = readBalanceUnits(ledger.db.withPlugin(pause), ledger.dialect, funds.id);
    await firstDone;
    await ownWriter.release();
    await shardWriter.release();
    resume();
    const seen = formatUnits((await reading) ?? 0n);
    const committed = ['-10', '-11', '-13'].map((x) => `${x}.000000000000000000`); // customer_funds is credit-normal
    expect(await ledger.balance(funds.id)).toBe('-13.000000000000000000');
    expect(committed).toContain(seen);
  });
});

describe.each(DIALECTS)('verify() while postings commit (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  it('never reports a broken invariant on consistent books', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    let n = 0;
    const post = () => ledger.post({ entity: 'defi', kind: 'deposit', idempotencyKey: `k${n++}`, occurredAt: '2025-03-18T09:00:00Z', entries: [
      { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] });
    await post();
    const failures: string[] = [];
    for (let round = 0; round < 30 && failures.length === 0; round++) {
      const writers = Array.from({ length: 20 }, () => post());
      await ledger.verify({ entity: 'defi' }).catch((error: Error) => failures.push(`${error.name}: ${error.message}`));
      await Promise.all(writers);
    }
    await ledger.verify({ entity: 'defi' });
    expect(failures).toEqual([]);
  });
});

/**
 * Two processes posting the same key at once, on PostgreSQL, to system accounts alone: their
 * rows are taken with SKIP LOCKED (balance shards), so nothing orders the two writers, and one
 * may find the key committed by the other between its read and its insert. The later one is
 * then answered as if it had come after: `exists` for the same posting, a conflict naming what
 * differs for another. (SQLite has one writer at a time: no such window.)
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL, dropSchema, freshLedger } from './dialects.js';
import { holdTransaction } from './support/hold.js';

const ROUNDS = 40;

describe.runIf(DIALECTS.includes('postgres'))('one key posted by two processes at once, to system accounts alone (PostgreSQL)', () => {
  async function twoLedgers(): Promise<{ a: Ledger; b: Ledger; close(): Promise<void> }> {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    // Two pools on one schema, as two processes would have: their group commits never share a transaction.
    const open = async () => Ledger.open({ storage: await openPostgresDatabase({ connectionString: PG_URL, schema }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const a = await open();
    const b = await open();
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
        await dropSchema(schema);
      },
    };
  }

  const transfer = (ids: { from: number; to: number }, key: string, amount: string): PostingInput => ({
    entity: 'defi',
    kind: 'adjustment',
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: ids.from, side: 'debit', amount },
      { accountId: ids.to, side: 'credit', amount },
    ],
  });

  it('the same posting: one caller is told created, the other exists, with the same transaction, every time', async () => {
    const { a, b, close } = await twoLedgers();
    try {
      const ids = { from: (await a.systemAccount('defi', 'BTC', 'treasury')).id, to: (await a.systemAccount('defi', 'BTC', 'settlement')).id };
      for (let round = 0; round < ROUNDS; round++) {
        const posting = transfer(ids, `same-${round}`, '1');
        const results = await Promise.all([a.post(posting), b.post(posting)]);
        expect(results.map((result) => result.status).sort(), `round ${round}`).toEqual(['created', 'exists']);
        expect(results[0]?.transaction.id).toBe(results[1]?.transaction.id);
      }
      // Settlement credited once a round, never twice.
      expect(await a.balance(ids.to)).toBe(`-${ROUNDS}.000000000000000000`);
      await a.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  }, 60_000);

  it('another posting under the same key: the later one is an idempotency conflict naming what differs', async () => {
    const { a, b, close } = await twoLedgers();
    try {
      const ids = { from: (await a.systemAccount('defi', 'BTC', 'treasury')).id, to: (await a.systemAccount('defi', 'BTC', 'settlement')).id };
      for (let round = 0; round < ROUNDS; round++) {
        const outcomes = await Promise.allSettled([a.post(transfer(ids, `other-${round}`, '1')), b.post(transfer(ids, `other-${round}`, '2'))]);
        const created = outcomes.filter((outcome) => outcome.status === 'fulfilled');
        const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
        expect(created.map((outcome) => outcome.value.status), `round ${round}`).toEqual(['created']);
        expect(refused, `round ${round}`).toHaveLength(1);
        expect(refused[0]).toBeInstanceOf(LedgerError);
        expect(refused[0]).toMatchObject({ code: 'idempotency_conflict' });
        expect((refused[0] as LedgerError).field).toBe('idempotencyKey');
        expect((refused[0] as LedgerError).context?.['differingField']).toMatch(/^entries\[\d\]\.amount$/);
      }
      await a.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  }, 60_000);

  it('a batch whose keys another process commits one by one meanwhile: every key ends created once, no caller gets an internal error', async () => {
    const { a, b, close } = await twoLedgers();
    try {
      const ids = { from: (await a.systemAccount('defi', 'BTC', 'treasury')).id, to: (await a.systemAccount('defi', 'BTC', 'settlement')).id };
      for (let round = 0; round < 10; round++) {
        const keys = Array.from({ length: 30 }, (_, index) => `batch-${round}-${index}`);
        // The other process posts them one after the other (catching up), while the batch runs.
        const oneByOne = async () => {
          const results = [];
          for (const key of keys) results.push(await b.post(transfer(ids, key, '1')));
          return results;
        };
        const [batch, singles] = await Promise.all([a.postMany(keys.map((key) => transfer(ids, key, '1'))), oneByOne()]);
        for (const [index, key] of keys.entries()) {
          const answers = [batch[index], singles[index]].map((result) => result?.status).sort();
          expect(answers, key).toEqual(['created', 'exists']);
        }
      }
      expect(await a.balance(ids.to)).toBe(`-${10 * 30}.000000000000000000`);
      await a.verify({ entity: 'defi' });
    } finally {
      await close();
    }
  }, 120_000);
});

/**
 * The key committed meanwhile by a writer that took no lock this posting waits on (its system
 * accounts went to a shard, this posting waited on a user account): the conflict names what
 * differs, as every idempotency conflict does (it named nothing before; found in review).
 */
describe.runIf(DIALECTS.includes('postgres'))('a key taken meanwhile by another content, this posting waiting on a user account (PostgreSQL)', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  it('names the differing field when a concurrent writer committed the key with other content', async () => {
    const opened = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const settlement = await ledger.systemAccount('defi', 'BTC', 'settlement');
    const at = '2025-03-18T09:00:00Z';
    const holder = await holdTransaction(ledger, (scope) =>
      scope.post({ entity: 'defi', kind: 'adjustment', idempotencyKey: 'K', occurredAt: at, entries: [
        { accountId: settlement.id, side: 'debit', amount: '1' }, { accountId: funds.id, side: 'credit', amount: '1' }] }));
    const mine = ledger.post({ entity: 'defi', kind: 'adjustment', idempotencyKey: 'K', occurredAt: at, entries: [
      { accountId: funds.id, side: 'debit', amount: '1' }, { accountId: user.id, side: 'credit', amount: '1' }] })
      .then((r) => ({ status: r.status }), (e: { code?: string; field?: string; context?: Record<string, string> }) => ({ code: e.code, field: e.field, context: e.context }));
    await new Promise((resolve) => setTimeout(resolve, 700));
    await holder.release();
    const outcome = await mine;
    expect(outcome).toMatchObject({ code: 'idempotency_conflict', context: { differingField: 'entries[0].accountId' } });
  });
});

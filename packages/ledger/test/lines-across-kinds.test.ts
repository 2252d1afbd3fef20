/**
 * One line provider id in two compound postings of different kinds at the same moment (found in
 * review, h2). The line index `journal_entries (entity, provider_id)` is per entity, but the
 * claim lock is per (entity, kind): on PostgreSQL both lookups miss the other's uncommitted line
 * and the second fails on the index. That failure was the driver's error 23505; it is now a typed
 * `idempotency_conflict` naming the line. (An entity-wide claim taken by every compound posting
 * avoided the failure, but could deadlock `transact` scopes: see claim-order.test.ts.) SQLite has
 * one writer at a time: the second sees the first's line and gets the same kind of answer.
 */
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/index.js';
import type { LinesResult } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

const AT = '2025-03-18T09:00:00Z';
const ROUNDS = 15;

function describeOutcome(outcome: PromiseSettledResult<LinesResult>): string {
  if (outcome.status === 'fulfilled') return outcome.value.lines.map((line) => line.status).join(',');
  const error = outcome.reason as { name?: string; code?: string; message?: string };
  return error instanceof LedgerError ? `${error.code}:${error.field}` : `${error?.name}:${error?.code}:${String(error?.message).slice(0, 120)}`;
}

describe.each(DIALECTS)('one line provider id in compound postings of two kinds at once (%s)', (dialect) => {
  it('one is created, the other a typed refusal naming the line, every round; no shared account', async () => {
    const { ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const u1 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
      const u2 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u2', kind: 'user' });
      const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
      const settlement = await ledger.systemAccount('defi', 'BTC', 'settlement');
      const bad: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const providerId = `Z${round}`;
        const outcomes = await Promise.allSettled([
          ledger.postLines({ entity: 'defi', kind: 'interest', occurredAt: AT, side: 'credit', contraAccountId: assets.id, lines: [{ accountId: u1.id, amount: '1', providerId }] }),
          ledger.postLines({ entity: 'defi', kind: 'fee', occurredAt: AT, side: 'credit', contraAccountId: settlement.id, lines: [{ accountId: u2.id, amount: '1', providerId }] }),
        ]);
        const got = outcomes.map(describeOutcome);
        const created = got.filter((text) => text === 'created').length;
        const refused = outcomes.filter((outcome) => outcome.status === 'rejected' && outcome.reason instanceof LedgerError && (outcome.reason.field ?? '').startsWith('lines[0]')).length;
        if (created !== 1 || refused !== 1) bad.push(`round ${round}: ${got.join(' | ')}`);
      }
      expect(bad).toEqual([]);
      expect((await ledger.verify({ entity: 'defi' })).transactions).toBe(ROUNDS);
    } finally {
      await close();
    }
  });
});

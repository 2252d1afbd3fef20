/**
 * One provider id booked at the same moment as a line of a compound posting (`postLines`) and as
 * a whole transaction (`post`) of the same kind, on PostgreSQL. No unique index spans the two
 * (`journal_entries (entity, provider_id)` against `journal_transactions (entity, kind,
 * provider_id)`), and the whole transaction need not wait on any row the compound one holds (its
 * system account goes to a balance shard, its user is another), so before the provider-id claim
 * lock both committed: the interest booked twice. Whichever writer comes second now waits for the
 * first's commit and answers as it would a moment later. (SQLite has one writer at a time.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { holdTransaction } from './support/hold.js';

const AT = '2025-03-18T09:00:00Z';

/** The transactions that hold provider id `id` of kind interest, as a line or as a whole transaction. */
async function bookingsOf(ledger: Ledger, id: string): Promise<number> {
  const rows = await ledger.db
    .selectFrom('journal_transactions as t')
    .innerJoin('journal_entries as e', 'e.transaction_id', 't.id')
    .select('t.id')
    .where('t.kind', '=', 'interest')
    .where((eb) => eb.or([eb('t.provider_id', '=', id), eb('e.provider_id', '=', id)]))
    .distinct()
    .execute();
  return rows.length;
}

describe.runIf(DIALECTS.includes('postgres'))('a provider id as a line and as a whole transaction at once (PostgreSQL)', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  async function books() {
    const opened = await freshLedger('postgres', { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const u1 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
    const u2 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u2', kind: 'user' });
    const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    const lines = { entity: 'defi', kind: 'interest' as const, occurredAt: AT, side: 'credit' as const, contraAccountId: assets.id, lines: [{ accountId: u1.id, amount: '1', providerId: 'P' }] };
    const whole = {
      entity: 'defi',
      kind: 'interest' as const,
      idempotencyKey: 'whole-P',
      providerId: 'P',
      occurredAt: AT,
      entries: [
        { accountId: assets.id, side: 'debit' as const, amount: '1' },
        { accountId: u2.id, side: 'credit' as const, amount: '1' },
      ],
    };
    return { ledger, lines, whole };
  }

  it('the line first: the whole transaction waits, then is refused as a duplicate provider id', { timeout: 30_000 }, async () => {
    const { ledger, lines, whole } = await books();
    const holder = await holdTransaction(ledger, (scope) => scope.postLines(lines));
    const posted = ledger.post(whole).then(
      (result) => result.status,
      (error: unknown) => (error instanceof LedgerError ? `${error.code}:${error.field}` : String(error)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.release();
    expect(await posted).toBe('duplicate_provider_id:providerId');
    expect(await bookingsOf(ledger, 'P')).toBe(1);
  });

  it('the whole transaction first: the line waits, then finds the id booked under another account', { timeout: 30_000 }, async () => {
    const { ledger, lines, whole } = await books();
    const holder = await holdTransaction(ledger, (scope) => scope.post(whole));
    const posted = ledger.postLines(lines).then(
      (result) => result.lines[0]?.status ?? 'none',
      (error: unknown) => (error instanceof LedgerError ? error.code : String(error)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.release();
    // The stored booking moved u2, the line asks for u1: a conflict, not a second booking.
    expect(await posted).toBe('idempotency_conflict');
    expect(await bookingsOf(ledger, 'P')).toBe(1);
  });

  it('whole transactions carrying provider ids do not wait on each other', { timeout: 30_000 }, async () => {
    const { ledger, lines, whole } = await books();
    const holder = await holdTransaction(ledger, (scope) => scope.post(whole));
    // Another user (the held one's row is locked): only the shared claim lock is in common.
    const [assetsEntry] = whole.entries;
    const other = await ledger.post({ ...whole, idempotencyKey: 'whole-Q', providerId: 'Q', entries: [{ ...assetsEntry! }, { accountId: lines.lines[0]!.accountId, side: 'credit', amount: '1' }] });
    expect(other.status).toBe('created');
    await holder.release();
  });
});

/** Metadata keys are data: one named `__proto__` is stored, hashed and compared like any other. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

describe.each(DIALECTS)('a metadata key named __proto__ (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  it('keeps a metadata pair whose key is __proto__, and treats it as content for idempotency', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const base = { entity: 'defi', kind: 'deposit' as const, idempotencyKey: 'k1', occurredAt: '2025-03-18T09:00:00Z', entries: [
      { accountId: funds.id, side: 'debit' as const, amount: '1' }, { accountId: user.id, side: 'credit' as const, amount: '1' }] };
    const metadata = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const first = await ledger.post({ ...base, metadata });
    // Same key, other metadata: must be a conflict, not `exists`.
    const second = await ledger.post({ ...base, metadata: { a: 'b' } }).then((r) => r.status, (e: { code: string }) => e.code);
    expect({ stored: Object.keys(first.transaction.metadata ?? {}), sameKeyOtherMetadata: second }).toEqual({ stored: ['__proto__', 'a'], sameKeyOtherMetadata: 'idempotency_conflict' });
  });
});

// A review (session 44): read as pairs, these stored as {} (and a repeat with another Map was `exists`).
describe.each(DIALECTS)('metadata that is not a plain object (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());
  class Tagged {
    get interestDay(): string {
      return '2025-03-18';
    }
  }
  it.each([
    ['a Map', new Map([['interestDay', '2025-03-18']])],
    ['a Date', new Date('2025-03-18T00:00:00Z')],
    ['a class instance whose fields are getters', new Tagged()],
  ])('%s is invalid_input naming metadata, nothing written', async (_name, metadata) => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    const { ledger } = opened;
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u', kind: 'user' });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const posting = { entity: 'defi', kind: 'deposit' as const, idempotencyKey: 'k1', occurredAt: '2025-03-18T09:00:00Z', metadata: metadata as unknown as Record<string, string>, entries: [
      { accountId: funds.id, side: 'debit' as const, amount: '1' }, { accountId: user.id, side: 'credit' as const, amount: '1' }] };
    const error = await ledger.post(posting).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'metadata' });
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    // A plain object of the same pairs is taken, and null-prototype objects too.
    expect((await ledger.post({ ...posting, metadata: { interestDay: '2025-03-18' } })).status).toBe('created');
    const bare = Object.assign(Object.create(null) as Record<string, string>, { interestDay: '2025-03-18' });
    expect((await ledger.post({ ...posting, metadata: bare })).status).toBe('exists');
  });
});

/** Metadata keys are data: one named `__proto__` is stored, hashed and compared like any other. */
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshLedger } from './dialects.js';

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

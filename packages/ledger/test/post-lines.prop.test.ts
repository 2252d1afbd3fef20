/**
 * The provider-id range probe (`JournalBulk.anyProviderIdInRange`) against the exact lookup
 * (`findProviderEntries`), on both dialects: whatever the ids look like, a list holding a stored
 * id is never answered "none in range", so a posting that trusts the probe never misses a line
 * booked before.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cycleInterestEntryId, localEntryId } from '../src/index.js';
import type { Ledger, LedgerAccount } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';

describe.each(DIALECTS)('the provider-id range probe on %s', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  let users: LedgerAccount[];

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    users = [];
    for (let i = 0; i < 4; i++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:u${i}`, kind: 'user' }));
  });
  afterEach(async () => close());

  it('never says false for a list holding a stored id, whatever the ids look like', async () => {
    const range = ledger.dialect.bulk?.anyProviderIdInRange;
    const find = ledger.dialect.bulk?.findProviderEntries;
    if (range === undefined || find === undefined) throw new Error('the dialect has no range probe');
    // Stored ids of several shapes: the cycle's (version 8, account order), earlier versions' (hashes), the provider's, short and non-ASCII ones.
    const stored = [
      cycleInterestEntryId('2025-03-18', users[0]?.id ?? 0),
      cycleInterestEntryId('2025-03-18', users[2]?.id ?? 0),
      localEntryId('defi', '2025-03-18', 'interest', 'a1'),
      'a3f1c2d4-0000-4000-8000-000000000001',
      'Z',
      'id-ä',
      'id-😀',
      'id-\u00e9',
    ];
    const earnAssets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    await ledger.postLines({
      entity: 'defi',
      kind: 'interest',
      occurredAt: '2025-03-19T00:00:00Z',
      side: 'credit',
      contraAccountId: earnAssets.id,
      lines: stored.map((providerId, index) => ({ accountId: users[index % users.length]?.id ?? 0, amount: '0.001', providerId })),
    });
    const candidate = fc.oneof(
      fc.constantFrom(...stored),
      fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
      fc.integer({ min: 1, max: 2 ** 20 }).map((account) => cycleInterestEntryId('2025-03-18', account)),
      fc.uuid(),
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(candidate, { minLength: 1, maxLength: 12 }), async (ids) => {
        await ledger.transact(async (scope) => {
          const found = await find(scope.db, { entity: 'defi', kind: 'interest', providerIds: ids });
          const any = await range(scope.db, { entity: 'defi', kind: 'interest', providerIds: ids });
          if (ids.some((id) => stored.includes(id))) expect(found.length).toBeGreaterThan(0);
          if (found.length > 0) expect(any).toBe(true);
        });
      }),
      { numRuns: 60 },
    );
  });
});

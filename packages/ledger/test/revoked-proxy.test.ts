/**
 * A revoked proxy as input: it answers no question (`Array.isArray`, a field read, even its class
 * throw a TypeError). Every public call refuses it with `invalid_input` naming the field, and
 * writes nothing; they threw raw TypeErrors before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { EarnBooks, LedgerError, describeValue, parseInterestTerms } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy as never;
}

describe.each(DIALECTS)('a revoked proxy as input, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let user: number;
  let funds: number;

  beforeAll(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] }));
    books = new EarnBooks(ledger);
    user = (await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' })).id;
    funds = (await ledger.systemAccount('defi', 'BTC', 'customer_funds')).id;
  });
  afterAll(async () => close());

  it('is invalid_input naming the field, and nothing is written', async () => {
    const posting = (extra: Record<string, unknown>) => ({
      entity: 'defi',
      kind: 'deposit',
      idempotencyKey: 'k1',
      occurredAt: '2025-03-18T10:00:00Z',
      entries: [
        { accountId: funds, side: 'debit', amount: '1' },
        { accountId: user, side: 'credit', amount: '1' },
      ],
      ...extra,
    }) as never;
    const calls: [string, () => Promise<unknown>][] = [
      ['posting', () => ledger.post(revoked())],
      ['inputs', () => ledger.postMany(revoked())],
      ['posting', () => ledger.postMany([revoked()])],
      ['entries', () => ledger.post(posting({ entries: revoked() }))],
      ['entries[1]', () => ledger.post(posting({ entries: [{ accountId: funds, side: 'debit', amount: '1' }, revoked()] }))],
      ['metadata', () => ledger.post(posting({ metadata: revoked() }))],
      ['input', () => ledger.openAccount(revoked())],
      ['input', () => ledger.listAccounts(revoked())],
      ['options', () => ledger.verify(revoked())],
      ['options', () => ledger.history(user, revoked())],
      ['input', () => books.recordDeposit(revoked())],
      ['earnUsers', () => books.registerUser({ partnerUserId: 'p', earnUsers: revoked() })],
      ['terms', () => books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: revoked() })],
      ['terms.tiers', () => books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: revoked() } })],
    ];
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    for (const [field, call] of calls) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, field).toBeInstanceOf(LedgerError);
      expect(error, field).toMatchObject({ code: 'invalid_input', field });
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
    expect(() => parseInterestTerms(revoked())).toThrow(LedgerError);
    expect(describeValue(revoked())).toBe('an unreadable value');
  });
});

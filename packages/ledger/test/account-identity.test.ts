/**
 * Accounts keep their identity in the database itself (migration 0012): an Earn account's row is
 * never updated or deleted, a ledger account never deleted, and a ledger account's identity
 * columns never changed, whoever writes (here: SQL by hand, as a repair would). Each refused
 * statement leaves the whole database as it was; the running state of an account (what every
 * posting updates) stays writable, and the ledger goes on booking afterwards.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const TERMS = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('account identity on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let userAccountId: number;
  let spareAccountId: number;

  beforeEach(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms: TERMS });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    userAccountId = (await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc-fixed', currency: 'BTC' })).value.ledgerAccountId;
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'b-1', amount: '1.5', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-1', providerData: { id: 'b-1' } });
    // An account without entries: no foreign key would stop its deletion.
    spareAccountId = (await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:spare', kind: 'user' })).id;
  });
  afterEach(async () => close());

  const db = () => ledger.db as unknown as Kysely<unknown>;

  it.each([
    ['the kind of a ledger account', () => sql`update ledger_accounts set kind = 'earn_assets' where id = ${userAccountId}`],
    ['the code of a ledger account', () => sql`update ledger_accounts set code = 'user:mallory' where id = ${userAccountId}`],
    ['the currency of a ledger account', () => sql`update ledger_accounts set currency = 'ETH' where id = ${spareAccountId}`],
    ['the entity of a ledger account', () => sql`update ledger_accounts set entity = 'lending' where id = ${spareAccountId}`],
    ['the normal side of a ledger account', () => sql`update ledger_accounts set normal_side = 'debit' where id = ${spareAccountId}`],
    ['its identity set to itself, with its balance', () => sql`update ledger_accounts set kind = kind, balance = balance where id = ${userAccountId}`],
    ['a ledger account without entries', () => sql`delete from ledger_accounts where id = ${spareAccountId}`],
    ['the ledger account of an Earn account', () => sql`update earn_accounts set ledger_account_id = ${spareAccountId} where earn_account_id = 'acc-1'`],
    ['the currency of an Earn account', () => sql`update earn_accounts set currency = 'ETH' where earn_account_id = 'acc-1'`],
    ['an Earn account', () => sql`delete from earn_accounts where earn_account_id = 'acc-1'`],
  ])('refuses to change %s, and writes nothing', async (_what, statement) => {
    const before = await snapshotDatabase(db());
    await expect(statement().execute(db())).rejects.toThrow(/keep their identity/);
    expect(await snapshotDatabase(db())).toBe(before);
  });

  it("keeps an account's running state writable and goes on booking", async () => {
    await sql`update ledger_accounts set entry_count = entry_count where id = ${userAccountId}`.execute(db());
    const result = await books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'b-2', amount: '0.5', occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: 'k-2', providerData: { id: 'b-2' } });
    expect(result.status).toBe('created');
    expect(await ledger.balance(userAccountId)).toBe('2.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });
});

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks, LedgerError } from '../src/index.js';
import type { Ledger, LedgerAccount, PostingInput } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { ILL_FORMED, hostileString, isIllFormed } from './support/hostile-strings.js';
import { snapshotDatabase } from './support/snapshot.js';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

/** One public operation, given the string under test and a counter that keeps other keys unique. */
type Operation = (s: string, n: number) => Promise<unknown>;

describe.each(DIALECTS)('hostile strings through the ledger on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  let user: LedgerAccount;
  let funds: LedgerAccount;

  beforeAll(async () => {
    const opened = await freshLedger(dialect);
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
  });
  afterAll(async () => close());

  const posting = (n: number, change: Partial<PostingInput>): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: `post-${n}`,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit', amount: '0.001' },
      { accountId: user.id, side: 'credit', amount: '0.001' },
    ],
    ...change,
  });
  const deposit = (n: number, change: Record<string, string>) =>
    books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: `b-${n}`, amount: '0.001', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: `k-${n}`, providerData: { n }, ...change });

  const operations: Record<string, Operation> = {
    'post.idempotencyKey': (s, n) => ledger.post(posting(n, { idempotencyKey: s })),
    'post.providerId': (s, n) => ledger.post(posting(n, { providerId: s })),
    'post.description': (s, n) => ledger.post(posting(n, { description: s })),
    'post.metadata value': (s, n) => ledger.post(posting(n, { metadata: { note: s } })),
    'post.metadata key': (s, n) => ledger.post(posting(n, { metadata: { [s]: 'v' } })),
    'post.entity': (s, n) => ledger.post(posting(n, { entity: s })),
    'openAccount.code': (s) => ledger.openAccount({ entity: 'defi', currency: 'BTC', code: s, kind: 'user' }),
    'recordProduct.providerProductId': (s) => books.recordProduct({ entity: 'defi', providerProductId: s, currency: 'BTC', name: 'n', effectiveDay: '2025-01-01', terms }),
    'recordProduct.name': (s, n) => books.recordProduct({ entity: 'defi', providerProductId: `p-${n}`, currency: 'BTC', name: s, effectiveDay: '2025-01-01', terms }),
    'registerUser.partnerUserId': (s, n) => books.registerUser({ partnerUserId: s, earnUsers: [{ entity: 'defi', earnUserId: `eu-x-${n}` }] }),
    'registerUser.earnUserId': (s, n) => books.registerUser({ partnerUserId: `pu-${n}`, earnUsers: [{ entity: 'defi', earnUserId: s }] }),
    'openEarnAccount.earnAccountId': (s) => books.openEarnAccount({ entity: 'defi', earnAccountId: s, earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' }),
    'recordDeposit.providerBookingId': (s, n) => deposit(n, { providerBookingId: s }),
    'recordDeposit.idempotencyKey': (s, n) => deposit(n, { idempotencyKey: s }),
    'recordDeposit.earnAccountId': (s, n) => deposit(n, { earnAccountId: s }),
    'recordInterest.providerEntryId': (s) => books.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: s, amount: '0.000001', occurredAt: '2025-03-18T23:00:00Z' }),
    'recordProcessedReport.reportId': (s, n) => books.recordProcessedReport({ entity: 'defi', reportId: s, contentHash: `h-${n}`, accountingDay: '2025-03-18' }),
    'recordProcessedReport.contentHash': (s, n) => books.recordProcessedReport({ entity: 'defi', reportId: `r-${n}`, contentHash: s, accountingDay: '2025-03-18' }),
    'transactionByKey': (s) => ledger.transactionByKey('defi', s),
    'transactionByProviderId': (s) => ledger.transactionByProviderId('defi', 'deposit', s),
    'findAccount.code': (s) => ledger.findAccount({ entity: 'defi', currency: 'BTC', code: s }),
    'earnAccount': (s) => books.earnAccount({ entity: 'defi', earnAccountId: s }),
    'booking': (s) => books.booking({ entity: 'defi', providerBookingId: s }),
    'earnUsersOf': (s) => books.earnUsersOf(s),
    'productInForce': (s) => books.productInForce({ entity: 'defi', providerProductId: s, day: '2025-03-18' }),
  };
  const names = Object.keys(operations);

  /** Runs one operation: a typed LedgerError (nothing written) or a success; ill-formed text is always refused. */
  async function check(name: string, s: string, n: number): Promise<void> {
    const before = await snapshotDatabase(ledger.db as never);
    const outcome = await (operations[name] as Operation)(s, n).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (outcome !== undefined) {
      expect(outcome, `${name} ${JSON.stringify(s).slice(0, 80)}: ${String(outcome)}`).toBeInstanceOf(LedgerError);
      expect(await snapshotDatabase(ledger.db as never), `${name} wrote before refusing`).toBe(before);
    }
    if (isIllFormed(s)) {
      expect(outcome, `${name} accepted ill-formed ${JSON.stringify(s).slice(0, 80)}`).toBeInstanceOf(LedgerError);
      // An entity is a reference to a configured one: an unknown one is `unknown_entity`.
      expect((outcome as LedgerError).code).toBe(name.endsWith('.entity') ? 'unknown_entity' : 'invalid_input');
    }
  }

  it.each(names)('%s refuses every ill-formed string as invalid_input naming the field, writing nothing', async (name) => {
    let n = 1_000;
    for (const s of ILL_FORMED) await check(name, s, (n += 1));
  });

  it('any string into any string input: a typed error with nothing written, or a success (property)', async () => {
    let n = 10_000;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), hostileString(), async (name, s) => check(name, s, (n += 1))),
      { numRuns: dialect === 'postgres' ? 60 : 150 },
    );
  });
});

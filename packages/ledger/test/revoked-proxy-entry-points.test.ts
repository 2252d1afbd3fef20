/**
 * A revoked proxy anywhere a public entry point reads its input (the input itself, a nested
 * object, an options object, a scope) is `invalid_input` (a LedgerError), never a raw TypeError,
 * and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { EarnBooks, Ledger, LedgerError, cycleLines, parseInterestTerms, projectAccountingCycle, runAccountingCycle } from '../src/index.js';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy as never;
}

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

describe.each(DIALECTS)('a revoked proxy at every public entry point, on %s', (dialect) => {
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
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed', effectiveDay: '2025-01-01', terms } as never);
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc-fixed', currency: 'BTC' });
  });
  afterAll(async () => close());

  it('is a LedgerError, and nothing is written', async () => {
    const booking = (extra: Record<string, unknown>) => ({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'b1', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-b1', providerData: {}, ...extra }) as never;
    const posting = (extra: Record<string, unknown>) => ({ entity: 'defi', kind: 'deposit', idempotencyKey: 'k1', occurredAt: '2025-03-18T10:00:00Z', entries: [{ accountId: funds, side: 'debit', amount: '1' }, { accountId: user, side: 'credit', amount: '1' }], ...extra }) as never;
    const lines = (extra: Record<string, unknown>) => ({ entity: 'defi', kind: 'interest', occurredAt: '2025-03-18T10:00:00Z', side: 'credit', contraAccountId: funds, idempotencyKey: 'k-l', lines: [{ accountId: user, amount: '1', providerId: 'p1' }], ...extra }) as never;
    const calls: [string, () => Promise<unknown>][] = [
      ['Ledger.open(revoked)', () => Ledger.open(revoked())],
      ['Ledger.open({ storage: revoked })', () => Ledger.open({ storage: revoked() } as never)],
      ['Ledger.open({ entities: revoked })', () => Ledger.open({ storage: { db: ledger.db, dialect: ledger.dialect }, entities: revoked() } as never)],
      ['Ledger.open({ entities: [revoked] })', () => Ledger.open({ storage: { db: ledger.db, dialect: ledger.dialect }, entities: [revoked()] } as never)],
      ['Ledger.open({ currencyScales: revoked })', () => Ledger.open({ storage: { db: ledger.db, dialect: ledger.dialect }, currencyScales: revoked() } as never)],
      ['Ledger.open({ groupCommit: revoked })', () => Ledger.open({ storage: { db: ledger.db, dialect: ledger.dialect }, groupCommit: revoked() } as never)],
      ['post metadata value', () => ledger.post(posting({ metadata: { a: revoked() } }))],
      ['post entries[0].amount', () => ledger.post(posting({ entries: [{ accountId: funds, side: 'debit', amount: revoked() }, { accountId: user, side: 'credit', amount: '1' }] }))],
      ['postLines(revoked)', () => ledger.postLines(revoked())],
      ['postLines lines', () => ledger.postLines(lines({ lines: revoked() }))],
      ['postLines lines[0]', () => ledger.postLines(lines({ lines: [revoked()] }))],
      ['postLines metadata', () => ledger.postLines(lines({ metadata: revoked() }))],
      ['reverse(revoked)', () => ledger.reverse(revoked())],
      ['transactionsOfDay(revoked)', () => ledger.transactionsOfDay(revoked())],
      ['findAccount(revoked)', () => ledger.findAccount(revoked())],
      ['entity(revoked)', async () => ledger.entity(revoked())],
      ['parseAmount options', async () => ledger.parseAmount('1', revoked())],
      ['transact scope post', () => ledger.transact(async (scope) => scope.post(revoked()))],
      ['transact scope postLines', () => ledger.transact(async (scope) => (scope as unknown as { postLines(input: unknown): Promise<unknown> }).postLines(revoked()))],
      ['recordDeposit providerData', () => books.recordDeposit(booking({ providerData: revoked() }))],
      ['recordDeposit providerData nested', () => books.recordDeposit(booking({ providerData: { a: revoked() } }))],
      ['recordDeposit scope', () => books.recordDeposit(booking({}), revoked())],
      ['recordWithdrawal(revoked)', () => books.recordWithdrawal(revoked())],
      ['recordInterest(revoked)', () => books.recordInterest(revoked())],
      ['recordPartnerMargin(revoked)', () => books.recordPartnerMargin(revoked())],
      ['recordFee(revoked)', () => books.recordFee(revoked())],
      ['recordSettlement(revoked)', () => books.recordSettlement(revoked())],
      ['openEarnAccount(revoked)', () => books.openEarnAccount(revoked())],
      ['earnAccounts(revoked)', () => books.earnAccounts(revoked())],
      ['productInForce(revoked)', () => books.productInForce(revoked())],
      ['booking(revoked)', () => books.booking(revoked())],
      ['outstandingBalance(revoked)', () => books.outstandingBalance(revoked())],
      ['processedReports(revoked)', () => books.processedReports(revoked())],
      ['transactionOf(revoked)', () => books.transactionOf(revoked())],
      ['registerUser(revoked)', () => books.registerUser(revoked())],
      ['registerUser earnUsers[0]', () => books.registerUser({ partnerUserId: 'p', earnUsers: [revoked()] })],
      ['recordProduct(revoked)', () => books.recordProduct(revoked())],
      ['recordProduct terms.partnerMargin', () => books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { ...terms, partnerMargin: revoked() } } as never)],
      ['recordProduct terms.tiers[0]', () => books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { ...terms, tiers: [revoked()] } } as never)],
      ['new EarnBooks(ledger, revoked)', async () => new EarnBooks(ledger, revoked())],
      ['runAccountingCycle(revoked)', () => runAccountingCycle(revoked())],
      ['runAccountingCycle books', () => runAccountingCycle({ books: revoked(), entity: 'defi', day: '2025-03-18' })],
      ['projectAccountingCycle(revoked)', () => projectAccountingCycle(revoked())],
      ['projectAccountingCycle books', () => projectAccountingCycle({ books: revoked(), entity: 'defi', day: '2025-03-18' })],
      ['postWithSystemAccounts target', () => ledger.postWithSystemAccounts(revoked(), () => posting({}))],
      ['postWithSystemAccounts scope', () => ledger.postWithSystemAccounts({ entity: 'defi', currency: 'BTC' }, () => posting({}), revoked())],
      ['cycleLines(revoked)', async () => cycleLines(revoked()).next()],
      ['parseInterestTerms tiers[0]', async () => parseInterestTerms({ ...terms, tiers: [revoked()] })],
      ['parseInterestTerms partnerMargin', async () => parseInterestTerms({ ...terms, partnerMargin: revoked() })],
    ];
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    const raw: string[] = [];
    for (const [name, call] of calls) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      if (!(error instanceof LedgerError) || !['invalid_input', 'invalid_amount', 'unknown_entity'].includes(error.code)) raw.push(`${name}: ${error === undefined ? 'no error' : error instanceof LedgerError ? error.code : String(error)}`);
    }
    expect(raw).toEqual([]);
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });

  it('interest terms whose proxies\' traps throw are invalid_input naming the part, and nothing is written', async () => {
    const trapping = <T extends object>(target: T): T =>
      new Proxy(target, {
        ownKeys() {
          throw new TypeError('trap');
        },
        get(object, key) {
          if (key === 'length' || key === '0') throw new TypeError('trap');
          return Reflect.get(object, key);
        },
      });
    const cases: [string, unknown][] = [
      ['terms', trapping({ ...terms })],
      ['terms.tiers', { ...terms, tiers: trapping([...terms.tiers]) }],
      ['terms.tiers[0]', { ...terms, tiers: [trapping({ ...terms.tiers[0] })] }],
      ['terms.partnerMargin', { ...terms, partnerMargin: trapping({ mode: 'own-apy', apy: '0.01' }) }],
    ];
    const before = await snapshotDatabase(ledger.db as Kysely<unknown>);
    for (const [field, given] of cases) {
      const error = await books.recordProduct({ entity: 'defi', providerProductId: 'btc-2', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: given } as never).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, field).toBeInstanceOf(LedgerError);
      expect(error, field).toMatchObject({ code: 'invalid_input', field });
      expect(() => parseInterestTerms(given), field).toThrow(LedgerError);
    }
    expect(await snapshotDatabase(ledger.db as Kysely<unknown>)).toBe(before);
  });
});

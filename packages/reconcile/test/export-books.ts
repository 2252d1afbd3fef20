/**
 * Books for the export tests: a ledger on a fresh storage with reconcile's tables, filled through
 * the ledger's public API (plus a few break and settlement rows written directly), the same on
 * every dialect, with a fixed clock so that two dialects give the same stored rows.
 */
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { freshLedger } from '../../ledger/test/dialects.js';
import type { DialectName } from '../../ledger/test/dialects.js';
import { migrateReconcile } from '../src/db/migrations.js';
import type { ReconcileDatabase } from '../src/db/schema.js';

export { DIALECTS } from '../../ledger/test/dialects.js';
export type { DialectName } from '../../ledger/test/dialects.js';

/** Text that a spreadsheet would run as a formula, with a quote, a comma and a line break. */
export const HOSTILE_DESCRIPTION = '=HYPERLINK("http://x.example/?a=1,b=2", "click")\r\nsecond line; third';
export const HOSTILE_PROVIDER_ID = '+cmd|\' /C calc\'!A0';

const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

/** Opened books and how to close them. */
export interface TestBooks {
  readonly ledger: Ledger;
  readonly db: Kysely<ReconcileDatabase>;
  close(): Promise<void>;
}

/** A ledger with reconcile's tables on a fresh storage of the dialect, with a fixed clock. */
export async function openTestBooks(dialect: DialectName): Promise<TestBooks> {
  const clock = () => new Date('2025-03-21T00:00:00.000Z');
  const opened = await freshLedger(dialect, { now: clock });
  await migrateReconcile(opened.ledger.db as Kysely<unknown>, opened.ledger.dialect, opened.schema === undefined ? {} : { schema: opened.schema });
  return { ledger: opened.ledger, db: opened.ledger.db as unknown as Kysely<ReconcileDatabase>, close: opened.close };
}

/**
 * Fills the books: two currencies on `defi` (deposits, a withdrawal, interest, margin, a fee, a
 * settlement, a back-dated interest, an adjustment with hostile text, a reversal), one deposit on
 * `lending`, two breaks and two settlement positions (one with an instruction).
 */
export async function seedBooks(books: TestBooks): Promise<void> {
  const { ledger, db } = books;
  const earn = new EarnBooks(ledger, { now: () => new Date('2025-03-21T00:00:00.000Z') });
  await earn.recordProduct({ entity: 'defi', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed', effectiveDay: '2025-01-01', terms });
  await earn.recordProduct({ entity: 'defi', providerProductId: 'eth-flex', currency: 'ETH', name: 'ETH flexible', effectiveDay: '2025-01-01', terms });
  await earn.recordProduct({ entity: 'lending', providerProductId: 'btc-lend', currency: 'BTC', name: 'BTC lending', effectiveDay: '2025-01-01', terms });
  await earn.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-1' }, { entity: 'lending', earnUserId: 'eu-l-1' }] });
  await earn.registerUser({ partnerUserId: 'bob', earnUsers: [{ entity: 'defi', earnUserId: 'eu-d-2' }] });
  await earn.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-d-1', providerProductId: 'btc-fixed', currency: 'BTC' });
  await earn.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-2', earnUserId: 'eu-d-2', providerProductId: 'btc-fixed', currency: 'BTC' });
  await earn.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-3', earnUserId: 'eu-d-1', providerProductId: 'eth-flex', currency: 'ETH' });
  await earn.openEarnAccount({ entity: 'lending', earnAccountId: 'lacc-1', earnUserId: 'eu-l-1', providerProductId: 'btc-lend', currency: 'BTC' });
  const booking = (entity: string, earnAccountId: string, id: string, amount: string, occurredAt: string) => ({
    entity,
    earnAccountId,
    providerBookingId: id,
    amount,
    occurredAt,
    idempotencyKey: `key-${id}`,
    providerData: { id, amount },
  });
  await earn.recordDeposit(booking('defi', 'acc-1', 'dep-1', '1.5', '2025-03-18T10:00:00Z'));
  await earn.recordDeposit(booking('defi', 'acc-2', 'dep-2', '123456789012345678.123456789012345678', '2025-03-18T11:00:00Z'));
  await earn.recordDeposit(booking('defi', 'acc-3', 'dep-3', '20', '2025-03-18T12:00:00Z'));
  await earn.recordWithdrawal(booking('defi', 'acc-1', 'wd-1', '0.25', '2025-03-19T09:00:00Z'));
  await earn.recordInterest({ entity: 'defi', earnAccountId: 'acc-1', providerEntryId: 'int-1', amount: '0.000000000000000001', occurredAt: '2025-03-19T23:59:00Z', interestDay: '2025-03-19' });
  await earn.recordPartnerMargin({ entity: 'defi', currency: 'BTC', providerEntryId: 'mrg-1', amount: '0.0001', occurredAt: '2025-03-19T23:59:00Z' });
  await earn.recordFee({ entity: 'defi', currency: 'ETH', providerEntryId: 'fee-1', amount: '0.01', occurredAt: '2025-03-19T23:59:00Z' });
  await earn.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 'to_provider', amount: '1', occurredAt: '2025-03-20T00:10:00Z', idempotencyKey: 'settle-1', reference: '0xabc' });
  // Back-dated: posted after the 2025-03-19 bookings, dated on 2025-03-18.
  await earn.recordInterest({ entity: 'defi', earnAccountId: 'acc-3', providerEntryId: 'int-2', amount: '0.5', occurredAt: '2025-03-18T23:00:00Z' });
  const adjustment = await ledger.systemAccount('defi', 'BTC', 'adjustment');
  const treasury = await ledger.systemAccount('defi', 'BTC', 'treasury');
  const hostile = await ledger.post({
    entity: 'defi',
    kind: 'adjustment',
    idempotencyKey: 'adj-1',
    occurredAt: '2025-03-20T08:00:00Z',
    providerId: HOSTILE_PROVIDER_ID,
    description: HOSTILE_DESCRIPTION,
    entries: [
      { accountId: adjustment.id, side: 'debit', amount: '0.3' },
      { accountId: treasury.id, side: 'credit', amount: '0.3' },
    ],
  });
  await ledger.reverse({ entity: 'defi', transactionId: hostile.transaction.id, idempotencyKey: 'rev-1', occurredAt: '2025-03-20T09:00:00Z', description: '@SUM(1+1) "reversed", really' });
  await earn.recordDeposit(booking('lending', 'lacc-1', 'ldep-1', '2', '2025-03-19T10:00:00Z'));
  // Outside the exported range (2025-03-17 .. 2025-03-20): must not appear in the journal.
  await earn.recordDeposit(booking('defi', 'acc-1', 'dep-late', '7', '2025-03-22T10:00:00Z'));

  const stamp = '2025-03-21T00:00:00.000Z';
  await db
    .insertInto('reconcile_breaks')
    .values([
      {
        entity: 'defi',
        accounting_day: '2025-03-19',
        kind: 'amount_mismatch',
        fingerprint: 'amount_mismatch:dep-1',
        provider_id: 'dep-1',
        earn_account_id: 'acc-1',
        currency: 'BTC',
        expected: '1.500000000000000000',
        actual: '-1.4',
        details: JSON.stringify({ note: 'report says "1.4", books say 1.5', entries: [1, 2] }),
        status: 'open',
        resolution_reason: null,
        resolution_transaction_id: null,
        report_version: 1,
        created_at: stamp,
        resolved_at: null,
      },
      {
        entity: 'defi',
        accounting_day: '2025-03-20',
        kind: 'missing_in_ledger',
        fingerprint: 'missing_in_ledger:x',
        provider_id: '-x',
        earn_account_id: null,
        currency: null,
        expected: null,
        actual: '=1+1',
        details: '{}',
        status: 'resolved',
        resolution_reason: '@finance agreed',
        resolution_transaction_id: hostile.transaction.id,
        report_version: 2,
        created_at: stamp,
        resolved_at: stamp,
      },
      {
        entity: 'lending',
        accounting_day: '2025-03-19',
        kind: 'missing_in_report',
        fingerprint: 'missing_in_report:ldep-1',
        provider_id: 'ldep-1',
        earn_account_id: 'lacc-1',
        currency: 'BTC',
        expected: '2',
        actual: null,
        details: '{}',
        status: 'open',
        resolution_reason: null,
        resolution_transaction_id: null,
        report_version: 1,
        created_at: stamp,
        resolved_at: null,
      },
    ])
    .execute();
  const position = (currency: string, day: string, net: string, settled: string, carriedOut: string) => ({
    entity: 'defi',
    currency,
    accounting_day: day,
    payables: '1.5',
    receivables: (1.5 + Number(net)).toFixed(2),
    net,
    carried_in: '0',
    outstanding: net,
    settled,
    carried_out: carriedOut,
    reported_outstanding: day === '2025-03-19' ? net : null,
    computed_at: stamp,
  });
  await db
    .insertInto('settlement_positions')
    .values([position('BTC', '2025-03-19', '-1.25', '-1.25', '0'), position('ETH', '2025-03-19', '-0.5', '0', '-0.5'), position('BTC', '2025-03-20', '0', '0', '0')])
    .execute();
  await db
    .insertInto('settlement_instructions')
    .values({
      entity: 'defi',
      currency: 'BTC',
      accounting_day: '2025-03-19',
      direction: 'to_provider',
      amount: '1.25',
      wallet: '=wallet-0x1',
      status: 'confirmed',
      transaction_hash: '0xabc',
      ledger_transaction_id: null,
      created_at: stamp,
      updated_at: stamp,
    })
    .execute();
}

/** A writable that keeps what it is given, for reading a whole export back. */
export function memoryOutput(): { output: Writable; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { output, bytes: () => Buffer.concat(chunks) };
}

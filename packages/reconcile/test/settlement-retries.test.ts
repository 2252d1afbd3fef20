/**
 * Retries of the settlement steps. `confirm()` finishes after a crash between the booking and the
 * status only when the booking under the instruction's settlement key is the instruction's
 * transfer: one of another kind, direction, amount or reference is an `idempotency_conflict`
 * naming the field, and nothing is written. `markSent()` retried with the same hash (an answer
 * lost) answers the sent instruction; another hash is refused, writing nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger, SettlementInput } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import type { SettlementInstruction } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const KEY = `settlement:defi:BTC:${DAY}`;
const HASH = '0xfeedbeef01';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('settlement retries on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner' } } });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
  });
  afterEach(async () => close());

  /** The day's to_provider instruction, marked sent with {@link HASH}. */
  async function sentInstruction(): Promise<SettlementInstruction> {
    const instruction = (await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(await buildReport(books, 'defi', DAY)) })).instructions[0];
    if (instruction === undefined) throw new Error('no instruction');
    expect(instruction.direction).toBe('to_provider');
    return reconciler.markSent({ instructionId: instruction.id, transactionHash: HASH });
  }

  const settlement = (instruction: SettlementInstruction, change: Partial<SettlementInput>): SettlementInput => ({
    entity: 'defi',
    currency: 'BTC',
    direction: 'to_provider',
    amount: instruction.amount,
    occurredAt: '2025-03-19T10:00:00Z',
    idempotencyKey: KEY,
    reference: HASH,
    ...change,
  });

  it.each([
    { name: 'another amount', field: 'amount', value: '0.100000000000000000', change: { amount: '0.1' } },
    { name: 'the other direction', field: 'direction', value: 'from_provider', change: { direction: 'from_provider' as const } },
    { name: 'another reference', field: 'transactionHash', value: '0xother0002', change: { reference: '0xother0002' } },
  ])('refuses to confirm against a booking under its key of $name, writing nothing', async ({ field, value, change }) => {
    const instruction = await sentInstruction();
    await books.recordSettlement(settlement(instruction, change));
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T11:30:00Z' })).rejects.toMatchObject({ name: 'ReconcileError', code: 'idempotency_conflict', field, value });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    expect((await reconciler.instructions({ entity: 'defi' }))[0]).toEqual(instruction);
  });

  it('refuses to confirm against a booking under its key of another kind, writing nothing', async () => {
    const instruction = await sentInstruction();
    await books.recordFee({ entity: 'defi', currency: 'BTC', providerEntryId: 'fee-1', amount: instruction.amount, occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: KEY });
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T11:30:00Z' })).rejects.toMatchObject({ code: 'idempotency_conflict', field: 'kind', value: 'fee' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('still finishes confirm() against the same transfer booked before a crash without its reference, and answers a retry', async () => {
    const instruction = await sentInstruction();
    const booked = await books.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 'to_provider', amount: instruction.amount, occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: KEY });
    const confirmed = await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T11:30:00Z' });
    expect(confirmed).toMatchObject({ status: 'confirmed', transactionHash: HASH, ledgerTransactionId: booked.transaction.id });
    const before = await snapshotDatabase(ledger.db as never);
    expect(await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-20T09:00:00Z' })).toEqual(confirmed);
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC' })).toBe('0.000000000000000000');
  });

  it('answers markSent retried with the same hash with the sent instruction, writing nothing', async () => {
    const first = await sentInstruction();
    const before = await snapshotDatabase(ledger.db as never);
    expect(await reconciler.markSent({ instructionId: first.id, transactionHash: HASH })).toEqual(first);
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('refuses markSent with another hash for an instruction already sent, naming transactionHash and writing nothing', async () => {
    const first = await sentInstruction();
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.markSent({ instructionId: first.id, transactionHash: '0xfeedbeef02' })).rejects.toMatchObject({ name: 'ReconcileError', code: 'invalid_transition', field: 'transactionHash', value: '0xfeedbeef02' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    // Confirmed, the instruction is past sending: markSent is refused even with its own hash.
    await reconciler.confirm({ instructionId: first.id, occurredAt: '2025-03-19T11:30:00Z' });
    await expect(reconciler.markSent({ instructionId: first.id, transactionHash: HASH })).rejects.toMatchObject({ code: 'invalid_transition', field: 'instructionId' });
  });
});

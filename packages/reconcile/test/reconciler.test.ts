import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks, formatUnits, providerEntriesByIds, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject, parseReport } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('reconciler on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }, { id: 'lending', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books, wallets: { defi: { BTC: 'bc1-partner-wallet' } } });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 3; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b1', amount: '2.5', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'k1', providerData: { id: 'b1' } });
    await books.recordWithdrawal({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b2', amount: '0.5', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k2', providerData: { id: 'b2' } });
  });
  afterEach(async () => close());

  const run = (report: ReportJson, day = DAY, entity = 'defi') => reconciler.reconcileDay({ entity, day, report: loadReportObject(report) });

  it('reconciles a clean day: syncs interest and margin, nets the settlement, instructs the transfer', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const result = await run(report);
    expect(result.breaks).toEqual([]);
    expect(result.clean).toBe(true);
    expect(result.synced).toEqual({ interest: 2, partnerMargin: 1, fee: 0 });
    const position = result.positions.find((p) => p.currency === 'BTC');
    expect(position?.payables).toBe('3.500000000000000000');
    expect(toUnits(position?.receivables ?? '0')).toBeGreaterThan(toUnits('0.5'));
    expect(position?.outstanding).toBe(report.balances[0]?.outstandingBalance);
    expect(result.instructions).toHaveLength(1);
    expect(result.instructions[0]).toMatchObject({ direction: 'to_provider', status: 'pending', wallet: 'bc1-partner-wallet', amount: formatUnits(-toUnits(position?.outstanding ?? '0')) });
    await ledger.verify({ entity: 'defi' });
  });

  it('changes nothing when the same report is ingested again', async () => {
    const report = await buildReport(books, 'defi', DAY);
    await run(report);
    const before = await ledger.verify({ entity: 'defi' });
    const again = await run(report);
    expect(again.reportStatus).toBe('exists');
    expect(again.reportVersion).toBe(1);
    expect(again.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    expect(await ledger.verify({ entity: 'defi' })).toEqual(before);
    expect(await reconciler.instructions({ entity: 'defi' })).toHaveLength(1);
  });

  it('finds every kind of break, in a deterministic order, and does not duplicate them on a re-run', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const interest = report.transactions.find((t) => t['type'] === 'Interest' && t['accountId'] === 'a0');
    if (interest === undefined) throw new Error('no interest for a0');
    interest['amount'] = formatUnits(toUnits(String(interest['amount'])) + 5n);
    report.transactions.push({ ...report.transactions[0], id: '00000000-0000-4000-8000-000000000001', bookingId: 'b-unknown', amount: '0.1', accountId: 'a2' });
    const dropped = report.transactions.findIndex((t) => t['bookingId'] === 'b2');
    report.transactions.splice(dropped, 1);
    report.transactions.push({ ...report.transactions[0] });
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000002', type: 'Interest', currency: 'BTC', amount: '0.000001', createdAt: '2025-03-18T23:00:00.000Z', accountId: 'a2' });
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000003', type: 'Airdrop', currency: 'BTC', amount: '1', createdAt: '2025-03-18T23:00:00.000Z' });
    const balance = report.balances[0];
    if (balance !== undefined) balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - 2n);
    const result = await run(report);
    expect(result.clean).toBe(false);
    expect(result.breaks.map((b) => b.kind)).toEqual([
      'missing_in_ledger',
      'missing_in_report',
      'duplicate_in_report',
      'unknown_entry_type',
      'interest_mismatch',
      'unexpected_interest',
      'outstanding_balance_mismatch',
    ]);
    expect(result.breaks.find((b) => b.kind === 'interest_mismatch')).toMatchObject({ earnAccountId: 'a0', details: expect.objectContaining({ differenceUnits: '5' }) });
    expect(result.instructions).toEqual([]);
    const again = await run(report);
    expect(again.breaks.map((b) => b.id)).toEqual(result.breaks.map((b) => b.id));
    expect((await reconciler.breaks({ entity: 'defi', day: DAY })).length).toBe(result.breaks.length);
  });

  it('repairs a booking the provider made but the books lack, in one step', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a2', bookingId: 'b-lost', idempotencyKey: 'k-lost' });
    const first = await run(report);
    const missing = first.breaks.find((b) => b.kind === 'missing_in_ledger');
    expect(missing?.providerId).toBe('b-lost');
    const repaired = await reconciler.repairMissingBooking({ breakId: missing?.id ?? 0 });
    expect(repaired.status).toBe('resolved');
    expect(repaired.resolutionTransactionId).not.toBeNull();
    const balance = await ledger.balance((await books.earnAccount({ entity: 'defi', earnAccountId: 'a2' })).ledgerAccountId);
    expect(balance).toBe('0.250000000000000000');
    await expect(reconciler.repairMissingBooking({ breakId: missing?.id ?? 0 })).rejects.toMatchObject({ code: 'invalid_transition' });
  });

  it('processes a restated report as a new version without double booking, and clears fixed breaks', async () => {
    const original = await buildReport(books, 'defi', DAY);
    const broken = structuredClone(original);
    broken.balances[0] = { currency: 'BTC', outstandingBalance: '-1' };
    const first = await run(broken);
    expect(first.breaks.map((b) => b.kind)).toEqual(['outstanding_balance_mismatch']);
    const restated = await run(original);
    expect(restated.reportVersion).toBe(2);
    expect(restated.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    expect(restated.clean).toBe(true);
    expect(restated.resolvedBreaks).toBe(1);
    // Each interest entry is booked once (as a line of a compound transaction), whatever the version.
    const interestIds = original.transactions.filter((t) => t['type'] === 'Interest').map((t) => String(t['id']));
    const booked = await providerEntriesByIds(ledger, { entity: 'defi', providerIds: interestIds });
    expect(booked.map((entry) => entry.providerId).sort()).toEqual([...interestIds].sort());
    expect(booked.every((entry) => entry.kind === 'interest')).toBe(true);
    const changed = structuredClone(original);
    const entry = changed.transactions.find((t) => t['type'] === 'Interest');
    if (entry !== undefined) entry['amount'] = '0.5';
    changed.id = 'restated';
    const third = await run(changed);
    expect(third.reportVersion).toBe(3);
    expect(third.breaks.map((b) => b.kind)).toContain('restated_entry');
  });

  it('refuses a report of another entity or day, or a bad report, writing nothing', async () => {
    const report = await buildReport(books, 'defi', DAY);
    await expect(run(report, '2025-03-19')).rejects.toMatchObject({ code: 'wrong_day', field: 'accountingDay' });
    await expect(run(report, DAY, 'lending')).rejects.toMatchObject({ code: 'wrong_entity', field: 'entity' });
    await expect(run({ ...report, timeZone: 'UTC' })).rejects.toMatchObject({ code: 'wrong_entity', field: 'timeZone' });
    const bad = structuredClone(report) as unknown as { transactions: { amount: unknown }[] };
    if (bad.transactions[1] !== undefined) bad.transactions[1].amount = 12;
    expect(() => loadReportObject(bad)).toThrow(ReconcileError);
    try {
      loadReportObject(bad);
    } catch (error) {
      expect((error as ReconcileError).code).toBe('invalid_report');
      expect((error as ReconcileError).path).toContain('transactions[1].amount');
    }
    expect(() => parseReport('', 'empty.json')).toThrow(/not JSON/);
    expect(await books.processedReports({ entity: 'defi', accountingDay: DAY })).toEqual([]);
    expect(await reconciler.breaks({ entity: 'defi' })).toEqual([]);
    expect(await ledger.transactionByKey('defi', 'cycle:margin:defi:2025-03-18:BTC')).toBeUndefined();
  });

  it('carries an outstanding balance below the threshold and settles it later', async () => {
    const small = await Reconciler.open({ books, settlementThresholds: { defi: { BTC: '10' } } });
    const first = await small.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(await buildReport(books, 'defi', DAY)) });
    const position = first.positions[0];
    expect(position?.settled).toBe('0.000000000000000000');
    expect(position?.carriedOut).toBe(position?.outstanding);
    expect(first.instructions).toEqual([]);
    const next = '2025-03-19';
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a2', providerBookingId: 'b9', amount: '20', occurredAt: '2025-03-19T08:00:00Z', idempotencyKey: 'k9', providerData: { id: 'b9' } });
    const report = await buildReport(books, 'defi', next, { carriedIn: { BTC: toUnits(position?.carriedOut ?? '0') } });
    const second = await small.reconcileDay({ entity: 'defi', day: next, report: loadReportObject(report) });
    expect(second.breaks).toEqual([]);
    expect(second.positions[0]?.carriedIn).toBe(position?.carriedOut);
    expect(second.instructions).toHaveLength(1);
  });

  it('walks a settlement instruction from pending to sent to confirmed, and books it', async () => {
    const result = await run(await buildReport(books, 'defi', DAY));
    const instruction = result.instructions[0];
    if (instruction === undefined) throw new Error('no instruction');
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z' })).rejects.toMatchObject({ code: 'invalid_transition' });
    await expect(reconciler.markSent({ instructionId: instruction.id, transactionHash: 'x' })).rejects.toMatchObject({ code: 'invalid_input', field: 'transactionHash' });
    await reconciler.markSent({ instructionId: instruction.id, transactionHash: '0xfeedbeef01' });
    const confirmed = await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z' });
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.ledgerTransactionId).not.toBeNull();
    const outstanding = await books.outstandingBalance({ entity: 'defi', currency: 'BTC' });
    // The day's deposits, withdrawals and margin are settled: nothing remains outstanding.
    expect(outstanding).toBe('0.000000000000000000');
    await expect(reconciler.markSent({ instructionId: instruction.id, transactionHash: '0xfeedbeef02' })).rejects.toMatchObject({ code: 'invalid_transition' });
    expect((await run(await buildReport(books, 'defi', DAY))).instructions).toHaveLength(1);
  });
});

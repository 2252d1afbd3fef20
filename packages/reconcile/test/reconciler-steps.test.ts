import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { EarnBooks, formatUnits, toUnits } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, loadReportObject } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import type { ReportJson } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

describe.each(DIALECTS)('reconciler steps on %s', (dialect) => {
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
    for (let i = 0; i < 2; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
  });
  afterEach(async () => close());

  const run = (report: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });

  it('does not book interest dated a week away: a day_mismatch, and the interest stays unbooked', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const interest = report.transactions.find((entry) => entry['type'] === 'Interest');
    if (interest === undefined) throw new Error('no interest');
    interest['createdAt'] = '2025-03-26T00:00:00Z';
    const result = await run(report);
    expect(result.breaks.map((value) => value.kind)).toEqual(['day_mismatch']);
    expect(result.synced.interest).toBe(0);
    expect(await books.transactionOf({ entity: 'defi', kind: 'interest', providerId: String(interest['id']) })).toBeUndefined();
  });

  it('skips the sync pass for a report with nothing it books, and still diffs the interest the books hold', async () => {
    const full = await buildReport(books, 'defi', DAY);
    const first = await run(full);
    // a0 holds the deposit; a1 holds nothing and earns nothing.
    expect(first.synced.interest).toBe(1);
    expect(first.clean).toBe(true);
    // The next version of the day's report carries the deposit alone: nothing for the sync to
    // book, while the books hold the day's interest and margin that the report now lacks.
    const deposits = { ...full, id: '00000000-0000-4000-8000-00000000d0d0', transactions: full.transactions.filter((entry) => entry['type'] === 'Deposit') };
    const seen: string[] = [];
    const second = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(deposits), onProgress: (event) => seen.push(event.phase) });
    expect(second.synced).toEqual({ interest: 0, partnerMargin: 0, fee: 0 });
    expect([...new Set(seen)]).toEqual(['read', 'sync', 'diff']);
    // The interest line and the margin line the books hold are missing from the report; the
    // recomputed interest of a0 has no reported match; the margin totals differ.
    const interestId = full.transactions.find((entry) => entry['type'] === 'Interest')?.['id'];
    expect(typeof interestId).toBe('string');
    expect(second.breaks.map((value) => [value.kind, value.earnAccountId ?? null])).toEqual([
      ['missing_in_report', null],
      ['missing_in_report', 'a0'],
      ['missing_interest', 'a0'],
      ['margin_mismatch', null],
    ]);
    expect(second.breaks.map((value) => value.providerId)).toContain(interestId);
  });

  it('holds the settlement while fees exceed the approval limit, and instructs once the break is resolved', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-0000000000fe', type: 'Fee', currency: 'BTC', amount: '1000000', createdAt: '2025-03-18T23:00:00Z' });
    const balance = report.balances[0];
    if (balance === undefined) throw new Error('no balance');
    // The provider nets the fee: the balance matches, so only the approval limit can catch it.
    balance.outstandingBalance = formatUnits(toUnits(balance.outstandingBalance) - toUnits('1000000'));
    const first = await run(report);
    expect(first.breaks.map((value) => value.kind)).toEqual(['approval_required']);
    expect(first.instructions).toEqual([]);
    const approval = first.breaks[0];
    await reconciler.resolveBreak({ breakId: approval?.id ?? 0, reason: 'fee approved by finance' });
    const second = await run(report);
    expect(second.clean).toBe(true);
    expect(second.instructions).toHaveLength(1);
    expect(second.instructions[0]).toMatchObject({ direction: 'to_provider', status: 'pending' });
    const limited = await Reconciler.open({ books, feeApprovalLimits: { defi: { BTC: '1000000' } } });
    expect((await limited.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) })).clean).toBe(true);
  });

  it('finishes confirm() after a crash between the booking and the status, whatever occurredAt the retry gives', async () => {
    const result = await run(await buildReport(books, 'defi', DAY));
    const instruction = result.instructions[0];
    if (instruction === undefined) throw new Error('no instruction');
    await reconciler.markSent({ instructionId: instruction.id, transactionHash: '0xfeedbeef01' });
    // The crash: the transfer was booked under the instruction's key, the status was never written.
    const booked = await books.recordSettlement({ entity: 'defi', currency: 'BTC', direction: 'to_provider', amount: instruction.amount, occurredAt: '2025-03-19T10:00:00Z', idempotencyKey: `settlement:defi:BTC:${DAY}`, reference: '0xfeedbeef01' });
    const confirmed = await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T11:30:00Z' });
    expect(confirmed).toMatchObject({ status: 'confirmed', ledgerTransactionId: booked.transaction.id });
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'BTC' })).toBe('0.000000000000000000');
  });

  it('refuses to confirm with another transaction hash than the one the instruction was sent with, writing nothing', async () => {
    const result = await run(await buildReport(books, 'defi', DAY));
    const instruction = result.instructions[0];
    if (instruction === undefined) throw new Error('no instruction');
    await reconciler.markSent({ instructionId: instruction.id, transactionHash: '0xfeedbeef01' });
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef02' })).rejects.toMatchObject({ code: 'invalid_input', field: 'transactionHash', value: '0xfeedbeef02' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    expect(await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef01' })).toMatchObject({ status: 'confirmed', transactionHash: '0xfeedbeef01' });
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z', transactionHash: '0xfeedbeef02' })).rejects.toMatchObject({ field: 'transactionHash' });
  });

  it('books and confirms in one step, and refuses a bad occurredAt writing nothing', async () => {
    const result = await run(await buildReport(books, 'defi', DAY));
    const instruction = result.instructions[0];
    if (instruction === undefined) throw new Error('no instruction');
    await reconciler.markSent({ instructionId: instruction.id, transactionHash: '0xfeedbeef01' });
    await expect(reconciler.confirm({ instructionId: instruction.id, occurredAt: 'yesterday' })).rejects.toMatchObject({ field: 'occurredAt' });
    expect((await reconciler.instructions({ entity: 'defi' }))[0]?.status).toBe('sent');
    expect(await ledger.transactionByKey('defi', `settlement:defi:BTC:${DAY}`)).toBeUndefined();
    expect((await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T10:00:00Z' })).status).toBe('confirmed');
  });

  it('reports progress by rows (read, sync, diff), and refuses an onProgress that is not a function writing nothing', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const seen: { phase: string; rows: number }[] = [];
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report), onProgress: (progress) => seen.push({ ...progress }) });
    const phases = [...new Set(seen.map((item) => item.phase))];
    expect(phases).toEqual(['read', 'sync', 'diff']);
    const last = (phase: string) => seen.filter((item) => item.phase === phase).at(-1)?.rows;
    expect(last('read')).toBe(result.reportEntries);
    expect(last('diff')).toBe(result.reportEntries);
    for (const phase of phases) {
      const rows = seen.filter((item) => item.phase === phase).map((item) => item.rows);
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
    }
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report), onProgress: 'yes' as never })).rejects.toMatchObject({ code: 'invalid_input', field: 'onProgress', value: 'string' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });

  it('repairs a missing booking in one transaction: a failure at the break update leaves neither the booking nor the resolution', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a1', bookingId: 'b-lost', idempotencyKey: 'k-lost' });
    const missing = (await run(report)).breaks.find((value) => value.kind === 'missing_in_ledger');
    if (missing === undefined) throw new Error('no missing_in_ledger break');
    // The database refuses the break update after the booking was written in the same transaction (a crash between the two).
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER refuse_break_update BEFORE UPDATE ON reconcile_breaks BEGIN SELECT RAISE(ABORT, 'simulated crash'); END`.execute(ledger.db);
    } else {
      await sql`CREATE FUNCTION refuse_break_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$`.execute(ledger.db);
      await sql`CREATE TRIGGER refuse_break_update BEFORE UPDATE ON reconcile_breaks FOR EACH ROW EXECUTE FUNCTION refuse_break_update()`.execute(ledger.db);
    }
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.repairMissingBooking({ breakId: missing.id })).rejects.toThrow(/simulated crash/);
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    expect(await books.booking({ entity: 'defi', providerBookingId: 'b-lost' })).toBeUndefined();
    await sql`DROP TRIGGER refuse_break_update${sql.raw(dialect === 'sqlite' ? '' : ' ON reconcile_breaks')}`.execute(ledger.db);
    // The retry finishes the step: booked once, resolved with that transaction.
    const repaired = await reconciler.repairMissingBooking({ breakId: missing.id });
    const booked = await books.booking({ entity: 'defi', providerBookingId: 'b-lost' });
    expect(repaired).toMatchObject({ status: 'resolved', resolutionTransactionId: booked?.transactionId });
    expect(booked).toMatchObject({ kind: 'deposit', amount: '0.250000000000000000', earnAccountId: 'a1' });
    await expect(reconciler.repairMissingBooking({ breakId: missing.id })).rejects.toMatchObject({ code: 'invalid_transition' });
  });

  it('finishes repairMissingBooking after a crash between the booking and the break update', async () => {
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-000000000009', type: 'Deposit', currency: 'BTC', amount: '0.25', createdAt: '2025-03-18T11:00:00Z', accountId: 'a1', bookingId: 'b-lost', idempotencyKey: 'k-lost' });
    const missing = (await run(report)).breaks.find((value) => value.kind === 'missing_in_ledger');
    // The crash: the repair booked the deposit (same key) but never resolved the break.
    const booked = await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b-lost', amount: '0.25', occurredAt: '2025-03-18T11:00:00Z', idempotencyKey: 'k-lost', providerData: { source: 'daily report', reportVersion: 1, entry: report.transactions[report.transactions.length - 1] } });
    const repaired = await reconciler.repairMissingBooking({ breakId: missing?.id ?? 0 });
    expect(repaired).toMatchObject({ status: 'resolved', resolutionTransactionId: booked.transaction.id });
  });
});

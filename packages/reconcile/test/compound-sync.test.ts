/**
 * The report sync books interest, margin and fees as compound postings (one journal transaction
 * per kind, currency and instant, each line with its entry's provider id). These tests hold it to
 * what the per-entry sync guaranteed: a clean day reconciles clean, a re-run books nothing, books
 * written the older way (whole transactions) or by the accounting cycle are recognised, a refusal
 * after earlier batches were written writes nothing, and the exports show each line's provider id.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { EarnBooks, LINES_PER_TRANSACTION_MAX, formatInstant, formatUnits, nextAccountingDay, providerEntriesOfDayInBookOrder, runAccountingCycle, startOfAccountingDay } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, SYNC_BATCH_POSTINGS_MAX, loadReportObject } from '../src/index.js';
import { HLEDGER_ENTRIES_PER_PAGE_MAX, exportHledgerJournal, exportJournalCsv } from '../src/export/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';
import { memoryOutput } from './export-books.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };
const TABLES = ['ledger_accounts', 'journal_transactions', 'journal_entries', 'account_day_balances', 'earn_bookings', 'processed_reports', 'reconcile_breaks', 'settlement_positions', 'settlement_instructions'];

/** Every row of the given tables, in a stable order. */
async function snapshot(ledger: Ledger, tables: readonly string[] = TABLES): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of tables) {
    const result = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(ledger.db);
    rows[table] = result.rows.map((row) => JSON.stringify(row)).sort();
  }
  return rows;
}

const idsOf = (report: ReportJson, type: string) => report.transactions.filter((entry) => entry['type'] === type).map((entry) => String(entry['id']));

describe.each(DIALECTS)('report sync as compound postings on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;

  async function openAccounts(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
  }

  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }], currencyScales: { ETH: 8 } });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await openAccounts(3);
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b1', amount: '2.5', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'k1', providerData: {} });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a2', providerBookingId: 'b2', amount: '0.75', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k2', providerData: {} });
  });
  afterEach(async () => close());

  const run = (report: ReportJson) => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });

  /** The lines the journal holds for provider ids, as (transaction, kind, account kind, provider id). */
  async function storedLines() {
    return ledger.db
      .selectFrom('journal_entries as e')
      .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
      .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
      .select(['t.id', 't.kind', 't.provider_id as transaction_provider_id', 'e.provider_id', 'a.kind as account_kind', 'e.amount'])
      .where('t.kind', 'in', ['interest', 'partner_margin'])
      .orderBy('e.id')
      .execute();
  }

  it('books the day as one interest and one margin transaction, a line per entry, reconciles clean, and a re-run or a restatement books nothing', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const interestIds = idsOf(report, 'Interest');
    expect(interestIds).toHaveLength(3);
    const result = await run(report);
    expect(result).toMatchObject({ clean: true, synced: { interest: 3, partnerMargin: 1, fee: 0 } });
    const lines = await storedLines();
    const interest = lines.filter((line) => line.kind === 'interest');
    expect(new Set(interest.map((line) => line.id)).size).toBe(1);
    expect(interest.every((line) => line.transaction_provider_id === null)).toBe(true);
    expect(interest.filter((line) => line.account_kind === 'user').map((line) => line.provider_id).sort()).toEqual([...interestIds].sort());
    expect(interest.filter((line) => line.account_kind === 'earn_assets').map((line) => line.provider_id)).toEqual([null]);
    const margin = lines.filter((line) => line.kind === 'partner_margin');
    expect(margin.map((line) => [line.account_kind, line.provider_id])).toEqual([
      ['partner_margin_income', null],
      ['settlement', idsOf(report, 'PartnerMargin')[0]],
    ]);
    await ledger.verify({ entity: 'defi' });
    const journal = await snapshot(ledger, ['journal_transactions', 'journal_entries', 'ledger_accounts', 'account_day_balances']);
    const again = await run(report);
    expect(again).toMatchObject({ clean: true, reportStatus: 'exists', synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    const restated = await run({ ...report, id: `${report.id}-v2` });
    expect(restated).toMatchObject({ clean: true, reportVersion: 2, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    expect(await snapshot(ledger, ['journal_transactions', 'journal_entries', 'ledger_accounts', 'account_day_balances'])).toEqual(journal);
  });

  it('books the lines in ledger account order whatever the Earn account ids look like (opaque ids sort apart from the accounts)', async () => {
    // Opened in this order, so their ledger ids ascend while their Earn ids descend.
    for (const [n, earnAccountId] of ['zz', 'mm', 'aa'].entries()) {
      await books.registerUser({ partnerUserId: `q${n}`, earnUsers: [{ entity: 'defi', earnUserId: `v${n}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId, earnUserId: `v${n}`, providerProductId: 'btc', currency: 'BTC' });
      await books.recordDeposit({ entity: 'defi', earnAccountId, providerBookingId: `c${n}`, amount: '1.5', occurredAt: '2025-03-18T11:00:00Z', idempotencyKey: `kc${n}`, providerData: {} });
    }
    const report = await buildReport(books, 'defi', DAY);
    expect(idsOf(report, 'Interest')).toHaveLength(6);
    expect(await run(report)).toMatchObject({ clean: true, synced: { interest: 6, partnerMargin: 1 } });
    const userLines = await ledger.db
      .selectFrom('journal_entries as e')
      .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
      .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
      .select(['e.account_id'])
      .where('t.kind', '=', 'interest')
      .where('a.kind', '=', 'user')
      .orderBy('e.id')
      .execute();
    const accountIds = userLines.map((line) => line.account_id);
    expect(accountIds).toHaveLength(6);
    expect(accountIds).toEqual([...accountIds].sort((a, b) => a - b));
  });

  it('books margin in a currency of 8 decimals whether the report writes 8 or 18 of them, and confirms its settlement instruction', async () => {
    // ETH has 8 decimals in this ledger. Zeros past them are no precision: both entries book.
    const report = await buildReport(books, 'defi', DAY);
    const createdAt = formatInstant(startOfAccountingDay(nextAccountingDay(DAY), ZONE));
    report.transactions.push({ id: '00000000-0000-4000-8000-0000000e7401', type: 'PartnerMargin', currency: 'ETH', amount: '0.50000000', createdAt });
    report.transactions.push({ id: '00000000-0000-4000-8000-0000000e7402', type: 'PartnerMargin', currency: 'ETH', amount: '0.250000000000000000', createdAt });
    const first = await run(report);
    expect(first.synced).toEqual({ interest: 3, partnerMargin: 3, fee: 0 });
    const settlement = await ledger.systemAccount('defi', 'ETH', 'settlement');
    expect(await ledger.balance(settlement.id)).toBe('0.750000000000000000');
    // The report's header did not state ETH; with the books' figure, only the margin break is left
    // (no ETH product recomputes that margin), and once finance resolves it the day instructs.
    const eth = first.positions.find((position) => position.currency === 'ETH');
    if (eth === undefined) throw new Error('no ETH position');
    const restatement = { ...report, id: `${report.id}-v2`, balances: [...report.balances, { currency: 'ETH', outstandingBalance: eth.outstanding }] };
    const second = await run(restatement);
    expect(second.breaks.map((item) => [item.kind, item.currency])).toEqual([['margin_mismatch', 'ETH']]);
    await reconciler.resolveBreak({ breakId: second.breaks[0]?.id ?? 0, reason: 'ETH margin agreed with the provider' });
    const restated = await run(restatement);
    expect(restated).toMatchObject({ clean: true, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    const instruction = restated.instructions.find((item) => item.currency === 'ETH');
    if (instruction === undefined) throw new Error('no ETH instruction');
    // The provider owes the margin: it sends, the partner confirms what arrived.
    expect(instruction).toMatchObject({ direction: 'from_provider', amount: '0.750000000000000000', status: 'pending' });
    expect(await reconciler.confirm({ instructionId: instruction.id, occurredAt: '2025-03-19T11:30:00Z', transactionHash: '0xfeedbeefe7' })).toMatchObject({ status: 'confirmed' });
    expect(await books.outstandingBalance({ entity: 'defi', currency: 'ETH' })).toBe('0.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });

  it('repairs a missing ETH deposit (8 decimals) that the report writes with 18', async () => {
    await books.recordProduct({ entity: 'defi', providerProductId: 'eth', currency: 'ETH', name: 'ETH', effectiveDay: '2025-01-01', terms });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'e0', earnUserId: 'u0', providerProductId: 'eth', currency: 'ETH' });
    const report = await buildReport(books, 'defi', DAY);
    report.transactions.push({ id: '00000000-0000-4000-8000-0000000e7403', type: 'Deposit', currency: 'ETH', amount: '0.500000000000000000', createdAt: '2025-03-18T11:00:00Z', accountId: 'e0', bookingId: 'b-eth', idempotencyKey: 'k-eth' });
    const missing = (await run(report)).breaks.find((value) => value.kind === 'missing_in_ledger');
    if (missing === undefined) throw new Error('no missing_in_ledger break');
    expect(await reconciler.repairMissingBooking({ breakId: missing.id })).toMatchObject({ status: 'resolved' });
    expect(await books.booking({ entity: 'defi', providerBookingId: 'b-eth' })).toMatchObject({ kind: 'deposit', amount: '0.500000000000000000', earnAccountId: 'e0' });
    await ledger.verify({ entity: 'defi' });
  });

  it('recognises entries booked the older way (whole transactions): mixed books reconcile clean, nothing is booked twice', async () => {
    const report = await buildReport(books, 'defi', DAY);
    const creditedAt = formatInstant(startOfAccountingDay(nextAccountingDay(DAY), ZONE));
    const old = report.transactions.find((entry) => entry['type'] === 'Interest' && entry['accountId'] === 'a1');
    const oldMargin = report.transactions.find((entry) => entry['type'] === 'PartnerMargin');
    if (old === undefined || oldMargin === undefined) throw new Error('the report has no interest for a1 or no margin');
    // What the per-entry sync wrote: one whole transaction per entry, carrying its provider id.
    await books.recordInterest({ entity: 'defi', earnAccountId: 'a1', providerEntryId: String(old['id']), amount: String(old['amount']), occurredAt: creditedAt, interestDay: DAY });
    await books.recordPartnerMargin({ entity: 'defi', currency: 'BTC', providerEntryId: String(oldMargin['id']), amount: String(oldMargin['amount']), occurredAt: creditedAt, interestDay: DAY });
    const result = await run(report);
    expect(result).toMatchObject({ clean: true, synced: { interest: 2, partnerMargin: 0, fee: 0 } });
    const page = await providerEntriesOfDayInBookOrder(ledger, { entity: 'defi', day: nextAccountingDay(DAY), after: null, limit: 100, kinds: ['interest'] });
    expect(page.next).toBeNull();
    const booked = page.entries;
    expect(booked.map((entry) => entry.providerId).sort()).toEqual(idsOf(report, 'Interest').sort());
    expect(new Set(booked.map((entry) => entry.transactionId)).size).toBe(2);
    const again = await run({ ...report, id: `${report.id}-v2` });
    expect(again).toMatchObject({ clean: true, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    await ledger.verify({ entity: 'defi' });
  });

  it('recognises the interest the accounting cycle booked as compound lines: reconciles clean and books nothing', async () => {
    await runAccountingCycle({ books, entity: 'defi', day: DAY, now: () => new Date('2025-03-19T01:00:00Z') });
    const report = await buildReport(books, 'defi', DAY);
    const before = await snapshot(ledger, ['journal_transactions', 'journal_entries']);
    const result = await run(report);
    expect(result).toMatchObject({ clean: true, synced: { interest: 0, partnerMargin: 0, fee: 0 } });
    expect(await snapshot(ledger, ['journal_transactions', 'journal_entries'])).toEqual(before);
  });

  it('an interest line that would take its account beyond what the books store names that entry, and writes nothing', async () => {
    // The largest deposit the books take, then interest on top of it.
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b-huge', amount: '999999999999999999999990', occurredAt: '2025-03-18T11:00:00Z', idempotencyKey: 'k-huge', providerData: {} });
    const report = await buildReport(books, 'defi', DAY);
    const interest = report.transactions.find((entry) => entry['type'] === 'Interest' && entry['accountId'] === 'a1');
    expect(interest).toBeDefined();
    const before = await snapshot(ledger);
    const error = await run(report).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    // The ledger's refusal names the account in its context: the reconciler's keeps it, with the
    // report entry in place of the compound posting's line index (the sync's own batching).
    expect(error).toMatchObject({ code: 'invalid_report', field: 'lines', context: { accountId: expect.stringMatching(/^\d+$/), currency: 'BTC', reportEntryId: interest?.['id'] } });
    expect((error as ReconcileError).context).not.toHaveProperty('line');
    expect((error as Error).message).toContain(`report entry ${String(interest?.['id'])} cannot be booked`);
    expect(await snapshot(ledger)).toEqual(before);
  });

  it('writes nothing when an entry is refused after earlier batches were booked in the day\'s transaction', async () => {
    await openAccounts(SYNC_BATCH_POSTINGS_MAX + 5);
    const report = await buildReport(books, 'defi', DAY);
    const createdAt = formatInstant(startOfAccountingDay(nextAccountingDay(DAY), ZONE));
    // Interest for accounts without a balance (the diff would call it unexpected; the sync books it).
    for (let i = 3; i < SYNC_BATCH_POSTINGS_MAX + 5; i++) {
      report.transactions.push({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'Interest', currency: 'BTC', amount: '0.000001', createdAt, accountId: `a${i}` });
    }
    // Sorted last (after every other id), so the first batch of 1,000 lines is written before it is read.
    report.transactions.push({ id: 'ffffffff-ffff-4fff-bfff-ffffffffffff', type: 'PartnerMargin', currency: 'ETH', amount: '0.000000000000000001', createdAt });
    const before = await snapshot(ledger);
    const error = await run(report).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_report', field: 'amount' });
    expect((error as Error).message).toContain('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(await snapshot(ledger)).toEqual(before);
    // Without the bad entry the same day books every line, in more than one transaction.
    report.transactions.pop();
    const result = await run(report);
    expect(result.synced.interest).toBe(SYNC_BATCH_POSTINGS_MAX + 5);
    const transactions = await ledger.db.selectFrom('journal_transactions').select('id').where('kind', '=', 'interest').execute();
    expect(transactions.length).toBeGreaterThan(1);
    await ledger.verify({ entity: 'defi' });
  }, 120_000);

  it('exports each compound line with its own provider id (journal.csv and the hledger journal)', async () => {
    const report = await buildReport(books, 'defi', DAY);
    await run(report);
    const csv = memoryOutput();
    await exportJournalCsv({ db: ledger.db, entity: 'defi', fromDay: DAY, toDay: nextAccountingDay(DAY), output: csv.output });
    const rows = csv.bytes().toString('utf8').split('\r\n').filter((line) => line !== '');
    const header = rows[0]?.split(',') ?? [];
    const column = (name: string) => header.indexOf(name);
    const interestRows = rows.slice(1).map((line) => line.split(',')).filter((cells) => cells[column('kind')] === '"interest"');
    const userRows = interestRows.filter((cells) => cells[column('account_kind')] === '"user"');
    expect(userRows.map((cells) => cells[column('provider_id')]).sort()).toEqual(idsOf(report, 'Interest').map((id) => `"${id}"`).sort());
    expect(interestRows.filter((cells) => cells[column('account_kind')] === '"earn_assets"').map((cells) => cells[column('provider_id')])).toEqual(['""']);
    const journal = memoryOutput();
    await exportHledgerJournal({ db: ledger.db, entity: 'defi', fromDay: DAY, toDay: nextAccountingDay(DAY), output: journal.output });
    const text = journal.bytes().toString('utf8');
    for (const id of idsOf(report, 'Interest')) expect(text).toMatch(new RegExp(`\\n    defi:user:a\\d  -\\d+\\.\\d{18} BTC\\n      ; provider_id: ${id}\\n`));
  });

  it('cuts hledger pages of compound transactions at the entry bound, skipping and repeating none', async () => {
    const earnAssets = (await ledger.systemAccount('defi', 'BTC', 'earn_assets')).id;
    const users: number[] = [];
    for (let i = 0; i < LINES_PER_TRANSACTION_MAX; i++) users.push((await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `user:bulk${i}`, kind: 'user' })).id);
    // More compound transactions of 1,001 entries than one page of entries holds.
    const transactions = Math.ceil(HLEDGER_ENTRIES_PER_PAGE_MAX / (LINES_PER_TRANSACTION_MAX + 1)) + 1;
    for (let t = 0; t < transactions; t++) {
      await ledger.postLines({ entity: 'defi', kind: 'interest', occurredAt: '2025-03-19T00:00:00Z', side: 'credit', contraAccountId: earnAssets, metadata: { interestDay: DAY }, lines: users.map((accountId, i) => ({ accountId, amount: formatUnits(BigInt(i + 1)), providerId: `bulk-${t}-${i}` })) });
    }
    const journal = memoryOutput();
    const result = await exportHledgerJournal({ db: ledger.db, entity: 'defi', fromDay: nextAccountingDay(DAY), toDay: nextAccountingDay(DAY), output: journal.output, pageSize: 1_000 });
    expect(result.rows).toBe(transactions);
    expect(result.postings).toBe(transactions * (LINES_PER_TRANSACTION_MAX + 1));
    const text = journal.bytes().toString('utf8');
    const titles = text.split('\n').filter((line) => /^\d{4}-\d{2}-\d{2}/.test(line));
    expect(new Set(titles).size).toBe(transactions);
    expect(text.match(/; provider_id: bulk-/g)?.length).toBe(transactions * LINES_PER_TRANSACTION_MAX);
  }, 120_000);
});

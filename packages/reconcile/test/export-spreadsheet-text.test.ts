/**
 * The spreadsheet profile (`excel: true`) and provider text that looks like a number or a date
 * (review of session 25): a spreadsheet opening the CSV reads an id `00012345678901234567890` as
 * the number 1.23457E+22, `0042` as 42, `1e5` as 100000 and `3-18` as the 18th of March, so the
 * audit file shows (and, saved again, keeps) another id than the books hold. In that profile such
 * a text cell is written as a text formula (`="0042"`), as the amounts are; the RFC 4180 profile
 * keeps the text as it is, and formula text stays escaped in both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import { exportBreaksCsv, exportJournalCsv, exportSettlementsCsv } from '../src/export/index.js';
import { spreadsheetTextCell } from '../src/export/csv-sink.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;
const LONG_ID = '00012345678901234567890';
const HASH = '12345678901234567890';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

/** Rows of CSV text (quoted cells may hold the delimiter, doubled quotes and line breaks), as records by header. */
function records(text: string, delimiter = ','): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index] as string;
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        cell += '"';
        index++;
      } else if (character === '"') quoted = false;
      else cell += character;
    } else if (character === '"') quoted = true;
    else if (character === delimiter) {
      row.push(cell);
      cell = '';
    } else if (character === '\r' && text[index + 1] === '\n') {
      rows.push([...row, cell]);
      row = [];
      cell = '';
      index++;
    } else cell += character;
  }
  const [header = [], ...body] = rows;
  return body.map((values) => Object.fromEntries(header.map((name, index) => [name, values[index] ?? ''])));
}

describe.each(DIALECTS)('provider text that a spreadsheet would read as a number, on %s', (dialect) => {
  let books: TestBooks;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    const earn = new EarnBooks(books.ledger, { now: () => new Date('2025-03-21T00:00:00.000Z') });
    await earn.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await earn.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    await earn.openEarnAccount({ entity: 'defi', earnAccountId: '0042', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    await earn.recordDeposit({ entity: 'defi', earnAccountId: '0042', providerBookingId: LONG_ID, amount: '1.5', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-1', providerData: { id: LONG_ID } });
    const stamp = '2025-03-21T00:00:00.000Z';
    await books.db
      .insertInto('reconcile_breaks')
      .values({ entity: 'defi', accounting_day: '2025-03-18', kind: 'account_mismatch', fingerprint: 'f-1', provider_id: '1e5', earn_account_id: '0042', currency: 'BTC', expected: '0042', actual: '3-18', details: '{}', status: 'open', resolution_reason: '=HYPERLINK("x")', resolution_transaction_id: null, report_version: 1, created_at: stamp, resolved_at: null })
      .execute();
    await books.db
      .insertInto('settlement_positions')
      .values({ entity: 'defi', currency: 'BTC', accounting_day: '2025-03-18', payables: '1.5', receivables: '0', net: '-1.5', carried_in: '0', outstanding: '-1.5', settled: '-1.5', carried_out: '0', reported_outstanding: '-1.5', computed_at: stamp })
      .execute();
    await books.db
      .insertInto('settlement_instructions')
      .values({ entity: 'defi', currency: 'BTC', accounting_day: '2025-03-18', direction: 'to_provider', amount: '1.5', wallet: '0x42', status: 'sent', transaction_hash: HASH, ledger_transaction_id: null, created_at: stamp, updated_at: stamp })
      .execute();
  });
  afterAll(async () => books.close());

  async function exported(excel: boolean) {
    const [journal, breaks, settlements] = [memoryOutput(), memoryOutput(), memoryOutput()];
    const common = { db: books.db, entity: 'defi', ...RANGE, excel, bom: false } as const;
    await exportJournalCsv({ ...common, output: journal.output });
    await exportBreaksCsv({ ...common, output: breaks.output });
    await exportSettlementsCsv({ ...common, output: settlements.output });
    return {
      deposit: records(journal.bytes().toString('utf8')).find((row) => row['kind'] === 'deposit' && row['account_kind'] === 'user'),
      break: records(breaks.bytes().toString('utf8'))[0],
      settlement: records(settlements.bytes().toString('utf8'))[0],
    };
  }

  it('the spreadsheet profile writes them as text formulas, and keeps escaping formula text', async () => {
    const { deposit, break: found, settlement } = await exported(true);
    expect(deposit).toMatchObject({ provider_id: `="${LONG_ID}"`, account: 'user:0042', credit: '="1.500000000000000000"' });
    expect(found).toMatchObject({ provider_id: '="1e5"', earn_account_id: '="0042"', expected: '="0042"', actual: '="3-18"', resolution_reason: `'=HYPERLINK("x")` });
    expect(settlement).toMatchObject({ transaction_hash: `="${HASH}"`, instruction_amount: '="1.500000000000000000"', wallet: '0x42' });
  });

  it('the RFC 4180 profile keeps the text as the books hold it', async () => {
    const { deposit, break: found, settlement } = await exported(false);
    expect(deposit).toMatchObject({ provider_id: LONG_ID, account: 'user:0042', credit: '1.500000000000000000' });
    expect(found).toMatchObject({ provider_id: '1e5', earn_account_id: '0042', expected: '0042', actual: '3-18', resolution_reason: `'=HYPERLINK("x")` });
    expect(settlement).toMatchObject({ transaction_hash: HASH, instruction_amount: '1.500000000000000000' });
  });
});

// A review (session 44): month names, AM/PM times, currency signs and error literals slipped
// through the pattern of digits and punctuation.
describe('spreadsheetTextCell', () => {
  it.each(['SEPT2', 'MARCH1', '18-Mar', 'Mar-18', '1 Jan 2025', 'Jun 5', '12:30 PM', '9am', '$1,000', '(€5)', '5 €', '#N/A', '#DIV/0!', '#value!', '0042', '1e5', '3-18', 'TRUE'])('writes %j, which a spreadsheet reads as a date, a number or an error, as a text formula', (cell) => {
    expect(spreadsheetTextCell(cell)).toBe(`="${cell}"`);
  });

  it.each(['acc-1', 'Mar', 'march', 'Sept', 'may-be', 'dec-1-x', 'pm', 'AM', '#1', 'user:0042', "'=1+1", 'e3f5c1f9-4c42-557b-a861-3717b3170a95'])('keeps %j as it is', (cell) => {
    expect(spreadsheetTextCell(cell)).toBe(cell);
  });
});

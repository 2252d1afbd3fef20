/**
 * The streaming reader refuses what `parseReport` refuses about the `transactions` array itself:
 * missing, not an array, or given twice. Before, each was read as a report of no entries (or of
 * the first array's), and `reconcileDay` recorded it as processed (end to end, with the books
 * unchanged: rejection.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseReport } from '../src/index.js';
import { readJsonChunks } from '../src/report-stream.js';

const HEADER = { id: 'r1', type: 'Report', entity: 'defi', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: '2025-03-19T00:00:00Z', balances: [] };
const ENTRY = { id: '00000000-0000-4000-8000-000000000001', type: 'Deposit', currency: 'BTC', amount: '1', createdAt: '2025-03-18T10:00:00Z', accountId: 'a0', bookingId: 'b0' };

async function* chunksOf(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function streamed(text: string, size = 7) {
  const seen: unknown[] = [];
  const read = await readJsonChunks(chunksOf(text, size), 'test', async (batch) => {
    seen.push(...batch);
  });
  return { read, seen };
}

const refusals: [string, string][] = [
  ['no transactions key', JSON.stringify(HEADER)],
  ['a misspelt key', JSON.stringify({ ...HEADER, Transactions: [ENTRY] })],
  ['transactions null', JSON.stringify({ ...HEADER, transactions: null })],
  ['transactions a string', JSON.stringify({ ...HEADER, transactions: 'x' })],
  ['transactions a number', JSON.stringify({ ...HEADER, transactions: 3 })],
  ['transactions an empty object', JSON.stringify({ ...HEADER, transactions: {} })],
  ['transactions an object', JSON.stringify({ ...HEADER, transactions: { 0: ENTRY } })],
  ['a second, empty, transactions array', `${JSON.stringify({ ...HEADER, transactions: [ENTRY] }).slice(0, -1)},"transactions":[]}`],
  ['a second transactions array first empty', `${JSON.stringify({ ...HEADER, transactions: [] }).slice(0, -1)},"transactions":[${JSON.stringify(ENTRY)}]}`],
  ['a second transactions null', `${JSON.stringify({ ...HEADER, transactions: [ENTRY] }).slice(0, -1)},"transactions":null}`],
];

describe('the transactions array of a streamed report', () => {
  for (const [name, text] of refusals) {
    it(`refuses ${name}, in any chunking`, async () => {
      for (const size of [1, 5, 64, text.length]) {
        await expect(streamed(text, size)).rejects.toMatchObject({ code: 'invalid_report', field: 'transactions' });
      }
    });
  }

  it('reads an empty array and a normal one as before', async () => {
    expect((await streamed(JSON.stringify({ ...HEADER, transactions: [] }))).read.entries).toBe(0);
    const { read, seen } = await streamed(JSON.stringify({ ...HEADER, transactions: [ENTRY, { ...ENTRY, id: '00000000-0000-4000-8000-000000000002' }] }));
    expect(read.entries).toBe(2);
    expect(seen).toHaveLength(2);
    // The in-memory reader agrees on both.
    expect(parseReport(JSON.stringify({ ...HEADER, transactions: [ENTRY] }), 'test').report.transactions).toHaveLength(1);
  });

  it('a key spelt with escapes is the same key', async () => {
    const text = JSON.stringify({ ...HEADER, transactions: [ENTRY] }).replace('"transactions"', '"transact\\u0069ons"');
    expect((await streamed(text)).read.entries).toBe(1);
    expect(parseReport(text, 'test').report.transactions).toHaveLength(1);
  });
});

describe('parseReport on the same shapes', () => {
  for (const [name, text] of refusals.slice(0, 7)) {
    it(`refuses ${name}`, () => {
      expect(() => parseReport(text, 'test')).toThrow();
    });
  }
});

describe('report bytes that are not UTF-8', () => {
  it('are refused in memory as the stream refuses them', async () => {
    const bytes = Buffer.from(JSON.stringify({ ...HEADER, transactions: [{ ...ENTRY, accountId: 'aXX' }] }));
    bytes[bytes.indexOf('XX')] = 0xff;
    expect(() => parseReport(bytes, 'test')).toThrow(expect.objectContaining({ code: 'invalid_report', field: 'report' }));
    await expect(streamed(bytes.toString('latin1'), 7).then(() => 'read')).resolves.toBe('read');
    async function* raw(): AsyncGenerator<Buffer> {
      yield bytes;
    }
    await expect(readJsonChunks(raw(), 'test', async () => undefined)).rejects.toMatchObject({ code: 'invalid_report' });
  });

  it('UTF-8 text hashes as its bytes, as before', () => {
    const text = JSON.stringify({ ...HEADER, transactions: [{ ...ENTRY, accountId: 'a-é-😀' }] });
    expect(parseReport(Buffer.from(text), 'test').contentHash).toBe(parseReport(text, 'test').contentHash);
  });
});

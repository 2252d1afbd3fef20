/**
 * The streamed JSON report is carved into the `transactions` array's elements (parsed by
 * `JSON.parse`) and the rest (the streaming parser): whatever the chunks, the outcome is the same
 * as reading the bytes whole, and the same as `JSON.parse` of the whole text validated entry by
 * entry. Cuts at every byte position of reports whose strings hold quotes, backslashes, brackets
 * and multi-byte characters; hostile variants (truncated, bad separators, bytes that are not
 * UTF-8, escaped keys, nesting) and random one-byte mutations.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { REPORT_DEPTH_MAX, ReconcileError, checkReportEntry, checkReportHeader } from '../src/index.js';
import { readJsonChunks } from '../src/report-stream.js';
import { checkUnknownHeaderField } from '../src/report-entry.js';

const HEADER = { id: 'r-1', type: 'Report', entity: 'defi', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: '2025-03-19T00:01:00.000Z' };
const BALANCES = [{ currency: 'BTC', outstandingBalance: '-1.5' }];
const HEADER_FIELDS = ['id', 'type', 'entity', 'accountingDay', 'timeZone', 'generatedAt', 'balances'];

function entry(index: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`, type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T12:00:00Z', accountId: `a${index}`, ...extra };
}

/** What reading a report came to: its entries and header, or the error's code. */
type Outcome = { ok: true; entries: unknown[]; header: unknown } | { ok: false; code: string; field?: string | undefined; path?: string | undefined };

async function readCut(bytes: Buffer, cuts: readonly number[]): Promise<Outcome> {
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort((a, b) => a - b);
  async function* chunks(): AsyncGenerator<Buffer> {
    let from = 0;
    for (const point of [...points, bytes.length]) {
      // A copy: a chunk never shares memory with the next one, as with a file stream.
      yield Buffer.from(bytes.subarray(from, point));
      from = point;
    }
  }
  const entries: unknown[] = [];
  try {
    const read = await readJsonChunks(chunks(), 'test', (batch) => {
      entries.push(...batch);
    });
    expect(read.entries).toBe(entries.length);
    return { ok: true, entries, header: read.header };
  } catch (error) {
    if (!(error instanceof ReconcileError)) throw error;
    return { ok: false, code: error.code, field: error.field, path: error.path };
  }
}

/** The same bytes read whole by JSON.parse, validated as the stream validates them. */
function oracle(bytes: Buffer): Outcome {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, code: 'invalid_report' };
  }
  try {
    const fields = typeof document === 'object' && document !== null && !Array.isArray(document) ? (document as Record<string, unknown>) : {};
    const transactions = fields['transactions'];
    // The contract's one transactions array (a report without one, or with another value there, is refused).
    if (!Array.isArray(transactions)) return { ok: false, code: 'invalid_report' };
    const entries = transactions.map((value, index) => checkReportEntry(value, index, 'test'));
    // Fields the contract does not name are text-checked too, as a report held in memory is.
    for (const [key, value] of Object.entries(fields)) if (key !== 'transactions' && !(HEADER_FIELDS as readonly string[]).includes(key)) checkUnknownHeaderField('test', key, value);
    const header = checkReportHeader({ ...Object.fromEntries(HEADER_FIELDS.filter((field) => Object.hasOwn(fields, field)).map((field) => [field, fields[field]])), transactions: [] }, 'test');
    return { ok: true, entries, header };
  } catch (error) {
    if (!(error instanceof ReconcileError)) throw error;
    return { ok: false, code: error.code };
  }
}

const bytesOf = (text: string) => Buffer.from(text, 'utf8');
const reportText = (transactions: unknown[], indent?: string | number) => JSON.stringify({ ...HEADER, transactions, balances: BALANCES }, null, indent);

/** Strings that make the scanner's life hard: escapes, brackets, commas, multi-byte characters. */
const TRICKY = ['"', '\\', '\\"', '\\\\', ']', '[', '{', '}', ',', ':', 'é', '€', '😀', '\uFFFD', 'a', ' ', '/', '\u2028'];
const tricky = fc.array(fc.constantFrom(...TRICKY), { maxLength: 8 }).map((parts) => parts.join(''));
const memo: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(tricky, tie('value'), { maxKeys: 3 })),
})).value;
const entries = fc.array(fc.record({ key: tricky, memo, type: fc.constantFrom('Interest', 'Deposit', 'Fee', 'Settlement', 'Ünknown ]"') }), { minLength: 1, maxLength: 6 }).map((specs) =>
  specs.map((spec, index) => entry(index, { type: spec.type, idempotencyKey: spec.key, memo: spec.memo })),
);
const indent = fc.constantFrom(undefined, 1, '\t', '\r\n ');

/** A report whose strings hold every tricky piece, written with white space between elements. */
const FIXED = reportText([entry(0, { idempotencyKey: TRICKY.join(''), memo: { '"]': [1, -2.5e3, true, null, { x: '\\' }], '\u005d': '€😀' } }), entry(1), entry(2, { idempotencyKey: 'ends in a backslash \\' })], 1);

/** Hostile variants, each read whole and cut at every position. */
const HOSTILE: Record<string, Buffer> = {
  valid: bytesOf(FIXED),
  truncated: bytesOf(FIXED.slice(0, -7)),
  trailingComma: bytesOf(reportText([entry(0)]).replace('}],', '},],')),
  leadingComma: bytesOf(reportText([entry(0)]).replace('[{', '[,{')),
  missingComma: bytesOf(reportText([entry(0), entry(1)]).replace('},{', '} {')),
  doubleComma: bytesOf(reportText([entry(0), entry(1)]).replace('},{', '},,{')),
  trailingGarbage: bytesOf(`${reportText([entry(0)])} x`),
  secondArray: bytesOf(reportText([entry(0)]).replace('"balances"', `"transactions":[${JSON.stringify(entry(1))}],"balances"`)),
  escapedKey: bytesOf(reportText([entry(0)]).replace('"transactions"', '"transaction\\u0073"')),
  objectTransactions: bytesOf(reportText([]).replace('"transactions":[]', `"transactions":{"a":${JSON.stringify(entry(0))}}`)),
  badEntry: bytesOf(reportText([entry(0), { ...entry(1), amount: 12 }])),
  scalarEntry: bytesOf(reportText([entry(0), 5, 'x'])),
  controlCharacter: bytesOf(reportText([entry(0), entry(1, { idempotencyKey: 'k\n' })])),
  loneSurrogate: bytesOf(reportText([entry(0, { accountId: 'a\ud800' })])),
  notUtf8: Buffer.concat([bytesOf(reportText([entry(0, { accountId: 'aX' })]).split('aX')[0] ?? ''), Buffer.from([0x61, 0xff]), bytesOf(reportText([entry(0, { accountId: 'aX' })]).split('aX')[1] ?? '')]),
  encodedSurrogate: Buffer.concat([bytesOf(reportText([entry(0, { accountId: 'aX' })]).split('aX')[0] ?? ''), Buffer.from([0xed, 0xa0, 0x80]), bytesOf(reportText([entry(0, { accountId: 'aX' })]).split('aX')[1] ?? '')]),
  tooDeep: bytesOf(reportText([entry(0, { memo: JSON.parse(`${'['.repeat(REPORT_DEPTH_MAX)}${']'.repeat(REPORT_DEPTH_MAX)}`) as unknown })])),
  bom: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf(reportText([entry(0)]))]),
};

describe('the streamed report is carved at element boundaries whatever the chunks', () => {
  it.each(Object.keys(HOSTILE))('%s: a cut at every byte position reads as the whole', async (name) => {
    const bytes = HOSTILE[name] as Buffer;
    const whole = await readCut(bytes, []);
    for (let cut = 1; cut < bytes.length; cut++) expect(await readCut(bytes, [cut])).toEqual(whole);
    // One byte at a time: every boundary at once.
    expect(await readCut(bytes, Array.from({ length: bytes.length }, (_, index) => index))).toEqual(whole);
  });

  it('reads the hostile variants as before: the valid ones whole, the others refused typed', async () => {
    const outcomes = Object.fromEntries(await Promise.all(Object.entries(HOSTILE).map(async ([name, bytes]) => [name, await readCut(bytes, [])] as const)));
    const accepted = Object.entries(outcomes).filter(([, outcome]) => outcome.ok).map(([name]) => name);
    expect(accepted.sort()).toEqual(['bom', 'escapedKey', 'valid']);
    expect(outcomes['valid']).toEqual(oracle(HOSTILE['valid'] as Buffer));
    expect(outcomes['secondArray']).toMatchObject({ code: 'invalid_report', field: 'transactions' });
    expect(outcomes['objectTransactions']).toMatchObject({ code: 'invalid_report', field: 'transactions' });
    expect(outcomes['badEntry']).toMatchObject({ code: 'invalid_report', path: 'transactions[1].amount' });
    expect(outcomes['controlCharacter']).toMatchObject({ code: 'invalid_report', path: 'transactions[1].idempotencyKey' });
    expect(outcomes['loneSurrogate']).toMatchObject({ code: 'invalid_report', path: 'transactions[0].accountId' });
    for (const name of ['truncated', 'trailingComma', 'leadingComma', 'missingComma', 'doubleComma', 'trailingGarbage', 'notUtf8', 'encodedSurrogate', 'tooDeep']) {
      expect(outcomes[name], name).toMatchObject({ ok: false, code: 'invalid_report', field: 'report' });
    }
  });

  it('agrees with JSON.parse of the whole text, for any report and any cuts', async () => {
    await fc.assert(
      fc.asyncProperty(entries, indent, fc.array(fc.nat(), { maxLength: 12 }), async (transactions, space, cuts) => {
        const bytes = bytesOf(reportText(transactions, space));
        const expected = oracle(bytes);
        expect(expected.ok).toBe(true);
        expect(await readCut(bytes, cuts.map((cut) => cut % bytes.length))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts or refuses a report with one byte changed as JSON.parse does, whatever the cuts', async () => {
    const mutation = fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'replace', 'delete'), byte: fc.constantFrom(...'"\\,[]{}: x1\n'.split('').map((char) => char.charCodeAt(0)), 0xff, 0xc3, 0x80) });
    await fc.assert(
      fc.asyncProperty(entries, indent, mutation, fc.array(fc.nat(), { maxLength: 8 }), async (transactions, space, change, cuts) => {
        const original = bytesOf(reportText(transactions, space));
        const at = change.at % original.length;
        const tail = original.subarray(change.kind === 'insert' ? at : at + 1);
        const bytes = Buffer.concat([original.subarray(0, at), change.kind === 'delete' ? Buffer.alloc(0) : Buffer.from([change.byte]), tail]);
        const whole = await readCut(bytes, []);
        expect(await readCut(bytes, cuts.map((cut) => cut % bytes.length))).toEqual(whole);
        const expected = oracle(bytes);
        expect(whole.ok).toBe(expected.ok);
        if (expected.ok) expect(whole).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

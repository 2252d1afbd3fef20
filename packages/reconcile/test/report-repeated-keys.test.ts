/**
 * A key written twice in one JSON object of a report (`"amount":"0.1","amount":"5"`, two
 * `balances`) was read as "the last one wins" by `JSON.parse` (in memory, and for every entry of
 * the streamed reader) and by the streaming parser (the header): for money that is ambiguous, so
 * every reader refuses the report whole, naming the path and the key, and writes nothing. A
 * `__proto__` key was dropped by the streamed reader and kept in memory: both refuse it now (a
 * report has no such field). Found in review (session h1).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { REPORT_DEPTH_MAX, REPORT_FIELDS_MAX, ReconcileError, Reconciler, loadReportObject, openReportFile, parseReport, readReportFile } from '../src/index.js';
import { readJsonChunks, readReportEntries } from '../src/report-stream.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { BALANCES, HEADER, entry, reportText, withFile } from './report-readers.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

type Refusal = { ok: true; entries: number } | { ok: false; code: string | undefined; field: string | undefined; path: string | undefined; message: string; typed: boolean };

async function refusal(run: () => Promise<number>): Promise<Refusal> {
  try {
    return { ok: true, entries: await run() };
  } catch (error) {
    const typed = error instanceof ReconcileError;
    const reconcile = typed ? (error as ReconcileError) : undefined;
    return { ok: false, typed, code: reconcile?.code, field: reconcile?.field, path: reconcile?.path, message: (error as Error).message };
  }
}

async function countEntries(input: Parameters<typeof readReportEntries>[0]): Promise<number> {
  let count = 0;
  await readReportEntries(input, (batch) => {
    count += batch.length;
  });
  return count;
}

/** The outcome of the three readers on one text: streamed JSON, in memory from a file, in memory from the text. */
async function readers(text: string): Promise<{ streamed: Refusal; file: Refusal; parsed: Refusal }> {
  return withFile('r.json', text, async (path) => ({
    streamed: await refusal(async () => countEntries(await openReportFile(path))),
    file: await refusal(async () => countEntries(await readReportFile(path))),
    parsed: await refusal(async () => countEntries(parseReport(text, 'text'))),
  }));
}

const entries = Array.from({ length: 14 }, (_unused, index) => entry(index));
/** The text of entry `index`'s amount field, as `reportText` writes it. */
const amountOf = (index: number) => `"accountId":"a${index}"`;

describe('a repeated key in a report entry is refused by every reader, naming its path and key', () => {
  it.each([
    ['the amount written twice, the second larger', (text: string) => text.replace(amountOf(12), `"amount":"5",${amountOf(12)}`), 'transactions[12].amount', 'amount'],
    ['the amount written twice, the second spelled with an escape', (text: string) => text.replace(amountOf(12), `"amo\\u0075nt":"5",${amountOf(12)}`), 'transactions[12].amount', 'amount'],
    ['the id written twice', (text: string) => text.replace(amountOf(3), `"id":"00000000-0000-4000-8000-000000000099",${amountOf(3)}`), 'transactions[3].id', 'id'],
    ['the amount written twice in an entry holding U+FFFD (read one entry at a time)', (text: string) => text.replace(amountOf(7), `"memo":"\uFFFD","amount":"5",${amountOf(7)}`), 'transactions[7].amount', 'amount'],
    ['a key repeated inside an unknown nested field', (text: string) => text.replace(amountOf(5), `"memo":{"note":"x","list":[{"a":1,"a":2}]},${amountOf(5)}`), 'transactions[5].memo.list[0].a', 'a'],
  ])('%s', async (_name, edit, path, key) => {
    const text = edit(reportText(entries));
    // JSON.parse alone takes the text and keeps one of the two values.
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    const outcome = await readers(text);
    for (const reader of [outcome.streamed, outcome.file, outcome.parsed]) {
      expect(reader).toMatchObject({ ok: false, typed: true, code: 'invalid_report', path, field: key });
      if (!reader.ok) expect(reader.message).toContain(`"${key}"`);
    }
  });

  it('a repeated key holding a bidi override or U+2028 is named escaped, by every reader', async () => {
    const text = reportText(entries).replace(amountOf(4), `"x\u202ey\u2028":1,"x\u202ey\u2028":2,${amountOf(4)}`);
    const outcome = await readers(text);
    for (const reader of [outcome.streamed, outcome.file, outcome.parsed]) {
      expect(reader).toMatchObject({ ok: false, typed: true, code: 'invalid_report', field: 'x\\u202ey\\u2028' });
      if (!reader.ok) expect(reader.message).not.toMatch(/[\u202e\u2028]/);
    }
  });

  it('an entry repeating a key is refused in NDJSON too', async () => {
    const lines = [JSON.stringify({ ...HEADER, balances: BALANCES }), JSON.stringify(entry(0)), JSON.stringify(entry(1)).replace('"accountId"', '"amount":"5","accountId"')];
    const outcome = await withFile('r.ndjson', lines.join('\n'), async (path) => refusal(async () => countEntries(await openReportFile(path))));
    expect(outcome).toMatchObject({ ok: false, typed: true, code: 'invalid_report', path: 'transactions[1].amount', field: 'amount' });
  });

  it('the streamed reader finds it wherever the chunks are cut', async () => {
    const text = reportText([entry(0), entry(1)]).replace(amountOf(1), `"amount":"5",${amountOf(1)}`);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      async function* chunks(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, cut);
        yield bytes.subarray(cut);
      }
      const outcome = await refusal(async () => (await readJsonChunks(chunks(), 'test', () => undefined)).entries);
      expect(outcome, `cut at ${cut}`).toMatchObject({ ok: false, code: 'invalid_report', path: 'transactions[1].amount' });
    }
  });

  it('the same key in different objects, and keys and colons inside strings, are not repeats', async () => {
    const tricky = entry(1, { memo: { amount: '1', nested: { amount: '2' } }, note: '"amount":"9","amount":"9"', 'a:b': 'c:d' });
    const text = reportText([entry(0), tricky, { ...entry(2), 'amount\\': 'x' }]);
    const outcome = await readers(text);
    expect(outcome.streamed).toEqual({ ok: true, entries: 3 });
    expect(outcome.file).toEqual({ ok: true, entries: 3 });
    expect(outcome.parsed).toEqual({ ok: true, entries: 3 });
  });
});

describe('NDJSON lines are walked for their keys without overflowing the call stack', () => {
  const memo = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const lines = (deep: string) => [JSON.stringify({ ...HEADER, balances: BALANCES }), JSON.stringify(entry(0)), deep].join('\n');

  it('an entry nested exactly to REPORT_DEPTH_MAX (counting the report and its transactions) is read, as in JSON', async () => {
    const deep = JSON.stringify(entry(1, { memo: 'MEMO' })).replace('"MEMO"', memo(REPORT_DEPTH_MAX - 3));
    const outcome = await withFile('r.ndjson', lines(deep), async (path) => refusal(async () => countEntries(await openReportFile(path))));
    expect(outcome).toEqual({ ok: true, entries: 2 });
    const json = reportText([entry(0), 'DEEP']).replace('"DEEP"', deep);
    expect(await withFile('r.json', json, async (path) => refusal(async () => countEntries(await openReportFile(path))))).toEqual({ ok: true, entries: 2 });
  });

  it.each([REPORT_DEPTH_MAX - 2, 100_000])('an entry line nested %i levels more is refused typed (it was a RangeError)', async (levels) => {
    const deep = JSON.stringify(entry(1, { memo: 'MEMO' })).replace('"MEMO"', memo(levels));
    const outcome = await withFile('r.ndjson', lines(deep), async (path) => refusal(async () => countEntries(await openReportFile(path))));
    expect(outcome).toMatchObject({ ok: false, typed: true, code: 'invalid_report', field: 'report' });
    if (!outcome.ok) expect(outcome.path).toMatch(/^transactions\[1\]\.memo\[0\]/);
  });

  it('a header line nested 100,000 levels is refused typed', async () => {
    const header = JSON.stringify({ ...HEADER, balances: BALANCES, memo: 'MEMO' }).replace('"MEMO"', memo(100_000));
    const outcome = await withFile('r.ndjson', `${header}\n${JSON.stringify(entry(0))}\n`, async (path) => refusal(async () => countEntries(await openReportFile(path))));
    expect(outcome).toMatchObject({ ok: false, typed: true, code: 'invalid_report', field: 'report' });
  });
});

describe('a repeated key in the header is refused by every reader', () => {
  it.each([
    ['two balances keys', (text: string) => text.replace('"balances":', '"balances":[{"currency":"BTC","outstandingBalance":"-900"}],"balances":'), 'balances', 'balances'],
    ['the report id written twice', (text: string) => text.replace('"type":', '"id":"r-2","type":'), 'id', 'id'],
    ['a repeated key in a balances row', (text: string) => text.replace('"outstandingBalance":"-1.5"', '"outstandingBalance":"-1.5","outstandingBalance":"-150"'), 'balances[0].outstandingBalance', 'outstandingBalance'],
    ['the accounting day written twice, the second after the entries', (text: string) => text.replace('"balances":', '"accountingDay":"2025-03-19","balances":'), 'accountingDay', 'accountingDay'],
  ])('%s', async (_name, edit, path, key) => {
    const text = edit(reportText([entry(0), entry(1)]));
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    const outcome = await readers(text);
    for (const reader of [outcome.streamed, outcome.file, outcome.parsed]) {
      expect(reader).toMatchObject({ ok: false, typed: true, code: 'invalid_report', path, field: key });
    }
  });

  it('an NDJSON header line repeating a key is refused', async () => {
    const header = JSON.stringify({ ...HEADER, balances: BALANCES }).replace('"balances":', '"balances":[],"balances":');
    const outcome = await withFile('r.ndjson', `${header}\n${JSON.stringify(entry(0))}\n`, async (path) => refusal(async () => countEntries(await openReportFile(path))));
    expect(outcome).toMatchObject({ ok: false, typed: true, code: 'invalid_report', path: 'balances', field: 'balances' });
  });
});

describe('the top-level fields are bounded (the streamed reader remembers each name)', () => {
  const fields = (count: number) => Object.fromEntries(Array.from({ length: count - 8 }, (_unused, index) => [`x${index}`, 0]));

  it('REPORT_FIELDS_MAX fields are read by every reader', async () => {
    const outcome = await readers(reportText([entry(0)], fields(REPORT_FIELDS_MAX)));
    expect([outcome.streamed, outcome.file, outcome.parsed]).toEqual([{ ok: true, entries: 1 }, { ok: true, entries: 1 }, { ok: true, entries: 1 }]);
  });

  it('one more is refused by every reader', async () => {
    const outcome = await readers(reportText([entry(0)], fields(REPORT_FIELDS_MAX + 1)));
    for (const reader of [outcome.streamed, outcome.file, outcome.parsed]) expect(reader).toMatchObject({ ok: false, typed: true, code: 'invalid_report', field: 'report', path: '/' });
  });
});

describe('a __proto__ key is refused by every reader', () => {
  it.each([
    ['in the header', (text: string) => text.replace('"balances":', '"__proto__":{"entity":"lending"},"balances":'), '__proto__'],
    ['in the header, spelled with an escape', (text: string) => text.replace('"balances":', '"\\u005f_proto__":{"x":1},"balances":'), '__proto__'],
    ['in the header, holding a string', (text: string) => text.replace('"balances":', '"__proto__":"x","balances":'), '__proto__'],
    ['in a balances row', (text: string) => text.replace('"outstandingBalance":"-1.5"', '"outstandingBalance":"-1.5","__proto__":{"fees":"1"}'), 'balances[0].__proto__'],
    ['in an entry', (text: string) => text.replace(amountOf(1), `"__proto__":{"amount":"9"},${amountOf(1)}`), 'transactions[1].__proto__'],
  ])('%s', async (_name, edit, path) => {
    const text = edit(reportText([entry(0), entry(1)]));
    const outcome = await readers(text);
    for (const reader of [outcome.streamed, outcome.file, outcome.parsed]) {
      expect(reader).toMatchObject({ ok: false, typed: true, code: 'invalid_report', path, field: '__proto__' });
    }
  });

  it('a __proto__ given in an object (loadReportObject) is refused too', () => {
    const json = JSON.parse(reportText([entry(0)]).replace('"balances":', '"__proto__":{"x":1},"balances":')) as unknown;
    expect(() => loadReportObject(json)).toThrow(expect.objectContaining({ code: 'invalid_report', path: '__proto__', field: '__proto__' }));
  });
});

describe.each(DIALECTS)('a report repeating a key writes nothing (%s)', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ledger = opened.ledger;
    close = opened.close;
    books = new EarnBooks(ledger);
    await seedOneAccount(books);
  });
  afterEach(async () => close());

  it.each([
    ['an interest amount written twice', (text: string) => text.replace(/("type":"Interest","currency":"BTC","amount":"[0-9.]+")/, '$1,"amount":"5"'), /^transactions\[\d+\]\.amount$/],
    ['two balances keys', (text: string) => text.replace('"balances":', '"balances":[],"balances":'), /^balances$/],
    ['a __proto__ in the header', (text: string) => text.replace('"balances":', '"__proto__":{"x":1},"balances":'), /^__proto__$/],
  ])('%s: refused streamed and in memory, the database unchanged', async (_name, edit, path) => {
    const reconciler = await Reconciler.open({ books });
    const text = edit(JSON.stringify(await buildReport(books, 'defi', '2025-03-18')));
    const before = await snapshotDatabase(ledger.db as never);
    await withFile('r.json', text, async (file) => {
      for (const open of [() => openReportFile(file), () => readReportFile(file)]) {
        const outcome = await open()
          .then((report) => reconciler.reconcileDay({ entity: 'defi', day: '2025-03-18', report }))
          .catch((error: unknown) => error);
        expect(outcome).toBeInstanceOf(ReconcileError);
        expect((outcome as ReconcileError).code).toBe('invalid_report');
        expect((outcome as ReconcileError).path).toMatch(path);
      }
    });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    // The same report without the repeat reconciles (the edit is what is refused).
    const clean = await reconciler.reconcileDay({ entity: 'defi', day: '2025-03-18', report: loadReportObject(await buildReport(books, 'defi', '2025-03-18')) });
    expect(clean.reportStatus).toBe('created');
  });
});

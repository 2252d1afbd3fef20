/**
 * The contract's `uuid` format takes an entry id in upper case or after a `urn:uuid:` prefix, so
 * the same entry written two ways was two ids: not a `duplicate_in_report`, and booked twice. A
 * report's entry ids, and its account and booking ids when they spell a UUID, must be in the
 * canonical lowercase form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, what the sandbox and the
 * ledger's own ids use); opaque account and booking ids (`a0`, `B-LOST`) are taken as they are.
 * Found in review (session h1).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, loadReportObject, openReportFile, parseReport, readReportFile } from '../src/index.js';
import { readReportEntries } from '../src/report-stream.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { entry, reportText, withFile } from './report-readers.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';

const UUID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

async function outcomes(text: string): Promise<unknown[]> {
  const read = async (input: Parameters<typeof readReportEntries>[0]) => {
    let count = 0;
    await readReportEntries(input, (batch) => {
      count += batch.length;
    });
    return count;
  };
  const settle = async (run: () => Promise<number> | number) => {
    try {
      return await run();
    } catch (error) {
      return error;
    }
  };
  const ndjson = text.replace(/^\{(.*)"transactions":\[(.*)\],("balances".*)\}$/, (_all, head: string, body: string, tail: string) => `{${head}${tail}}\n${body.replace(/\},\{"id"/g, '}\n{"id"')}`);
  return [
    await withFile('r.json', text, async (path) => settle(async () => read(await openReportFile(path)))),
    await withFile('r.json', text, async (path) => settle(async () => read(await readReportFile(path)))),
    await withFile('r.ndjson', ndjson, async (path) => settle(async () => read(await openReportFile(path)))),
    await settle(() => read(parseReport(text, 'text'))),
    await settle(() => read(loadReportObject(JSON.parse(text) as unknown))),
  ];
}

describe('ids in another spelling than the canonical lowercase UUID are refused by every reader', () => {
  it.each([
    ['id', UUID.toUpperCase()],
    ['id', `urn:uuid:${UUID}`],
    ['id', `${UUID.slice(0, 9)}4E5F${UUID.slice(13)}`],
    ['accountId', UUID.toUpperCase()],
    ['accountId', `urn:uuid:${UUID}`],
    ['accountId', `URN:UUID:${UUID}`],
    ['accountId', `{${UUID}}`],
    ['bookingId', UUID.toUpperCase()],
    ['bookingId', `urn:uuid:${UUID.toUpperCase()}`],
    ['bookingId', `{${UUID}}`],
  ])('%s %s', async (field, id) => {
    const text = reportText([entry(0), entry(1, { type: 'Deposit', [field]: id }), entry(2)]);
    for (const outcome of await outcomes(text)) {
      expect(outcome).toBeInstanceOf(ReconcileError);
      expect(outcome).toMatchObject({ code: 'invalid_report', field, path: `transactions[1].${field}`, value: id });
      expect((outcome as Error).message).toContain(JSON.stringify(id));
    }
  });

  it.each([
    ['accountId', 'ACC-1'],
    ['accountId', 'a0'],
    ['accountId', UUID],
    ['bookingId', 'B-LOST'],
    ['bookingId', UUID],
    // 32 hex digits without hyphens are an opaque id to us, not a UUID spelling.
    ['bookingId', UUID.replace(/-/g, '').toUpperCase()],
  ])('an opaque or canonical %s %s is accepted', async (field, id) => {
    const text = reportText([entry(0), entry(1, { type: 'Deposit', [field]: id })]);
    expect(await outcomes(text)).toEqual([2, 2, 2, 2, 2]);
  });
});

describe.each(DIALECTS)('one entry written in two spellings (%s)', (dialect) => {
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

  it('a report holding an entry again under its upper-case id is refused, streamed and in memory, nothing written', async () => {
    const reconciler = await Reconciler.open({ books });
    const report = await buildReport(books, 'defi', '2025-03-18');
    const interest = report.transactions.find((line) => line['type'] === 'Interest');
    if (interest === undefined) throw new Error('no interest entry');
    report.transactions.push({ ...interest, id: String(interest['id']).toUpperCase() });
    const before = await snapshotDatabase(ledger.db as never);
    await withFile('r.json', JSON.stringify(report), async (file) => {
      for (const open of [() => openReportFile(file), () => readReportFile(file), async () => loadReportObject(report)]) {
        const outcome = await open().then((input) => reconciler.reconcileDay({ entity: 'defi', day: '2025-03-18', report: input })).catch((error: unknown) => error);
        expect(outcome).toBeInstanceOf(ReconcileError);
        expect(outcome).toMatchObject({ code: 'invalid_report', field: 'id', path: `transactions[${report.transactions.length - 1}].id` });
      }
    });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  });
});

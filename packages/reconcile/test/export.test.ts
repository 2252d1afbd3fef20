import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerAccount } from '@earnbook/ledger';
import { ReconcileError } from '../src/errors.js';
import {
  BALANCES_CSV_HEADERS,
  BREAKS_CSV_HEADERS,
  JOURNAL_CSV_HEADERS,
  SETTLEMENTS_CSV_HEADERS,
  escapeFormulaText,
  exportAudit,
  exportBalancesCsv,
  exportBreaksCsv,
  exportJournalCsv,
  exportSettlementsCsv,
} from '../src/export/index.js';
import type { AuditManifest } from '../src/export/index.js';
import { openAwkwardBooks, seedAwkwardBooks } from './export-awkward-books.js';
import { DIALECTS, HOSTILE_DESCRIPTION, HOSTILE_PROVIDER_ID, memoryOutput, openTestBooks, seedBooks } from './export-books.js';
import type { DialectName, TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

/** A strict RFC 4180 reader: CRLF record ends, `"`-quoted fields with doubled quotes, nothing else. */
function parseRfc4180(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        const next = text.indexOf('"', i);
        if (next < 0) throw new Error('unterminated quoted field');
        field += text.slice(i, next);
        if (text[next + 1] === '"') {
          field += '"';
          i = next + 2;
        } else {
          i = next + 1;
          break;
        }
      }
    } else {
      const match = /^[^",\r\n]*/.exec(text.slice(i, i + 100_000));
      field = match?.[0] ?? '';
      i += field.length;
    }
    row.push(field);
    if (text[i] === ',') {
      i += 1;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
      if (i === text.length) return rows;
      continue;
    }
    throw new Error(`bad character ${JSON.stringify(text[i])} at ${i}`);
  }
}

function records(text: string): Record<string, string>[] {
  const [header, ...rows] = parseRfc4180(text);
  if (header === undefined) throw new Error('no header');
  for (const row of rows) expect(row.length).toBe(header.length);
  return rows.map((row) => Object.fromEntries(header.map((name, index) => [name, row[index] ?? ''])));
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const units = (amount: string) => (amount === '' ? 0n : BigInt(amount.replace('.', '')));

async function expectReconcileError(promise: Promise<unknown>, code: string, field: string | undefined): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReconcileError);
  expect((error as ReconcileError).code).toBe(code);
  expect((error as ReconcileError).field).toBe(field);
}

describe('escapeFormulaText', () => {
  it('prefixes cells that begin with a formula trigger, and leaves others alone', () => {
    for (const text of ['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\tx', '\rx', '\uFF1D1']) expect(escapeFormulaText(text)).toBe(`'${text}`);
    for (const text of ['', 'plain', 'a=b', "'already", '1-2', ' =x']) expect(escapeFormulaText(text)).toBe(text);
  });
});

describe.each(DIALECTS)('audit exports on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
    directory = await mkdtemp(join(tmpdir(), `earnbook-export-${dialect}-`));
  });
  afterAll(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function journal(options: { bom?: boolean; pageSize?: number; allEntities?: boolean } = {}) {
    const sink = memoryOutput();
    const scope = options.allEntities === true ? ({ allEntities: true } as const) : ({ entity: 'defi' } as const);
    const result = await exportJournalCsv({ db: books.db, ...scope, ...RANGE, output: sink.output, ...(options.bom === undefined ? {} : { bom: options.bom }), ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }) });
    return { result, bytes: sink.bytes() };
  }

  it('writes the journal as RFC 4180 CSV with every entry of the range, in posting order', async () => {
    const { result, bytes } = await journal();
    const text = bytes.toString('utf8');
    expect(text.startsWith(`${JOURNAL_CSV_HEADERS.join(',')}\r\n`)).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = records(text);
    expect(result.rows).toBe(rows.length);
    expect(result.bytes).toBe(bytes.length);
    expect(result.sha256).toBe(sha256(bytes));

    // Every stored entry of defi in the range, and nothing else.
    const stored = await books.db
      .selectFrom('journal_entries')
      .select(['id'])
      .where('entity', '=', 'defi')
      .where('accounting_day', '>=', RANGE.fromDay)
      .where('accounting_day', '<=', RANGE.toDay)
      .orderBy('id')
      .execute();
    expect(rows.map((row) => Number(row['entry_id']))).toEqual(stored.map((row) => Number(row.id)));
    expect(rows.every((row) => row['entity'] === 'defi')).toBe(true);
    expect(rows.some((row) => row['provider_id'] === 'dep-late')).toBe(false);

    // Exactly one of debit and credit, 18 decimals; running balances chain per account.
    const running = new Map<string, bigint>();
    const accounts = new Map<string, LedgerAccount>();
    for (const account of [...(await books.ledger.listAccounts({ entity: 'defi' }))]) accounts.set(`${account.currency} ${account.code}`, account);
    for (const row of rows) {
      const debit = row['debit'] ?? '';
      const credit = row['credit'] ?? '';
      expect((debit === '') !== (credit === '')).toBe(true);
      expect(debit + credit).toMatch(/^\d+\.\d{18}$/);
      expect(row['running_balance']).toMatch(/^-?\d+\.\d{18}$/);
      expect(row['occurred_at']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const account = accounts.get(`${row['currency']} ${row['account']}`);
      expect(account).toBeDefined();
      if (account === undefined) continue;
      const signed = units(debit) - units(credit);
      const key = `${row['currency']} ${row['account']}`;
      const balance = (running.get(key) ?? 0n) + (account.normalSide === 'debit' ? signed : -signed);
      running.set(key, balance);
      expect(units(row['running_balance'] ?? '')).toBe(balance);
    }

    // Totals: per entity and currency, debits equal credits, and equal the rows' sums.
    expect([...result.totals.keys()]).toEqual(['defi']);
    const defi = result.totals.get('defi') ?? new Map<string, never>();
    expect([...defi.keys()]).toEqual(['BTC', 'ETH']);
    for (const [currency, totals] of defi) {
      expect(totals.debit).toBe(totals.credit);
      const sum = rows.filter((row) => row['currency'] === currency).reduce((total, row) => total + units(row['debit'] ?? ''), 0n);
      expect(units(totals.debit)).toBe(sum);
    }
    expect(defi.get('BTC')?.debit).toBe('246913578024691361.347013578024691357');
  });

  it('escapes formula text and quotes commas, quotes and line breaks', async () => {
    const { bytes } = await journal();
    const text = bytes.toString('utf8');
    const rows = records(text);
    const hostile = rows.filter((row) => row['kind'] === 'adjustment');
    expect(hostile).toHaveLength(2);
    expect(hostile[0]?.['description']).toBe(`'${HOSTILE_DESCRIPTION}`);
    expect(hostile[0]?.['provider_id']).toBe(`'${HOSTILE_PROVIDER_ID}`);
    const reversal = rows.find((row) => row['kind'] === 'reversal');
    expect(reversal?.['description']).toBe(`'@SUM(1+1) "reversed", really`);
    // The raw bytes: quotes doubled, the line break kept inside the quoted cell, and no cell that
    // begins with a trigger character.
    expect(text).toContain(`"'=HYPERLINK(""http://x.example/?a=1,b=2"", ""click"")\r\nsecond line; third"`);
    for (const row of rows) {
      for (const name of ['entity', 'kind', 'account', 'account_kind', 'currency', 'provider_id', 'description']) expect(row[name] ?? '').not.toMatch(/^[=+\-@\t\r]/);
    }
  });

  it('writes a UTF-8 BOM only when asked, and pages give the same bytes', async () => {
    const plain = await journal();
    const withBom = await journal({ bom: true });
    expect(plain.bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
    expect(withBom.bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
    expect(withBom.bytes.subarray(3).equals(plain.bytes)).toBe(true);
    expect(withBom.result.sha256).toBe(sha256(withBom.bytes));
    expect(withBom.result.bytes).toBe(plain.result.bytes + 3);
    const paged = await journal({ pageSize: 3 });
    expect(paged.bytes.equals(plain.bytes)).toBe(true);
  });

  it('exports all entities only when asked explicitly', async () => {
    const all = await journal({ allEntities: true });
    const rows = records(all.bytes.toString('utf8'));
    expect(new Set(rows.map((row) => row['entity']))).toEqual(new Set(['defi', 'lending']));
    const sink = memoryOutput();
    await expectReconcileError(exportJournalCsv({ db: books.db, ...RANGE, output: sink.output } as never), 'invalid_input', 'entity');
    await expectReconcileError(exportJournalCsv({ db: books.db, entity: 'cefi', ...RANGE, output: sink.output }), 'invalid_input', 'entity');
    await expectReconcileError(exportJournalCsv({ db: books.db, entity: 'defi', fromDay: '2025-03-20', toDay: '2025-03-19', output: sink.output }), 'invalid_input', 'toDay');
    await expectReconcileError(exportJournalCsv({ db: books.db, entity: 'defi', fromDay: '2025-02-30', toDay: '2025-03-19', output: sink.output }), 'invalid_input', 'fromDay');
    await expectReconcileError(exportJournalCsv({ db: books.db, entity: 'defi', ...RANGE, pageSize: 0, output: sink.output }), 'invalid_input', 'pageSize');
    await expectReconcileError(exportJournalCsv({ db: books.db, entity: 'defi', ...RANGE, output: {} as never }), 'invalid_input', 'output');
    // A refused export writes nothing.
    expect(sink.bytes().length).toBe(0);
  });

  it('writes balances at the end of a day equal to the ledger, as a balanced trial balance', async () => {
    for (const day of ['2025-03-18', '2025-03-20']) {
      const sink = memoryOutput();
      const result = await exportBalancesCsv({ db: books.db, entity: 'defi', day, output: sink.output, pageSize: 4 });
      const text = sink.bytes().toString('utf8');
      expect(text.startsWith(`${BALANCES_CSV_HEADERS.join(',')}\r\n`)).toBe(true);
      const rows = records(text);
      const accounts = await books.ledger.listAccounts({ entity: 'defi' });
      expect(rows.map((row) => row['account'])).toEqual(accounts.map((account) => account.code));
      for (const [index, account] of accounts.entries()) {
        const row = rows[index];
        expect(row?.['balance']).toBe(await books.ledger.balanceAtEndOfDay(account.id, day));
        expect(row?.['accounting_day']).toBe(day);
      }
      for (const [, currencies] of result.totals) for (const [, totals] of currencies) expect(totals.debit).toBe(totals.credit);
      expect(result.rows).toBe(accounts.length);
    }
  });

  it('writes breaks and settlements with escaped text and fixed-scale amounts', async () => {
    const breaksSink = memoryOutput();
    const breaks = await exportBreaksCsv({ db: books.db, entity: 'defi', ...RANGE, output: breaksSink.output });
    const breakText = breaksSink.bytes().toString('utf8');
    expect(breakText.startsWith(`${BREAKS_CSV_HEADERS.join(',')}\r\n`)).toBe(true);
    const breakRows = records(breakText);
    expect(breakRows).toHaveLength(2);
    expect(breakRows[0]?.['actual']).toBe('-1.4');
    expect(breakRows[0]?.['details']).toBe(JSON.stringify({ note: 'report says "1.4", books say 1.5', entries: [1, 2] }));
    expect(breakRows[1]?.['actual']).toBe("'=1+1");
    expect(breakRows[1]?.['provider_id']).toBe("'-x");
    expect(breakRows[1]?.['resolution_reason']).toBe("'@finance agreed");
    expect(Object.fromEntries([...breaks.totals].map(([entity, counts]) => [entity, Object.fromEntries(counts)]))).toEqual({ defi: { '': { open: 0, resolved: 1 }, BTC: { open: 1, resolved: 0 } } });

    const settlementsSink = memoryOutput();
    const settlements = await exportSettlementsCsv({ db: books.db, entity: 'defi', ...RANGE, output: settlementsSink.output, pageSize: 1 });
    const settlementText = settlementsSink.bytes().toString('utf8');
    expect(settlementText.startsWith(`${SETTLEMENTS_CSV_HEADERS.join(',')}\r\n`)).toBe(true);
    const settlementRows = records(settlementText);
    expect(settlementRows.map((row) => `${row['currency']} ${row['accounting_day']}`)).toEqual(['BTC 2025-03-19', 'BTC 2025-03-20', 'ETH 2025-03-19']);
    expect(settlementRows[0]?.['net']).toBe('-1.250000000000000000');
    expect(settlementRows[0]?.['instruction_amount']).toBe('1.250000000000000000');
    expect(settlementRows[0]?.['wallet']).toBe("'=wallet-0x1");
    expect(settlementRows[1]?.['instruction_id']).toBe('');
    expect(settlementRows[1]?.['reported_outstanding']).toBe('');
    expect(settlements.totals.get('defi')?.get('BTC')).toEqual({ payables: '3.000000000000000000', receivables: '1.750000000000000000', net: '-1.250000000000000000', settled: '-1.250000000000000000' });
  });

  it('refuses an unknown entity before opening any file', async () => {
    const target = join(directory, 'unknown-entity');
    await expectReconcileError(exportAudit({ db: books.db, entity: 'cefi', ...RANGE, directory: target }), 'invalid_input', 'entity');
    expect(await readdir(target).catch(() => [])).toEqual([]);
  });

  it('starts header-only CSV files with the BOM too', async () => {
    const target = join(directory, 'empty-audit');
    await exportAudit({ db: books.db, entity: 'defi', fromDay: '2020-01-01', toDay: '2020-01-02', directory: target, bom: true });
    for (const name of ['journal.csv', 'breaks.csv', 'settlements.csv']) {
      const bytes = await readFile(join(target, name));
      expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
      expect(bytes.subarray(3).toString('utf8').split('\r\n').filter((line) => line !== '')).toHaveLength(1);
    }
  });

  it('writes an audit directory whose manifest matches its files, and never overwrites', async () => {
    const target = join(directory, 'audit');
    const { manifest } = await exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: target, bom: true, now: () => new Date('2025-03-21T06:00:00Z') });
    const names = (await readdir(target)).sort();
    expect(names).toEqual(['balances.csv', 'breaks.csv', 'journal.csv', 'journal.hledger', 'manifest.json', 'settlements.csv']);
    const stored = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as AuditManifest;
    expect(stored).toEqual(JSON.parse(JSON.stringify(manifest)));
    expect(stored.generatedAt).toBe('2025-03-21T06:00:00.000Z');
    expect(stored.parameters).toMatchObject({ entity: 'defi', allEntities: false, fromDay: RANGE.fromDay, toDay: RANGE.toDay, balancesDay: RANGE.toDay, bom: true });
    for (const file of stored.files) {
      const bytes = await readFile(join(target, file.name));
      expect(file.sha256).toBe(sha256(bytes));
      expect(file.bytes).toBe(bytes.length);
      // Every CSV starts with the BOM when asked, a file of headers alone included.
      if (file.name.endsWith('.csv')) expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
      if (file.name.endsWith('.csv')) {
        expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
        expect(records(bytes.subarray(3).toString('utf8'))).toHaveLength(file.rows);
      }
    }
    const journalFile = stored.files.find((file) => file.name === 'journal.csv');
    const direct = await journal({ bom: true });
    expect(journalFile?.sha256).toBe(direct.result.sha256);
    expect(journalFile?.totals).toEqual(Object.fromEntries([...direct.result.totals].map(([entity, currencies]) => [entity, Object.fromEntries([...currencies].map(([currency, totals]) => [currency, { ...totals }]))])));
    expect(stored.files.find((file) => file.name === 'journal.hledger')?.totals).toEqual(journalFile?.totals);

    await expectReconcileError(exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: target }), 'invalid_input', 'directory');
    await expectReconcileError(exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: join(directory, 'x'), formats: ['journal_csv', 'journal_csv'] }), 'invalid_input', 'formats');
    const partial = join(directory, 'partial');
    await exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: partial, formats: ['hledger_journal', 'breaks_csv'] });
    expect((await readdir(partial)).sort()).toEqual(['breaks.csv', 'journal.hledger', 'manifest.json']);
  });

  it('removes what it wrote when an export fails', async () => {
    const target = join(directory, 'failing');
    // The clock is read after every file was written, just before the manifest.
    const failing = exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: target, now: () => { throw new Error('clock broke'); } });
    await expectReconcileError(failing, 'export_failed', undefined);
    // The folder it made goes too: a failed export leaves nothing behind.
    expect(existsSync(target)).toBe(false);
  });

  it('removes the folders it made, up to the first, and keeps a folder that was there before', async () => {
    const broken = () => {
      throw new Error('clock broke');
    };
    const nested = join(directory, 'made', 'by', 'export');
    await expectReconcileError(exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: nested, now: broken }), 'export_failed', undefined);
    expect(existsSync(join(directory, 'made'))).toBe(false);
    expect(existsSync(directory)).toBe(true);
    const existing = join(directory, 'existing');
    await mkdir(existing);
    await expectReconcileError(exportAudit({ db: books.db, entity: 'defi', ...RANGE, directory: existing, now: broken }), 'export_failed', undefined);
    expect(await readdir(existing)).toEqual([]);
  });
});

describe.runIf(DIALECTS.includes('sqlite') && DIALECTS.includes('postgres'))('audit exports across dialects', () => {
  // With awkward books too: entity ids and codes that PostgreSQL's linguistic collations sort
  // differently from byte order (its text columns are in ICU en-US here), amounts stored in
  // non-canonical forms, and NULL beside empty text.
  it('are byte-identical on SQLite and PostgreSQL for the same books', async () => {
    const outputs = new Map<DialectName, Map<string, string>>();
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const books = await openAwkwardBooks(dialect);
      const directory = await mkdtemp(join(tmpdir(), `earnbook-export-same-${dialect}-`));
      try {
        await seedBooks(books);
        await seedAwkwardBooks(books);
        const { manifest } = await exportAudit({ db: books.db, allEntities: true, ...RANGE, directory, now: () => new Date('2025-03-21T06:00:00Z') });
        const files = new Map<string, string>();
        for (const file of manifest.files) files.set(file.name, (await readFile(join(directory, file.name))).toString('base64'));
        files.set('manifest.json', await readFile(join(directory, 'manifest.json'), 'utf8'));
        outputs.set(dialect, files);
      } finally {
        await books.close();
        await rm(directory, { recursive: true, force: true });
      }
    }
    const sqlite = outputs.get('sqlite');
    const postgres = outputs.get('postgres');
    expect(sqlite?.size).toBe(6);
    // Line by line first, for a readable difference; then the bytes.
    const lines = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8').split('\n');
    for (const [name, content] of sqlite ?? []) if (name !== 'manifest.json') expect({ name, lines: lines(postgres?.get(name)) }).toEqual({ name, lines: lines(content) });
    for (const [name, content] of sqlite ?? []) expect({ name, content: postgres?.get(name) }).toEqual({ name, content });
  });
});

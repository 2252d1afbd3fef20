/**
 * Text from the books that the hledger journal puts where hledger and ledger-cli read dates:
 * a transaction's metadata `interestDay` (the secondary date, and `journal.csv`'s `interest_day`)
 * and a compound line's provider id (a posting tag, where `, date:DAY` and `[DAY]` are posting
 * dates). Neither may change a date or make the file unreadable.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportHledgerJournal, exportJournalCsv, hledgerTagValue, interestDayOf } from '../src/export/index.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;

function binary(name: string): string | undefined {
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const HLEDGER = binary('hledger');
// Said out loud: a missing tool skips its checks, it never passes them.
if (HLEDGER === undefined) console.warn('[export-hledger-dates] hledger is not installed: its checks are SKIPPED (install it, e.g. apt-get install -y hledger)');

/** Runs hledger on a file; its stdout, or throws with its stderr. */
function hledger(file: string, args: readonly string[]): string {
  return execFileSync(HLEDGER as string, ['-f', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Minimal CSV reader for hledger's `-O csv` (every cell double-quoted, `""` escapes). */
function csvRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((match) => (match[1] ?? '').replace(/""/g, '"')));
}

describe('interestDayOf', () => {
  it('answers a real calendar day, for interest and partner margin only', () => {
    const metadata = (day: unknown) => JSON.stringify({ interestDay: day });
    expect(interestDayOf({ kind: 'interest', metadata: metadata('2025-03-18') })).toBe('2025-03-18');
    expect(interestDayOf({ kind: 'partner_margin', metadata: metadata('2024-02-29') })).toBe('2024-02-29');
    for (const day of ['2025-02-30', '2023-02-29', '2025-13-01', '2025-00-10', '0000-01-01', '2025-3-18', 18, null]) {
      expect(interestDayOf({ kind: 'interest', metadata: metadata(day) }), String(day)).toBe('');
    }
    for (const kind of ['adjustment', 'deposit', 'withdrawal', 'fee', 'settlement', 'reversal']) {
      expect(interestDayOf({ kind, metadata: metadata('2025-03-18') }), kind).toBe('');
    }
    expect(interestDayOf({ kind: 'interest', metadata: null })).toBe('');
    expect(interestDayOf({ kind: 'interest', metadata: '{"note":"no day"}' })).toBe('');
  });
});

describe('hledgerTagValue', () => {
  it('percent-encodes what would end a tag, start one, or date a posting', () => {
    expect(hledgerTagValue('line-1, date:2031-01-01')).toBe('line-1%2C date%3A2031-01-01');
    expect(hledgerTagValue('[2031-01-01]')).toBe('%5B2031-01-01%5D');
    expect(hledgerTagValue('a;b%c\nd')).toBe('a%3Bb%25c%0Ad');
    expect(hledgerTagValue('00000000-0000-4000-8000-000000000003')).toBe('00000000-0000-4000-8000-000000000003');
  });
});

describe.each(DIALECTS)('hledger dates on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;
  beforeEach(async () => {
    books = await openTestBooks(dialect);
    directory = await mkdtemp(join(tmpdir(), `earnbook-hledger-dates-${dialect}-`));
  });
  afterEach(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function exports(): Promise<{ journal: string; csv: string; file: string }> {
    const journal = memoryOutput();
    await exportHledgerJournal({ db: books.db, entity: 'defi', ...RANGE, output: journal.output });
    const csv = memoryOutput();
    await exportJournalCsv({ db: books.db, entity: 'defi', ...RANGE, output: csv.output });
    const file = join(directory, 'journal.hledger');
    await writeFile(file, journal.bytes());
    return { journal: journal.bytes().toString('utf8'), csv: csv.bytes().toString('utf8'), file };
  }

  it('writes a secondary date only for interest and margin, and only a real calendar day', async () => {
    const { ledger } = books;
    const adjustment = await ledger.systemAccount('defi', 'BTC', 'adjustment');
    const treasury = await ledger.systemAccount('defi', 'BTC', 'treasury');
    const earn = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    const margin = await ledger.systemAccount('defi', 'BTC', 'partner_margin_income');
    const post = (kind: 'adjustment' | 'partner_margin', key: string, interestDay: string, debit: number, credit: number) =>
      ledger.post({
        entity: 'defi',
        kind,
        idempotencyKey: key,
        occurredAt: '2025-03-19T08:00:00Z',
        metadata: { interestDay },
        entries: [
          { accountId: debit, side: 'debit', amount: '0.3' },
          { accountId: credit, side: 'credit', amount: '0.3' },
        ],
      });
    // Free metadata: an adjustment naming a day, and margin naming a day that does not exist.
    await post('adjustment', 'adj-day', '2025-03-18', adjustment.id, treasury.id);
    await post('adjustment', 'adj-no-day', '2025-02-30', adjustment.id, treasury.id);
    await post('partner_margin', 'margin-no-day', '2025-02-31', earn.id, margin.id);
    await post('partner_margin', 'margin-day', '2025-03-18', earn.id, margin.id);
    const { journal, csv, file } = await exports();

    const titles = journal.split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(titles.filter((line) => line.includes('=')).map((line) => line.replace(/ \(\d+\)/, ''))).toEqual(['2025-03-19=2025-03-18 partner_margin']);
    expect(journal).not.toContain('2025-02-3');
    expect(journal.match(/; interest_day: .*/g)).toEqual(['; interest_day: 2025-03-18']);
    // journal.csv: interest_day is empty for other kinds, and for a day that does not exist.
    const header = csv.split('\r\n')[0]?.split(',') ?? [];
    const column = header.indexOf('interest_day');
    const kindColumn = header.indexOf('kind');
    const days = csv
      .split('\r\n')
      .slice(1)
      .filter((line) => line !== '')
      .map((line) => {
        const cells = line.split(',');
        return `${cells[kindColumn] ?? ''} ${cells[column] ?? ''}`;
      });
    expect(days).toEqual(['"adjustment" ', '"adjustment" ', '"adjustment" ', '"adjustment" ', '"partner_margin" ', '"partner_margin" ', '"partner_margin" 2025-03-18', '"partner_margin" 2025-03-18']);
    if (HLEDGER !== undefined) {
      // hledger reads the whole file; by secondary date, only the margin moves to the day that earned it.
      hledger(file, ['check']);
      // (hledger 1.25's CSV output ignores --date2: read the text register, one title line per transaction.)
      const register = hledger(file, ['reg', '--date2', '--width', '200']);
      expect(register.match(/^\d{4}-\d{2}-\d{2} \S+/gm)?.sort()).toEqual(['2025-03-18 partner_margin', '2025-03-19 adjustment', '2025-03-19 adjustment', '2025-03-19 partner_margin']);
    }
  });

  it('keeps every posting on its transaction\'s day, whatever a line\'s provider id holds', async () => {
    const { ledger } = books;
    const earn = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    const margin = await ledger.systemAccount('defi', 'BTC', 'partner_margin_income');
    const hostile = ['line-1, date:2031-01-01', 'line-2 [2032-02-02]', 'line-3, date2:2033-03-03', 'line-4 [=2034-04-04]', 'line-5 ; :tag: x:y'];
    await ledger.postLines({
      entity: 'defi',
      kind: 'interest',
      occurredAt: '2025-03-19T08:00:00Z',
      side: 'credit',
      contraAccountId: earn.id,
      lines: hostile.map((providerId) => ({ accountId: margin.id, amount: '0.25', providerId })),
    });
    const { journal, csv, file } = await exports();
    for (const id of hostile) expect(journal).toContain(`      ; provider_id: ${hledgerTagValue(id)}\n`);
    expect(journal).not.toMatch(/date2?:20|\[=?20/);
    // journal.csv keeps the provider ids as they are: it is CSV, quoted, not a journal.
    for (const id of hostile) expect(csv).toContain(`"${id.replace(/"/g, '""')}"`);
    if (HLEDGER !== undefined) {
      for (const command of [['reg', '-O', 'csv'], ['reg', '--date2', '--width', '200']]) {
        expect(hledger(file, command), command.join(' ')).not.toMatch(/203[1-4]-0[1-4]-0[1-4]/);
      }
      // print writes a posting's own date as a `date:` tag: there is none.
      expect(hledger(file, ['print'])).not.toMatch(/date2?:20|\[=?20/);
      const register = csvRows(hledger(file, ['reg', '-O', 'csv']));
      expect(register.slice(1).every((row) => row[1] === '2025-03-19')).toBe(true);
      expect(register.slice(1)).toHaveLength(hostile.length + 1);
      // The tag reads back as one value, in full.
      const tagged = hledger(file, ['reg', 'tag:provider_id=line-1', '-O', 'csv']);
      expect(csvRows(tagged).slice(1)).toHaveLength(1);
    }
  });
});

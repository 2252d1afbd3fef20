/**
 * The hledger journal with hostile text from outside the books (review of session 25): a
 * description, a provider id and an account code holding what hledger and ledger-cli read as
 * syntax (`;` comments, two spaces between an account and its amount, `(CODE)`, `[DATE]`, `=`
 * and `~` at the start of a line, `date:` tags, `|` payee notes, tabs, line breaks and Unicode
 * line separators). The journal must still be read as the books hold it: the same transactions
 * on the same days, the same balances, no tag or account the books never wrote. Run with both
 * tools when installed (each missing one skips its test, said out loud), and the text's shape
 * is checked either way.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHledgerJournal, hledgerAccountName } from '../src/export/index.js';
import { DIALECTS, memoryOutput, openTestBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;
const DAY = '2025-03-19';

function binary(name: string): string | undefined {
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const HLEDGER = binary('hledger');
const LEDGER = binary('ledger');
for (const [name, path] of [['hledger', HLEDGER], ['ledger', LEDGER]] as const) {
  if (path === undefined) console.warn(`[export-hledger-hostile] ${name} is not installed: its test is SKIPPED`);
}

const DESCRIPTIONS: readonly string[] = [
  'a  ; note: x  (1) [2031-01-01] date:2031-01-01, date2:2031-01-02 | payee note',
  '=auto\n    defi:treasury  1 BTC\n~ monthly\r\n2031-01-01 injected\ttab',
  '  leading spaces and trailing  ',
  'line\u2028separator\u2029paragraph\u0085next \u200e\u202e override \uFEFF',
  '%41 already encoded; 100% ',
];
const PROVIDER_ID = '(7) * ! [2031-01-01] date:2031-01-01, x  y = z ~ |q';
const CODES: readonly string[] = ['adjustment:  ;(x) [y] =z ~w', '=lead', '~lead', 'adjustment:a  b c', 'adjustment:(virtual)', 'adjustment:[balanced]'];

describe.each(DIALECTS)('the hledger journal with hostile text, on %s', (dialect) => {
  let books: TestBooks;
  let directory: string | undefined;
  let text: string;
  /** Per hledger account name and commodity, the books' signed (debit positive) balance in units. */
  const expected = new Map<string, bigint>();

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    const { ledger } = books;
    const treasury = await ledger.systemAccount('defi', 'BTC', 'treasury');
    for (const [index, code] of CODES.entries()) {
      const account = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code, kind: 'adjustment' });
      const amount = `0.${index + 1}`;
      await ledger.post({
        entity: 'defi',
        kind: 'adjustment',
        idempotencyKey: `adj-${index}`,
        occurredAt: `${DAY}T0${index}:00:00Z`,
        providerId: `${PROVIDER_ID} ${index}`,
        description: DESCRIPTIONS[index % DESCRIPTIONS.length] as string,
        entries: [
          { accountId: account.id, side: 'debit', amount },
          { accountId: treasury.id, side: 'credit', amount },
        ],
      });
      expected.set(`${hledgerAccountName({ entity: 'defi', kind: 'adjustment', code })} BTC`, BigInt(`${index + 1}00000000000000000`));
    }
    expected.set(`${hledgerAccountName({ entity: 'defi', kind: 'treasury', code: 'treasury' })} BTC`, -[...expected.values()].reduce((sum, units) => sum + units, 0n));
    const sink = memoryOutput();
    await exportHledgerJournal({ db: books.db, entity: 'defi', ...RANGE, output: sink.output });
    text = sink.bytes().toString('utf8');
    directory = await mkdtemp(join(tmpdir(), `earnbook-hledger-hostile-${dialect}-`));
    await writeFile(join(directory as string, 'journal.hledger'), text);
  });
  afterAll(async () => {
    await books.close();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('keeps every transaction on one title line, every posting on one line, and no line a tool reads as a directive', () => {
    const lines = text.split('\n');
    const titles = lines.filter((line) => /^\d{4}-\d{2}-\d{2} \(\d+\) adjustment /.test(line));
    expect(titles).toHaveLength(CODES.length);
    for (const title of titles) {
      expect(title.startsWith(`${DAY} (`)).toBe(true);
      // No `;` (a comment), tab or line break inside the title. Unicode line separators stay as
      // they are: neither tool ends a line on them (the tests below read them back).
      expect(title).not.toMatch(/[;\t\r]/);
    }
    for (const line of lines) {
      if (line === '' || line.startsWith(';')) continue;
      // Unindented lines are the tools' directives or a transaction's title, nothing else.
      if (!line.startsWith(' ')) expect(line).toMatch(/^(?:commodity |tag |account |\d{4}-\d{2}-\d{2} \(\d+\) )/);
      // A posting line: one account name without two spaces or a tab, two spaces, the amount.
      else if (!/^ +; /.test(line) && !line.startsWith('    format ')) expect(line).toMatch(/^ {4}\S+ {2}-?\d+\.\d{18} [A-Z]+$/);
    }
  });

  it.skipIf(HLEDGER === undefined)('is read by hledger as the books hold it: strict checks, same days, same balances, no other tag', () => {
    const file = join(directory as string, 'journal.hledger');
    execFileSync(HLEDGER as string, ['--strict', '-f', file, 'check'], { encoding: 'utf8' });
    const register = execFileSync(HLEDGER as string, ['-f', file, 'reg', '-O', 'csv'], { encoding: 'utf8' });
    const dates = [...register.matchAll(/^"\d+","(\d{4}-\d{2}-\d{2})"/gm)].map((match) => match[1]);
    expect(dates).toHaveLength(CODES.length * 2);
    expect(new Set(dates)).toEqual(new Set([DAY]));
    const balances = execFileSync(HLEDGER as string, ['-f', file, 'bal', '--flat', '-N', '-O', 'csv'], { encoding: 'utf8' });
    const seen = new Map([...balances.matchAll(/^"([^"]+)","(-?\d+\.\d{18}) BTC"$/gm)].map((match) => [`${match[1]} BTC`, BigInt((match[2] ?? '').replace('.', ''))]));
    expect(seen).toEqual(expected);
    const tags = execFileSync(HLEDGER as string, ['-f', file, 'tags'], { encoding: 'utf8' }).split('\n').filter((tag) => tag !== '');
    expect(new Set(tags)).toEqual(new Set(['type', 'occurred_at', 'entity', 'provider_id']));
  });

  it.skipIf(LEDGER === undefined)('is read by ledger-cli --pedantic as the books hold it: same days, same balances', () => {
    const file = join(directory as string, 'journal.hledger');
    const register = execFileSync(LEDGER as string, ['--pedantic', '-f', file, 'reg', '--format', '%D|%A|%t\\n', '--date-format', '%Y-%m-%d'], { encoding: 'utf8' });
    const rows = register.split('\n').filter((row) => row !== '');
    expect(rows).toHaveLength(CODES.length * 2);
    expect(new Set(rows.map((row) => row.split('|')[0]))).toEqual(new Set([DAY]));
    const balances = execFileSync(LEDGER as string, ['--pedantic', '-f', file, 'bal', '--flat', '--no-total', '--format', '%A|%t\\n'], { encoding: 'utf8' });
    const seen = new Map(balances.split('\n').filter((row) => row !== '').map((row) => {
      const [account = '', amount = ''] = row.split('|');
      return [`${account} BTC`, BigInt(amount.replace(/ BTC$/, '').replace('.', ''))];
    }));
    expect(seen).toEqual(expected);
  });
});

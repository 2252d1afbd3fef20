import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBalancesCsv, exportHledgerJournal, hledgerAccountName } from '../src/export/index.js';
import { DIALECTS, memoryOutput, openTestBooks, seedBooks } from './export-books.js';
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
const LEDGER = binary('ledger');
for (const [name, path] of [['hledger', HLEDGER], ['ledger', LEDGER]] as const) {
  // Said out loud: a missing tool skips its test, it never passes it.
  if (path === undefined) console.warn(`[export-hledger] ${name} is not installed: its test is SKIPPED (install it, e.g. apt-get install -y ${name === 'ledger' ? 'ledger' : 'hledger'})`);
}

/** Signed balances (debit positive) per account name and commodity, in minor units. */
type Balances = Map<string, bigint>;

/** Reads our own journal back: postings `    <account>  <amount> <commodity>`, summed per account. */
function parseJournal(text: string): { balances: Balances; transactions: number } {
  const balances: Balances = new Map();
  let transactions = 0;
  let open: Map<string, bigint> | undefined;
  const close = () => {
    if (open !== undefined) for (const [commodity, sum] of open) expect(sum, `transaction sums to zero in ${commodity}`).toBe(0n);
    open = undefined;
  };
  for (const line of text.split('\n')) {
    if (/^\d{4}-\d{2}-\d{2}(?:=\d{4}-\d{2}-\d{2})? \(\d+\) /.test(line)) {
      close();
      open = new Map();
      transactions += 1;
      continue;
    }
    const posting = /^ {4}(\S(?:.*?\S)?) {2}(-?\d+\.\d{18}) ("?)([A-Z0-9]+)\3$/.exec(line);
    if (posting !== null && open !== undefined) {
      const [, account = '', amount = '', , commodity = ''] = posting;
      const units = BigInt(amount.replace('.', ''));
      open.set(commodity, (open.get(commodity) ?? 0n) + units);
      const key = `${account} ${commodity}`;
      balances.set(key, (balances.get(key) ?? 0n) + units);
    } else if (line === '') close();
  }
  close();
  return { balances, transactions };
}

/** Reads `hledger bal --flat -N` / `ledger bal --flat --no-total` output (multi-commodity lines included). */
function parseBalanceReport(text: string): Balances {
  const balances: Balances = new Map();
  let pending: { amount: bigint; commodity: string }[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(-?\d+\.\d{18}) "?([A-Z0-9]+)"?(?:\s{2,}(\S.*))?$/.exec(line);
    if (match === null) continue;
    const [, amount = '', commodity = '', account] = match;
    pending.push({ amount: BigInt(amount.replace('.', '')), commodity });
    if (account !== undefined) {
      for (const item of pending) balances.set(`${account.trim()} ${item.commodity}`, item.amount);
      pending = [];
    }
  }
  return balances;
}

describe.each(DIALECTS)('hledger journal export on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;
  let journalText: string;
  let expected: Balances;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
    directory = await mkdtemp(join(tmpdir(), `earnbook-hledger-${dialect}-`));
    const sink = memoryOutput();
    const result = await exportHledgerJournal({ db: books.db, entity: 'defi', ...RANGE, output: sink.output, pageSize: 2 });
    journalText = sink.bytes().toString('utf8');
    expect(result.bytes).toBe(sink.bytes().length);
    await writeFile(join(directory, 'journal.hledger'), journalText);
    // What the books say: every account's balance at the end of the last day, signed debit-positive.
    expected = new Map();
    for (const account of await books.ledger.listAccounts({ entity: 'defi' })) {
      const normal = BigInt((await books.ledger.balanceAtEndOfDay(account.id, RANGE.toDay)).replace('.', ''));
      if (normal === 0n) continue;
      expected.set(`${hledgerAccountName({ entity: account.entity, kind: account.kind, code: account.code })} ${account.currency}`, account.normalSide === 'debit' ? normal : -normal);
    }
  });
  afterAll(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('writes balanced transactions whose sums are the books\' balances', async () => {
    expect(journalText).toContain('commodity BTC\n    format 1.000000000000000000 BTC\n');
    expect(journalText).toMatch(/^2025-03-20 \(\d+\) adjustment \+cmd\|' \/C calc'!A0 - =HYPERLINK\("http:\/\/x.example\/\?a=1,b=2", "click"\)%0D%0Asecond line%3B third$/m);
    const { balances, transactions } = parseJournal(journalText);
    const stored = await books.db.selectFrom('journal_transactions').select('id').where('entity', '=', 'defi').where('accounting_day', '<=', RANGE.toDay).execute();
    expect(transactions).toBe(stored.length);
    expect(new Map([...balances].filter(([, units]) => units !== 0n))).toEqual(expected);
  });

  it.skipIf(HLEDGER === undefined)('is read unchanged by hledger, whose balances equal the books', () => {
    const report = execFileSync(HLEDGER as string, ['-f', join(directory, 'journal.hledger'), 'bal', '--flat', '-N'], { encoding: 'utf8' });
    expect(parseBalanceReport(report)).toEqual(expected);
    // hledger's own checks (parse, balanced transactions, assertions) pass.
    execFileSync(HLEDGER as string, ['-f', join(directory, 'journal.hledger'), 'check'], { encoding: 'utf8' });
  });

  it.skipIf(LEDGER === undefined)('is read unchanged by ledger-cli, whose balances equal the books', () => {
    const report = execFileSync(LEDGER as string, ['-f', join(directory, 'journal.hledger'), 'bal', '--flat', '--no-total'], { encoding: 'utf8' });
    expect(parseBalanceReport(report)).toEqual(expected);
  });

  it.skipIf(LEDGER === undefined)('passes ledger-cli --pedantic: every account, commodity and tag it uses is declared', () => {
    // --pedantic refuses a journal that uses an account, commodity or metadata tag it never declared.
    const report = execFileSync(LEDGER as string, ['--pedantic', '-f', join(directory, 'journal.hledger'), 'bal', '--flat', '--no-total'], { encoding: 'utf8' });
    expect(parseBalanceReport(report)).toEqual(expected);
  });

  it.skipIf(HLEDGER === undefined)('passes hledger check --strict and keeps every account\'s type', () => {
    execFileSync(HLEDGER as string, ['--strict', '-f', join(directory, 'journal.hledger'), 'check'], { encoding: 'utf8' });
    const types = execFileSync(HLEDGER as string, ['-f', join(directory, 'journal.hledger'), 'accounts', '--types'], { encoding: 'utf8' });
    expect(types).toMatch(/^defi:user:acc-1 +; type: L$/m);
    expect(types).toMatch(/^defi:partner_margin_income +; type: R$/m);
  });

  it('declares accounts and tags as both tools read them: the type tag on its own line, a tag directive per tag', () => {
    // ledger-cli does not take `account NAME  ; type: T` as a declaration of NAME.
    expect(journalText).not.toMatch(/^account .*;/m);
    expect(journalText).toContain('account defi:user:acc-1\n    ; type: L\n');
    const used = new Set([...journalText.matchAll(/^ +; ([a-z_]+): /gm)].map((match) => match[1]).filter((tag) => tag !== 'type'));
    expect(used.size).toBeGreaterThan(2);
    for (const tag of used) expect(journalText).toContain(`\ntag ${tag}\n`);
  });

  it('agrees with balances.csv', async () => {
    const sink = memoryOutput();
    const result = await exportBalancesCsv({ db: books.db, entity: 'defi', day: RANGE.toDay, output: sink.output });
    const journal = await exportHledgerJournal({ db: books.db, entity: 'defi', fromDay: '2025-01-01', toDay: RANGE.toDay, output: memoryOutput().output });
    // The trial balance's total debits equal the sum of positive account balances of the journal.
    const { balances } = parseJournal(journalText);
    expect([...result.totals.keys()]).toEqual(['defi']);
    for (const [currency, totals] of result.totals.get('defi') ?? new Map()) {
      const positive = [...balances].filter(([key, units]) => key.endsWith(` ${currency}`) && units > 0n).reduce((sum, [, units]) => sum + units, 0n);
      expect(BigInt(totals.debit.replace('.', ''))).toBe(positive);
    }
    expect(journal.rows).toBeGreaterThan(0);
  });
});

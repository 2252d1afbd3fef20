/**
 * One step of the journal export benchmark, run in its own process so that its peak RSS
 * (`process.resourceUsage().maxRSS`) is its own:
 *
 * - `build <file> <entries>`: a SQLite file with `entries` journal entries (deposits of four
 *   entries each, spread over 1,000 user accounts and 365 accounting days), written row for row
 *   as the ledger writes them (transactions, entries with running balances, day balances) with
 *   prepared statements in one transaction, into a database migrated by `Ledger.open` and
 *   `migrateReconcile`;
 * - `export <file> <csv>`: `exportJournalCsv` of the whole year to a file;
 * - `raw <file> <csv>`: the baseline: the same rows, read by the same join through
 *   better-sqlite3 directly (`iterate`, raw arrays, amounts split into debit and credit in SQL)
 *   and written by plain fast-csv to a file with backpressure: no Kysely, no normalisation, no
 *   escaping, no hashing.
 *
 * Timed steps run three times and report the best, as the host may be busy.
 *
 * Prints one JSON line with the figures.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { format } from 'fast-csv';
import { Ledger, formatInstant, formatUnits } from '@earnbook/ledger';
import type { LedgerAccount } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { migrateReconcile } from '../src/db/migrations.js';
import { JOURNAL_CSV_HEADERS, exportJournalCsv } from '../src/export/index.js';

const USERS = 1_000;
const DAYS = 365;
const FIRST_DAY_MS = Date.UTC(2025, 0, 1);
const ENTITY = 'defi';

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function build(file: string, entries: number): Promise<void> {
  const { db, native, dialect } = openSqliteDatabase({ filename: file });
  const ledger = await Ledger.open({ storage: { db, dialect } });
  await migrateReconcile(db as Kysely<unknown>, dialect);
  const open = (code: string, kind: 'user' | 'customer_funds' | 'earn_assets' | 'settlement') => ledger.openAccount({ entity: ENTITY, currency: 'BTC', code, kind });
  const customerFunds = await open('customer_funds', 'customer_funds');
  const earnAssets = await open('earn_assets', 'earn_assets');
  const settlement = await open('settlement', 'settlement');
  const users: LedgerAccount[] = [];
  for (let index = 0; index < USERS; index++) users.push(await open(`user:acc-${index}`, 'user'));
  native.pragma('synchronous = OFF');
  const insertTransaction = native.prepare(
    `INSERT INTO journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
     VALUES (?, 'deposit', ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)`,
  );
  const insertEntry = native.prepare('INSERT INTO journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const upsertDay = native.prepare(
    'INSERT INTO account_day_balances (account_id, accounting_day, balance) VALUES (?, ?, ?) ON CONFLICT (account_id, accounting_day) DO UPDATE SET balance = excluded.balance',
  );
  const updateAccount = native.prepare('UPDATE ledger_accounts SET balance = ?, last_day = ?, entry_count = ? WHERE id = ?');
  const balances = new Map<number, { units: bigint; entries: number; lastDay: string }>();
  const deposits = Math.ceil(entries / 4);
  const createdAt = formatInstant(new Date());
  native.transaction(() => {
    for (let index = 0; index < deposits; index++) {
      const day = new Date(FIRST_DAY_MS + Math.floor((index * DAYS) / deposits) * 86_400_000).toISOString().slice(0, 10);
      const occurredAt = `${day}T${String(index % 24).padStart(2, '0')}:00:00.000Z`;
      const units = 1_000_000_000_000n + BigInt(index % 997) * 123_456_789n;
      const user = users[index % USERS] as LedgerAccount;
      const result = insertTransaction.run(ENTITY, `bench-${index}`, `hash-${index}`, occurredAt, day, `dep-${index}`, createdAt);
      const transactionId = Number(result.lastInsertRowid);
      // Dr customer_funds, Cr user; Dr earn_assets, Cr settlement (as EarnBooks.recordDeposit).
      const lines: [LedgerAccount, bigint][] = [
        [customerFunds, units],
        [user, -units],
        [earnAssets, units],
        [settlement, -units],
      ];
      for (const [account, signed] of lines) {
        const state = balances.get(account.id) ?? { units: 0n, entries: 0, lastDay: day };
        state.units += account.normalSide === 'debit' ? signed : -signed;
        state.entries += 1;
        state.lastDay = day;
        balances.set(account.id, state);
        const after = formatUnits(state.units);
        insertEntry.run(transactionId, ENTITY, account.id, 'BTC', formatUnits(signed), after, day);
        upsertDay.run(account.id, day, after);
      }
    }
    for (const [accountId, state] of balances) updateAccount.run(formatUnits(state.units), state.lastDay, state.entries, accountId);
  })();
  await ledger.close();
  console.log(JSON.stringify({ entries: deposits * 4, peakRssMiB: peakRssMiB() }));
}

const LAST_DAY = new Date(FIRST_DAY_MS + (DAYS - 1) * 86_400_000).toISOString().slice(0, 10);

/** Runs of each timed step; the best (shortest) is reported, as the host may be busy. */
const RUNS = 3;

async function best(run: () => Promise<number>): Promise<{ seconds: number; rows: number }> {
  let seconds = Number.POSITIVE_INFINITY;
  let rows = 0;
  for (let attempt = 0; attempt < RUNS; attempt++) {
    const started = process.hrtime.bigint();
    rows = await run();
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - started) / 1e9);
  }
  return { seconds, rows };
}

async function exportJournal(file: string, csv: string): Promise<void> {
  const { db } = openSqliteDatabase({ filename: file });
  const measured = await best(async () => {
    const result = await exportJournalCsv({ db, entity: ENTITY, fromDay: '2025-01-01', toDay: LAST_DAY, output: createWriteStream(csv) });
    return result.rows;
  });
  await db.destroy();
  console.log(JSON.stringify({ ...measured, peakRssMiB: peakRssMiB() }));
}

/** The same rows, read by the same query through better-sqlite3 directly, one at a time. */
const RAW_QUERY = `SELECT e.entity, e.accounting_day, z.time_zone, COALESCE(json_extract(t.metadata, '$.interestDay'), ''), t.occurred_at,
         CAST(e.transaction_id AS TEXT), CAST(e.id AS TEXT), t.kind, CAST(e.account_id AS TEXT), a.code, a.kind, e.currency,
         CASE WHEN substr(e.amount, 1, 1) = '-' THEN '' ELSE e.amount END,
         CASE WHEN substr(e.amount, 1, 1) = '-' THEN substr(e.amount, 2) ELSE '' END,
         e.balance_after, COALESCE(t.provider_id, ''), COALESCE(t.description, '')
  FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id JOIN ledger_accounts a ON a.id = e.account_id
  JOIN ledger_entities z ON z.id = e.entity
  WHERE e.entity = ? AND e.accounting_day >= ? AND e.accounting_day <= ?
  ORDER BY e.id`;

async function rawFastCsv(file: string, csv: string): Promise<void> {
  const { db, native } = openSqliteDatabase({ filename: file });
  const statement = native.prepare(RAW_QUERY).raw(true);
  const measured = await best(async () => {
    const formatter = format<string[], string[]>({ headers: [...JOURNAL_CSV_HEADERS], rowDelimiter: '\r\n', includeEndRowDelimiter: true });
    const output = createWriteStream(csv);
    formatter.pipe(output);
    let rows = 0;
    for (const row of statement.iterate(ENTITY, '2025-01-01', LAST_DAY) as IterableIterator<string[]>) {
      rows += 1;
      if (!formatter.write(row)) await once(formatter, 'drain');
    }
    formatter.end();
    await finished(output);
    return rows;
  });
  await db.destroy();
  console.log(JSON.stringify({ ...measured, peakRssMiB: peakRssMiB() }));
}

const [step, file, argument] = process.argv.slice(2);
if (step === 'build' && file !== undefined && argument !== undefined) await build(file, Number(argument));
else if (step === 'export' && file !== undefined && argument !== undefined) await exportJournal(file, argument);
else if (step === 'raw' && file !== undefined && argument !== undefined) await rawFastCsv(file, argument);
else throw new Error(`usage: export-journal-child.ts build <file> <entries> | export <file> <csv> | raw <file> <csv>, got ${process.argv.slice(2).join(' ')}`);

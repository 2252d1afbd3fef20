/**
 * `reconcile_1m_report_s`: reconcile a generated daily report of N transactions against a ledger
 * holding the same bookings (a SQLite file), end to end: read the file, parse, validate against
 * the contract, load the day's local entries, diff, recompute the day's interest, net the
 * settlement, store the outcome. The baseline is `JSON.parse` of the same file in the same run;
 * the peak RSS is the process's (run this file alone in a child process to isolate it).
 *
 * Setup writes, with native prepared statements, exactly the rows the ledger writes for the
 * bookings (a two-entry deposit per booking: Dr customer_funds, Cr the user's account).
 *
 * Run alone: `npx tsx bench/reconcile-report.ts [transactions]` prints one JSON line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarnBooks, Ledger, formatUnits, localEntryId } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, readReportFile } from '../src/index.js';

const DAY = '2025-03-18';
const CREATED_AT = '2025-03-18T00:00:00.000Z';
const ACCOUNTS_PER_BOOKINGS = 10;

/** Measures one size; returns seconds, the baseline, and the peak RSS. */
export async function measureReconcile(transactions: number): Promise<{ seconds: number; parseSeconds: number; peakRssMiB: number; breaks: number; bytes: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-reconcile-bench-'));
  try {
    const filename = join(directory, 'books.sqlite');
    const storage = openSqliteDatabase({ filename });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const books = new EarnBooks(ledger);
    // APY 0: the day's recomputed interest is zero, so the report rightly carries none.
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0' }] } });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const accounts = Math.max(1, Math.floor(transactions / ACCOUNTS_PER_BOOKINGS));
    const native = storage.native;
    const insertPartner = native.prepare('insert into partner_users (partner_user_id, created_at) values (?, ?)');
    const insertEarnUser = native.prepare("insert into earn_users (entity, earn_user_id, partner_user_id, created_at) values ('defi', ?, ?, ?)");
    const insertAccount = native.prepare("insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, last_day, entry_count, created_at) values ('defi', 'BTC', ?, 'user', 'credit', ?, ?, ?, ?)");
    const insertEarnAccount = native.prepare("insert into earn_accounts (entity, earn_account_id, earn_user_id, provider_product_id, currency, ledger_account_id, created_at) values ('defi', ?, ?, 'btc', 'BTC', ?, ?)");
    const insertTransaction = native.prepare(
      "insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at) values ('defi', 'deposit', ?, ?, ?, ?, ?, null, null, null, ?)",
    );
    const insertEntry = native.prepare("insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day) values (?, 'defi', ?, 'BTC', ?, ?, ?)");
    const insertDay = native.prepare('insert into account_day_balances (account_id, accounting_day, balance) values (?, ?, ?)');
    const reportEntries: string[] = [];
    let total = 0n;
    native.transaction(() => {
      const accountIds: number[] = [];
      for (let index = 0; index < accounts; index++) {
        insertPartner.run(`p${index}`, CREATED_AT);
        insertEarnUser.run(`u${index}`, `p${index}`, CREATED_AT);
        accountIds.push(Number(insertAccount.run(`user:a${index}`, formatUnits(0n), DAY, 0, CREATED_AT).lastInsertRowid));
        insertEarnAccount.run(`a${index}`, `u${index}`, accountIds[index], CREATED_AT);
      }
      const balances = new Array<bigint>(accounts).fill(0n);
      const counts = new Array<number>(accounts).fill(0);
      for (let n = 0; n < transactions; n++) {
        const index = n % accounts;
        const units = BigInt((n % 997) + 1) * 10n ** 14n;
        const amount = formatUnits(units);
        const occurredAt = new Date(Date.parse('2025-03-18T00:00:00Z') + Math.floor((n / transactions) * 86_399_000)).toISOString();
        const transactionId = Number(insertTransaction.run(`k${n}`, `h${n}`, occurredAt, DAY, `b${n}`, CREATED_AT).lastInsertRowid);
        total += units;
        balances[index] = (balances[index] ?? 0n) + units;
        counts[index] = (counts[index] ?? 0) + 1;
        insertEntry.run(transactionId, funds.id, amount, formatUnits(-total), DAY);
        insertEntry.run(transactionId, accountIds[index], formatUnits(-units), formatUnits(balances[index] ?? 0n), DAY);
        reportEntries.push(
          JSON.stringify({ id: localEntryId('defi', DAY, 'booking', String(n)), type: 'Deposit', currency: 'BTC', amount, createdAt: occurredAt, accountId: `a${index}`, bookingId: `b${n}`, idempotencyKey: `k${n}` }),
        );
      }
      const updateAccount = native.prepare('update ledger_accounts set balance = ?, entry_count = ? where id = ?');
      for (let index = 0; index < accounts; index++) {
        updateAccount.run(formatUnits(balances[index] ?? 0n), counts[index] ?? 0, accountIds[index]);
        insertDay.run(accountIds[index], DAY, formatUnits(balances[index] ?? 0n));
      }
      updateAccount.run(formatUnits(-total), transactions, funds.id);
      native.prepare('update ledger_accounts set last_day = ? where id = ?').run(DAY, funds.id);
      insertDay.run(funds.id, DAY, formatUnits(-total));
    })();
    const reportFile = join(directory, 'report.json');
    writeFileSync(
      reportFile,
      `{"id":"${localEntryId('defi', DAY, 'report')}","type":"Report","entity":"defi","accountingDay":"${DAY}","timeZone":"UTC","generatedAt":"2025-03-19T00:01:00.000Z","transactions":[${reportEntries.join(',')}],"balances":[{"currency":"BTC","outstandingBalance":"${formatUnits(-total)}"}]}`,
    );
    reportEntries.length = 0;
    const bytes = readFileSync(reportFile).length;

    const parseStarted = performance.now();
    JSON.parse(readFileSync(reportFile, 'utf8'));
    const parseSeconds = (performance.now() - parseStarted) / 1000;

    const reconciler = await Reconciler.open({ books });
    const started = performance.now();
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await readReportFile(reportFile) });
    const seconds = (performance.now() - started) / 1000;
    if (result.reportEntries !== transactions) throw new Error(`reconciled ${result.reportEntries} of ${transactions} entries`);
    await ledger.close();
    return { seconds, parseSeconds, peakRssMiB: process.resourceUsage().maxRSS / 1024, breaks: result.breaks.length, bytes };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('reconcile-report.ts')) {
  console.log(JSON.stringify(await measureReconcile(Number(process.argv[2] ?? 1_000_000))));
}

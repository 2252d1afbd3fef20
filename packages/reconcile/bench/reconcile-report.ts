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
 * Steps run as child processes of `runReconcileReportBench` (build, parse, reconcile), so each
 * peak RSS is that step's own.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarnBooks, Ledger, formatUnits, localEntryId } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, openReportFile } from '../src/index.js';
import { benchWorkerThreads } from './worker-threads.js';

const DAY = '2025-03-18';
const CREATED_AT = '2025-03-18T00:00:00.000Z';
const ACCOUNTS_PER_BOOKINGS = 10;

/** Writes the books (books.sqlite) and the matching report (report.json) into `directory`. */
export async function buildReconcileBench(directory: string, transactions: number): Promise<{ bytes: number }> {
  {
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
    // The report is written as it is generated (a 4M-entry report is longer than V8's longest string).
    const reportFile = join(directory, 'report.json');
    const fd = openSync(reportFile, 'w');
    let pending = '';
    const write = (text: string, flush = false) => {
      pending += text;
      if (flush || pending.length >= 1 << 20) {
        writeSync(fd, pending);
        pending = '';
      }
    };
    write(`{"id":"${localEntryId('defi', DAY, 'report')}","type":"Report","entity":"defi","accountingDay":"${DAY}","timeZone":"UTC","generatedAt":"2025-03-19T00:01:00.000Z","transactions":[`);
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
        write(
          `${n === 0 ? '' : ','}${JSON.stringify({ id: localEntryId('defi', DAY, 'booking', String(n)), type: 'Deposit', currency: 'BTC', amount, createdAt: occurredAt, accountId: `a${index}`, bookingId: `b${n}`, idempotencyKey: `k${n}` })}`,
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
    write(`],"balances":[{"currency":"BTC","outstandingBalance":"${formatUnits(-total)}"}]}`, true);
    closeSync(fd);
    await Reconciler.open({ books });
    await ledger.close();
    return { bytes: statSync(reportFile).size };
  }
}

/** The baseline: `JSON.parse` of the report file (read included), in seconds. */
export function measureParse(directory: string): { parseSeconds: number; parseCpuSeconds: number } {
  const started = performance.now();
  const cpu = process.cpuUsage();
  JSON.parse(readFileSync(join(directory, 'report.json'), 'utf8'));
  const used = process.cpuUsage(cpu);
  return { parseSeconds: (performance.now() - started) / 1000, parseCpuSeconds: (used.user + used.system) / 1e6 };
}

/** Reconciles the day from the report file; seconds, peak RSS of this process, breaks. */
export async function measureReconcile(directory: string): Promise<Record<string, number>> {
  const storage = openSqliteDatabase({ filename: join(directory, 'books.sqlite') });
  const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
  const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), workerThreads: benchWorkerThreads() });
  const started = performance.now();
  const cpu = process.cpuUsage();
  // When each phase last reported (read: streaming the file; then the write transaction opening,
  // silent; sync; diff; then storing the outcome, silent): where the time goes.
  const last = { read: started, sync: started, diff: started };
  let syncStarted = started;
  const onProgress = (event: { phase: 'read' | 'sync' | 'diff'; rows: number }) => {
    last[event.phase] = performance.now();
    // The sync's first event starts it (its last one may carry 0 rows too: a sync that booked nothing).
    if (event.phase === 'sync' && syncStarted === started) syncStarted = last.sync;
  };
  const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(join(directory, 'report.json')), onProgress });
  const ended = performance.now();
  const seconds = (ended - started) / 1000;
  const used = process.cpuUsage(cpu);
  await ledger.close();
  return {
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    breaks: result.openBreaks,
    entries: result.reportEntries,
    readSeconds: (last.read - started) / 1000,
    // From the end of the stream to the start of the sync: the write transaction opens (its locks,
    // the processed report, the day's breaks). Not the interest recomputation: with the bench's
    // worker threads it runs on one beside the read and the sync (this was labelled so before).
    toSyncSeconds: (syncStarted - last.read) / 1000,
    syncSeconds: (last.sync - syncStarted) / 1000,
    diffSeconds: (last.diff - last.sync) / 1000,
    storeSeconds: (ended - last.diff) / 1000,
  };
}

function child(args: readonly string[]): Record<string, number> {
  const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(output.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

/** Runs the benchmark (each step in its own process) and returns the printed line. */
export function runReconcileReportBench(): string[] {
  const scale = process.env['EARNBOOK_BENCH_SCALE'] ?? 'full';
  const transactions = scale === 'small' ? 100_000 : 1_000_000;
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-reconcile-bench-'));
  try {
    const built = child(['build', directory, String(transactions)]);
    const parsed = child(['parse', directory]);
    const measured = child(['reconcile', directory]);
    const seconds = measured['seconds'] ?? Number.NaN;
    const parseSeconds = parsed['parseSeconds'] ?? Number.NaN;
    const label = transactions >= 1_000_000 ? `${transactions / 1_000_000}m` : `${transactions / 1_000}k`;
    const phase = (name: string) => (measured[name] ?? Number.NaN).toFixed(1);
    const cpuRatio = (measured['cpuSeconds'] ?? Number.NaN) / (parsed['parseCpuSeconds'] ?? Number.NaN);
    return [
      `reconcile_${label}_report_s: ${seconds.toFixed(2)} s ratio=${(seconds / parseSeconds).toFixed(2)} (baseline JSON.parse of the same ${((built['bytes'] ?? 0) / 1024 / 1024).toFixed(0)} MiB file: ${parseSeconds.toFixed(2)} s; stream, validate, sort, recompute interest, merge with the books in provider id order, diff, net settlement, store in one transaction; ${measured['entries']} entries, ${measured['breaks']} breaks; SQLite file; CPU time ${(measured['cpuSeconds'] ?? Number.NaN).toFixed(2)} s against ${(parsed['parseCpuSeconds'] ?? Number.NaN).toFixed(2)} s, ratio ${cpuRatio.toFixed(2)}, which a loaded machine distorts less; phases: read ${phase('readSeconds')} s, read to sync ${phase('toSyncSeconds')} s, sync ${phase('syncSeconds')} s, diff ${phase('diffSeconds')} s, store ${phase('storeSeconds')} s; target ratio ≤ 4)`,
      `reconcile_${label}_report_peak_rss: ${(measured['peakRssMiB'] ?? Number.NaN).toFixed(0)} MiB ratio=n/a (peak RSS of the reconciling process, streaming the file; target ≤ 512 MiB)`,
    ];
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * `reconcile_peak_rss_growth`: peak RSS reconciling a report 4 times larger ÷ the smaller one:
 * 2M ÷ 500k entries (small scale: 400k ÷ 100k). Streaming keeps it flat: target ≤ 1.2. Issue 11
 * asked for 4M ÷ 1M; the contract refuses a report of more than 2M entries
 * (`CONTRACT_REPORT_TRANSACTIONS_MAX`), so the same factor is measured below that bound.
 */
export function runReconcileGrowthBench(): string[] {
  const small = (process.env['EARNBOOK_BENCH_SCALE'] ?? 'full') === 'small';
  const sizes = small ? [100_000, 400_000] : [500_000, 2_000_000];
  const peaks: number[] = [];
  for (const transactions of sizes) {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-reconcile-growth-'));
    try {
      child(['build', directory, String(transactions)]);
      peaks.push(child(['reconcile', directory])['peakRssMiB'] ?? Number.NaN);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
  const [low, high] = peaks;
  return [`reconcile_peak_rss_growth: ${((high ?? Number.NaN) / (low ?? Number.NaN)).toFixed(2)} ratio=${((high ?? Number.NaN) / (low ?? Number.NaN)).toFixed(2)} (peak RSS ${(high ?? Number.NaN).toFixed(0)} MiB at ${sizes[1]} entries ÷ ${(low ?? Number.NaN).toFixed(0)} MiB at ${sizes[0]}; target ≤ 1.2)`];
}

const [step, directoryArgument, countArgument] = process.argv.slice(2);
if (process.argv[1] !== undefined && process.argv[1].endsWith('reconcile-report.ts') && directoryArgument !== undefined) {
  if (step === 'build') console.log(JSON.stringify(await buildReconcileBench(directoryArgument, Number(countArgument ?? 1_000_000))));
  else if (step === 'parse') console.log(JSON.stringify(measureParse(directoryArgument)));
  else if (step === 'reconcile') console.log(JSON.stringify(await measureReconcile(directoryArgument)));
}

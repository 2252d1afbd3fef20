/**
 * `nightly_1m_accounts_s`: the nightly job for a day of N Earn accounts (default 1M): books that
 * hold N accounts with balances and the day's 50k deposits and withdrawals; a report (a file)
 * with N interest entries, the partner margin and those bookings. Earn account ids are opaque
 * (UUID-shaped hashes), as the provider's are. Measured: reconcile from the
 * file — stream, validate, sync the interest and margin into the books, diff, settle, store — and
 * the peak RSS of that process. SQLite, with the PostgreSQL figure beside it. The SQLite line's
 * ratio is to {@link rawNightly} on a copy of the same books (parse and raw writes: a floor).
 *
 * Setup writes the rows with multi-row inserts (not timed) and computes the report's interest
 * with the ledger's own accounting cycle, so the day is clean. Each step is a child process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, createWriteStream, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { EarnBooks, LINES_PER_TRANSACTION_MAX, Ledger, cycleLines, formatInstant, formatUnits, localEntryId, nextAccountingDay, previousAccountingDay, startOfAccountingDay, toUnits } from '@earnbook/ledger';
import type { LedgerDatabase, LedgerStorage } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { EarnClient } from '@earnbook/earn-client';
import { Reconciler, openReportFile } from '../src/index.js';
import { SERVED_REPORT_ID } from './report-server.js';
import { benchWorkerThreads } from './worker-threads.js';
// The ledger's raw writer of a day's interest, the baseline of its cycle bench too (same rows).
import { rawInterestWriter } from '../../ledger/bench/raw-interest.js';

const DAY = '2025-03-18';
const PREVIOUS_DAY = '2025-03-17';
/** The day interest of {@link DAY} is credited on, and the instant (its start): the report's `createdAt`. */
const CREDITED_DAY = nextAccountingDay(DAY);
const CREDITED_AT = formatInstant(startOfAccountingDay(CREDITED_DAY, 'UTC'));
const BOOKINGS = 50_000;
const ROWS_PER_INSERT = 500;
/**
 * The Earn account id of the i-th account: opaque, as the provider's are (UUIDs), so their order
 * says nothing of the order the accounts were opened in (their ledger account ids). With ids
 * `a0 … aN` the sync's order by Earn account id nearly followed the ledger's, which flattered it.
 */
const earnAccountIdOf = (i: number): string => localEntryId('defi', 'earn-account', String(i));
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

async function openStorage(target: string): Promise<LedgerStorage> {
  if (!target.startsWith('postgres')) return openSqliteDatabase({ filename: target });
  const [url, schema] = target.split('#');
  const { openPostgresDatabase } = await import('@earnbook/ledger/postgres');
  return openPostgresDatabase({ connectionString: url ?? '', ...(schema === undefined ? {} : { schema }) });
}

async function insertRows(db: Kysely<LedgerDatabase>, table: keyof LedgerDatabase, rows: readonly Record<string, unknown>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    await db.insertInto(table).values(rows.slice(start, start + ROWS_PER_INSERT) as never).execute();
  }
}

/** Writes the accounts, their balances and the day's bookings; returns the ledger account ids. */
async function buildBooks(ledger: Ledger, accounts: number): Promise<void> {
  const db = ledger.db;
  const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
  const createdAt = '2025-03-01T00:00:00.000Z';
  for (let first = 0; first < accounts; first += 50_000) {
    const count = Math.min(50_000, accounts - first);
    const index = Array.from({ length: count }, (_, i) => first + i);
    await ledger.dialect.writeTransaction(db, async (trx) => {
      await insertRows(trx, 'partner_users', index.map((i) => ({ partner_user_id: `p${i}`, created_at: createdAt })));
      await insertRows(trx, 'earn_users', index.map((i) => ({ entity: 'defi', earn_user_id: `u${i}`, partner_user_id: `p${i}`, created_at: createdAt })));
      const balance = (i: number) => formatUnits(BigInt((i % 1000) + 1) * 10n ** 15n);
      await insertRows(trx, 'ledger_accounts', index.map((i) => ({ entity: 'defi', currency: 'BTC', code: `user:${earnAccountIdOf(i)}`, kind: 'user', normal_side: 'credit', balance: balance(i), last_day: PREVIOUS_DAY, entry_count: 0, created_at: createdAt })));
      const ids = await trx.selectFrom('ledger_accounts').select(['id', 'code']).where('code', 'in', index.slice(0, 1).map((i) => `user:${earnAccountIdOf(i)}`)).execute();
      const firstId = ids[0]?.id ?? 0;
      await insertRows(trx, 'earn_accounts', index.map((i, n) => ({ entity: 'defi', earn_account_id: earnAccountIdOf(i), earn_user_id: `u${i}`, provider_product_id: 'btc', currency: 'BTC', ledger_account_id: firstId + n, created_at: createdAt })));
      await insertRows(trx, 'account_day_balances', index.map((i, n) => ({ account_id: firstId + n, accounting_day: PREVIOUS_DAY, balance: balance(i) })));
    });
  }
  // The day's bookings: deposits and withdrawals of small amounts on the first accounts.
  const account = async (i: number) => (await ledger.findAccount({ entity: 'defi', currency: 'BTC', code: `user:${earnAccountIdOf(i)}` }))?.id ?? 0;
  const firstAccount = await account(0);
  const transactions = Array.from({ length: Math.min(BOOKINGS, accounts) }, (_, n) => ({ entity: 'defi', kind: n % 2 === 0 ? 'deposit' : 'withdrawal', idempotency_key: `k${n}`, request_hash: `h${n}`, occurred_at: '2025-03-18T10:00:00.000Z', accounting_day: DAY, provider_id: `b${n}`, reverses_transaction_id: null, description: null, metadata: null, created_at: createdAt }));
  await ledger.dialect.writeTransaction(db, async (trx) => {
    await insertRows(trx, 'journal_transactions', transactions);
    const rows = await trx.selectFrom('journal_transactions').select(['id', 'provider_id']).where('entity', '=', 'defi').where('accounting_day', '=', DAY).execute();
    const entries = rows.flatMap((row) => {
      const n = Number((row.provider_id ?? 'b0').slice(1));
      const units = 10n ** 12n;
      const user = n % 2 === 0 ? -units : units;
      return [
        { transaction_id: row.id, entity: 'defi', account_id: funds.id, currency: 'BTC', amount: formatUnits(-user), balance_after: formatUnits(0n), accounting_day: DAY },
        { transaction_id: row.id, entity: 'defi', account_id: firstAccount + n, currency: 'BTC', amount: formatUnits(user), balance_after: formatUnits(0n), accounting_day: DAY },
      ];
    });
    await insertRows(trx, 'journal_entries', entries);
  });
}

/**
 * Interest reported over what the books compute, per account, in the `build-breaks` variant: past
 * the default tolerance (1 unit), so the night opens an `interest_mismatch` per account (1M breaks
 * at full scale) and books the reported amounts. Only the interest entries change.
 */
const BREAKS_INTEREST_OFFSET_UNITS = 2n;

/**
 * Builds the books and the report file for `accounts` Earn accounts; with `interestOffsetUnits`, each interest entry
 * reports that many units more than the books compute (a night of breaks, `build-breaks`).
 */
export async function buildNightly(target: string, reportFile: string, accounts: number, interestOffsetUnits = 0n): Promise<{ bytes: number; entries: number }> {
  const ledger = await Ledger.open({ storage: await openStorage(target), entities: [{ id: 'defi', timeZone: 'UTC' }] });
  const books = new EarnBooks(ledger);
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
  await buildBooks(ledger, accounts);
  const out = createWriteStream(reportFile);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`{"id":"${localEntryId('defi', DAY, 'report')}","type":"Report","entity":"defi","accountingDay":"${DAY}","timeZone":"UTC","generatedAt":"${CREDITED_AT}","transactions":[`);
  let entries = 0;
  let margin = 0n;
  const separator = () => (entries++ === 0 ? '' : ',');
  for await (const lines of cycleLines({ books, entity: 'defi', day: DAY, batchSize: 1000 })) {
    for (const line of lines) {
      margin += toUnits(line.partnerMargin);
      if (toUnits(line.userInterest) === 0n) continue;
      const amount = interestOffsetUnits === 0n ? line.userInterest : formatUnits(toUnits(line.userInterest) + interestOffsetUnits);
      await write(`${separator()}{"id":"${localEntryId('defi', DAY, 'interest', line.earnAccountId)}","type":"Interest","currency":"BTC","amount":"${amount}","createdAt":"${CREDITED_AT}","accountId":"${line.earnAccountId}"}`);
    }
  }
  let net = margin;
  for (let n = 0; n < Math.min(BOOKINGS, accounts); n++) {
    const type = n % 2 === 0 ? 'Deposit' : 'Withdrawal';
    net += n % 2 === 0 ? -(10n ** 12n) : 10n ** 12n;
    await write(`${separator()}{"id":"${localEntryId('defi', DAY, 'booking', String(n))}","type":"${type}","currency":"BTC","amount":"${formatUnits(10n ** 12n)}","createdAt":"2025-03-18T10:00:00.000Z","accountId":"${earnAccountIdOf(n)}","bookingId":"b${n}"}`);
  }
  await write(`${separator()}{"id":"${localEntryId('defi', DAY, 'margin', 'BTC')}","type":"PartnerMargin","currency":"BTC","amount":"${formatUnits(margin)}","createdAt":"${CREDITED_AT}"}`);
  await write(`],"balances":[{"currency":"BTC","outstandingBalance":"${formatUnits(net)}"}]}`);
  out.end();
  await once(out, 'finish');
  await Reconciler.open({ books, feeApprovalLimits: {} });
  // The statistics autovacuum would have gathered on books loaded before the night (this
  // machine's PostgreSQL runs with autovacuum off): without them every page query is planned on
  // default estimates, which production books do not see.
  if (ledger.dialect.name === 'postgres') await sql`analyze`.execute(ledger.db);
  await ledger.close();
  return { bytes: statSync(reportFile).size, entries };
}

/**
 * Gives built SQLite books `days` earlier nights of history, as a partner's books hold after
 * that many nights of the job: per night before {@link PREVIOUS_DAY}, each account's interest
 * entry (its provider id the report's id of that night: a hash) in transactions of 1,000 lines,
 * and each account's end-of-day row. Amounts of one unit, balances left as they are (nothing reads
 * them: the job reads the accounts' rows and two days of entries, and looks ids up anywhere). What
 * the history changes is the size of every index the night writes into: the provider-id index
 * (random ids), the accounts' entry index and the end-of-day rows (one insert per account range).
 * Not timed; written in account order with `json_each` statements, one transaction per night.
 */
export async function addNightlyHistory(target: string, days: number): Promise<{ days: number; entries: number }> {
  if (target.startsWith('postgres')) throw new Error('history is written to SQLite books only');
  const storage = openSqliteDatabase({ filename: target });
  const native = storage.native;
  try {
    const accounts = native.prepare("select ea.earn_account_id, ea.ledger_account_id from earn_accounts ea where ea.entity = 'defi' order by ea.ledger_account_id").raw().all() as [string, number][];
    const insertTransaction = native.prepare(
      "insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at) values ('defi', 'interest', ?, ?, ?, ?, null, null, null, ?, ?)",
    );
    const insertEntries = native.prepare("insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id) select ?, 'defi', value ->> 0, 'BTC', '-0.000000000000000001', '0.000000000000000001', ?, value ->> 1 from json_each(?)");
    const insertDays = native.prepare("insert into account_day_balances (account_id, accounting_day, balance) select value, ?, '0.000000000000000001' from json_each(?) where true on conflict (account_id, accounting_day) do nothing");
    let entries = 0;
    let night = PREVIOUS_DAY;
    for (let n = 0; n < days; n++) {
      const interestDay = previousAccountingDay(night);
      const credited = night;
      const at = `${credited}T00:00:00.000Z`;
      native.transaction(() => {
        for (let start = 0; start < accounts.length; start += LINES_PER_TRANSACTION_MAX) {
          const batch = accounts.slice(start, start + LINES_PER_TRANSACTION_MAX);
          const id = Number(insertTransaction.run(`history:${interestDay}:${start}`, 'h'.repeat(64), at, credited, `{"interestDay":"${interestDay}"}`, at).lastInsertRowid);
          insertEntries.run(id, credited, JSON.stringify(batch.map(([earnAccountId, accountId]) => [accountId, localEntryId('defi', interestDay, 'interest', earnAccountId)])));
          insertDays.run(credited, JSON.stringify(batch.map(([, accountId]) => accountId)));
          entries += batch.length;
        }
      }).immediate();
      native.pragma('wal_checkpoint(truncate)');
      night = interestDay;
    }
    return { days, entries };
  } finally {
    // Kysely's driver closes the native handle with it.
    await storage.db.destroy();
  }
}

/**
 * The nightly job on the built books: seconds, peak RSS, breaks, booked interest. With
 * `fetchFrom` (a loopback {@link SERVED_REPORT_ID} server's port) the report is fetched through
 * the Earn client to a file beside `reportFile` first, as the CLI's `--fetch` and the nightly
 * example do, and that download is timed too.
 */
export async function measureNightly(target: string, reportFile: string, fetchFrom?: number): Promise<Record<string, number>> {
  const ledger = await Ledger.open({ storage: await openStorage(target), entities: [{ id: 'defi', timeZone: 'UTC' }] });
  const reconciler = await Reconciler.open({ books: new EarnBooks(ledger), workerThreads: benchWorkerThreads() });
  const started = performance.now();
  const cpu = process.cpuUsage();
  let file = reportFile;
  if (fetchFrom !== undefined) {
    const base = `http://127.0.0.1:${fetchFrom}`;
    const client = new EarnClient({ entityId: 'defi', baseUrl: base, tokenUrl: `${base}/oauth/token`, clientId: 'bench', clientSecret: 'bench-client-secret-0123' });
    file = `${reportFile}.fetched.json`;
    await client.fetchReportToFile({ reportId: SERVED_REPORT_ID, path: file });
  }
  const fetchedAt = performance.now();
  // When each phase last reported (read: streaming the file; then the write transaction opening,
  // silent; sync; diff; then storing the outcome, silent): where the time goes.
  const last = { read: started, sync: started, diff: started };
  let syncStarted = started;
  const onProgress = (event: { phase: 'read' | 'sync' | 'diff'; rows: number }) => {
    last[event.phase] = performance.now();
    // The sync's first event starts it (its last one may carry 0 rows too: a sync that booked nothing).
    if (event.phase === 'sync' && syncStarted === started) syncStarted = last.sync;
  };
  const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(file), onProgress });
  const ended = performance.now();
  const seconds = (ended - started) / 1000;
  const used = process.cpuUsage(cpu);
  await ledger.close();
  return {
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    breaks: result.openBreaks,
    interest: result.synced.interest,
    entries: result.reportEntries,
    fetchSeconds: (fetchedAt - started) / 1000,
    readSeconds: (last.read - fetchedAt) / 1000,
    // From the end of the stream to the start of the sync: the write transaction opens (its locks,
    // the processed report, the day's breaks). Not the interest recomputation: with the bench's
    // worker threads it runs on one beside the read and the sync (this was labelled so before).
    toSyncSeconds: (syncStarted - last.read) / 1000,
    syncSeconds: (last.sync - syncStarted) / 1000,
    diffSeconds: (last.diff - last.sync) / 1000,
    storeSeconds: (ended - last.diff) / 1000,
    // Milliseconds since the process started: windows of a --cpu-prof profile.
    syncFromMs: syncStarted,
    syncToMs: last.sync,
    diffToMs: last.diff,
  };
}

/**
 * The nightly line's baseline, on a copy of the same SQLite books: `JSON.parse` of the whole report
 * file, then raw better-sqlite3 writing the rows the sync writes for it, in one transaction (the
 * run's own): per 1,000 interest entries one compound journal transaction, its earn_assets line and
 * the users' lines (each with its provider id), every account row and end-of-day row of the
 * credited day; the margin's transaction. Prepared statements (the ledger's `raw-interest.ts`: a
 * batch's end-of-day rows one `json_each` statement, its users' lines row by row since the
 * report's provider ids do not ascend: both as the ledger writes them, the fastest way
 * measured), rows planned between the two timed parts (the accounts read, balances after). A
 * floor of the job, not the same work: no validation, no diff, no settlement, nothing read back.
 * The rows are the same in number and shape, not checked byte for byte (the ledger's own cycle
 * bench checks its raw writer that way).
 */
export async function rawNightly(target: string, reportFile: string): Promise<Record<string, number>> {
  if (target.startsWith('postgres')) throw new Error('the raw baseline runs on SQLite books only');
  const storage = openSqliteDatabase({ filename: target });
  const native = storage.native;
  const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
  try {
    // Untimed: the system accounts the sync books to (opened here if absent, as the sync would).
    const system = async (kind: 'earn_assets' | 'settlement' | 'partner_margin_income') => (await ledger.systemAccount('defi', 'BTC', kind)).id;
    const earnAssets = await system('earn_assets');
    const settlement = await system('settlement');
    const marginIncome = await system('partner_margin_income');
    const parseStarted = performance.now();
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { transactions: { id: string; type: string; amount: string; createdAt: string; accountId?: string }[] };
    const parseSeconds = (performance.now() - parseStarted) / 1000;
    // Untimed: each interest entry's ledger account and balance after, in ledger account order.
    const accounts = new Map<string, [number, string]>();
    for (const [earnAccountId, id, balance] of native.prepare("select ea.earn_account_id, a.id, a.balance from earn_accounts ea join ledger_accounts a on a.id = ea.ledger_account_id where ea.entity = 'defi'").raw().iterate() as IterableIterator<[string, number, string]>) accounts.set(earnAccountId, [id, balance]);
    const lines = report.transactions.flatMap((entry) => {
      const account = entry.type === 'Interest' && entry.accountId !== undefined ? accounts.get(entry.accountId) : undefined;
      return account === undefined ? [] : [{ accountId: account[0], providerId: entry.id, amount: entry.amount, balanceAfter: formatUnits(toUnits(account[1]) + toUnits(entry.amount)) }];
    });
    lines.sort((a, b) => a.accountId - b.accountId);
    const margin = report.transactions.find((entry) => entry.type === 'PartnerMargin');
    const balanceOf = (id: number) => toUnits(native.prepare('select balance from ledger_accounts where id = ?').pluck().get(id) as string);
    const writer = rawInterestWriter(native, { creditedDay: CREDITED_DAY, createdAt: CREDITED_AT, interestDay: DAY });
    const earnAssetsUnits = balanceOf(earnAssets);
    const settlementUnits = balanceOf(settlement);
    const marginIncomeUnits = balanceOf(marginIncome);
    const writeStarted = performance.now();
    native.transaction(() => {
      let balanceUnits = earnAssetsUnits;
      for (let start = 0; start < lines.length; start += LINES_PER_TRANSACTION_MAX) {
        balanceUnits = writer.interestBatch(lines.slice(start, start + LINES_PER_TRANSACTION_MAX), { id: earnAssets, balanceUnits }, CREDITED_AT);
      }
      if (margin !== undefined) {
        // Dr settlement (the entry's line, with its provider id), Cr partner_margin_income.
        const units = toUnits(margin.amount);
        const id = writer.transaction('partner_margin', margin.id, margin.createdAt);
        writer.entry(id, settlement, formatUnits(units), formatUnits(settlementUnits + units), margin.id);
        writer.entry(id, marginIncome, formatUnits(-units), formatUnits(marginIncomeUnits - units), null);
        writer.account(settlement, formatUnits(settlementUnits + units));
        writer.account(marginIncome, formatUnits(marginIncomeUnits - units));
      }
    }).immediate();
    const writeSeconds = (performance.now() - writeStarted) / 1000;
    return { seconds: parseSeconds + writeSeconds, parseSeconds, writeSeconds, lines: lines.length };
  } finally {
    await ledger.close();
  }
}

/** Drops the benchmark's PostgreSQL schema. */
async function dropTarget(target: string): Promise<void> {
  const [url, schema] = target.split('#');
  if (schema === undefined || !/^bench_[0-9a-f]{8}$/.test(schema)) return;
  const storage = await openStorage(`${url}`);
  try {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(storage.db);
  } finally {
    await storage.db.destroy();
  }
}

/**
 * Writes the setup's files (and a previous run's) through to the disk before a timed run, as
 * books at rest would be: otherwise the run competes with the kernel writing back several hundred
 * MiB of them. Four interleaved pairs of the `measure` step right after writing ~560 MiB as the
 * setup does: 57.0–60.2 s flushed, 61.0–67.2 s not. (SQLite files only: PostgreSQL's are the
 * server's.)
 */
function flushToDisk(paths: readonly (string | undefined)[]): void {
  for (const path of paths) {
    if (path === undefined || path.startsWith('postgres')) continue;
    for (const file of [path, `${path}-wal`]) {
      if (!existsSync(file)) continue;
      const descriptor = openSync(file, 'r+');
      try {
        fsyncSync(descriptor);
      } finally {
        closeSync(descriptor);
      }
    }
  }
}

function child(args: readonly string[]): Record<string, number> {
  const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(output.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

/** Runs `measure-fetched` with a loopback report server in a process of its own, stopped after. */
async function childFetched(target: string, reportFile: string): Promise<Record<string, number>> {
  const server = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./report-server.ts', import.meta.url)), reportFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    // The port, or the server's end if it dies first (a bench must not wait forever).
    const exited = once(server, 'exit').then(([code]) => {
      throw new Error(`the report server exited (code ${String(code)}) before printing its port`);
    });
    const [line] = (await Promise.race([once(server.stdout, 'data'), exited])) as [Buffer];
    exited.catch(() => undefined);
    const port = Number(line.toString('utf8').trim());
    if (!Number.isSafeInteger(port)) throw new Error(`the report server printed ${JSON.stringify(line.toString('utf8'))}, not a port`);
    return child(['measure-fetched', target, reportFile, String(port)]);
  } finally {
    server.kill();
  }
}

/** A measured run's breaks, CPU time, phases and peak RSS, as the lines print them. */
function describeRun(measured: Record<string, number>): string {
  const value = (name: string, digits: number) => (measured[name] ?? Number.NaN).toFixed(digits);
  const fetched = (measured['fetchSeconds'] ?? 0) > 0.0005 ? `fetch to a file ${value('fetchSeconds', 1)} s, ` : '';
  return `${measured['breaks']} breaks; CPU time ${value('cpuSeconds', 2)} s; phases: ${fetched}read ${value('readSeconds', 1)} s, read to sync ${value('toSyncSeconds', 1)} s, sync ${value('syncSeconds', 1)} s, diff ${value('diffSeconds', 1)} s, store ${value('storeSeconds', 1)} s; peak RSS ${value('peakRssMiB', 0)} MiB`;
}

/**
 * Node's defaults are measured: a young generation set for the whole bench would flatter it. The
 * children get this process's flags too (`child`), so both places are checked.
 */
function refuseYoungGenerationFlags(): void {
  if (/max-semi-space-size|max-young-generation/.test([process.env['NODE_OPTIONS'] ?? '', ...process.execArgv].join(' '))) {
    throw new Error("NODE_OPTIONS or node's flags set the young generation: drop them, the nightly benches measure Node's defaults");
  }
}

/** The accounts of the nightly benches (`EARNBOOK_BENCH_SCALE=small`: 100k, else 1M) and their label in the lines. */
function benchScale(): { accounts: number; label: string } {
  const accounts = (process.env['EARNBOOK_BENCH_SCALE'] ?? 'full') === 'small' ? 100_000 : 1_000_000;
  return { accounts, label: accounts >= 1_000_000 ? `${accounts / 1_000_000}m` : `${accounts / 1_000}k` };
}

/**
 * Runs the benchmark on SQLite and, when `EARNBOOK_PG_URL` is set, PostgreSQL; returns the lines,
 * each also given to `onLine` as soon as it is measured (a full run takes minutes).
 */
export async function runNightlyBench(onLine: (line: string) => void = () => undefined): Promise<string[]> {
  refuseYoungGenerationFlags();
  const { accounts, label } = benchScale();
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-nightly-bench-'));
  const lines: string[] = [];
  try {
    const targets: [string, string][] = [['sqlite', join(directory, 'books.sqlite')]];
    const pgUrl = process.env['EARNBOOK_PG_URL'];
    if (pgUrl !== undefined) targets.push(['postgres', `${pgUrl}#bench_${randomBytes(4).toString('hex')}`]);
    for (const [name, target] of targets) {
      const report = join(directory, `report-${name}.json`);
      let built: Record<string, number>;
      let measured: Record<string, number>;
      // SQLite: the same day is run a second time on a copy of the same books, its report fetched
      // from a loopback Earn API through the client to a file first, as the CLI's `--fetch` and
      // the nightly example run it, so that both figures come from the same run and data.
      let fetched: Record<string, number> | undefined;
      // SQLite: the baseline (`rawNightly`) on a third copy of the same books, run last.
      let raw: Record<string, number> | undefined;
      try {
        built = child(['build', target, report, String(accounts)]);
        const copy = name === 'sqlite' ? `${target}.copy` : undefined;
        const rawCopy = name === 'sqlite' ? `${target}.raw` : undefined;
        if (copy !== undefined && rawCopy !== undefined) {
          if (existsSync(`${target}-wal`)) throw new Error(`${target}-wal is left after the build: the copy would miss rows`);
          copyFileSync(target, copy);
          copyFileSync(target, rawCopy);
        }
        flushToDisk([target, copy, rawCopy, report]);
        measured = child(['measure', target, report]);
        if (copy !== undefined && rawCopy !== undefined) {
          flushToDisk([target, copy]);
          fetched = await childFetched(copy, report);
          flushToDisk([target, copy, rawCopy]);
          raw = child(['raw', rawCopy, report]);
        }
      } finally {
        if (name === 'postgres') child(['drop', target, report]);
      }
      const at = lines.length;
      lines.push(
        `nightly_${label}_accounts_s${name === 'sqlite' ? '' : '_postgres'}: ${(measured['seconds'] ?? Number.NaN).toFixed(2)} s ratio=${raw === undefined ? 'n/a' : ((measured['seconds'] ?? Number.NaN) / (raw['seconds'] ?? Number.NaN)).toFixed(2)} (${name}; ${raw === undefined ? '' : `baseline, run after on a copy of the same books: JSON.parse of the whole file ${(raw['parseSeconds'] ?? Number.NaN).toFixed(2)} s + raw better-sqlite3 writing the same ${raw['lines']} interest lines and the margin in one transaction ${(raw['writeSeconds'] ?? Number.NaN).toFixed(2)} s, a floor of the job (no validation, diff or settlement); `}${measured['entries']} report entries, ${((built['bytes'] ?? 0) / 1024 / 1024).toFixed(0)} MiB: stream and validate the file, book ${measured['interest']} interest entries and the margin, diff, settle, store in one transaction; ${describeRun(measured)}; targets ≤ 60 s and ≤ 512 MiB on SQLite)`,
      );
      onLine(lines[at] ?? '');
      if (fetched !== undefined) {
        const seconds = fetched['seconds'] ?? Number.NaN;
        lines.push(
          `nightly_${label}_accounts_fetched_s: ${seconds.toFixed(2)} s ratio=${(seconds / (measured['seconds'] ?? Number.NaN)).toFixed(2)} (the same day on a copy of the same books, run after the line above, the report fetched first from a loopback Earn API (another process) with EarnClient.fetchReportToFile, then streamed from that file; ratio to the line above, read from the file; ${describeRun(fetched)}; targets as above)`,
        );
        onLine(lines[at + 1] ?? '');
      }
    }
    return lines;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Nights of history `nightly_history` gives the books by default (`EARNBOOK_BENCH_HISTORY_DAYS`). */
const HISTORY_DAYS_DEFAULT = 10;

/**
 * `nightly_1m_accounts_10d_history_s`: the same night on books that hold `days` earlier nights
 * ({@link addNightlyHistory}), SQLite, with its baseline (`rawNightly`) on a copy of the same
 * history books, and beside it the night on the same books without the history. Not part of
 * `nightly`: writing the history takes ~7 minutes at 1M accounts (407 s for 10 nights, session 30).
 */
export async function runNightlyHistoryBench(onLine: (line: string) => void = () => undefined): Promise<string[]> {
  refuseYoungGenerationFlags();
  const days = Number(process.env['EARNBOOK_BENCH_HISTORY_DAYS'] ?? HISTORY_DAYS_DEFAULT);
  if (!Number.isSafeInteger(days) || days < 1 || days > 366) throw new Error(`EARNBOOK_BENCH_HISTORY_DAYS must be a whole number of nights from 1 to 366, got ${JSON.stringify(process.env['EARNBOOK_BENCH_HISTORY_DAYS'])}`);
  const { accounts, label } = benchScale();
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-nightly-history-bench-'));
  try {
    const books = join(directory, 'books.sqlite');
    const fresh = join(directory, 'fresh.sqlite');
    const rawCopy = join(directory, 'raw.sqlite');
    const report = join(directory, 'report.json');
    child(['build', books, report, String(accounts)]);
    copyFileSync(books, fresh);
    const historyStarted = performance.now();
    const history = child(['history', books, String(days)]);
    const historySeconds = (performance.now() - historyStarted) / 1000;
    copyFileSync(books, rawCopy);
    flushToDisk([books, fresh, rawCopy, report]);
    const measured = child(['measure', books, report]);
    flushToDisk([books, fresh, rawCopy]);
    const raw = child(['raw', rawCopy, report]);
    rmSync(rawCopy, { force: true });
    flushToDisk([books, fresh]);
    const freshMeasured = child(['measure', fresh, report]);
    const seconds = measured['seconds'] ?? Number.NaN;
    const line = `nightly_${label}_accounts_${days}d_history_s: ${seconds.toFixed(2)} s ratio=${(seconds / (raw['seconds'] ?? Number.NaN)).toFixed(2)} (sqlite; the night of nightly_${label}_accounts_s on books that hold ${days} earlier nights (${history['entries']} interest entries with the report's hash ids and their end-of-day rows, written untimed in ${historySeconds.toFixed(0)} s); baseline, run after on a copy of the same books: JSON.parse ${(raw['parseSeconds'] ?? Number.NaN).toFixed(2)} s + raw writes ${(raw['writeSeconds'] ?? Number.NaN).toFixed(2)} s; the same night on the same books without the history: ${(freshMeasured['seconds'] ?? Number.NaN).toFixed(2)} s (sync ${(freshMeasured['syncSeconds'] ?? Number.NaN).toFixed(1)} s); ${describeRun(measured)}; no target: what the night costs as the books age)`;
    onLine(line);
    return [line];
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const [step, target, reportArgument, countArgument] = process.argv.slice(2);
if (process.argv[1] !== undefined && process.argv[1].endsWith('nightly-accounts.ts') && target !== undefined && reportArgument !== undefined) {
  if (step === 'history') console.log(JSON.stringify(await addNightlyHistory(target, Number(reportArgument))));
  else if (step === 'build') console.log(JSON.stringify(await buildNightly(target, reportArgument, Number(countArgument ?? 1_000_000))));
  else if (step === 'build-breaks') console.log(JSON.stringify(await buildNightly(target, reportArgument, Number(countArgument ?? 1_000_000), BREAKS_INTEREST_OFFSET_UNITS)));
  else if (step === 'measure') console.log(JSON.stringify(await measureNightly(target, reportArgument)));
  else if (step === 'measure-fetched') console.log(JSON.stringify(await measureNightly(target, reportArgument, Number(countArgument))));
  else if (step === 'raw') console.log(JSON.stringify(await rawNightly(target, reportArgument)));
  else if (step === 'drop') console.log(JSON.stringify(await dropTarget(target).then(() => ({ dropped: 1 }))));
}

/**
 * Issue 13, class 7: a legal report cannot be read. The contract allows 2,000,000 entries and
 * `REPORT_BYTES_MAX` is 1 GiB, but a report larger than V8's longest string (~512 MiB) died with
 * an untyped `ERR_STRING_TOO_LONG`. Here a generated 2M-entry report file larger than that string
 * limit reconciles through the public API in a child process, with its peak RSS bounded; the
 * whole-file reader refuses the same file with a typed error instead of dying.
 *
 * The cheapest honest shape: 1,000 deposits that the books hold (written with `postMany`, the
 * ledger's bulk path) and 1,999,000 settlement transfers, which the reconciler tracks through its
 * settlement instructions and so needs nothing from the books for. Every entry is still streamed,
 * hashed, validated against the contract, sorted externally and merged with the books. The
 * entries carry a 128-character idempotency key (legal) so that the file passes the string limit.
 * Matching 2M entries against 2M booked transactions is measured by the benchmarks
 * (`reconcile_1m_report_s`, `reconcile_peak_rss_growth` at 4M), not here: writing 2M bookings
 * alone takes minutes.
 *
 * About 80 s: it runs with `pnpm test:slow`, which CI starts beside `pnpm test` (one vitest worker
 * on two cores would otherwise wait on it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { constants } from 'node:buffer';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { EarnBooks, Ledger, formatUnits, postingRuleEntries } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { REPORT_BYTES_MAX, ReconcileError, Reconciler, readReportFile } from '../src/index.js';

const DAY = '2025-03-18';
const BOOKINGS = 1_000;
const ENTRIES = CONTRACT_REPORT_TRANSACTIONS_MAX;
const BOOKING_UNITS = 10n ** 14n;
/** Peak RSS allowed to the reconciling process: the benchmarks' target, far below the file's size. */
const PEAK_RSS_MIB_MAX = 512;

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Books with one Earn account and the day's deposits, written in one `postMany`. */
async function writeBooks(filename: string): Promise<void> {
  const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename }), entities: [{ id: 'defi', timeZone: 'UTC' }] });
  try {
    const books = new EarnBooks(ledger);
    // APY 0: the day's recomputed interest is zero, so the report rightly carries none.
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0' }] } });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    const account = await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    const system = async (kind: 'customer_funds' | 'earn_assets' | 'settlement') => (await ledger.systemAccount('defi', 'BTC', kind)).id;
    const accounts = { user: account.value.ledgerAccountId, customer_funds: await system('customer_funds'), earn_assets: await system('earn_assets'), settlement: await system('settlement') };
    const amount = formatUnits(BOOKING_UNITS);
    await ledger.postMany(
      Array.from({ length: BOOKINGS }, (_, n) => ({ entity: 'defi', kind: 'deposit' as const, idempotencyKey: `k${n}`, occurredAt: `${DAY}T10:00:00.000Z`, providerId: `b${n}`, entries: postingRuleEntries('deposit', accounts, amount) })),
    );
    await Reconciler.open({ books });
  } finally {
    await ledger.close();
  }
}

/** Streams the report to disk a slice of entries at a time: it is never one string. */
async function writeReport(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`{"id":"r-${DAY}","type":"Report","entity":"defi","accountingDay":"${DAY}","timeZone":"UTC","generatedAt":"2025-03-19T00:01:00.000Z","transactions":[`);
  const amount = formatUnits(BOOKING_UNITS);
  const entry = (n: number) =>
    n < BOOKINGS
      ? `{"id":"${uuid(n)}","type":"Deposit","currency":"BTC","amount":"${amount}","createdAt":"${DAY}T10:00:00.000Z","accountId":"a0","bookingId":"b${n}","idempotencyKey":"k${n}"}`
      : `{"id":"${uuid(n)}","type":"Settlement","currency":"BTC","amount":"0.000001","createdAt":"${DAY}T12:00:00.000Z","idempotencyKey":"${`settlement-${n}-`.padEnd(128, 'f')}"}`;
  for (let start = 0; start < ENTRIES; start += 1_000) {
    const slice: string[] = [];
    for (let n = start; n < Math.min(ENTRIES, start + 1_000); n++) slice.push(entry(n));
    await write(`${start === 0 ? '' : ','}${slice.join(',')}`);
  }
  await write(`],"balances":[{"currency":"BTC","outstandingBalance":"${formatUnits(-BOOKING_UNITS * BigInt(BOOKINGS))}"}]}`);
  out.end();
  await once(out, 'finish');
}

interface RunnerOutput {
  readonly result?: { reportEntries: number; reportStatus: string; clean: boolean; breaks: number };
  readonly error?: Record<string, unknown>;
  readonly seconds: number;
  readonly peakRssMiB: number;
}

/** Reconciles in a child process, so that its peak RSS is the reconciliation's own. */
async function reconcileInChild(booksFile: string, reportFile: string): Promise<RunnerOutput> {
  const script = fileURLToPath(new URL('./fixtures/reconcile-file-runner.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, booksFile, reportFile, 'defi', DAY], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  expect(code, stdout).toBe(0);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as RunnerOutput;
}

describe('a report larger than the longest string V8 can hold (issue 13, class 7)', () => {
  let directory: string;
  let booksFile: string;
  let reportFile: string;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-large-report-'));
    booksFile = join(directory, 'books.sqlite');
    reportFile = join(directory, 'report.json');
    await writeBooks(booksFile);
    await writeReport(reportFile);
  }, 120_000);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('reconciles 2,000,000 entries from a file over the string limit, in bounded memory', async () => {
    const bytes = statSync(reportFile).size;
    expect(bytes).toBeGreaterThan(constants.MAX_STRING_LENGTH);
    expect(bytes).toBeLessThanOrEqual(REPORT_BYTES_MAX);
    const output = await reconcileInChild(booksFile, reportFile);
    expect(output.error).toBeUndefined();
    expect(output.result).toMatchObject({ reportEntries: ENTRIES, reportStatus: 'created', clean: true, breaks: 0 });
    expect(output.peakRssMiB).toBeLessThan(PEAK_RSS_MIB_MAX);
    expect(output.peakRssMiB * 1024 * 1024).toBeLessThan(bytes);
    console.log(`large report: ${ENTRIES} entries, ${(bytes / 1024 / 1024).toFixed(0)} MiB, reconciled in ${output.seconds.toFixed(1)} s, peak RSS ${output.peakRssMiB.toFixed(0)} MiB`);
  }, 300_000);

  it('refuses the same file on the whole-file path with a typed error, not ERR_STRING_TOO_LONG', async () => {
    const error = await readReportFile(reportFile).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ReconcileError);
    expect(error).toMatchObject({ code: 'invalid_report', field: 'reportFile', value: reportFile });
    expect((error as Error).message).toContain('openReportFile');
  });
});

/**
 * `ledger_cycle_10m_peak_rss`: the peak resident memory of the accounting cycle, which must be
 * flat in the number of accounts (it streams them in batches; nothing grows with the books).
 * Each size runs in a fresh process (a process's peak RSS only grows), on a SQLite file set up as
 * in `interest-cycle.ts` (N Earn accounts holding one deposit each). 10M accounts do not fit in a
 * bench run on this machine (setting the books up alone takes minutes per million), so the
 * measure is the growth of the peak between two sizes, 1M and 4M by default: the value is the
 * larger size's peak, the ratio the larger's over the smaller's (1.00 = flat).
 *
 * Run alone: `npx tsx bench/cycle-peak-rss.ts [smallAccounts] [largeAccounts]`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAccountingCycle } from '../src/index.js';
import { BATCH_SIZE, DAY, TERMS } from './cycle-scenario.js';
import { openCycleBooks, setUpAccounts } from './interest-cycle.js';
import { formatMeasure, peakRssMiB } from './lib.js';

const CHILD_FLAG = '--cycle-child';

/** What one cycle process reports. */
interface CycleRun {
  readonly accounts: number;
  /** Peak RSS once the books are open, before the cycle (the process's fixed cost). */
  readonly openedPeakMiB: number;
  readonly peakMiB: number;
  readonly seconds: number;
}

/** In the child: opens the books, runs the cycle, prints its figures as JSON. */
async function runChild(filename: string, accounts: number): Promise<void> {
  const { ledger, books } = await openCycleBooks(filename);
  const openedPeakMiB = peakRssMiB();
  const started = performance.now();
  const summary = await runAccountingCycle({ books, entity: 'defi', day: DAY, batchSize: BATCH_SIZE, now: () => new Date('2025-03-19T00:05:00Z') });
  const seconds = (performance.now() - started) / 1000;
  await ledger.close();
  if (summary.interestBooked !== accounts) throw new Error(`cycle booked ${summary.interestBooked} of ${accounts} accounts`);
  const run: CycleRun = { accounts, openedPeakMiB, peakMiB: peakRssMiB(), seconds };
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

/** Sets up books of `accounts` in a temporary file and runs the cycle on them in a fresh process. */
async function measure(accounts: number): Promise<CycleRun & { setupSeconds: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-cycle-rss-'));
  try {
    const filename = join(directory, 'cycle.sqlite');
    const { storage, ledger, books } = await openCycleBooks(filename);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC tiered', effectiveDay: '2025-01-01', terms: TERMS });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    for (const kind of ['earn_assets', 'settlement', 'partner_margin_income'] as const) await ledger.systemAccount('defi', 'BTC', kind);
    const setupStarted = performance.now();
    setUpAccounts(storage.native, accounts, funds.id);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    await ledger.close();
    // The child runs under the same loader (tsx) as this process.
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CHILD_FLAG, filename, String(accounts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`cycle process for ${accounts} accounts exited with ${code}: ${output}`);
    return { ...(JSON.parse(output.trim().split('\n').pop() ?? '{}') as CycleRun), setupSeconds };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** `ledger_cycle_10m_peak_rss` from two sizes (their growth shows whether memory is flat). */
export async function benchCyclePeakRss(options: { smallAccounts: number; largeAccounts: number }): Promise<string[]> {
  const small = await measure(options.smallAccounts);
  const large = await measure(options.largeAccounts);
  const growth = large.peakMiB - small.peakMiB;
  const label = (accounts: number) => (accounts % 1_000_000 === 0 ? `${accounts / 1_000_000}M` : `${accounts}`);
  return [
    formatMeasure({
      name: 'ledger_cycle_10m_peak_rss',
      value: large.peakMiB,
      unit: 'MiB',
      ratio: large.peakMiB / small.peakMiB,
      baseline: `peak RSS of the cycle process at ${label(large.accounts)} accounts over the same at ${label(small.accounts)} (each a fresh process; 10M does not fit the bench's time, so the growth ${label(small.accounts)}→${label(large.accounts)} stands for it): ${label(small.accounts)} ${small.peakMiB.toFixed(0)} MiB (${small.openedPeakMiB.toFixed(0)} MiB once open, cycle ${small.seconds.toFixed(1)} s, setup ${small.setupSeconds.toFixed(0)} s), ${label(large.accounts)} ${large.peakMiB.toFixed(0)} MiB (${large.openedPeakMiB.toFixed(0)} MiB once open, cycle ${large.seconds.toFixed(1)} s, setup ${large.setupSeconds.toFixed(0)} s), growth ${growth.toFixed(0)} MiB; target flat (ratio ~1.0)`,
    }),
  ];
}

if (process.argv[2] === CHILD_FLAG) {
  await runChild(process.argv[3] ?? '', Number(process.argv[4]));
} else if (process.argv[1] !== undefined && process.argv[1].endsWith('cycle-peak-rss.ts')) {
  const smallAccounts = Number(process.argv[2] ?? 1_000_000);
  const largeAccounts = Number(process.argv[3] ?? 4_000_000);
  for (const line of await benchCyclePeakRss({ smallAccounts, largeAccounts })) console.log(line);
}

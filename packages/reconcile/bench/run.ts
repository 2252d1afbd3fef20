/**
 * `pnpm bench` for @earnbook/reconcile: prints one line per measure,
 * `name: value unit ratio=r (baseline)`. `EARNBOOK_BENCH_SCALE=small` for a quick run;
 * `EARNBOOK_BENCH_ONLY` (comma list of `report`, `nightly`, `growth`, `export`, `nightly_history`) runs only
 * those; `nightly_history` (the night on books with `EARNBOOK_BENCH_HISTORY_DAYS` earlier nights,
 * default 10) runs only when named.
 */
import { runExportJournalBench } from './export-journal.js';
import { runReconcileGrowthBench, runReconcileReportBench } from './reconcile-report.js';
import { runNightlyBench, runNightlyHistoryBench } from './nightly-accounts.js';

// The nightly bench prints each line as soon as it is measured (SQLite, then PostgreSQL).
const printed = new Set<string>();
const printNow = (line: string): void => {
  printed.add(line);
  console.log(line);
};
const BENCHES: Readonly<Record<string, () => string[] | Promise<string[]>>> = Object.freeze({
  report: runReconcileReportBench,
  nightly: () => runNightlyBench(printNow),
  // Only when named in EARNBOOK_BENCH_ONLY (writing the history takes minutes): see nightly-accounts.ts.
  nightly_history: () => runNightlyHistoryBench(printNow),
  growth: runReconcileGrowthBench,
  export: runExportJournalBench,
});

/** Benches run only when named. */
const OPT_IN: ReadonlySet<string> = new Set(['nightly_history']);
const only = (process.env['EARNBOOK_BENCH_ONLY'] ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
for (const name of only) if (!Object.hasOwn(BENCHES, name)) throw new Error(`EARNBOOK_BENCH_ONLY names ${JSON.stringify(name)}; known: ${Object.keys(BENCHES).join(', ')}`);
for (const [name, bench] of Object.entries(BENCHES)) {
  if (only.length > 0 ? !only.includes(name) : OPT_IN.has(name)) continue;
  for (const line of await bench()) if (!printed.has(line)) console.log(line);
}

/**
 * `pnpm bench` for @earnbook/reconcile: prints one line per measure,
 * `name: value unit ratio=r (baseline)`. `EARNBOOK_BENCH_SCALE=small` for a quick run;
 * `EARNBOOK_BENCH_ONLY` (comma list of `report`, `nightly`, `growth`, `export`) runs only those.
 */
import { runExportJournalBench } from './export-journal.js';
import { runReconcileGrowthBench, runReconcileReportBench } from './reconcile-report.js';
import { runNightlyBench } from './nightly-accounts.js';

// The nightly bench prints each line as soon as it is measured (SQLite, then PostgreSQL).
const printed = new Set<string>();
const BENCHES: Readonly<Record<string, () => string[] | Promise<string[]>>> = Object.freeze({
  report: runReconcileReportBench,
  nightly: () =>
    runNightlyBench((line) => {
      printed.add(line);
      console.log(line);
    }),
  growth: runReconcileGrowthBench,
  export: runExportJournalBench,
});

const only = (process.env['EARNBOOK_BENCH_ONLY'] ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
for (const name of only) if (!Object.hasOwn(BENCHES, name)) throw new Error(`EARNBOOK_BENCH_ONLY names ${JSON.stringify(name)}; known: ${Object.keys(BENCHES).join(', ')}`);
for (const [name, bench] of Object.entries(BENCHES)) {
  if (only.length > 0 && !only.includes(name)) continue;
  for (const line of await bench()) if (!printed.has(line)) console.log(line);
}

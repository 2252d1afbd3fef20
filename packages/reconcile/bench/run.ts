/**
 * `pnpm bench` for @earnbook/reconcile: prints one line per measure,
 * `name: value unit ratio=r (baseline)`. `EARNBOOK_BENCH_SCALE=small` for a quick run.
 */
import { runExportJournalBench } from './export-journal.js';
import { runReconcileGrowthBench, runReconcileReportBench } from './reconcile-report.js';
import { runNightlyBench } from './nightly-accounts.js';

for (const line of runReconcileReportBench()) console.log(line);
for (const line of runNightlyBench()) console.log(line);
for (const line of runReconcileGrowthBench()) console.log(line);
for (const line of runExportJournalBench()) console.log(line);

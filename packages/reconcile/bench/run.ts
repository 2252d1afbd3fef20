/**
 * `pnpm bench` for @earnbook/reconcile: prints one line per measure,
 * `name: value unit ratio=r (baseline)`. `EARNBOOK_BENCH_SCALE=small` for a quick run.
 */
import { runExportJournalBench } from './export-journal.js';
import { runReconcileReportBench } from './reconcile-report.js';

for (const line of runReconcileReportBench()) console.log(line);
for (const line of runExportJournalBench()) console.log(line);

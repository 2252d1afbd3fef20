/**
 * The journal export benchmark: `export_journal_rows_per_s` (1M journal rows to CSV, and the
 * ratio to plain fast-csv writing the same rows), and the export's peak RSS at 100k and 1M rows,
 * which must not grow with the row count. Each step runs in a child process (see
 * `export-journal-child.ts`), so each peak RSS is that step's own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'export-journal-child.ts');

/** Row counts per scale: the (100k, 1M), or a quick check. */
const SIZES = Object.freeze({ full: Object.freeze([100_000, 1_000_000]), small: Object.freeze([10_000, 100_000]) });

function label(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}m` : `${rows / 1_000}k`;
}

function child(args: readonly string[]): Record<string, number> {
  const output = execFileSync(process.execPath, [...process.execArgv, CHILD, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1024 * 1024 });
  const last = output.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as Record<string, number>;
}

function rate(value: number): string {
  return value >= 100 ? Math.round(value).toString() : value.toFixed(2);
}

/** Runs the benchmark and returns the printed lines. */
export function runExportJournalBench(): string[] {
  const scale = process.env['EARNBOOK_BENCH_SCALE'] ?? 'full';
  if (scale !== 'full' && scale !== 'small') throw new Error(`EARNBOOK_BENCH_SCALE must be full or small, got ${JSON.stringify(scale)}`);
  const sizes = SIZES[scale];
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-bench-export-'));
  const lines: string[] = [];
  try {
    const peaks: { rows: number; exportMiB: number; rawMiB: number }[] = [];
    let largest: { rows: number; exportRate: number; rawRate: number } | undefined;
    for (const rows of sizes) {
      const file = join(directory, `books-${rows}.sqlite`);
      child(['build', file, String(rows)]);
      const exported = child(['export', file, join(directory, `export-${rows}.csv`)]);
      const raw = child(['raw', file, join(directory, `raw-${rows}.csv`)]);
      const exportedRows = exported['rows'] ?? 0;
      peaks.push({ rows: exportedRows, exportMiB: exported['peakRssMiB'] ?? Number.NaN, rawMiB: raw['peakRssMiB'] ?? Number.NaN });
      largest = { rows: exportedRows, exportRate: exportedRows / (exported['seconds'] ?? Number.NaN), rawRate: (raw['rows'] ?? 0) / (raw['seconds'] ?? Number.NaN) };
      rmSync(join(directory, `export-${rows}.csv`), { force: true });
      rmSync(join(directory, `raw-${rows}.csv`), { force: true });
    }
    if (largest !== undefined) {
      lines.push(
        `export_journal_rows_per_s: ${rate(largest.exportRate)} rows/s ratio=${(largest.exportRate / largest.rawRate).toFixed(2)} ` +
          `(raw fast-csv ${rate(largest.rawRate)} rows/s: the same ${largest.rows} rows read by the same join through better-sqlite3 iterate and written by plain fast-csv; the export adds Kysely keyset pages, amount normalisation, escaping, quoting and SHA-256; SQLite file; best of 3; target ratio >= 0.7)`,
      );
    }
    const first = peaks[0];
    for (const peak of peaks) {
      const ratio = first === undefined ? 'n/a' : (peak.exportMiB / first.exportMiB).toFixed(2);
      lines.push(
        `export_journal_peak_rss_${label(peak.rows)}: ${peak.exportMiB.toFixed(1)} MiB ratio=${ratio} (peak RSS of the exporting process, ratio to the ${label(first?.rows ?? 0)} run; the raw baseline peaks at ${peak.rawMiB.toFixed(1)} MiB)`,
      );
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return lines;
}

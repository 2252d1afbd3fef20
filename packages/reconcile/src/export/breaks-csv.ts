/**
 * Reconciliation breaks as CSV, for the auditor's view of every difference found and how it was
 * resolved.
 */
import type { Kysely } from 'kysely';
import type { ReconcileDatabase } from '../db/schema.js';
import { textCell, valueCell } from './csv-cells.js';
import { startCsvExport } from './csv-sink.js';
import type { CsvProfileOptions, ExportOutput } from './csv-sink.js';
import { asError, exportFailure } from './export-failure.js';
import { checkDayRange, checkScope } from './export-options.js';
import type { ExportDayRange, ExportPaging, ExportScope } from './export-options.js';
import { selectBreakIdBounds, selectBreaksPage } from './export-queries.js';
import { EntitySums } from './export-result.js';
import type { ExportResult } from './export-result.js';

/**
 * The columns of `breaks.csv`, in order: the break's `entity`, `accounting_day`, `time_zone` (the
 * IANA zone of the entity's accounting days), `break_id`,
 * `kind`, `status` (`open` / `resolved`), the `provider_id`, `earn_account_id` and `currency`
 * concerned (empty when none), `expected` (what the books say) and `actual` (what the report
 * says) as stored, the `fingerprint` that identifies the break within its day, the
 * `report_version` it was last seen in, `created_at` and `resolved_at` (ISO-8601 UTC),
 * `resolution_reason`, `resolution_transaction_id`, and `details` (JSON text).
 */
export const BREAKS_CSV_HEADERS = Object.freeze([
  'entity',
  'accounting_day',
  'time_zone',
  'break_id',
  'kind',
  'status',
  'provider_id',
  'earn_account_id',
  'currency',
  'expected',
  'actual',
  'fingerprint',
  'report_version',
  'created_at',
  'resolved_at',
  'resolution_reason',
  'resolution_transaction_id',
  'details',
] as const);

/** Text columns: always quoted; escaped against formula injection (`expected`/`actual` unless a plain number). */
export const BREAKS_CSV_TEXT_COLUMNS = Object.freeze([
  'entity',
  'time_zone',
  'kind',
  'status',
  'provider_id',
  'earn_account_id',
  'currency',
  'expected',
  'actual',
  'fingerprint',
  'resolution_reason',
  'details',
] as const);

/** Columns that may hold an exact amount: written as text in the spreadsheet profile. */
export const BREAKS_CSV_AMOUNT_COLUMNS = Object.freeze(['expected', 'actual'] as const);

/** Break counts of one entity's currency (key `""` for breaks without a currency). */
export interface BreakCounts {
  readonly open: number;
  readonly resolved: number;
}

/** Options of {@link exportBreaksCsv}. */
export type BreaksCsvOptions = ExportScope &
  ExportDayRange &
  ExportPaging &
  ExportOutput & {
    readonly db: Kysely<ReconcileDatabase>;
  } & CsvProfileOptions & { readonly onRows?: (rows: number) => void };

/**
 * Streams the breaks of the scope whose accounting day is in the range, by break id, as RFC 4180
 * CSV with the columns of {@link BREAKS_CSV_HEADERS}. Totals are counts of open and resolved
 * breaks per entity and currency.
 *
 * @example
 * await exportBreaksCsv({ db, entity: 'defi', fromDay: '2025-03-01', toDay: '2025-03-31', output: createWriteStream('breaks.csv') });
 */
export async function exportBreaksCsv(options: BreaksCsvOptions): Promise<ExportResult<BreakCounts>> {
  const scope = checkScope(options);
  const range = checkDayRange(options);
  const { db } = options;
  const { pageSize, sink, timeZones } = await startCsvExport(options, {
    db,
    scope,
    headers: BREAKS_CSV_HEADERS,
    quotedColumns: BREAKS_CSV_TEXT_COLUMNS,
    amountColumns: BREAKS_CSV_AMOUNT_COLUMNS,
  });
  const counts = new EntitySums(() => ({ open: 0, resolved: 0 }));
  let rows = 0;
  try {
    const bounds = await selectBreakIdBounds(db, scope, range);
    let afterId = bounds === undefined ? 0 : bounds.first - 1;
    for (;;) {
      // A range without breaks reads no page (and reports its 0 rows once, as one that has).
      const page = bounds === undefined ? [] : await selectBreaksPage(db, { scope, range, afterId, lastId: bounds.last, pageSize });
      for (const row of page) {
        const count = counts.of(row.entity, row.currency ?? '');
        if (row.status === 'resolved') count.resolved += 1;
        else count.open += 1;
        rows += 1;
        const cells = [
          textCell(row.entity),
          row.accounting_day,
          textCell(timeZones.get(row.entity) ?? ''),
          String(row.id),
          textCell(row.kind),
          textCell(row.status),
          textCell(row.provider_id),
          textCell(row.earn_account_id),
          textCell(row.currency),
          valueCell(row.expected),
          valueCell(row.actual),
          textCell(row.fingerprint),
          String(row.report_version),
          row.created_at,
          row.resolved_at ?? '',
          textCell(row.resolution_reason),
          row.resolution_transaction_id === null ? '' : String(row.resolution_transaction_id),
          textCell(row.details),
        ];
        if (!sink.write(cells)) await sink.drain();
      }
      options.onRows?.(rows);
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) break;
      afterId = last.id;
    }
    const written = await sink.finish();
    return { ...written, rows, totals: counts.totals((count): BreakCounts => ({ ...count })) };
  } catch (error) {
    await sink.abort(asError(error));
    throw exportFailure('breaks', error);
  }
}

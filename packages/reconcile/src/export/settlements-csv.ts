/**
 * Settlement positions as CSV: each (entity, currency, accounting day)'s netting, what was
 * settled and carried, and the transfer instruction that came of it.
 */
import { formatUnits } from '@earnbook/ledger';
import type { BreaksCsvOptions } from './breaks-csv.js';
import { canonicalAmount, canonicalUnits, textCell } from './csv-cells.js';
import { startCsvExport } from './csv-sink.js';
import { asError, exportFailure } from './export-failure.js';
import { checkDayRange, checkScope } from './export-options.js';
import { selectSettlementsPage } from './export-queries.js';
import type { SettlementKey } from './export-queries.js';
import { EntitySums } from './export-result.js';
import type { ExportResult } from './export-result.js';

/**
 * The columns of `settlements.csv`, in order. From the position: `entity`, `accounting_day`,
 * `time_zone` (the IANA zone of the entity's accounting days), `currency`, `payables`, `receivables`, `net` (receivables − payables), `carried_in`,
 * `outstanding` (net + carried in), `settled`, `carried_out`, `reported_outstanding` (the
 * report's figure, empty if it had none), `computed_at`. From the instruction of the same day,
 * empty when there is none: `instruction_id`, `direction` (`to_provider` / `from_provider`),
 * `instruction_amount`, `wallet`, `instruction_status`, `transaction_hash`,
 * `ledger_transaction_id`. Amounts have 18 decimals.
 */
export const SETTLEMENTS_CSV_HEADERS = Object.freeze([
  'entity',
  'accounting_day',
  'time_zone',
  'currency',
  'payables',
  'receivables',
  'net',
  'carried_in',
  'outstanding',
  'settled',
  'carried_out',
  'reported_outstanding',
  'computed_at',
  'instruction_id',
  'direction',
  'instruction_amount',
  'wallet',
  'instruction_status',
  'transaction_hash',
  'ledger_transaction_id',
] as const);

/** Text columns: always quoted and escaped against formula injection. */
export const SETTLEMENTS_CSV_TEXT_COLUMNS = Object.freeze(['entity', 'time_zone', 'currency', 'direction', 'wallet', 'instruction_status', 'transaction_hash'] as const);

/** Amount columns: written as text in the spreadsheet profile. */
export const SETTLEMENTS_CSV_AMOUNT_COLUMNS = Object.freeze([
  'payables',
  'receivables',
  'net',
  'carried_in',
  'outstanding',
  'settled',
  'carried_out',
  'reported_outstanding',
  'instruction_amount',
] as const);

/** Totals of one entity's currency over the exported positions, 18 decimals. */
export interface SettlementTotals {
  readonly payables: string;
  readonly receivables: string;
  readonly net: string;
  readonly settled: string;
}

/** Options of {@link exportSettlementsCsv}: those of the breaks export. */
export type SettlementsCsvOptions = BreaksCsvOptions;

function optionalAmount(value: string | null, field: string): string {
  return value === null ? '' : canonicalAmount(value, field);
}

/**
 * Streams the settlement positions of the scope in the day range, in (entity, currency, day)
 * order (UTF-8 byte order on every dialect, whatever the database's collation), each joined with
 * its instruction, as RFC 4180 CSV with the columns of {@link SETTLEMENTS_CSV_HEADERS}. Totals per entity and currency sum payables, receivables, net
 * and settled (each entity settles with the provider on its own).
 *
 * @example
 * await exportSettlementsCsv({ db, entity: 'defi', fromDay: '2025-03-01', toDay: '2025-03-31', output: createWriteStream('settlements.csv') });
 */
export async function exportSettlementsCsv(options: SettlementsCsvOptions): Promise<ExportResult<SettlementTotals>> {
  const scope = checkScope(options);
  const range = checkDayRange(options);
  const { db } = options;
  const { pageSize, sink, timeZones } = await startCsvExport(options, {
    db,
    scope,
    headers: SETTLEMENTS_CSV_HEADERS,
    quotedColumns: SETTLEMENTS_CSV_TEXT_COLUMNS,
    amountColumns: SETTLEMENTS_CSV_AMOUNT_COLUMNS,
  });
  const sums = new EntitySums(() => ({ payables: 0n, receivables: 0n, net: 0n, settled: 0n }));
  let rows = 0;
  try {
    let after: SettlementKey | undefined;
    for (;;) {
      const page = await selectSettlementsPage(db, { scope, range, after, pageSize });
      for (const row of page) {
        const payables = canonicalAmount(row.payables, 'payables');
        const receivables = canonicalAmount(row.receivables, 'receivables');
        const net = canonicalAmount(row.net, 'net');
        const settled = canonicalAmount(row.settled, 'settled');
        // Per entity: DeFi's position and Lending's are two legal entities' debts, never one figure.
        const sum = sums.of(row.entity, row.currency);
        sum.payables += canonicalUnits(payables);
        sum.receivables += canonicalUnits(receivables);
        sum.net += canonicalUnits(net);
        sum.settled += canonicalUnits(settled);
        rows += 1;
        const cells = [
          textCell(row.entity),
          row.accounting_day,
          textCell(timeZones.get(row.entity) ?? ''),
          textCell(row.currency),
          payables,
          receivables,
          net,
          canonicalAmount(row.carried_in, 'carried_in'),
          canonicalAmount(row.outstanding, 'outstanding'),
          settled,
          canonicalAmount(row.carried_out, 'carried_out'),
          optionalAmount(row.reported_outstanding, 'reported_outstanding'),
          row.computed_at,
          row.instruction_id === null ? '' : String(row.instruction_id),
          textCell(row.direction),
          optionalAmount(row.instruction_amount, 'instruction_amount'),
          textCell(row.wallet),
          textCell(row.instruction_status),
          textCell(row.transaction_hash),
          row.ledger_transaction_id === null ? '' : String(row.ledger_transaction_id),
        ];
        if (!sink.write(cells)) await sink.drain();
      }
      options.onRows?.(rows);
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) break;
      after = { entity: last.entity, currency: last.currency, accounting_day: last.accounting_day };
    }
    const written = await sink.finish();
    return {
      ...written,
      rows,
      totals: sums.totals((sum) => ({ payables: formatUnits(sum.payables), receivables: formatUnits(sum.receivables), net: formatUnits(sum.net), settled: formatUnits(sum.settled) })),
    };
  } catch (error) {
    await sink.abort(asError(error));
    throw exportFailure('settlements', error);
  }
}

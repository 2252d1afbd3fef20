/**
 * The journal as CSV: one row per journal entry, in posting order, with its transaction's facts
 * and the account's running balance.
 */
import { parseAccountingDay } from '@earnbook/ledger';
import { absoluteAmount, canonicalAmount, canonicalUnits, textCell } from './csv-cells.js';
import { startCsvExport } from './csv-sink.js';
import type { CsvProfileOptions, ExportOutput } from './csv-sink.js';
import { asError, exportFailure } from './export-failure.js';
import { checkDayRange, checkScope, ledgerView } from './export-options.js';
import type { ExportDayRange, ExportPaging, ExportScope, LedgerReader } from './export-options.js';
import { selectJournalEntryBounds, selectJournalPage } from './export-queries.js';
import type { JournalExportRow } from './export-queries.js';
import { DebitCreditAccumulator } from './export-result.js';
import type { DebitCreditTotals, ExportResult } from './export-result.js';

/**
 * The columns of `journal.csv`, in order; the header names are part of the contract.
 *
 * - `entity`, `accounting_day` (`YYYY-MM-DD` in the entity's zone), `time_zone` (that zone, IANA),
 *   `interest_day` (for interest and partner margin: the accounting day whose end-of-day balance
 *   earned it, which `accounting_day`, the day it was credited, follows; empty otherwise),
 *   `occurred_at` (ISO-8601 UTC instant, as stored), `transaction_id`, `entry_id`, `kind`
 *   (transaction kind);
 * - `account_id` (the ledger's account id: unique, where codes may look alike once escaped),
 *   `account` (account code), `account_kind`, `currency`;
 * - `debit`, `credit`: exactly one is filled with the entry's positive amount at 18 decimals,
 *   the other is empty;
 * - `running_balance`: the account's normal-side balance right after this entry, in posting
 *   order (the ledger's `balance_after`), at 18 decimals, possibly negative; on PostgreSQL, an
 *   entry of a system account that a concurrent writer put in a balance shard shows that shard's
 *   running balance (the account's balance is its own row's plus its shards');
 * - `provider_id`: the entry's own provider id when it is a line of a compound transaction (the
 *   accounting cycle's and the report sync's interest: one provider id per line), else its
 *   transaction's; `description`: empty when absent.
 */
export const JOURNAL_CSV_HEADERS = Object.freeze([
  'entity',
  'accounting_day',
  'time_zone',
  'interest_day',
  'occurred_at',
  'transaction_id',
  'entry_id',
  'kind',
  'account_id',
  'account',
  'account_kind',
  'currency',
  'debit',
  'credit',
  'running_balance',
  'provider_id',
  'description',
] as const);

/** Text columns: always quoted and escaped against formula injection. */
export const JOURNAL_CSV_TEXT_COLUMNS = Object.freeze(['entity', 'time_zone', 'kind', 'account', 'account_kind', 'currency', 'provider_id', 'description'] as const);

/** Amount columns: written as text in the spreadsheet profile. */
export const JOURNAL_CSV_AMOUNT_COLUMNS = Object.freeze(['debit', 'credit', 'running_balance'] as const);

/** Options of {@link exportJournalCsv}. */
export type JournalCsvOptions = ExportScope &
  ExportDayRange &
  ExportPaging &
  ExportOutput & {
    /** The books (a `Kysely` or a `Transaction`, e.g. a read-only snapshot). */
    readonly db: LedgerReader;
  } & CsvProfileOptions & { readonly onRows?: (rows: number) => void };

/** The transaction kinds whose accounting day follows the day that earned them. */
const EARNED_KINDS: ReadonlySet<string> = new Set(['interest', 'partner_margin']);

/**
 * The accounting day that earned an interest or partner margin transaction, from its metadata
 * (`interestDay`, written by the accounting cycle and `EarnBooks`); empty for any other kind, and
 * when the metadata has none or names no real calendar day (`2025-02-30`). Metadata is free JSON
 * that any poster may write, and the hledger journal puts this day where both tools read a date:
 * a day they refuse would make the whole file unreadable.
 *
 * @example interestDayOf({ kind: 'interest', metadata: '{"interestDay":"2025-03-18"}' }) // '2025-03-18'
 * @example interestDayOf({ kind: 'adjustment', metadata: '{"interestDay":"2025-03-18"}' }) // ''
 */
export function interestDayOf(transaction: { readonly kind: string; readonly metadata: string | null }): string {
  const { kind, metadata } = transaction;
  // Most transactions have no metadata, and most metadata has no interest day: skip the parse.
  if (!EARNED_KINDS.has(kind) || metadata === null || !metadata.includes('"interestDay"')) return '';
  const day = (JSON.parse(metadata) as Record<string, unknown>)['interestDay'];
  if (typeof day !== 'string') return '';
  try {
    return parseAccountingDay(day, 'interestDay');
  } catch {
    return '';
  }
}

/** The cells of one journal row. Exported for tests. */
export function journalCsvCells(row: JournalExportRow, units: bigint, amount: string, timeZone: string): string[] {
  const magnitude = absoluteAmount(amount);
  return [
    textCell(row.entity),
    row.accounting_day,
    textCell(timeZone),
    interestDayOf(row),
    row.occurred_at,
    String(row.transaction_id),
    String(row.entry_id),
    textCell(row.kind),
    String(row.account_id),
    textCell(row.account),
    textCell(row.account_kind),
    textCell(row.currency),
    units >= 0n ? magnitude : '',
    units < 0n ? magnitude : '',
    canonicalAmount(row.balance_after, 'balance_after'),
    textCell(row.provider_id),
    textCell(row.description),
  ];
}

/**
 * Streams the journal of an entity (or, explicitly, of all entities) for an inclusive range of
 * accounting days to `output` as RFC 4180 CSV (CRLF, header line, `"` quoting), with the columns
 * of {@link JOURNAL_CSV_HEADERS}.
 *
 * Rows are in posting order (entry id), so each account's `running_balance` chains from one of
 * its rows to the next. The database is read in keyset pages of `pageSize` entries and written
 * with backpressure: memory does not grow with the number of rows. Amounts are normalised
 * through the ledger's money functions, so SQLite and PostgreSQL books give byte-identical files.
 *
 * Returns the rows written, the bytes and their SHA-256, and the debit and credit totals per
 * entity and currency, which are equal (checked: a difference is a broken invariant and throws).
 *
 * @example
 * const result = await exportJournalCsv({ db: ledger.db, entity: 'defi', fromDay: '2025-03-01', toDay: '2025-03-31', output: createWriteStream('journal.csv') });
 * result.totals.get('defi')?.get('BTC'); // { debit: '12.5000…', credit: '12.5000…' }
 */
export async function exportJournalCsv(options: JournalCsvOptions): Promise<ExportResult<DebitCreditTotals>> {
  const scope = checkScope(options);
  const range = checkDayRange(options);
  const db = ledgerView(options.db);
  const { pageSize, sink, timeZones } = await startCsvExport(options, {
    db,
    scope,
    headers: JOURNAL_CSV_HEADERS,
    quotedColumns: JOURNAL_CSV_TEXT_COLUMNS,
    amountColumns: JOURNAL_CSV_AMOUNT_COLUMNS,
  });
  const totals = new DebitCreditAccumulator();
  let rows = 0;
  try {
    const bounds = await selectJournalEntryBounds(db, scope, range);
    if (bounds !== undefined) {
      const read = (afterId: number) => selectJournalPage(db, { scope, range, afterId, bounds, pageSize });
      let page = await read(bounds.first - 1);
      for (;;) {
        const last = page[page.length - 1];
        // Read the next page while this one is written (PostgreSQL answers in parallel).
        const next = page.length === pageSize && last !== undefined ? read(Number(last.entry_id)) : undefined;
        next?.catch(() => undefined);
        for (const row of page) {
          const amount = canonicalAmount(row.amount, 'amount');
          const units = canonicalUnits(amount);
          totals.addSigned(row.entity, row.currency, units);
          rows += 1;
          if (!sink.write(journalCsvCells(row, units, amount, timeZones.get(row.entity) ?? ''))) await sink.drain();
        }
        options.onRows?.(rows);
        if (next === undefined) break;
        page = await next;
      }
    }
    const written = await sink.finish();
    totals.assertBalanced('journal export');
    return { ...written, rows, totals: totals.totals() };
  } catch (error) {
    await sink.abort(asError(error));
    throw exportFailure('journal', error);
  }
}

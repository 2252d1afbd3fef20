/**
 * Balances at the end of an accounting day as CSV: every account of the scope, with a trial
 * balance's debit and credit columns.
 */
import { formatUnits } from '@earnbook/ledger';
import { absoluteAmount, canonicalAmount, canonicalUnits, textCell } from './csv-cells.js';
import { startCsvExport } from './csv-sink.js';
import type { CsvProfileOptions, ExportOutput } from './csv-sink.js';
import { asError, exportFailure } from './export-failure.js';
import { checkDay, checkScope, ledgerView } from './export-options.js';
import type { ExportPaging, ExportScope, LedgerReader } from './export-options.js';
import { selectBalancesPage, selectShardBalancesAtEndOfDay } from './export-queries.js';
import { DebitCreditAccumulator } from './export-result.js';
import type { DebitCreditTotals, ExportResult } from './export-result.js';

/**
 * The columns of `balances.csv`, in order:
 *
 * - `entity`, `accounting_day` (the day whose end the balances are at), `time_zone` (the IANA zone
 *   of the entity's accounting days), `account_id` (the ledger's id: unique, where codes may look
 *   alike once escaped), `account` (code), `account_kind`, `normal_side` (`debit` or `credit`),
 *   `currency`;
 * - `balance`: the normal-side balance at the end of the day, 18 decimals, possibly negative
 *   (zero for an account with no posting by then);
 * - `debit`, `credit`: the same balance as a trial balance shows it, on the side it stands
 *   (exactly one filled; zero stands on the debit side);
 * - `last_posting_day`: the latest accounting day on or before `accounting_day` with a posting on
 *   the account, empty if none.
 */
export const BALANCES_CSV_HEADERS = Object.freeze([
  'entity',
  'accounting_day',
  'time_zone',
  'account_id',
  'account',
  'account_kind',
  'normal_side',
  'currency',
  'balance',
  'debit',
  'credit',
  'last_posting_day',
] as const);

/** Text columns: always quoted and escaped against formula injection. */
export const BALANCES_CSV_TEXT_COLUMNS = Object.freeze(['entity', 'time_zone', 'account', 'account_kind', 'normal_side', 'currency'] as const);

/** Amount columns: written as text in the spreadsheet profile. */
export const BALANCES_CSV_AMOUNT_COLUMNS = Object.freeze(['balance', 'debit', 'credit'] as const);

const ZERO = formatUnits(0n);

/** Options of {@link exportBalancesCsv}. */
export type BalancesCsvOptions = ExportScope &
  ExportPaging &
  ExportOutput & {
    readonly db: LedgerReader;
    /** The accounting day whose end the balances are taken at. */
    readonly day: string;
  } & CsvProfileOptions & { readonly onRows?: (rows: number) => void };

/** Per account of a page, what its balance shards add at the end of `day`, and their latest day. */
async function shardsOfPage(db: LedgerReader, page: readonly { account_id: number }[], day: string): Promise<Map<number, { units: bigint; day: string }>> {
  const shards = new Map<number, { units: bigint; day: string }>();
  for (const row of await selectShardBalancesAtEndOfDay(ledgerView(db), { accountIds: page.map((account) => account.account_id), day })) {
    const sum = shards.get(row.account_id) ?? { units: 0n, day: row.accounting_day };
    sum.units += canonicalUnits(canonicalAmount(row.balance, 'balance'));
    if (row.accounting_day > sum.day) sum.day = row.accounting_day;
    shards.set(row.account_id, sum);
  }
  return shards;
}

/**
 * Streams the balance of every account of the scope at the end of `day` (the latest
 * `account_day_balances` row on or before it, plus on PostgreSQL the balance shards' latest rows
 * on or before it), by account id, as RFC 4180 CSV with the columns
 * of {@link BALANCES_CSV_HEADERS}. Accounts opened but not yet posted to by then show zero.
 *
 * Totals per entity and currency are the trial balance's debit and credit columns; they are
 * equal (a difference is a broken invariant and throws).
 *
 * @example
 * await exportBalancesCsv({ db: ledger.db, entity: 'defi', day: '2025-03-31', output: createWriteStream('balances.csv') });
 */
export async function exportBalancesCsv(options: BalancesCsvOptions): Promise<ExportResult<DebitCreditTotals>> {
  const scope = checkScope(options);
  const day = checkDay(options.day, 'day');
  const db = ledgerView(options.db);
  const { pageSize, sink, timeZones } = await startCsvExport(options, {
    db,
    scope,
    headers: BALANCES_CSV_HEADERS,
    quotedColumns: BALANCES_CSV_TEXT_COLUMNS,
    amountColumns: BALANCES_CSV_AMOUNT_COLUMNS,
  });
  const totals = new DebitCreditAccumulator();
  let rows = 0;
  try {
    let afterId = 0;
    for (;;) {
      const page = await selectBalancesPage(db, { scope, day, afterId, pageSize });
      const shards = await shardsOfPage(db, page, day);
      for (const row of page) {
        const own = row.balance === null ? ZERO : canonicalAmount(row.balance, 'balance');
        const shard = shards.get(row.account_id);
        const balance = shard === undefined ? own : formatUnits(canonicalUnits(own) + shard.units);
        const balanceDay = shard === undefined || (row.balance_day !== null && row.balance_day >= shard.day) ? row.balance_day : shard.day;
        const normalUnits = canonicalUnits(balance);
        const signedUnits = row.normal_side === 'debit' ? normalUnits : -normalUnits;
        totals.addSigned(row.entity, row.currency, signedUnits);
        const magnitude = absoluteAmount(balance);
        rows += 1;
        const cells = [
          textCell(row.entity),
          day,
          textCell(timeZones.get(row.entity) ?? ''),
          String(row.account_id),
          textCell(row.account),
          textCell(row.account_kind),
          textCell(row.normal_side),
          textCell(row.currency),
          balance,
          signedUnits >= 0n ? magnitude : '',
          signedUnits < 0n ? magnitude : '',
          balanceDay ?? '',
        ];
        if (!sink.write(cells)) await sink.drain();
      }
      options.onRows?.(rows);
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) break;
      afterId = last.account_id;
    }
    const written = await sink.finish();
    totals.assertBalanced(`balances export at the end of ${day}`);
    return { ...written, rows, totals: totals.totals() };
  } catch (error) {
    await sink.abort(asError(error));
    throw exportFailure('balances', error);
  }
}

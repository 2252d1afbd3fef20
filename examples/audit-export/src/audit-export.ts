/**
 * The month-end audit export for finance: the journal, the balances at the end of the month, the
 * settlements and the breaks as CSV, a manifest with row counts, totals and SHA-256 digests, and
 * the plain-text journal — checked with hledger, an independent tool, when it is installed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { formatUnits, parseAccountingDay, previousAccountingDay, toUnits } from '@earnbook/ledger';
import { AUDIT_FILE_NAMES, exportAudit, exportBalancesCsv, hledgerAccountName, hledgerCommodity } from '@earnbook/reconcile';
import type { AuditManifest, ReconcileDatabase } from '@earnbook/reconcile';

/** Options of {@link exportMonth}. */
export interface MonthExportOptions {
  /** The books (the ledger's and reconcile's tables). */
  readonly db: Kysely<ReconcileDatabase>;
  /** `YYYY-MM`. */
  readonly month: string;
  /** Directory for the files; it must not hold an earlier export. */
  readonly directory: string;
  /** The `hledger` executable; default `hledger` on the PATH. Set null to skip the check. */
  readonly hledger?: string | null;
}

/** The hledger check: `checked` false when hledger is not installed. */
export type HledgerCheck =
  | { readonly checked: false; readonly reason: string }
  | { readonly checked: true; readonly accounts: number; readonly mismatches: readonly string[] };

/** What {@link exportMonth} wrote and found. */
export interface MonthExport {
  readonly fromDay: string;
  readonly toDay: string;
  readonly manifest: AuditManifest;
  readonly manifestPath: string;
  /** Every file's SHA-256 recomputed from disk equals the manifest's. */
  readonly digestsMatch: boolean;
  readonly hledger: HledgerCheck;
}

/**
 * The ledger's first accounting day (its `ACCOUNTING_DAY_MIN`): the books hold nothing before it,
 * so a month that starts on it opens with no balances.
 */
const FIRST_ACCOUNTING_DAY = '1970-01-01';

/** The first and last accounting day of a `YYYY-MM` month, from 1970-01 to 9999-12. */
export function monthDays(month: string): { fromDay: string; toDay: string } {
  if (!/^\d{4}-\d{2}$/.test(month)) throw new RangeError(`month must be YYYY-MM, got ${JSON.stringify(month)}`);
  const fromDay = parseAccountingDay(`${month}-01`, 'month');
  // The last day from the calendar (day 0 of the next month), not by stepping past it: the ledger
  // knows no day after 9999-12-31.
  const lastDate = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).getUTCDate();
  const toDay = parseAccountingDay(`${month}-${String(lastDate).padStart(2, '0')}`, 'month');
  return { fromDay, toDay };
}

/** Parses CSV text with quoted cells (RFC 4180), as the export writes it. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        cell += '"';
        index++;
      } else if (character === '"') quoted = false;
      else cell += character;
    } else if (character === '"') quoted = true;
    else if (character === ',') {
      row.push(cell);
      cell = '';
    } else if (character === '\n' || character === '\r') {
      if (character === '\r' && text[index + 1] === '\n') index++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += character;
  }
  if (cell.length > 0 || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** Signed (debit-positive) balance per `hledger account|commodity` from a balances CSV. */
function signedBalances(text: string): Map<string, bigint> {
  const [header, ...rows] = parseCsv(text);
  const column = (name: string) => header?.indexOf(name) ?? -1;
  const [entity, account, kind, currency, debit, credit] = ['entity', 'account', 'account_kind', 'currency', 'debit', 'credit'].map(column);
  const balances = new Map<string, bigint>();
  for (const row of rows) {
    const cells = (index: number | undefined) => row[index ?? -1] ?? '';
    // Text cells may carry the formula-injection guard (a leading apostrophe); codes here never start with one.
    const name = hledgerAccountName({ entity: cells(entity), kind: cells(kind), code: cells(account) });
    const debitText = cells(debit);
    const creditText = cells(credit);
    const units = (debitText === '' ? 0n : toUnits(debitText)) - (creditText === '' ? 0n : toUnits(creditText));
    balances.set(`${name}|${hledgerCommodity(cells(currency))}`, units);
  }
  return balances;
}

async function balancesCsvAt(db: Kysely<ReconcileDatabase>, day: string): Promise<string> {
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await exportBalancesCsv({ db, allEntities: true, day, output });
  return Buffer.concat(chunks).toString('utf8');
}

const run = promisify(execFile);

/**
 * Runs `hledger -f journal.hledger bal -O csv` and compares each account's balance with the
 * ledger's movement over the month (balance at the end of the month minus at the end of the day
 * before), exactly, per commodity.
 */
export async function checkWithHledger(input: { readonly db: Kysely<ReconcileDatabase>; readonly directory: string; readonly fromDay: string; readonly toDay: string; readonly hledger?: string }): Promise<HledgerCheck> {
  let stdout: string;
  try {
    ({ stdout } = await run(input.hledger ?? 'hledger', ['-f', join(input.directory, AUDIT_FILE_NAMES.hledger_journal), 'bal', '-O', 'csv', '--no-total'], { maxBuffer: 256 * 1024 * 1024 }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { checked: false, reason: 'hledger is not installed (not on PATH): the plain-text journal was not checked' };
    throw error;
  }
  const tool = new Map<string, bigint>();
  for (const [account, amounts] of parseCsv(stdout).slice(1)) {
    if (account === undefined || amounts === undefined || amounts === '0') continue;
    for (const part of amounts.split(', ')) {
      const match = /^(-?[\d.]+) ("[^"]+"|[A-Za-z]+)$/.exec(part.trim());
      if (match === null || match[1] === undefined || match[2] === undefined) throw new Error(`unexpected hledger amount ${JSON.stringify(part)} for ${account}`);
      tool.set(`${account}|${match[2]}`, toUnits(match[1]));
    }
  }
  const atEnd = signedBalances(await readFile(join(input.directory, AUDIT_FILE_NAMES.balances_csv), 'utf8'));
  const before = input.fromDay === FIRST_ACCOUNTING_DAY ? new Map<string, bigint>() : signedBalances(await balancesCsvAt(input.db, previousAccountingDay(input.fromDay)));
  const mismatches: string[] = [];
  const keys = new Set([...atEnd.keys(), ...tool.keys()]);
  for (const key of keys) {
    const movement = (atEnd.get(key) ?? 0n) - (before.get(key) ?? 0n);
    const reported = tool.get(key) ?? 0n;
    if (movement !== reported) mismatches.push(`${key}: ledger ${formatUnits(movement)}, hledger ${formatUnits(reported)}`);
  }
  return { checked: true, accounts: keys.size, mismatches };
}

/**
 * Exports a month of every entity's books into `directory`, recomputes each file's SHA-256 to
 * compare with the manifest, and checks the journal with hledger when it is installed.
 *
 * @example
 * const result = await exportMonth({ db: partner.db, month: '2025-03', directory: 'audit/2025-03' });
 * if (result.hledger.checked && result.hledger.mismatches.length > 0) throw new Error('journal does not match');
 */
export async function exportMonth(options: MonthExportOptions): Promise<MonthExport> {
  const { fromDay, toDay } = monthDays(options.month);
  const { manifest, manifestPath } = await exportAudit({ db: options.db, allEntities: true, fromDay, toDay, directory: options.directory });
  let digestsMatch = true;
  for (const file of manifest.files) {
    const digest = createHash('sha256').update(await readFile(join(options.directory, file.name))).digest('hex');
    if (digest !== file.sha256) digestsMatch = false;
  }
  const hledger: HledgerCheck =
    options.hledger === null
      ? { checked: false, reason: 'the hledger check was turned off' }
      : await checkWithHledger({ db: options.db, directory: options.directory, fromDay, toDay, ...(options.hledger === undefined ? {} : { hledger: options.hledger }) });
  return { fromDay, toDay, manifest, manifestPath, digestsMatch, hledger };
}

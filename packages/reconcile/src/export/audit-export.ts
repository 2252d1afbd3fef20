/**
 * The audit export: every file an auditor needs for an entity and a range of accounting days,
 * written from one consistent snapshot of the books, plus a manifest with row counts, totals per
 * entity and currency and the SHA-256 of each file.
 */
import { mkdir, open, rm, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { describeValue, formatInstant } from '@earnbook/ledger';
import type { ReconcileDatabase } from '../db/schema.js';
import { ReconcileError } from '../errors.js';
import { exportBalancesCsv } from './balances-csv.js';
import { exportBreaksCsv } from './breaks-csv.js';
import { asError, exportFailure } from './export-failure.js';
import { checkCsvProfile } from './csv-sink.js';
import type { CsvDelimiter, CsvProfile, CsvProfileOptions } from './csv-sink.js';
import { checkDirectoryPath, checkExportDirectory, checkTemporaryDirectory, createFailure } from './export-folders.js';
import { assertEntityExists, checkDayRange, checkDb, checkPageSize, checkScope, ledgerView } from './export-options.js';
import { isArrayInput, readArray, readFields, requireFunction } from '../input-guards.js';
import type { ExportDayRange, ExportPaging, ExportScope } from './export-options.js';
import { selectEntityTimeZones } from './export-queries.js';
import type { EntityTotals, ExportResult } from './export-result.js';
import { exportHledgerJournal } from './hledger-journal.js';
import { exportJournalCsv } from './journal-csv.js';
import { exportSettlementsCsv } from './settlements-csv.js';

/** The files an audit export can write. */
export type AuditFileFormat = 'journal_csv' | 'balances_csv' | 'breaks_csv' | 'settlements_csv' | 'hledger_journal';

/** File name of each format inside the export directory. */
export const AUDIT_FILE_NAMES: Readonly<Record<AuditFileFormat, string>> = Object.freeze({
  journal_csv: 'journal.csv',
  balances_csv: 'balances.csv',
  breaks_csv: 'breaks.csv',
  settlements_csv: 'settlements.csv',
  hledger_journal: 'journal.hledger',
});

/** Every format, in the order they are written. */
export const AUDIT_FILE_FORMATS: readonly AuditFileFormat[] = Object.freeze(Object.keys(AUDIT_FILE_NAMES) as AuditFileFormat[]);

/** The manifest's file name. */
export const AUDIT_MANIFEST_NAME = 'manifest.json';

/**
 * The names an audit export of `formats` (default all) writes in its directory, each of which it
 * must not hold yet: every format's file in the order they are written, then the manifest.
 *
 * @example
 * auditFileNames(['hledger_journal', 'breaks_csv']); // ['breaks.csv', 'journal.hledger', 'manifest.json']
 */
export function auditFileNames(formats?: readonly AuditFileFormat[]): readonly string[] {
  return Object.freeze([...checkFormats(formats).map((format) => AUDIT_FILE_NAMES[format]), AUDIT_MANIFEST_NAME]);
}

/**
 * The check {@link exportAudit} makes of its folder before it reads the books or writes anything,
 * on its own: for a caller that refuses a bad folder before it opens the books (the CLI), so
 * that a refused export has not even created them. `invalid_input` naming `directory`.
 */
export async function checkAuditExportDirectory(given: { readonly directory: string; readonly formats?: readonly AuditFileFormat[] }): Promise<void> {
  // Read once, as exportAudit reads its options: an input that cannot be read is invalid_input naming it.
  const input = readFields(given, ['directory', 'formats']);
  const directory = checkDirectoryPath(input.directory);
  await checkExportDirectory({ directory, names: auditFileNames(input.formats) });
}

/** Bytes a file stream buffers before it asks the export to wait. */
const FILE_HIGH_WATER_MARK_BYTES = 1024 * 1024;

/** Options of {@link exportAudit}. */
export type AuditExportOptions = ExportScope &
  ExportDayRange &
  ExportPaging &
  CsvProfileOptions & {
    /** The books: the ledger's and reconcile's tables. A `Transaction` is used as the snapshot. */
    readonly db: Kysely<ReconcileDatabase>;
    /**
     * Directory to write into (created if missing). It must be a folder, or a path to make one,
     * and hold none of the export's names ({@link auditFileNames}) yet, as anything at all: a
     * file, a folder or a symbolic link, dangling or not.
     */
    readonly directory: string;
    /**
     * An existing folder where the hledger journal's external sort of account names spills its
     * runs (removed when the export ends, whether it succeeded or failed); default the system's
     * temporary folder (`os.tmpdir()`).
     */
    readonly temporaryDirectory?: string;
    /** Files to write; default all of {@link AUDIT_FILE_FORMATS}. The manifest is always written. */
    readonly formats?: readonly AuditFileFormat[];
    /**
     * Called as rows are written (after each database page): the file, its rows so far, and the
     * rows of every file so far. For a progress display that advances by rows.
     */
    readonly onProgress?: (progress: { readonly file: string; readonly fileRows: number; readonly rows: number }) => void;
    /** The clock of the manifest's `generatedAt`; default `() => new Date()`. */
    readonly now?: () => Date;
  };

/** One file in the manifest. */
export interface AuditManifestFile {
  readonly name: string;
  readonly format: AuditFileFormat;
  /** Data rows (CSV, header not counted) or transactions (hledger journal). */
  readonly rows: number;
  /** Posting lines, for the hledger journal only. */
  readonly postings?: number;
  readonly bytes: number;
  /** SHA-256 of the file's bytes, lower-case hex. */
  readonly sha256: string;
  /**
   * Totals per entity, then per currency: `totals[entity][currency]` (amounts canonical at 18
   * decimals; counts for breaks, currency `""` for breaks without one). Two entities' figures are
   * never added together, even in an all-entities export: each is a legal entity with its own
   * books.
   */
  readonly totals: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string | number>>>>>>;
}

/** The content of `manifest.json`. */
export interface AuditManifest {
  readonly kind: 'earnbook_audit_export';
  /** 2 since totals are keyed by entity, then currency (version 1 keyed them by currency alone). */
  readonly version: 2;
  /** When the export ran (ISO-8601 UTC). */
  readonly generatedAt: string;
  readonly parameters: {
    /** The entity, or null for all entities. */
    readonly entity: string | null;
    readonly allEntities: boolean;
    readonly fromDay: string;
    readonly toDay: string;
    /** The day whose end `balances.csv` is at (= `toDay`). */
    readonly balancesDay: string;
    /**
     * The IANA time zone of each exported entity's accounting days (every `accounting_day` and
     * `interest_day` of the files is a calendar day there; `occurred_at` is UTC).
     */
    readonly timeZones: Readonly<Record<string, string>>;
    /** The CSV files begin with a UTF-8 byte order mark. */
    readonly bom: boolean;
    /** The CSV files use the spreadsheet profile (amounts as `="…"` text). */
    readonly excel: boolean;
    /** The CSV cell separator. */
    readonly delimiter: CsvDelimiter;
    readonly formats: readonly AuditFileFormat[];
  };
  readonly files: readonly AuditManifestFile[];
}

/** The result of {@link exportAudit}: the manifest as written, and where. */
export interface AuditExportResult {
  readonly manifest: AuditManifest;
  readonly manifestPath: string;
}

function checkFormats(value: unknown): readonly AuditFileFormat[] {
  if (value === undefined) return AUDIT_FILE_FORMATS;
  const invalid = (): never => {
    throw new ReconcileError('invalid_input', `formats must be a non-empty list of ${AUDIT_FILE_FORMATS.join(', ')} without repeats, got ${describeValue(value)}`, {
      field: 'formats',
      value: describeValue(value),
    });
  };
  // Its length and each element read once (a revoked proxy, a throwing element: invalid_input naming it).
  if (!isArrayInput(value, 'formats')) return invalid();
  const { length, items } = readArray(value, 'formats', AUDIT_FILE_FORMATS.length);
  if (length === 0 || length > AUDIT_FILE_FORMATS.length) return invalid();
  const chosen = new Set<unknown>(items);
  if (chosen.size !== items.length || [...chosen].some((format) => !(AUDIT_FILE_FORMATS as readonly unknown[]).includes(format))) return invalid();
  // Written in the fixed order, whatever order they were asked in.
  return Object.freeze(AUDIT_FILE_FORMATS.filter((format) => chosen.has(format)));
}

/** Every option of {@link exportAudit}, read once before any is checked. */
const AUDIT_EXPORT_OPTION_KEYS = ['entity', 'allEntities', 'fromDay', 'toDay', 'pageSize', 'excel', 'bom', 'delimiter', 'db', 'directory', 'temporaryDirectory', 'formats', 'onProgress', 'now'] as const;

/** An export's totals as the manifest's JSON: `{ [entity]: { [currency]: { [figure]: value } } }`. */
function totalsRecord<T extends object>(totals: EntityTotals<T>): Record<string, Record<string, Record<string, string | number>>> {
  return Object.fromEntries(
    [...totals].map(([entity, currencies]) => [entity, Object.fromEntries([...currencies].map(([currency, value]) => [currency, { ...(value as Record<string, string | number>) }]))]),
  );
}

/**
 * Flushes a file's bytes (or a directory's entries) from the page cache to the disk. Through a
 * handle of its own: the export's stream closes its handle when it ends, and a flush applies to
 * the file, whichever handle asks for it.
 */
async function syncToDisk(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some platforms cannot flush a directory (Windows: EPERM, others EINVAL or EISDIR): its
    // files are flushed all the same.
    const code = (error as NodeJS.ErrnoException).code;
    if (!(code === 'EPERM' || code === 'EINVAL' || code === 'EISDIR')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Creates the manifest exclusively (never over another), writes it and flushes it before it is
 * closed. `onCreated` runs once the file is this export's own, before anything can fail: a
 * manifest that another process created meanwhile makes the create fail, and is never named for
 * removal.
 */
async function writeManifest(input: { directory: string; path: string; text: string; onCreated: () => void }): Promise<void> {
  // A manifest another process made after the folder check is refused as a data file's would be.
  const handle = await open(input.path, 'wx').catch((error: unknown) => {
    throw createFailure({ directory: input.directory, name: AUDIT_MANIFEST_NAME, error });
  });
  input.onCreated();
  try {
    await handle.writeFile(input.text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Runs `work` on one consistent snapshot of the books: a read-only REPEATABLE READ transaction on
 * PostgreSQL, a read transaction on SQLite (WAL: writers of other connections go on; other
 * queries of the same Kysely instance wait for its single connection). A `Transaction` passed in
 * is used as it is.
 */
async function inSnapshot<T>(db: Kysely<ReconcileDatabase>, work: (snapshot: Kysely<ReconcileDatabase>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work);
}

/** What one file of the export is written from: the snapshot, the checked options, the files so far. */
interface AuditFileInput {
  readonly db: Kysely<ReconcileDatabase>;
  readonly format: AuditFileFormat;
  readonly directory: string;
  readonly scoped: ExportScope;
  readonly range: ExportDayRange;
  readonly pageSize: number;
  readonly profile: CsvProfile;
  readonly temporaryDirectory: string | undefined;
  /** Rows of the files written before this one. */
  readonly rowsBefore: number;
  readonly onProgress: AuditExportOptions['onProgress'];
  /** Called once the file is this export's own (created), for its removal if the export fails. */
  readonly onCreated: (path: string) => void;
}

/** Creates one file of the export exclusively, writes it and flushes it to disk. */
async function writeAuditFile(input: AuditFileInput): Promise<AuditManifestFile> {
  const { db, format, scoped, range, pageSize } = input;
  const name = AUDIT_FILE_NAMES[format];
  const path = join(input.directory, name);
  // Exclusive create: a name taken since the check fails here, and is not ours to remove.
  const handle = await open(path, 'wx').catch((error: unknown) => {
    throw createFailure({ directory: input.directory, name, error });
  });
  input.onCreated(path);
  const output = handle.createWriteStream({ highWaterMark: FILE_HIGH_WATER_MARK_BYTES });
  const onProgress = input.onProgress;
  const onRows = onProgress === undefined ? undefined : (fileRows: number) => onProgress({ file: name, fileRows, rows: input.rowsBefore + fileRows });
  const common = { ...scoped, ...range, pageSize, output, ...(onRows === undefined ? {} : { onRows }) };
  const csv = { db, ...input.profile };
  let result: ExportResult<object> & { postings?: number };
  try {
    if (format === 'journal_csv') result = await exportJournalCsv({ ...common, ...csv });
    else if (format === 'balances_csv') result = await exportBalancesCsv({ ...scoped, day: range.toDay, pageSize, output, ...csv, ...(onRows === undefined ? {} : { onRows }) });
    else if (format === 'breaks_csv') result = await exportBreaksCsv({ ...common, ...csv });
    else if (format === 'settlements_csv') result = await exportSettlementsCsv({ ...common, ...csv });
    else result = await exportHledgerJournal({ ...common, db, ...(input.temporaryDirectory === undefined ? {} : { temporaryDirectory: input.temporaryDirectory }) });
  } catch (error) {
    // An exporter that failed before it took the stream over leaves it open: close the file.
    output.destroy();
    throw error;
  }
  // On disk before the manifest names it: after a power loss, a manifest never vouches for
  // bytes that were still in the page cache.
  await syncToDisk(path);
  return {
    name,
    format,
    rows: result.rows,
    ...(result.postings === undefined ? {} : { postings: result.postings }),
    bytes: result.bytes,
    sha256: result.sha256,
    totals: totalsRecord(result.totals),
  };
}

/**
 * Writes an audit export into `directory`: `journal.csv`, `balances.csv` (every account at the
 * end of `toDay`), `breaks.csv`, `settlements.csv`, `journal.hledger` (or the chosen `formats`),
 * then `manifest.json` with the parameters, the generation instant, and per file its row count,
 * size, SHA-256 and totals per entity and currency. All files come from one snapshot of the books.
 *
 * Before anything is written, `directory` must be a folder or a path to make one (not a file,
 * nor below one) and hold none of the export's names ({@link auditFileNames}) as anything at
 * all, links looked at without being followed: otherwise `invalid_input` naming `directory`,
 * the path as the value. Files are created exclusively, so one that another process puts in the
 * way meanwhile is the same refusal, never overwritten. `temporaryDirectory`, when given, must
 * be an existing folder (`invalid_input` naming it). If an export fails, the files it created
 * are removed (and the folders it made for them, while empty), so a directory with a manifest
 * holds a complete export; a file that another process created meanwhile, the manifest included,
 * is not this export's and is left as it is. Each file is flushed to disk (fsync)
 * before the manifest is written, and the manifest and the directory before the call answers,
 * so this holds after a power loss too.
 *
 * @example
 * const { manifest } = await exportAudit({ db, entity: 'defi', fromDay: '2025-03-01', toDay: '2025-03-31', directory: 'audit/2025-03' });
 * manifest.files.find((file) => file.name === 'journal.csv')?.sha256;
 */
export async function exportAudit(given: AuditExportOptions): Promise<AuditExportResult> {
  // Each option read once: a getter that throws (or a revoked proxy) is invalid_input naming it,
  // and what is checked is what is used.
  const options = readFields(given as Record<(typeof AUDIT_EXPORT_OPTION_KEYS)[number], unknown>, AUDIT_EXPORT_OPTION_KEYS, { field: 'options' }) as AuditExportOptions;
  const scope = checkScope(options);
  const range = checkDayRange(options);
  const pageSize = checkPageSize(options.pageSize);
  const profile = checkCsvProfile(options);
  const formats = checkFormats(options.formats);
  const directory = checkDirectoryPath(options.directory);
  const temporaryDirectory = await checkTemporaryDirectory(options.temporaryDirectory);
  checkDb(options.db);
  if (options.onProgress !== undefined) requireFunction(options.onProgress, 'onProgress');
  if (options.now !== undefined) requireFunction(options.now, 'now');
  const now = options.now ?? (() => new Date());
  await checkExportDirectory({ directory, names: auditFileNames(formats) });
  const scoped: ExportScope = scope.entity === undefined ? { allEntities: true } : { entity: scope.entity };
  const created: string[] = [];
  /** The first folder this export made (the top of those it made), if it made any. */
  let made: string | undefined;
  try {
    const { files, timeZones } = await inSnapshot(options.db, async (db) => {
      // An unknown entity fails here, before the folder is made or any file opened.
      await assertEntityExists(ledgerView(db), scope);
      const zones = [...(await selectEntityTimeZones(ledgerView(db)))].filter(([entity]) => scope.entity === undefined || entity === scope.entity);
      made = await mkdir(directory, { recursive: true }).catch((error: unknown) => {
        throw createFailure({ directory, error });
      });
      const written: AuditManifestFile[] = [];
      for (const format of formats) {
        const rowsBefore = written.reduce((sum, file) => sum + file.rows, 0);
        const common = { db, directory, scoped, range, pageSize, profile, temporaryDirectory, rowsBefore, onProgress: options.onProgress };
        written.push(await writeAuditFile({ ...common, format, onCreated: (path) => created.push(path) }));
      }
      return { files: written, timeZones: Object.freeze(Object.fromEntries(zones)) };
    });
    const manifest: AuditManifest = {
      kind: 'earnbook_audit_export',
      version: 2,
      generatedAt: formatInstant(now()),
      parameters: { entity: scope.entity ?? null, allEntities: scope.entity === undefined, fromDay: range.fromDay, toDay: range.toDay, balancesDay: range.toDay, timeZones, ...profile, formats },
      files,
    };
    const manifestPath = join(directory, AUDIT_MANIFEST_NAME);
    await writeManifest({ directory, path: manifestPath, text: `${JSON.stringify(manifest, null, 2)}\n`, onCreated: () => created.push(manifestPath) });
    // The directory's entries too: the files' names survive a power loss with their bytes.
    await syncToDisk(directory);
    return { manifest, manifestPath };
  } catch (error) {
    await Promise.all(created.map((path) => rm(path, { force: true })));
    if (made !== undefined) await removeMadeFolders(directory, made);
    throw exportFailure('audit', asError(error));
  }
}

/**
 * Removes the folders a failed export made, from `directory` up to `made` (the first it made),
 * each only if empty: what another process put there meanwhile, and the folder with it, stays.
 */
async function removeMadeFolders(directory: string, made: string): Promise<void> {
  const top = resolve(made);
  for (let path = resolve(directory); ; path = dirname(path)) {
    try {
      await rmdir(path);
    } catch {
      return;
    }
    if (path === top || dirname(path) === path) return;
  }
}

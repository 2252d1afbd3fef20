/**
 * The reconciler's configuration, checked once when it is made: tolerances, settlement
 * thresholds, fee approval limits and wallets, each per currency (and per entity where the
 * partner's entities differ).
 */
import { describeValue, isLedgerLogger, parseCurrency, parseUnits, textDefect } from '@earnbook/ledger';
import type { LedgerLogger } from '@earnbook/ledger';
import type { EarnBooks, Ledger } from '@earnbook/ledger';
import { accessSync, constants, statSync } from 'node:fs';
import { ReconcileError } from './errors.js';
import { invalid, readBooks, readFields, readRecord, unreadable, valueText } from './input-guards.js';
import { WORKER_WAIT_MS_DEFAULT, WORKER_WAIT_MS_MAX } from './worker-start.js';

/** Default tolerance for recomputed figures: one unit of the 18th decimal. */
export const TOLERANCE_UNITS_DEFAULT = 1n;
/** Tolerance a configuration may set at most (10^-6 of a coin). */
export const TOLERANCE_UNITS_MAX = 10n ** 12n;

/** When a run uses a worker thread: see {@link ReconcilerOptions.workerThreads}. */
export type WorkerThreads = 'auto' | 'always' | 'never';
const WORKER_THREADS: readonly WorkerThreads[] = ['auto', 'always', 'never'];

/** Report file bytes from which `workerThreads: 'auto'` uses a worker (about 20,000 entries). */
export const WORKER_REPORT_BYTES_MIN = 4 * 1024 * 1024;
/** Entries of a report already in memory (fetched from the API) from which `auto` uses a worker. */
export const WORKER_REPORT_ENTRIES_MIN = 20_000;

/** Configuration of a `Reconciler`. Frozen when the reconciler is made. */
export interface ReconcilerOptions {
  readonly books: EarnBooks;
  /** Per currency: tolerance in units of the 18th decimal (an integer string), for recomputed interest, margin and outstanding balance. Booked amounts always match exactly. */
  readonly toleranceUnits?: Readonly<Record<string, string>>;
  /** Per entity, per currency: minimum settlement amount (decimal string); default 0 = always settle. */
  readonly settlementThresholds?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * Per entity, per currency: the day's fees up to this amount (decimal string) are accepted;
   * above it an `approval_required` break holds the settlement until a person resolves it.
   * Default 0: every fee needs approval.
   */
  readonly feeApprovalLimits?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Per entity, per currency: the wallet address settlement transfers go to (or come from). */
  readonly wallets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Clock for stamps; default the system clock. */
  readonly now?: () => Date;
  /** Where the run's temporary sort files go; default the system's temporary directory. */
  readonly sortDirectory?: string;
  /**
   * When a run recomputes the day's interest on a worker thread while it reads the report (books
   * in a SQLite file only; see `interest-projection.ts`): `auto` (default) for a report file of
   * at least {@link WORKER_REPORT_BYTES_MIN} bytes or a report in memory of at least
   * {@link WORKER_REPORT_ENTRIES_MIN} entries (a smaller day recomputes faster than a worker
   * starts), `always` for every report, `never` to keep the whole run in the calling thread. The
   * worker also compares the recomputed interest with the report's while the calling thread
   * syncs, when the report has shown {@link COMPARE_ASIDE_INTEREST_ENTRIES_MIN} (20,000) interest
   * entries by the time its projection arrives (`always`: any).
   */
  readonly workerThreads?: WorkerThreads;
  /**
   * How long a run waits for a worker thread once it needs the worker's answer (the recomputed
   * interest, the comparison, the books' days), in milliseconds: 1 to {@link WORKER_WAIT_MS_MAX};
   * default {@link WORKER_WAIT_MS_DEFAULT} (10 minutes). A worker that has not answered by then
   * is stopped, and the run does that work in the calling thread (logged as the worker's
   * failure): the run may hold the books' write transaction while it waits.
   */
  readonly workerWaitMs?: number;
  /** Where the reconciler logs (pino-compatible); default the ledger's logger. */
  readonly logger?: LedgerLogger;
  /**
   * Whether `Reconciler.open` applies reconcile's pending migrations (default `true`). With
   * `false` the books must have them all already (see `reconcileMigrationState`): else `open`
   * fails with `migration_required`, naming them, and nothing is written.
   */
  readonly migrate?: boolean;
  /**
   * How many of the day's open breaks a `ReconcileResult` lists in `breaks` (0 to
   * {@link RESULT_BREAKS_MAX_LIMIT}; default {@link RESULT_BREAKS_MAX_DEFAULT}). The result
   * always counts them all (`openBreaks`, `breakCounts`); the rest are read a page at a time with
   * `Reconciler.breaks({ entity, day, status: 'open' })`. A day on which every account's interest
   * differs has a break per account, and a result holding them all held the day in memory.
   */
  readonly resultBreaksMax?: number;
}

/** Open breaks a result lists by default ({@link ReconcilerOptions.resultBreaksMax}). */
export const RESULT_BREAKS_MAX_DEFAULT = 10_000;
/** The most open breaks a result may be asked to list (~3 KB each in memory). */
export const RESULT_BREAKS_MAX_LIMIT = 100_000;

/** The fields of {@link ReconcilerOptions}, read once when a reconciler is made. */
const RECONCILER_OPTION_KEYS = ['books', 'toleranceUnits', 'settlementThresholds', 'feeApprovalLimits', 'wallets', 'now', 'sortDirectory', 'workerThreads', 'workerWaitMs', 'logger', 'migrate', 'resultBreaksMax'] as const satisfies readonly (keyof ReconcilerOptions)[];

/**
 * The options, each field read once into a plain object (a field whose getter throws, or a
 * revoked proxy, is `invalid_input` naming it), with `books` and its ledger readable objects.
 */
export function readReconcilerOptions(options: ReconcilerOptions): ReconcilerOptions {
  const fields = readFields(options, RECONCILER_OPTION_KEYS, { field: 'options' });
  readBooks(fields.books, 'books');
  if (fields.migrate !== undefined && typeof fields.migrate !== 'boolean') invalid('migrate', fields.migrate, 'must be true or false');
  return fields;
}

/**
 * Books opened with `migrate: false` must have every one of reconcile's migrations: else
 * `migration_required`, naming them, before anything is written.
 */
export function refusePendingMigrations(pending: readonly string[]): void {
  const first = pending[0];
  if (first === undefined) return;
  throw new ReconcileError('migration_required', `the books need ${pending.length} migration(s) of this version of @earnbook/reconcile (${pending.join(', ')}) and the reconciler was opened without migrating: open it with migrate: true (the CLI's --migrate) to apply them`, {
    field: 'migrate',
    value: first,
    context: { pendingMigrations: pending.join(', ') },
  });
}

/** The logger option: a pino-compatible logger, or undefined for the ledger's. */
export function loggerOption(logger: unknown): LedgerLogger | undefined {
  if (logger === undefined) return undefined;
  let isLogger: boolean;
  try {
    isLogger = isLedgerLogger(logger);
  } catch (cause) {
    throw unreadable('logger', cause);
  }
  if (!isLogger) invalid('logger', typeof logger, 'must have info, warn, error and debug methods');
  return logger as LedgerLogger;
}

/**
 * Refuses a currency key the ledger would never hold: looked up by the books' currency, a value
 * under `btc` or `BTC ` was never found, and a threshold, limit or tolerance was silently the default.
 */
function checkCurrencyKey(field: string, currency: string): void {
  try {
    parseCurrency(currency, field);
  } catch (cause) {
    throw new ReconcileError('invalid_input', `${field}: ${JSON.stringify(currency)} is not a currency (2 to 12 upper-case letters or digits)`, { field, value: currency, cause });
  }
}

function tolerances(options: ReconcilerOptions): Map<string, bigint> {
  const tolerance = new Map<string, bigint>();
  for (const [currency, text] of Object.entries(readRecord(options.toleranceUnits ?? {}, 'toleranceUnits'))) {
    checkCurrencyKey(`toleranceUnits.${currency}`, currency);
    if (typeof text !== 'string' || !/^\d{1,13}$/.test(text) || BigInt(text) > TOLERANCE_UNITS_MAX) invalid(`toleranceUnits.${currency}`, text, `must be an integer string from 0 to ${TOLERANCE_UNITS_MAX}`);
    tolerance.set(currency, BigInt(text));
  }
  return tolerance;
}

function amountsPerEntity(ledger: Ledger, name: string, values: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined): Map<string, bigint> {
  const amounts = new Map<string, bigint>();
  for (const [entity, perCurrency] of Object.entries(readRecord(values ?? {}, name))) {
    ledger.entity(entity, name);
    for (const [currency, amount] of Object.entries(readRecord(perCurrency, `${name}.${entity}`))) {
      const field = `${name}.${entity}.${currency}`;
      checkCurrencyKey(field, currency);
      try {
        amounts.set(`${entity} ${currency}`, parseUnits(amount, { field }));
      } catch (cause) {
        throw new ReconcileError('invalid_input', `${field} must be a non-negative decimal, got ${describeValue(amount)}`, { field, value: valueText(amount), cause });
      }
    }
  }
  return amounts;
}

function walletsOf(ledger: Ledger, options: ReconcilerOptions): Map<string, string> {
  const wallets = new Map<string, string>();
  for (const [entity, perCurrency] of Object.entries(readRecord(options.wallets ?? {}, 'wallets'))) {
    ledger.entity(entity, 'wallets');
    for (const [currency, address] of Object.entries(readRecord(perCurrency, `wallets.${entity}`))) {
      checkCurrencyKey(`wallets.${entity}.${currency}`, currency);
      if (typeof address !== 'string' || address.length === 0 || address.length > 200 || textDefect(address) !== undefined) invalid(`wallets.${entity}.${currency}`, address, 'must be a wallet address (well-formed text)');
      wallets.set(`${entity} ${currency}`, address);
    }
  }
  return wallets;
}

/**
 * Checks `sortDirectory`: an existing folder this process may create files in. A misspelt or
 * missing one is refused when the reconciler is made, not found on the night a day first grows
 * past one sort run (then `sort_failed`, nothing written).
 */
function checkSortDirectory(directory: unknown): void {
  if (typeof directory !== 'string' || directory.length === 0) invalid('sortDirectory', directory, 'must be a directory path');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(directory).isDirectory();
    if (isDirectory) accessSync(directory, constants.W_OK | constants.X_OK);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new ReconcileError('invalid_input', `sortDirectory must be an existing folder the process may write in, got ${JSON.stringify(directory)} (${String(code)})`, { field: 'sortDirectory', value: directory, cause });
  }
  if (!isDirectory) invalid('sortDirectory', directory, 'must be a folder, not a file');
}

/** A currency's tolerance from the configured ones: {@link TOLERANCE_UNITS_DEFAULT} for the rest. */
export function toleranceLookup(tolerances: ReadonlyMap<string, bigint>): (currency: string) => bigint {
  return (currency) => tolerances.get(currency) ?? TOLERANCE_UNITS_DEFAULT;
}

/** The checked configuration, as lookups. */
export interface ReconcilerSettings {
  readonly toleranceUnits: (currency: string) => bigint;
  /** The tolerances as data (a worker thread is given them): per currency, and {@link TOLERANCE_UNITS_DEFAULT} for the rest. */
  readonly tolerances: ReadonlyMap<string, bigint>;
  readonly thresholdUnits: (entity: string, currency: string) => bigint;
  readonly feeApprovalLimitUnits: (entity: string, currency: string) => bigint;
  readonly wallet: (entity: string, currency: string) => string | null;
  readonly now: () => Date;
  readonly sortDirectory: string | undefined;
  readonly workerThreads: WorkerThreads;
  readonly workerWaitMs: number;
  readonly resultBreaksMax: number;
}

/** Checks the options (typed `invalid_input` on the first bad one) and freezes them as lookups. */
export function reconcilerSettings(options: ReconcilerOptions): ReconcilerSettings {
  const ledger = options.books.ledger;
  const tolerance = tolerances(options);
  const thresholds = amountsPerEntity(ledger, 'settlementThresholds', options.settlementThresholds);
  const limits = amountsPerEntity(ledger, 'feeApprovalLimits', options.feeApprovalLimits);
  const wallets = walletsOf(ledger, options);
  if (options.sortDirectory !== undefined) checkSortDirectory(options.sortDirectory);
  if (options.now !== undefined && typeof options.now !== 'function') invalid('now', options.now, 'must be a function that answers the time as a Date');
  if (options.workerThreads !== undefined && !WORKER_THREADS.includes(options.workerThreads)) invalid('workerThreads', options.workerThreads, `must be one of ${WORKER_THREADS.join(', ')}`);
  const waitMs: unknown = options.workerWaitMs;
  if (waitMs !== undefined && (typeof waitMs !== 'number' || !Number.isInteger(waitMs) || waitMs < 1 || waitMs > WORKER_WAIT_MS_MAX)) invalid('workerWaitMs', waitMs, `must be an integer number of milliseconds from 1 to ${WORKER_WAIT_MS_MAX}`);
  const listed: unknown = options.resultBreaksMax;
  if (listed !== undefined && (typeof listed !== 'number' || !Number.isInteger(listed) || listed < 0 || listed > RESULT_BREAKS_MAX_LIMIT)) invalid('resultBreaksMax', listed, `must be a whole number of breaks from 0 to ${RESULT_BREAKS_MAX_LIMIT}`);
  return Object.freeze({
    toleranceUnits: toleranceLookup(tolerance),
    tolerances: tolerance,
    thresholdUnits: (entity: string, currency: string) => thresholds.get(`${entity} ${currency}`) ?? 0n,
    feeApprovalLimitUnits: (entity: string, currency: string) => limits.get(`${entity} ${currency}`) ?? 0n,
    wallet: (entity: string, currency: string) => wallets.get(`${entity} ${currency}`) ?? null,
    now: options.now ?? (() => new Date()),
    sortDirectory: options.sortDirectory,
    workerThreads: options.workerThreads ?? 'auto',
    workerWaitMs: options.workerWaitMs ?? WORKER_WAIT_MS_DEFAULT,
    resultBreaksMax: (listed as number | undefined) ?? RESULT_BREAKS_MAX_DEFAULT,
  });
}

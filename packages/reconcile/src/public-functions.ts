/**
 * Reconcile's building blocks as the package exports them (the reconciler itself calls the
 * blocks directly). A call whose arguments cannot be read — a revoked proxy, a getter or proxy
 * trap that throws, anywhere in them — failed deep inside the block with a raw TypeError; here it
 * is `invalid_input` naming the unreadable part (`group.report[3]`). The arguments are walked only
 * after a call failed with an untyped error (`findUnreadable`), so a call that is well costs a
 * `try`: the blocks run per entry or per group at night. Typed errors and a caller's own
 * callbacks' errors pass through as they are. (`diffDay` guards its input itself and is exported
 * as it is.)
 */
import { LedgerError } from '@earnbook/ledger';
import type { LedgerDialect, MigrationState } from '@earnbook/ledger';
import type { Kysely } from 'kysely';
import { ReconcileError } from './errors.js';
import { findUnreadable, readFields, requireObject } from './input-guards.js';
import * as diff from './diff.js';
import * as diffGroups from './diff-group.js';
import * as interestCheck from './interest-check.js';
import * as dayChecks from './day-checks.js';
import * as keys from './keys.js';
import * as migrations from './db/migrations.js';

/** Refuses the unreadable part of `args` (named by `names`) after `failure`, else rethrows it. */
function refuseUnreadable(failure: unknown, args: readonly unknown[], names: readonly string[]): never {
  if (failure instanceof ReconcileError || failure instanceof LedgerError) throw failure;
  for (let index = 0; index < args.length; index++) {
    const found = findUnreadable(args[index], { field: names[index] ?? `arguments[${index}]`, nested: true });
    if (found !== undefined) throw found;
  }
  throw failure;
}

/** `block` with its arguments' unreadable parts refused by name (see the module comment). */
function guarded<A extends readonly unknown[], R>(block: (...args: A) => R, names: readonly string[]): (...args: A) => R {
  return (...args: A): R => {
    try {
      return block(...args);
    } catch (failure) {
      return refuseUnreadable(failure, args, names);
    }
  };
}

/** The match key of a report entry (`diff.ts`). */
export const matchKey: typeof diff.matchKey = guarded(diff.matchKey, ['entry']);
/** The transaction kind of a report entry type (`diff.ts`). */
export const kindOfType: typeof diff.kindOfType = guarded(diff.kindOfType, ['type']);
/** A break's identity as text (`diff.ts`). */
export const breakFingerprint: typeof diff.breakFingerprint = guarded(diff.breakFingerprint, ['value']);
/** A break draft (`diff.ts`). */
export const breakDraft: typeof diff.breakDraft = guarded(diff.breakDraft, ['kind', 'fields']);
/** The deterministic order of breaks (`diff.ts`). */
export const compareBreaks: typeof diff.compareBreaks = guarded(diff.compareBreaks, ['a', 'b']);
/** Whether a local entry is of the day (`diff.ts`). */
export const isOfDay: typeof diff.isOfDay = guarded(diff.isOfDay, ['entry', 'day']);
/** The report entries of a key group the books lack (`diff.ts`). */
export const entriesToBook: typeof diff.entriesToBook = guarded(diff.entriesToBook, ['group', 'context']);
/** The diff of one key group (`diff-group.ts`). */
export const diffGroup: typeof diffGroups.diffGroup = guarded(diffGroups.diffGroup, ['group', 'context']);
/** The reported interest of an account, summed (`interest-check.ts`). */
export const sumReportedInterest: typeof interestCheck.sumReportedInterest = guarded(interestCheck.sumReportedInterest, ['entries']);
/** The interest check of one account (`interest-check.ts`). */
export const diffInterest: typeof interestCheck.diffInterest = guarded(interestCheck.diffInterest, ['line', 'reported', 'toleranceUnits']);
/** Margin breaks per currency (`day-checks.ts`). */
export const marginBreaks: typeof dayChecks.marginBreaks = guarded(dayChecks.marginBreaks, ['recomputed', 'reported', 'toleranceUnits']);
/** Fee approval breaks per currency (`day-checks.ts`). */
export const approvalBreaks: typeof dayChecks.approvalBreaks = guarded(dayChecks.approvalBreaks, ['fees', 'limitUnits']);
/** Outstanding-balance breaks per currency (`day-checks.ts`). */
export const outstandingBreaks: typeof dayChecks.outstandingBreaks = guarded(dayChecks.outstandingBreaks, ['outstanding', 'balances', 'toleranceUnits']);
/** Code point order of two keys (`keys.ts`). */
export const compareKeys: typeof keys.compareKeys = guarded(keys.compareKeys, ['a', 'b']);

/**
 * Reconcile's migrations that the books have applied, and those they have not, each in the order
 * they run (all pending for books without reconcile's tables). Nothing is written: for a caller
 * that applies migrations only when told to (the CLI without `--migrate`, `Reconciler.open({
 * migrate: false })`). Arguments are checked as {@link migrateReconcile} checks them.
 */
export async function reconcileMigrationState(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<MigrationState> {
  requireObject(db, 'db');
  requireObject(dialect, 'dialect');
  const { schema } = readFields(options, ['schema'], { field: 'options' });
  try {
    return await migrations.reconcileMigrationState(db, dialect, schema === undefined ? {} : { schema });
  } catch (failure) {
    refuseUnreadable(failure, [dialect], ['dialect']);
  }
}

/**
 * Applies reconcile's pending migrations (run the ledger's first: these reference its tables).
 * `db` and `dialect` must be objects and `options` readable before anything runs; a dialect whose
 * parts cannot be read is refused naming the part.
 */
export async function migrateReconcile(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<void> {
  requireObject(db, 'db');
  requireObject(dialect, 'dialect');
  const { schema } = readFields(options, ['schema'], { field: 'options' });
  try {
    await migrations.migrateReconcile(db, dialect, schema === undefined ? {} : { schema });
  } catch (failure) {
    refuseUnreadable(failure, [dialect], ['dialect']);
  }
}

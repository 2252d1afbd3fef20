/**
 * What every audit export is asked for: a scope (one entity, or all entities said explicitly),
 * an inclusive range of accounting days, and a page size. Checked once, when the call arrives,
 * and returned frozen; the caller's object is never changed.
 */
import type { Kysely } from 'kysely';
import { daysBetween, describeValue, parseAccountingDay } from '@earnbook/ledger';
import type { LedgerDatabase } from '@earnbook/ledger';
import type { ReconcileDatabase } from '../db/schema.js';
import { ReconcileError } from '../errors.js';
import { readFields, requireObject, unreadable } from '../input-guards.js';

/** Rows one database page holds by default. */
export const EXPORT_PAGE_SIZE_DEFAULT = 5_000;
/** Rows one database page may hold (also bounds the `IN (…)` list of the hledger export). */
export const EXPORT_PAGE_SIZE_MAX = 10_000;
/** Accounting days one export may span, inclusive (about ten years). */
export const EXPORT_DAYS_MAX = 3_660;

/**
 * Whose books an export covers: one legal entity, or every entity when the caller says so with
 * `allEntities: true` (never by leaving `entity` out).
 */
export type ExportScope =
  | { readonly entity: string; readonly allEntities?: never }
  | { readonly allEntities: true; readonly entity?: never };

/** The inclusive range of accounting days of an export. */
export interface ExportDayRange {
  /** First accounting day (`YYYY-MM-DD`, the entity's zone), inclusive. */
  readonly fromDay: string;
  /** Last accounting day, inclusive. */
  readonly toDay: string;
}

/** Paging of the database reads. */
export interface ExportPaging {
  /** Rows per database page, 1..{@link EXPORT_PAGE_SIZE_MAX}; default {@link EXPORT_PAGE_SIZE_DEFAULT}. */
  readonly pageSize?: number;
}

/**
 * A handle on books that hold the ledger's tables: the ledger's own `Kysely`, or reconcile's
 * (a superset). Kysely's types are invariant in the database, so both are named.
 */
export type LedgerReader = Kysely<LedgerDatabase> | Kysely<ReconcileDatabase>;

/** The ledger's view of a {@link LedgerReader} (reconcile's tables are a superset). */
export function ledgerView(db: LedgerReader): Kysely<LedgerDatabase> {
  return db as Kysely<LedgerDatabase>;
}

/** A checked scope: `entity` is undefined for all entities. */
export interface CheckedScope {
  readonly entity: string | undefined;
}

function invalid(field: string, value: unknown, reason: string, cause?: unknown): never {
  throw new ReconcileError('invalid_input', `${field} ${reason}, got ${describeValue(value)}`, {
    field,
    value: describeValue(value),
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Checks the scope shape; {@link assertEntityExists} checks the entity against the books. The
 * first check of every export's options: options that cannot be read (a revoked proxy, a getter
 * that throws) are `invalid_input` naming the field.
 */
export function checkScope(given: Partial<{ entity: unknown; allEntities: unknown }>): CheckedScope {
  const options = readFields(given, ['entity', 'allEntities'], { field: 'options' });
  const hasEntity = options.entity !== undefined;
  const all = options.allEntities;
  if (all !== undefined && all !== true) invalid('allEntities', all, 'must be true when given');
  if (hasEntity && all === true) invalid('entity', options.entity, 'must not be given with allEntities: true');
  if (!hasEntity && all !== true) invalid('entity', options.entity, 'is required (or pass allEntities: true explicitly)');
  if (!hasEntity) return Object.freeze({ entity: undefined });
  if (typeof options.entity !== 'string' || options.entity.length === 0 || options.entity.length > 200) {
    invalid('entity', options.entity, 'must be a non-empty entity id');
  }
  return Object.freeze({ entity: options.entity });
}

/**
 * Checks that `db` is a query builder the export can read with: a revoked proxy (or one whose
 * `selectFrom` cannot be read) is `invalid_input` on `db`, not a TypeError at the first query.
 */
export function checkDb(db: LedgerReader): void {
  requireObject(db, 'db');
  let selectFrom: unknown;
  try {
    selectFrom = db.selectFrom;
  } catch (cause) {
    throw unreadable('db', cause);
  }
  if (typeof selectFrom !== 'function') invalid('db', typeof db, 'must be the books\' Kysely instance');
}

/** Checks that the entity of a scope is one the books keep (a typo would export nothing), and that `db` is usable. */
export async function assertEntityExists(db: LedgerReader, scope: CheckedScope): Promise<void> {
  checkDb(db);
  if (scope.entity === undefined) return;
  const row = await ledgerView(db).selectFrom('ledger_entities').select('id').where('id', '=', scope.entity).executeTakeFirst();
  if (row === undefined) invalid('entity', scope.entity, 'is not an entity of these books');
}

/** Checks one accounting day, wrapping the ledger's error in the package's own. */
export function checkDay(value: unknown, field: string): string {
  try {
    return parseAccountingDay(value, field);
  } catch (error) {
    return invalid(field, value, 'must be an accounting day YYYY-MM-DD', error);
  }
}

/** Checks a day range: both days valid, `fromDay` ≤ `toDay`, at most {@link EXPORT_DAYS_MAX} days. */
export function checkDayRange(given: { fromDay: unknown; toDay: unknown }): ExportDayRange {
  const options = readFields(given, ['fromDay', 'toDay'], { field: 'options' });
  const fromDay = checkDay(options.fromDay, 'fromDay');
  const toDay = checkDay(options.toDay, 'toDay');
  const span = daysBetween(fromDay, toDay) + 1;
  if (span < 1) invalid('toDay', toDay, `must not be before fromDay ${fromDay}`);
  if (span > EXPORT_DAYS_MAX) invalid('toDay', toDay, `must be within ${EXPORT_DAYS_MAX} days of fromDay ${fromDay}`);
  return Object.freeze({ fromDay, toDay });
}

/** Checks a page size (default {@link EXPORT_PAGE_SIZE_DEFAULT}). */
export function checkPageSize(value: unknown): number {
  if (value === undefined) return EXPORT_PAGE_SIZE_DEFAULT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > EXPORT_PAGE_SIZE_MAX) {
    invalid('pageSize', value, `must be an integer from 1 to ${EXPORT_PAGE_SIZE_MAX}`);
  }
  return value;
}

/** Checks that an output is a writable stream (anything with `write`, `end` and `on`). */
export function checkOutput(value: unknown): void {
  if (typeof value !== 'object' || value === null) invalid('output', typeof value, 'must be a writable stream');
  const stream = readFields(value as { write?: unknown; end?: unknown; on?: unknown }, ['write', 'end', 'on'], { field: 'output', nested: true });
  if (typeof stream.write !== 'function' || typeof stream.end !== 'function' || typeof stream.on !== 'function') {
    invalid('output', typeof value, 'must be a writable stream');
  }
}

/** Checks an optional boolean flag. */
export function checkFlag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(field, value, 'must be a boolean');
  return value;
}

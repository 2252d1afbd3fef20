/**
 * The page of a listing of breaks or settlement instructions: after an id (exclusive; 0 from the
 * first), at most `limit` items (every one when left out, as before pages existed). Bounds that are
 * not whole numbers in range are `invalid_input` naming the field and the value.
 */
import { describeValue } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';

/** Breaks one page of {@link Reconciler.breaks} may hold. */
export const BREAKS_PAGE_SIZE_MAX = 10_000;
/** Settlement instructions one page of {@link Reconciler.instructions} may hold. */
export const INSTRUCTIONS_PAGE_SIZE_MAX = 10_000;

/** Where a page starts and how many it holds (all when `limit` is undefined). */
export interface ListPage {
  readonly afterId: number;
  readonly limit?: number;
}

function wholeNumber(value: unknown, field: string, range: { min: number; max: number }): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new ReconcileError('invalid_input', `${field} must be a whole number from ${range.min} to ${range.max}, got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  return value;
}

/** Reads `afterId` and `limit` (1..`limitMax`) of a listing's input. */
export function readListPage(input: { readonly afterId?: unknown; readonly limit?: unknown }, limitMax: number): ListPage {
  const afterId = input.afterId === undefined ? 0 : wholeNumber(input.afterId, 'afterId', { min: 0, max: Number.MAX_SAFE_INTEGER });
  return input.limit === undefined ? { afterId } : { afterId, limit: wholeNumber(input.limit, 'limit', { min: 1, max: limitMax }) };
}

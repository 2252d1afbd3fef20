import { EarnApiError } from './errors.js';
import { abortedError } from './abort.js';

/** One page of a cursor-paginated list. */
export interface Page<T> {
  /** The items of this page. */
  readonly items: readonly T[];
  /** The cursor of the next page, `null` on the last. */
  readonly nextCursor: string | null;
}

/** Options of {@link paginate}. */
export interface PaginateOptions<T> {
  /** Fetches the page at `cursor` (`undefined` for the first). */
  readonly fetchPage: (cursor: string | undefined) => Promise<Page<T>>;
  /** The most pages one iteration may fetch; beyond it the iteration fails with `limit_exceeded`. */
  readonly pagesMax: number;
  /** The name used in error messages. */
  readonly operation: string;
  /** Stops the iteration with `aborted`. */
  readonly signal?: AbortSignal;
}

/**
 * Iterates every item of a cursor-paginated list, fetching a page only when the previous one is
 * consumed. A provider that returns the cursor it was given (a loop) fails with
 * `invalid_response`; more than `pagesMax` pages fail with `limit_exceeded`.
 */
export async function* paginate<T>(options: PaginateOptions<T>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (let pages = 1; ; pages += 1) {
    if (pages > options.pagesMax) {
      throw new EarnApiError('limit_exceeded', `${options.operation}: more than pagesMax (${options.pagesMax}) pages`, { operation: options.operation });
    }
    if (options.signal?.aborted === true) throw abortedError(options.signal, options.operation);
    const page = await options.fetchPage(cursor);
    yield* page.items;
    if (page.nextCursor === null) return;
    if (seen.has(page.nextCursor)) {
      throw new EarnApiError('invalid_response', `${options.operation}: the provider returned a cursor it had returned before`, {
        operation: options.operation,
        path: 'nextCursor',
        field: 'nextCursor',
      });
    }
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

/**
 * Group commit: concurrent callers in one process share database transactions. While one group
 * commits, the next callers wait in the queue; when the commit is done, everything waiting (up to
 * a bound) becomes the next group. Each caller gets its own outcome: the commit function answers
 * one result or one error per item. Pure scheduling; no database here.
 */
import { LedgerError, assertInvariant, describeValue } from './errors.js';
import { SILENT_LEDGER_LOGGER } from './logger.js';
import type { LedgerLogger } from './logger.js';
import { optionalWholeNumber } from './whole-number.js';

/** Items one group may hold by default. */
export const GROUP_COMMIT_SIZE_MAX_DEFAULT = 500;
/** The largest group a ledger may be configured with. */
export const GROUP_COMMIT_SIZE_MAX = 1_000;
/** The longest a group may wait for more callers. */
export const GROUP_COMMIT_LINGER_MS_MAX = 1_000;

/** Tuning of group commit. */
export interface GroupCommitOptions {
  /** Items per group, 1..{@link GROUP_COMMIT_SIZE_MAX}; default {@link GROUP_COMMIT_SIZE_MAX_DEFAULT}. 1 turns grouping off. */
  readonly sizeMax?: number;
  /**
   * How long a group waits for more callers before it commits, 0..{@link GROUP_COMMIT_LINGER_MS_MAX};
   * default 0: coalesce only what is already waiting (no added latency when alone).
   */
  readonly lingerMs?: number;
  /**
   * Called after each group that committed something, with the number of its postings that
   * committed (`created` or `exists`; for metrics). A group none of whose postings committed (every
   * one refused, or the transaction itself failed) is not reported. An observer never affects the
   * postings: if it throws, the error is logged (`event: 'ledger.group_commit.observer_failed'`)
   * and the queue goes on.
   */
  readonly onGroup?: (size: number) => void;
}

/** The outcome of one item of a group. */
export type ItemOutcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

interface Waiting<I, R> {
  readonly item: I;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Checks group commit tuning (`Ledger.open` calls it before it migrates, so bad tuning creates no
 * books); `invalid_input` naming `groupCommit.<option>`.
 */
export function checkGroupCommitOptions(options: GroupCommitOptions): { readonly sizeMax: number; readonly lingerMs: number; readonly onGroup: ((size: number) => void) | undefined } {
  if (typeof options !== 'object' || options === null) {
    throw new LedgerError('invalid_input', `groupCommit must be an object, got ${describeValue(options)}`, { field: 'groupCommit', value: describeValue(options) });
  }
  const sizeMax = optionalWholeNumber(options.sizeMax, GROUP_COMMIT_SIZE_MAX_DEFAULT, { field: 'groupCommit.sizeMax', min: 1, max: GROUP_COMMIT_SIZE_MAX });
  const lingerMs = optionalWholeNumber(options.lingerMs, 0, { field: 'groupCommit.lingerMs', min: 0, max: GROUP_COMMIT_LINGER_MS_MAX });
  if (options.onGroup !== undefined && typeof options.onGroup !== 'function') {
    throw new LedgerError('invalid_input', `groupCommit.onGroup must be a function, got ${describeValue(options.onGroup)}`, { field: 'groupCommit.onGroup', value: describeValue(options.onGroup) });
  }
  return { sizeMax, lingerMs, onGroup: options.onGroup };
}

/** A commit queue over a function that commits a group and answers per item. */
export class CommitQueue<I, R> {
  readonly #commit: (items: readonly I[]) => Promise<ItemOutcome<R>[]>;
  readonly #sizeMax: number;
  readonly #lingerMs: number;
  readonly #onGroup: ((size: number) => void) | undefined;
  readonly #logger: LedgerLogger;
  readonly #waiting: Waiting<I, R>[] = [];
  #scheduled = false;
  #committing = false;
  /** The linger timer while one runs. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: GroupCommitOptions, commit: (items: readonly I[]) => Promise<ItemOutcome<R>[]>, logger: LedgerLogger = SILENT_LEDGER_LOGGER) {
    this.#commit = commit;
    this.#logger = logger;
    const checked = checkGroupCommitOptions(options);
    this.#sizeMax = checked.sizeMax;
    this.#lingerMs = checked.lingerMs;
    this.#onGroup = checked.onGroup;
  }

  /** Queues an item; settles with its own outcome once its group has committed. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      // A group that is full lingers no longer: no caller could join it.
      if (this.#timer !== undefined && this.#waiting.length >= this.#sizeMax) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#scheduled = false;
      }
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#committing) return;
    this.#scheduled = true;
    // Linger 0: the callers already queued in this turn of the event loop join the group.
    const run = () => {
      this.#timer = undefined;
      this.#scheduled = false;
      void this.#drain();
    };
    // Lingering gathers callers into a group that has room; a full one goes at once.
    if (this.#lingerMs === 0 || this.#waiting.length >= this.#sizeMax) setImmediate(run);
    else this.#timer = setTimeout(run, this.#lingerMs);
  }

  async #drain(): Promise<void> {
    if (this.#committing || this.#waiting.length === 0) return;
    this.#committing = true;
    const group = this.#waiting.splice(0, this.#sizeMax);
    let outcomes: ItemOutcome<R>[];
    try {
      outcomes = await this.#commit(group.map((waiting) => waiting.item));
      assertInvariant(outcomes.length === group.length, `a group of ${group.length} committed ${outcomes.length} outcomes`);
    } catch (error) {
      outcomes = group.map(() => ({ ok: false, error }));
    }
    this.#committing = false;
    group.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok === true) waiting.resolve(outcome.value);
      else waiting.reject(outcome === undefined ? new Error('group commit lost an outcome') : outcome.error);
    });
    // The next group is scheduled before the observer runs, so that nothing it does can hold it up.
    if (this.#waiting.length > 0) this.#schedule();
    // Only postings that committed count: a group all refused, or whose transaction failed, committed nothing.
    this.#observe(outcomes.filter((outcome) => outcome.ok).length);
  }

  /**
   * Tells `onGroup` how many postings of a group committed, if any did; its failure is logged,
   * never thrown into the queue (nothing would catch it).
   */
  #observe(size: number): void {
    if (this.#onGroup === undefined || size === 0) return;
    try {
      this.#onGroup(size);
    } catch (error) {
      try {
        this.#logger.error({ event: 'ledger.group_commit.observer_failed', size, err: error }, `groupCommit.onGroup threw after a group committed ${size} postings; the postings are unaffected`);
      } catch {
        // A logger that throws has nowhere left to report to; the postings must still go on.
      }
    }
  }
}

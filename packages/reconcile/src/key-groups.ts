/**
 * Merging sorted streams into key groups: the report's entries (sorted by match key) and the
 * books' provider entries (read in provider id order, one stream per day) become one stream of
 * {@link KeyGroup}s in key order. Groups whose report entries found no local entry of their kind
 * are looked up by provider id anywhere in the books, in batches, so that a booking made on
 * another day is still matched (and reported as a day mismatch).
 */
import { matchKey } from './diff.js';
import type { KeyGroup, LocalEntry } from './diff.js';
import { needsLookup } from './diff.js';
import type { ReportEntry } from './report-entry.js';
import { compareKeys } from './keys.js';
import { ReconcileError } from './errors.js';

/** Groups looked up per batch. */
export const LOOKUP_BATCH_GROUPS = 500;

/**
 * Report entries one key group may hold: a key is an entry's id (its booking id for deposits and
 * withdrawals), so more than a few under one key are repeats. The group holds its entries at once;
 * without a bound, a report of 2M entries under one id held them all (the report's size in memory).
 */
export const REPORT_ENTRIES_PER_KEY_MAX = 1_000;

/** Groups handed on per batch by {@link keyGroups} (one await per batch, not per group). */
const GROUP_BATCH_GROUPS = 500;

/** The current item of a sorted stream read in batches: moving on awaits only for a new batch. */
export class Head<T> {
  readonly #iterator: AsyncIterator<readonly T[]>;
  readonly #key: (item: T) => string;
  #batch: readonly T[] = [];
  #at = 0;
  value: T | undefined;
  key: string | undefined;

  constructor(batches: AsyncIterable<readonly T[]>, key: (item: T) => string) {
    this.#iterator = batches[Symbol.asyncIterator]();
    this.#key = key;
  }

  #set(value: T | undefined): void {
    this.value = value;
    this.key = value === undefined ? undefined : this.#key(value);
  }

  /** Moves to the next item; returns a promise only when the next batch has to be read. */
  next(): Promise<void> | undefined {
    this.#at++;
    if (this.#at < this.#batch.length) {
      this.#set(this.#batch[this.#at]);
      return undefined;
    }
    return this.#load();
  }

  async #load(): Promise<void> {
    for (;;) {
      const result = await this.#iterator.next();
      if (result.done === true) {
        this.#batch = [];
        this.#at = 0;
        this.#set(undefined);
        return;
      }
      if (result.value.length === 0) continue;
      this.#batch = result.value;
      this.#at = 0;
      this.#set(result.value[0]);
      return;
    }
  }

  /** Ends the stream early (its generator's `finally` runs: a sorter behind it removes its files). */
  async close(): Promise<void> {
    await this.#iterator.return?.();
  }

  /** Moves past every item whose key sorts before `key`; returns a promise only when it has to wait for the next batch. */
  skipBelow(key: string): Promise<unknown> | undefined {
    while (this.key !== undefined && compareKeys(this.key, key) < 0) {
      const loading = this.next();
      if (loading !== undefined) return loading.then(() => this.skipBelow(key));
    }
    return undefined;
  }

  /**
   * Takes every item with `key` (the stream is sorted, so they are adjacent), or stops once `into`
   * holds more than `max`; returns a promise only when it has to wait for the next batch.
   */
  take(key: string, into: T[], max = Number.POSITIVE_INFINITY): Promise<unknown> | undefined {
    while (this.value !== undefined && this.key === key && into.length <= max) {
      into.push(this.value);
      const loading = this.next();
      if (loading !== undefined) return loading.then(() => this.take(key, into, max));
    }
    return undefined;
  }
}

/**
 * Merges the sorted report with the sorted local streams (each read in batches) into key groups,
 * in key order, handed on in batches.
 */
export async function* keyGroups(report: AsyncIterable<readonly ReportEntry[]>, locals: readonly AsyncIterable<readonly LocalEntry[]>[]): AsyncGenerator<KeyGroup[]> {
  const reportHead = new Head(report, matchKey);
  const localHeads = locals.map((stream) => new Head(stream, (entry: LocalEntry) => entry.providerId));
  try {
    yield* mergeHeads(reportHead, localHeads);
  } finally {
    // Run when the merge ends early too (the consumer stopped or failed).
    await Promise.all([reportHead, ...localHeads].map((head) => head.close()));
  }
}

async function* mergeHeads(reportHead: Head<ReportEntry>, localHeads: readonly Head<LocalEntry>[]): AsyncGenerator<KeyGroup[]> {
  const heads = [reportHead, ...localHeads];
  await Promise.all(heads.map((head) => head.next()));
  let batch: KeyGroup[] = [];
  for (;;) {
    let key: string | undefined;
    for (const head of heads) {
      if (head.key !== undefined && (key === undefined || compareKeys(head.key, key) < 0)) key = head.key;
    }
    if (key === undefined) break;
    const group = { key, report: [] as ReportEntry[], local: [] as LocalEntry[] };
    // Awaited only when a head must read its next batch.
    const taking = reportHead.take(key, group.report, REPORT_ENTRIES_PER_KEY_MAX);
    if (taking !== undefined) await taking;
    if (group.report.length > REPORT_ENTRIES_PER_KEY_MAX) {
      throw new ReconcileError('invalid_report', `the report holds more than ${REPORT_ENTRIES_PER_KEY_MAX} entries under the id (or booking id) ${JSON.stringify(key)}: entries are unique per id`, { field: 'id', value: key, path: 'transactions' });
    }
    for (const head of localHeads) {
      const more = head.take(key, group.local);
      if (more !== undefined) await more;
    }
    batch.push(group);
    if (batch.length >= GROUP_BATCH_GROUPS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Completes groups that need it with the local entries of their key found anywhere in the books
 * (`lookup` answers for up to {@link LOOKUP_BATCH_GROUPS} keys). Other groups pass straight through,
 * so the output is not in key order. Groups come and go in batches.
 */
export async function* withLookups(batches: AsyncIterable<readonly KeyGroup[]>, lookup: (keys: readonly string[]) => Promise<readonly LocalEntry[]>, needed: (group: KeyGroup) => boolean = needsLookup): AsyncGenerator<KeyGroup[]> {
  let pending: KeyGroup[] = [];
  const complete = async (batch: readonly KeyGroup[]): Promise<KeyGroup[]> => {
    const found = await lookup(batch.map((group) => group.key));
    return batch.map((group) => {
      const known = new Set(group.local.map((entry) => entry.transactionId));
      const extra = found.filter((entry) => entry.providerId === group.key && !known.has(entry.transactionId));
      return extra.length === 0 ? group : { ...group, local: [...group.local, ...extra] };
    });
  };
  for await (const groups of batches) {
    const ready: KeyGroup[] = [];
    for (const group of groups) {
      if (!needed(group)) {
        ready.push(group);
        continue;
      }
      pending.push(group);
      if (pending.length >= LOOKUP_BATCH_GROUPS) {
        ready.push(...(await complete(pending)));
        pending = [];
      }
    }
    if (ready.length > 0) yield ready;
  }
  if (pending.length > 0) yield await complete(pending);
}

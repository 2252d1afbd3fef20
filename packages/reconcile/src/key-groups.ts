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

/** Groups looked up per batch. */
export const LOOKUP_BATCH_GROUPS = 500;

class Head<T> {
  readonly #iterator: AsyncIterator<T>;
  readonly #key: (item: T) => string;
  value: T | undefined;
  key: string | undefined;

  constructor(iterable: AsyncIterable<T>, key: (item: T) => string) {
    this.#iterator = iterable[Symbol.asyncIterator]();
    this.#key = key;
  }

  async next(): Promise<void> {
    const result = await this.#iterator.next();
    this.value = result.done === true ? undefined : result.value;
    this.key = this.value === undefined ? undefined : this.#key(this.value);
  }

  /** Takes every item with `key` (the stream is sorted, so they are adjacent). */
  async take(key: string, into: T[]): Promise<void> {
    while (this.value !== undefined && this.key === key) {
      into.push(this.value);
      await this.next();
    }
  }
}

/** Merges the sorted report with the sorted local streams into key groups, in key order. */
export async function* keyGroups(report: AsyncIterable<ReportEntry>, locals: readonly AsyncIterable<LocalEntry>[]): AsyncGenerator<KeyGroup> {
  const reportHead = new Head(report, matchKey);
  const localHeads = locals.map((stream) => new Head(stream, (entry: LocalEntry) => entry.providerId));
  await Promise.all([reportHead.next(), ...localHeads.map((head) => head.next())]);
  for (;;) {
    let key: string | undefined;
    for (const head of [reportHead, ...localHeads]) {
      if (head.key !== undefined && (key === undefined || compareKeys(head.key, key) < 0)) key = head.key;
    }
    if (key === undefined) return;
    const group = { key, report: [] as ReportEntry[], local: [] as LocalEntry[] };
    await reportHead.take(key, group.report);
    for (const head of localHeads) await head.take(key, group.local);
    yield group;
  }
}

/**
 * Completes groups that need it with the local entries of their key found anywhere in the books
 * (`lookup` answers for up to {@link LOOKUP_BATCH_GROUPS} keys). Other groups pass straight through,
 * so the output is not in key order.
 */
export async function* withLookups(groups: AsyncIterable<KeyGroup>, lookup: (keys: readonly string[]) => Promise<readonly LocalEntry[]>, needed: (group: KeyGroup) => boolean = needsLookup): AsyncGenerator<KeyGroup> {
  let pending: KeyGroup[] = [];
  const complete = async function* (batch: readonly KeyGroup[]): AsyncGenerator<KeyGroup> {
    const found = await lookup(batch.map((group) => group.key));
    for (const group of batch) {
      const known = new Set(group.local.map((entry) => entry.transactionId));
      const extra = found.filter((entry) => entry.providerId === group.key && !known.has(entry.transactionId));
      yield extra.length === 0 ? group : { ...group, local: [...group.local, ...extra] };
    }
  };
  for await (const group of groups) {
    if (!needed(group)) {
      yield group;
      continue;
    }
    pending.push(group);
    if (pending.length >= LOOKUP_BATCH_GROUPS) {
      yield* complete(pending);
      pending = [];
    }
  }
  if (pending.length > 0) yield* complete(pending);
}

/**
 * The order in which a run's breaks are sorted, merged with the day's stored breaks and listed:
 * by kind (in {@link BREAK_KINDS} order), currency, Earn account, provider id, then entry kind —
 * {@link compareBreaks}'s fields — as one text key, so that the drafts of a day with a million
 * breaks go through an {@link ExternalSorter} instead of an array, and the stored rows through
 * another by the same key.
 *
 * The key's first four fields are the break's *group*: every draft and every stored row whose
 * fingerprint, or whose fingerprint without the entry kind (a row stored before the kind was part
 * of the identity), is the same share a group, so a group holds everything one break's lifecycle
 * reads (`break-store.ts`), and groups come in the same order from both sorters.
 */
import { ExternalSorter } from './external-sort.js';
import { BREAK_KINDS } from './diff.js';
import type { BreakDraft } from './diff.js';
import type { BreakRow } from './db/repository.js';
import { compareKeys } from './keys.js';
import { Head } from './key-groups.js';

/** A NUL inside a field, escaped so that the field's end ({@link FIELD_END}) sorts before any character of a longer field. */
const NUL = /\u0000/g;
const FIELD_END = '\u0000\u0000';

/** One field of a key: order-preserving (a field that is a prefix of another sorts first), null as the empty text (as {@link compareBreaks}). */
function field(value: string | null): string {
  return `${(value ?? '').replace(NUL, '\u0000\u0001')}${FIELD_END}`;
}

/** The kind's place in {@link BREAK_KINDS}, as two characters that sort in that order. */
function kindField(kind: BreakDraft['kind']): string {
  const index = BREAK_KINDS.indexOf(kind);
  return String(index < 0 ? 99 : index).padStart(2, '0');
}

/** The group of a break (see the module comment): its kind, currency, Earn account and provider id. */
export function breakGroupKey(identity: { readonly kind: BreakDraft['kind']; readonly currency: string | null; readonly earnAccountId: string | null; readonly providerId: string | null }): string {
  return `${kindField(identity.kind)}${field(identity.currency)}${field(identity.earnAccountId)}${field(identity.providerId)}`;
}

/** A draft's sort key: its group, its entry kind, then its fingerprint (drafts of one identity are adjacent). */
export function breakDraftKey(draft: BreakDraft): string {
  return `${breakGroupKey(draft)}${field(draft.entryKind)}${field(draft.fingerprint)}`;
}

/** A stored row's sort key: its group, then its id (a group's rows in the order they were written). */
export function breakRowKey(row: BreakRow): string {
  return `${breakGroupKey({ kind: row.kind, currency: row.currency, earnAccountId: row.earn_account_id, providerId: row.provider_id })}${String(row.id).padStart(16, '0')}`;
}

/**
 * Drafts a sorter's run holds before it is written: ~0.8 KB each in memory (an interest
 * mismatch), 4 MB a run. The interest worker fills its sorter while the calling thread syncs,
 * the night's peak: with runs of the default 25,000 drafts, a night of 1M breaks peaked at
 * 607-625 MiB; a million drafts make 200 runs, read back after the sync.
 */
const BREAK_SORT_RUN_ITEMS = 5_000;

/** A sorter of break drafts by {@link breakDraftKey}. */
export function breakDraftSorter(directory: string | undefined): ExternalSorter<BreakDraft> {
  return new ExternalSorter<BreakDraft>({ key: breakDraftKey, runSize: BREAK_SORT_RUN_ITEMS, ...(directory === undefined ? {} : { directory }) });
}

/**
 * Merges sorted streams of batches (each in code point order of `key`) into one, in batches of
 * at most `batchSize`; on equal keys the earlier stream's item comes first. The streams are few
 * (two or three): the smallest head is found by a scan.
 */
export async function* mergeSortedBatches<T>(streams: readonly AsyncIterable<readonly T[]>[], key: (item: T) => string, batchSize = 1_000): AsyncGenerator<T[]> {
  const heads = streams.map((stream) => new Head(stream, key));
  try {
    await Promise.all(heads.map((head) => head.next()));
    let batch: T[] = [];
    for (;;) {
      let smallest: Head<T> | undefined;
      for (const head of heads) {
        if (head.key !== undefined && (smallest?.key === undefined || compareKeys(head.key, smallest.key) < 0)) smallest = head;
      }
      if (smallest?.value === undefined) break;
      batch.push(smallest.value);
      const reading = smallest.next();
      if (reading !== undefined) await reading;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await Promise.all(heads.map((head) => head.close()));
  }
}

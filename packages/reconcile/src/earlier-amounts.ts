/**
 * The amounts earlier versions of a day reported against the books (`DayContext.earlierAmounts`),
 * read in step with the diff instead of whole: a version that restates every interest entry of a
 * 1M-account day leaves a `restated_entry` break per entry, and the next run of the day read
 * them all into one map. Here the day's `amount_mismatch` and `restated_entry` rows are read in
 * pages into a sorter by provider id, merged with the report's entries as they stream in match
 * key order ({@link withEarlierAmounts}), and each key group of the diff takes the few of its
 * own key (groups reach the diff out of key order: those that need a lookup wait for it).
 */
import type { Kysely } from 'kysely';
import type { TransactionKind } from '@earnbook/ledger';
import { earlierAmountsKey, entryKindOfDetails, matchKey } from './diff.js';
import { ExternalSorter } from './external-sort.js';
import type { ReportEntry } from './report-entry.js';
import { Head } from './key-groups.js';
import type { ReconcileDatabase } from './db/schema.js';
import * as repository from './db/repository.js';

type AmountKind = 'amount_mismatch' | 'restated_entry';

/** A stored amount break as the diff reads it: provider id, entry kind, reported amount, kind, report version, id. */
export type EarlierAmountTuple = [providerId: string, entryKind: TransactionKind | null, actual: string, kind: AmountKind, version: number, id: number];

/** Per key (`earlierAmountsKey`), the amounts earlier versions reported and the kind each got (`DayContext.earlierAmounts`). */
export type AmountsByKey = Map<string, Map<string, AmountKind>>;

/** Stored breaks read per statement. */
const EARLIER_PAGE_ROWS = 5_000;

/** Per key (`earlierAmountsKey`), the amounts and the kind each got: the latest version's where two gave one amount (then the later row). */
export function earlierAmountsOf(tuples: readonly EarlierAmountTuple[]): AmountsByKey {
  const amounts: AmountsByKey = new Map();
  const ordered = [...tuples].sort((a, b) => a[4] - b[4] || a[5] - b[5]);
  for (const [providerId, entryKind, actual, kind] of ordered) {
    const key = earlierAmountsKey(providerId, entryKind);
    const byAmount = amounts.get(key) ?? new Map<string, AmountKind>();
    byAmount.set(actual, kind);
    amounts.set(key, byAmount);
  }
  return amounts;
}

/**
 * The day's earlier amounts by provider id, for the diff's key groups in their order. A run of
 * the same version again counts its own earlier breaks too: it classifies the same figures alike.
 */
export class EarlierAmounts {
  readonly #sorter: ExternalSorter<EarlierAmountTuple>;
  #head: Head<EarlierAmountTuple> | undefined;

  private constructor(sorter: ExternalSorter<EarlierAmountTuple>) {
    this.#sorter = sorter;
  }

  /** Reads the day's amount breaks of versions up to `version` into a sorter (closed by {@link close}). */
  static async read(db: Kysely<ReconcileDatabase>, input: { entity: string; day: string; version: number; sortDirectory: string | undefined }): Promise<EarlierAmounts> {
    const sorter = new ExternalSorter<EarlierAmountTuple>({ key: (tuple) => tuple[0], ...(input.sortDirectory === undefined ? {} : { directory: input.sortDirectory }) });
    try {
      let afterId = 0;
      for (;;) {
        const rows = await repository.selectAmountBreaksPage(db, { entity: input.entity, day: input.day, afterId, limit: EARLIER_PAGE_ROWS });
        const tuples: EarlierAmountTuple[] = [];
        for (const row of rows) {
          if (row.report_version > input.version || row.provider_id === null || row.actual === null) continue;
          tuples.push([row.provider_id, entryKindOfDetails(JSON.parse(row.details) as Record<string, unknown>), row.actual, row.kind as AmountKind, row.report_version, row.id]);
        }
        await sorter.addAll(tuples);
        const last = rows.at(-1);
        if (last === undefined || rows.length < EARLIER_PAGE_ROWS) return new EarlierAmounts(sorter);
        afterId = last.id;
      }
    } catch (error) {
      await sorter.close();
      throw error;
    }
  }

  /** Whether the day has no earlier amounts (every run of a day's first version): the report need not pass by. */
  get empty(): boolean {
    return this.#sorter.count === 0;
  }

  /** The earlier amounts of one provider id; keys are asked once each, in code point order. */
  async of(key: string): Promise<AmountsByKey | undefined> {
    if (this.#head === undefined) {
      this.#head = new Head(this.#sorter.sortedBatches(), (tuple: EarlierAmountTuple) => tuple[0]);
      await this.#head.next();
    }
    const head = this.#head;
    // Past the keys the report does not hold (an await only per batch).
    const skipping = head.skipBelow(key);
    if (skipping !== undefined) await skipping;
    const tuples: EarlierAmountTuple[] = [];
    await head.take(key, tuples);
    return tuples.length === 0 ? undefined : earlierAmountsOf(tuples);
  }

  async close(): Promise<void> {
    await this.#head?.close();
    await this.#sorter.close();
  }
}

/**
 * The report's entries (sorted by match key) passed on unchanged, the earlier amounts of each
 * key put into `pending` as its first entry passes; the diff takes (and deletes) a group's
 * there. `pending` holds the keys read ahead of the diff, not the day.
 */
export async function* withEarlierAmounts(batches: AsyncIterable<ReportEntry[]>, earlier: EarlierAmounts, pending: Map<string, AmountsByKey>): AsyncGenerator<ReportEntry[]> {
  let last: string | undefined;
  for await (const batch of batches) {
    for (const entry of batch) {
      const key = matchKey(entry);
      if (key === last) continue;
      last = key;
      const amounts = await earlier.of(key);
      if (amounts !== undefined) pending.set(key, amounts);
    }
    yield batch;
  }
}

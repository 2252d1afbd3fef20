/**
 * The sync pass of a day's run (split from `day-run.ts`): which report entries it must see, and
 * the pass that merges them with the books and books what they lack (see `sync.ts`).
 */
import type { PostingScope } from '@earnbook/ledger';
import { entriesToBook, kindOfType, matchKey } from './diff.js';
import type { DayContext } from './diff.js';
import type { ExternalSorter } from './external-sort.js';
import type { ReportEntry } from './report-entry.js';
import { dayGroups } from './day-streams.js';
import { SyncQueue } from './sync.js';
import type { SyncEntry } from './sync.js';
import { rowCounter } from './day-progress.js';
import { lookupsInThisThread, lookupsInWorker } from './earn-lookups.js';
import type { EarnLookups } from './earn-lookups.js';
import type { DaySettings } from './day-workers.js';
import type { ReconcileProgressListener } from './day-progress.js';

/** The kinds the sync books: only these are read from the books in the sync pass. */
const SYNC_KINDS = Object.freeze(['interest', 'partner_margin', 'fee'] as const);

/**
 * Whether the sync pass must see a report entry: one of the kinds it books, or one whose match key
 * is its id (it may share a key group and an id with such an entry, and `entriesToBook` takes the
 * first entry of an id). Every other entry cannot change what the sync books, so the sync pass
 * merges these alone with the books (fewer groups, fewer lookups).
 */
export function syncMaySee(entry: ReportEntry): boolean {
  const kind = kindOfType(entry.type);
  return (kind !== undefined && (SYNC_KINDS as readonly string[]).includes(kind)) || matchKey(entry) === entry.id;
}

/**
 * The sorted report's entries the sync pass must see ({@link syncMaySee}), in match key order: the
 * report's sorted stream filtered as it is read. A second sorter holding these alone cost more
 * (a report's interest entries, most of a day, written, sorted and read once more) than reading
 * the few other entries again.
 */
async function* syncEntries(byKey: ExternalSorter<ReportEntry>): AsyncGenerator<ReportEntry[]> {
  for await (const batch of byKey.sortedBatches()) {
    const seen = batch.filter(syncMaySee);
    if (seen.length > 0) yield seen;
  }
}

/** Report entries gathered before they are booked (compound postings of up to this many lines). */
export const SYNC_BATCH_POSTINGS_MAX = 1_000;

/** What the sync pass reads of the day's run. */
export interface SyncPass {
  readonly entity: string;
  /** The report sorted by match key. */
  readonly byKey: ExternalSorter<ReportEntry>;
  /** Whether the report holds an entry the sync pass must see ({@link syncMaySee}). */
  readonly syncMayBook: boolean;
  readonly scope: PostingScope;
  readonly progress: ReconcileProgressListener;
  /** The SQLite file a worker thread looks the Earn accounts up in (`earn-lookups.ts`), when the run uses workers; else in this thread. */
  readonly lookupsFile: string | undefined;
  /** Settles when the interest comparison's worker is done (never rejects): the lookup worker starts then, not to share the second core with it. */
  readonly lookupsAfter: Promise<void>;
}

/** What the sync pass reads of the reconciler's settings. */
export type SyncSettings = Pick<DaySettings, 'ledger' | 'sortDirectory' | 'logger' | 'workerWaitMs'>;

/** Where the pass looks its Earn accounts up: on a worker thread when there is a file for one, else in the transaction. */
function earnLookups(settings: SyncSettings, work: SyncPass, timeZone: string): EarnLookups {
  const db = work.scope.db;
  if (work.lookupsFile === undefined) return lookupsInThisThread(settings.ledger, { entity: work.entity, db });
  return lookupsInWorker(settings.ledger, { entity: work.entity, timeZone, databaseFile: work.lookupsFile, db, logger: settings.logger, waitMs: settings.workerWaitMs, after: work.lookupsAfter });
}

/**
 * Pass 1: finds the interest, margin and fee entries the books lack (the report's entries that
 * may matter to it, {@link syncMaySee}, merged with the books in provider id order, no write in
 * between), then books them in account order, in compound batches (see `sync.ts`).
 * `beforeWrites` runs once, between the two: before the pass's first write, after its reads.
 */
export async function syncDay(settings: SyncSettings, work: SyncPass, context: DayContext, beforeWrites: () => Promise<void>): Promise<{ interest: number; partnerMargin: number; fee: number }> {
  if (!work.syncMayBook) {
    // Nothing the sync could book (every group would hold local entries alone): neither the
    // sorted report nor the books' interest, margin and fees of two days are read. A report of
    // 1M deposits: 33 s before, the sync pass alone walked both (see the reconcile README).
    work.progress({ phase: 'sync', rows: 0 });
    await beforeWrites();
    return { interest: 0, partnerMargin: 0, fee: 0 };
  }
  const groups = dayGroups(settings.ledger, { entity: work.entity, days: [context.day, context.nextDay], report: syncEntries(work.byKey), kinds: SYNC_KINDS, sortDirectory: settings.sortDirectory }, work.scope.db);
  const lookups = earnLookups(settings, work, context.timeZone);
  let queue: SyncQueue | undefined;
  try {
    queue = new SyncQueue(settings.ledger, { entity: work.entity, scope: work.scope, lookups, ...(settings.sortDirectory === undefined ? {} : { directory: settings.sortDirectory }) });
    const examined = rowCounter(work.progress, 'sync');
    work.progress({ phase: 'sync', rows: 0 });
    for await (const batch of groups) {
      const entries: SyncEntry[] = [];
      for (const group of batch) {
        // A provider id the books hold under another kind cannot be a compound line: booked alone.
        const alone = group.local.length > 0;
        for (const entry of entriesToBook(group, context)) entries.push({ entry, alone });
        examined.add(group.report.length);
      }
      await queue.addAll(entries);
    }
    await queue.endGather();
    await beforeWrites();
    const counts = await queue.book({ day: context.day, batchSize: SYNC_BATCH_POSTINGS_MAX });
    examined.done();
    return counts;
  } finally {
    // The queue closes the lookups; without one (it could not be made) they are closed here.
    await (queue === undefined ? lookups.close() : queue.close());
  }
}

/**
 * The streams a reconciliation run walks: the books' provider entries of a day in provider id
 * order (through the ledger's read API, in pages), lookups by provider id, the day's key groups,
 * and the interest comparison merged by Earn account. Reads only; bounded by the page sizes.
 */
import type { Kysely } from 'kysely';
import { cycleLines, cycleLinesMark, providerEntriesByIds, providerEntriesOfDayInBookOrder, toUnits } from '@earnbook/ledger';
import type { CycleLinesMark, EarnBooks, Ledger, LedgerDatabase, ProviderEntry, ProviderEntryBookCursor, TransactionKind } from '@earnbook/ledger';
import { kindOfType, needsLookup } from './diff.js';
import type { BreakDraft, KeyGroup, LocalEntry } from './diff.js';
import { Head, keyGroups, withLookups } from './key-groups.js';
import { ExternalSorter } from './external-sort.js';
import { breakDraftSorter } from './break-order.js';
import type { ReportEntry } from './report-entry.js';
import { compareKeys } from './keys.js';
import { diffInterest, sumReportedInterest } from './interest-check.js';
import type { InterestLine, ReportedInterestEntry } from './interest-check.js';

/** Provider entries read per page. */
export const LOCAL_PAGE_ROWS = 5_000;
/** Accounts of the recomputation read per batch. */
const CYCLE_BATCH_ACCOUNTS = 1_000;

/** A provider entry of the ledger as the diff sees it. */
export function toLocalEntry(entry: ProviderEntry): LocalEntry {
  return {
    transactionId: entry.transactionId,
    kind: entry.kind,
    providerId: entry.providerId,
    accountingDay: entry.accountingDay,
    interestDay: entry.interestDay,
    amountUnits: toUnits(entry.amount),
    currency: entry.currency,
    earnAccountId: entry.earnAccountId,
  };
}

/**
 * What the diff reads of a provider entry, as the sorter stores it: a positional tuple (half the
 * bytes of the entry as an object, read back faster) of transaction id, kind, provider id,
 * accounting day, interest day, amount, currency, Earn account.
 */
export type LocalTuple = [number, TransactionKind, string, string, string | null, string, string, string | null];

function toLocalTuple(entry: ProviderEntry): LocalTuple {
  return [entry.transactionId, entry.kind, entry.providerId, entry.accountingDay, entry.interestDay, entry.amount, entry.currency, entry.earnAccountId];
}

function fromLocalTuple(tuple: LocalTuple): LocalEntry {
  const [transactionId, kind, providerId, accountingDay, interestDay, amount, currency, earnAccountId] = tuple;
  return { transactionId, kind, providerId, accountingDay, interestDay, amountUnits: toUnits(amount), currency, earnAccountId };
}

/** The sort key of a {@link LocalTuple}: its provider id. */
export const localTupleKey = (tuple: LocalTuple): string => tuple[2];

/** A sorter of a day's provider entries by provider id (run files under `directory`). */
export function localSorter(directory: string | undefined): ExternalSorter<LocalTuple> {
  return new ExternalSorter<LocalTuple>({ key: localTupleKey, ...(directory === undefined ? {} : { directory }) });
}

/**
 * Reads the books' provider entries of one day in book order, in pages, into `sorter` (stable, so
 * ties stay in transaction order). Read in provider id order instead, every interest line of a
 * large day is a random row: 1M lines took ~28 s on SQLite that way, ~9 s in book order.
 */
export async function sortDayEntries(ledger: Ledger, input: { entity: string; day: string; kinds?: readonly TransactionKind[] }, db: Kysely<LedgerDatabase>, sorter: ExternalSorter<LocalTuple>): Promise<void> {
  let after: ProviderEntryBookCursor | null = null;
  do {
    const page = await providerEntriesOfDayInBookOrder(ledger, { entity: input.entity, day: input.day, after, limit: LOCAL_PAGE_ROWS, ...(input.kinds === undefined ? {} : { kinds: input.kinds }) }, db);
    await sorter.addAll(page.entries.map(toLocalTuple));
    after = page.next;
  } while (after !== null);
}

/** A day's sorted provider entries (from {@link sortDayEntries}) as the diff reads them, in batches; the sorter stays open. */
export async function* sortedLocalEntries(sorter: ExternalSorter<LocalTuple>): AsyncGenerator<LocalEntry[]> {
  for await (const batch of sorter.sortedBatches()) yield batch.map(fromLocalTuple);
}

/** The books' provider entries of one day, in provider id order (then transaction id), in batches. */
export async function* localPagesOfDay(ledger: Ledger, input: { entity: string; day: string; kinds?: readonly TransactionKind[]; sortDirectory?: string }, db: Kysely<LedgerDatabase>): AsyncGenerator<LocalEntry[]> {
  const sorter = localSorter(input.sortDirectory);
  try {
    await sortDayEntries(ledger, input, db, sorter);
    yield* sortedLocalEntries(sorter);
  } finally {
    await sorter.close();
  }
}

/**
 * The day's key groups, in batches: the sorted report (in batches) merged with the books of `days`, groups without a
 * local entry of their kind completed by a lookup anywhere in the books. With `kinds`, only
 * local entries of those kinds are read and only report entries of those kinds are looked up
 * (the sync pass needs interest, margin and fees only). `sorted`: days whose provider entries
 * (every kind) are already sorted, current in `db` (see `books-prefetch.ts`); they are not read
 * again, and their sorters stay open.
 */
export function dayGroups(
  ledger: Ledger,
  input: {
    entity: string;
    days: readonly string[];
    report: AsyncIterable<readonly ReportEntry[]>;
    kinds?: readonly TransactionKind[];
    sortDirectory?: string | undefined;
    sorted?: ReadonlyMap<string, ExternalSorter<LocalTuple>>;
  },
  db: Kysely<LedgerDatabase>,
): AsyncGenerator<KeyGroup[]> {
  const { kinds } = input;
  const locals = input.days.map((day) => {
    const sorted = kinds === undefined ? input.sorted?.get(day) : undefined;
    if (sorted !== undefined) return sortedLocalEntries(sorted);
    return localPagesOfDay(ledger, { entity: input.entity, day, ...(kinds === undefined ? {} : { kinds }), ...(input.sortDirectory === undefined ? {} : { sortDirectory: input.sortDirectory }) }, db);
  });
  const lookup = async (keys: readonly string[]) => (await providerEntriesByIds(ledger, { entity: input.entity, providerIds: keys }, db)).map(toLocalEntry);
  const ofKinds = (entry: ReportEntry) => {
    const kind = kindOfType(entry.type);
    return kind !== undefined && (kinds?.includes(kind) ?? true);
  };
  const needed = (group: KeyGroup) => needsLookup(kinds === undefined ? group : { ...group, report: group.report.filter(ofKinds) });
  return withLookups(keyGroups(input.report, locals), lookup, needed);
}

/**
 * A report's interest entry as the comparison sorts it: Earn account, id, currency, amount (a flat
 * tuple, not the whole entry as an object: the sorter writes and reads back each of a day's 1M).
 */
export type ReportedInterestTuple = [accountId: string, id: string, currency: string, amount: string];

/** The sort key of a {@link ReportedInterestTuple}: its Earn account, then its id. */
export const reportedInterestKey = ([accountId, id]: ReportedInterestTuple): string => `${accountId}\u0000${id}`;

function fromReportedInterestTuple([accountId, id, currency, amount]: ReportedInterestTuple): ReportedInterestEntry {
  return { accountId, id, currency, amount };
}

/** A recomputed line as the comparison sorts it: Earn account, currency, balance, user interest. */
export type InterestLineTuple = [earnAccountId: string, currency: string, balance: InterestLine['balance'], userInterest: InterestLine['userInterest']];

/** The sort key of an {@link InterestLineTuple}: its Earn account. */
export const interestLineKey = (line: InterestLineTuple): string => line[0];

/**
 * What the interest comparison found: its breaks (sorted by `breakDraftKey`, in files: a day on
 * which every account's interest differs has a break per account; the caller closes the sorter)
 * and the recomputed margin per currency.
 */
export interface InterestOutcome {
  readonly breaks: ExternalSorter<BreakDraft>;
  readonly recomputedMargin: ReadonlyMap<string, bigint>;
}

/** The day's interest recomputed: its lines sorted by Earn account, and the margin per currency. */
export interface InterestProjection {
  /** Only what the comparison reads is sorted (a cycle line also holds two 66-decimal residues). */
  readonly lines: ExternalSorter<InterestLineTuple>;
  readonly recomputedMargin: ReadonlyMap<string, bigint>;
  /**
   * The books' mark taken before the lines were read (`cycleLinesMark`): the write transaction
   * takes it again, and recomputes there if it moved (a posting on an Earn account came in while
   * the lines were read, outside the transaction).
   */
  readonly mark: CycleLinesMark;
}

/**
 * Recomputes the day's interest (the ledger's accounting cycle, read only) into a sorter by Earn
 * account. The caller closes {@link InterestProjection.lines}; on a failure it is closed here.
 */
export async function projectInterest(input: { books: EarnBooks; entity: string; day: string; sortDirectory?: string | undefined; db?: Kysely<LedgerDatabase> }): Promise<InterestProjection> {
  const lines = new ExternalSorter<InterestLineTuple>({ key: interestLineKey, ...(input.sortDirectory === undefined ? {} : { directory: input.sortDirectory }) });
  const recomputedMargin = new Map<string, bigint>();
  const db = input.db ?? input.books.ledger.db;
  try {
    // Before the lines: a posting that comes in while they are read moves it (see InterestProjection.mark).
    const mark = await cycleLinesMark(input.books.ledger, { entity: input.entity }, db);
    for await (const batch of cycleLines({ books: input.books, entity: input.entity, day: input.day, batchSize: CYCLE_BATCH_ACCOUNTS, db })) {
      for (const line of batch) recomputedMargin.set(line.currency, (recomputedMargin.get(line.currency) ?? 0n) + toUnits(line.partnerMargin));
      await lines.addAll(batch.map((line): InterestLineTuple => [line.earnAccountId, line.currency, line.balance, line.userInterest]));
    }
    return { lines, recomputedMargin, mark };
  } catch (error) {
    await lines.close();
    throw error;
  }
}

/**
 * Compares the recomputed day with the report's interest entries (sorted by Earn account),
 * account by account. Memory is bounded by the sorters' runs. Does not close either sorter.
 */
export async function compareProjected(
  projection: Pick<InterestProjection, 'lines' | 'recomputedMargin'>,
  input: { reported: ExternalSorter<ReportedInterestTuple>; toleranceUnits: (currency: string) => bigint; sortDirectory?: string | undefined },
): Promise<InterestOutcome> {
  const breaks = breakDraftSorter(input.sortDirectory);
  let compared = false;
  // Both streams read in batches: an await per batch, not per account (2M awaits at 1M accounts).
  const lines = new Head(projection.lines.sortedBatches(), interestLineKey);
  const entries = new Head(input.reported.sortedBatches(), (entry: ReportedInterestTuple) => entry[0]);
  try {
    await Promise.all([lines.next(), entries.next()]);
    while (lines.key !== undefined || entries.key !== undefined) {
      const key = lines.key === undefined ? (entries.key ?? '') : entries.key === undefined ? lines.key : compareKeys(lines.key, entries.key) <= 0 ? lines.key : entries.key;
      const account: ReportedInterestTuple[] = [];
      const taking = entries.take(key, account);
      if (taking !== undefined) await taking;
      const tuple = lines.key === key ? lines.value : undefined;
      const current: InterestLine | undefined = tuple === undefined ? undefined : { earnAccountId: tuple[0], currency: tuple[1], balance: tuple[2], userInterest: tuple[3] };
      if (current !== undefined) {
        const moving = lines.next();
        if (moving !== undefined) await moving;
      }
      const drafts = diffInterest(current, account.length === 0 ? undefined : sumReportedInterest(account.map(fromReportedInterestTuple)), input.toleranceUnits);
      if (drafts.length > 0) await breaks.addAll(drafts);
    }
    compared = true;
  } finally {
    await Promise.all([lines.close(), entries.close()]);
    if (!compared) await breaks.close();
  }
  return { breaks, recomputedMargin: projection.recomputedMargin };
}

/**
 * Stores a run's breaks of a day in bounded memory. The drafts come sorted by
 * {@link breakDraftKey} (one sorter per source: the interest comparison's, the diff's and the
 * day's checks'); the day's stored rows are read in pages into a sorter of their own by the same
 * group; the two are merged group by group, each group planned by {@link planBreakGroup} and
 * its changes written in batches. A day with a million breaks holds a page of rows, a sorter's
 * run and a batch of changes, not the day: the run that held them all reached 3.5 GiB at 1M
 * `interest_mismatch` breaks (reconcile README, session 33).
 */
import type { Insertable, Kysely } from 'kysely';
import type { LedgerDialect } from '@earnbook/ledger';
import { BREAK_KINDS } from './diff.js';
import type { BreakDraft } from './diff.js';
import { ExternalSorter } from './external-sort.js';
import type { ReconcileBreakTable, ReconcileDatabase } from './db/schema.js';
import type { BreakKind } from './db/schema.js';
import * as repository from './db/repository.js';
import type { BreakFigures, BreakRow } from './db/repository.js';
import { breakDraftKey, breakGroupKey, breakRowKey, mergeSortedBatches } from './break-order.js';
import { Head } from './key-groups.js';
import { planBreakGroup, rowToBreak } from './break-store.js';
import type { Break, BreakGroupPlan } from './break-store.js';
import { compareKeys } from './keys.js';

/** Breaks inserted, updated or resolved per statement. */
const BREAK_WRITE_BATCH_ROWS = 500;
/** Stored breaks read per statement into the rows' sorter. */
const STORED_BREAKS_PAGE_ROWS = 5_000;
/** Groups handed on per batch: an await per batch, not per group. */
const GROUP_BATCH = 500;
/** Listed breaks read back per statement (one index probe each: `reconcile_breaks_day`). */
const LISTED_READ_ROWS = 500;

/** What storing a run's breaks of a day left open, and closed. */
export interface DayBreaks {
  /** Open breaks this run resolved (no longer found, or covered by a person's resolution). */
  readonly resolved: number;
  /** The day's open breaks after the run, per kind (every kind listed). */
  readonly counts: Readonly<Record<BreakKind, number>>;
  /** Currencies with an open `outstanding_balance_mismatch`, sorted. */
  readonly disputedCurrencies: readonly string[];
  /** The first `listMax` open breaks, in the drafts' order. */
  readonly listed: readonly Break[];
}

/** What {@link storeDayBreaks} is given. */
export interface StoreDayBreaksInput {
  readonly entity: string;
  readonly day: string;
  /** The run's drafts, each sorter by {@link breakDraftKey}. */
  readonly drafts: readonly ExternalSorter<BreakDraft>[];
  readonly version: number;
  readonly now: string;
  /** The books' dialect: how new breaks are inserted (`insertBreaks`). */
  readonly dialect: LedgerDialect['name'];
  /** Open breaks read back and listed. */
  readonly listMax: number;
  readonly sortDirectory: string | undefined;
  /** The stored rows' sorter's run size and page (tests make them small to cross their edges). */
  readonly runSize?: number;
  readonly pageRows?: number;
}

/** A group's drafts and stored rows. */
interface BreakGroup {
  readonly drafts: BreakDraft[];
  readonly rows: BreakRow[];
}

const rowGroupKey = (row: BreakRow): string => breakGroupKey({ kind: row.kind, currency: row.currency, earnAccountId: row.earn_account_id, providerId: row.provider_id });

/** The drafts and rows merged group by group, in group order (both streams are sorted by group first). */
async function* breakGroups(drafts: AsyncIterable<readonly BreakDraft[]>, rows: AsyncIterable<readonly BreakRow[]>): AsyncGenerator<BreakGroup[]> {
  const draftHead = new Head(drafts, (draft: BreakDraft) => breakGroupKey(draft));
  const rowHead = new Head(rows, rowGroupKey);
  try {
    await Promise.all([draftHead.next(), rowHead.next()]);
    let batch: BreakGroup[] = [];
    for (;;) {
      const key = draftHead.key === undefined ? rowHead.key : rowHead.key === undefined || compareKeys(draftHead.key, rowHead.key) <= 0 ? draftHead.key : rowHead.key;
      if (key === undefined) break;
      const group: BreakGroup = { drafts: [], rows: [] };
      await draftHead.take(key, group.drafts);
      await rowHead.take(key, group.rows);
      batch.push(group);
      if (batch.length >= GROUP_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await Promise.all([draftHead.close(), rowHead.close()]);
  }
}

/** Writes the groups' plans in batches (a fingerprint adopted from before the entry kind, rare, as it comes). */
class BreakWriter {
  #inserts: Insertable<ReconcileBreakTable>[] = [];
  #updates: BreakFigures[] = [];
  #resolutions: { id: number; reason: string }[] = [];
  constructor(
    readonly db: Kysely<ReconcileDatabase>,
    readonly now: string,
    readonly dialect: LedgerDialect['name'],
  ) {}

  /**
   * A group's changes. Their order does not matter once each adopted fingerprint is written: an
   * update or a resolution names its row, and an insert's identity has no open row (the plan
   * updates that one instead), so the one-open-row-per-identity index holds whatever is flushed first.
   */
  async apply(plan: BreakGroupPlan): Promise<void> {
    for (const { id, fingerprint } of plan.fingerprints) await repository.updateBreak(this.db, id, { fingerprint });
    this.#updates.push(...plan.updates);
    this.#inserts.push(...plan.inserts);
    this.#resolutions.push(...plan.resolutions);
    if (this.#inserts.length >= BREAK_WRITE_BATCH_ROWS || this.#updates.length >= BREAK_WRITE_BATCH_ROWS || this.#resolutions.length >= BREAK_WRITE_BATCH_ROWS) await this.flush();
  }

  async flush(): Promise<void> {
    const [inserts, updates, resolutions] = [this.#inserts, this.#updates, this.#resolutions];
    [this.#inserts, this.#updates, this.#resolutions] = [[], [], []];
    for (let start = 0; start < inserts.length; start += BREAK_WRITE_BATCH_ROWS) await repository.insertBreaks(this.db, inserts.slice(start, start + BREAK_WRITE_BATCH_ROWS), this.dialect);
    for (let start = 0; start < updates.length; start += BREAK_WRITE_BATCH_ROWS) await repository.updateBreakFigures(this.db, updates.slice(start, start + BREAK_WRITE_BATCH_ROWS));
    for (let start = 0; start < resolutions.length; start += BREAK_WRITE_BATCH_ROWS) await repository.resolveBreaksByRun(this.db, { rows: resolutions.slice(start, start + BREAK_WRITE_BATCH_ROWS), now: this.now });
  }
}

/** Reads the day's stored breaks into a sorter by group, a page at a time. */
async function sortStoredBreaks(db: Kysely<ReconcileDatabase>, input: StoreDayBreaksInput): Promise<ExternalSorter<BreakRow>> {
  const pageRows = input.pageRows ?? STORED_BREAKS_PAGE_ROWS;
  const sorter = new ExternalSorter<BreakRow>({ key: breakRowKey, ...(input.sortDirectory === undefined ? {} : { directory: input.sortDirectory }), ...(input.runSize === undefined ? {} : { runSize: input.runSize }) });
  try {
    let after: { day: string; id: number } | undefined;
    for (;;) {
      const page = await repository.selectBreaks(db, { entity: input.entity, day: input.day, ...(after === undefined ? {} : { after }), limit: pageRows });
      await sorter.addAll(page);
      const last = page.at(-1);
      if (last === undefined || page.length < pageRows) return sorter;
      after = { day: input.day, id: last.id };
    }
  } catch (error) {
    await sorter.close();
    throw error;
  }
}

/** The listed drafts' open rows, in the drafts' order. */
async function readListed(db: Kysely<ReconcileDatabase>, input: { entity: string; day: string; listed: readonly BreakDraft[] }): Promise<Break[]> {
  const byFingerprint = new Map<string, BreakRow>();
  for (let start = 0; start < input.listed.length; start += LISTED_READ_ROWS) {
    const fingerprints = input.listed.slice(start, start + LISTED_READ_ROWS).map((draft) => draft.fingerprint);
    for (const row of await repository.selectBreaksOfFingerprints(db, { entity: input.entity, day: input.day, fingerprints })) if (row.status === 'open') byFingerprint.set(row.fingerprint, row);
  }
  return input.listed.flatMap((draft) => {
    const row = byFingerprint.get(draft.fingerprint);
    return row === undefined ? [] : [rowToBreak(row)];
  });
}

/**
 * Writes a run's breaks of a day (each source sorted by {@link breakDraftKey}; on one key, an
 * earlier source's draft comes first) and resolves the open ones it no longer found: see
 * {@link planBreakGroup} for each break's lifecycle and the module comment for the memory.
 * Returns what is open afterwards, the first `listMax` open breaks read back.
 */
export async function storeDayBreaks(db: Kysely<ReconcileDatabase>, input: StoreDayBreaksInput): Promise<DayBreaks> {
  const { entity, day, version, now } = input;
  const stored = await sortStoredBreaks(db, input);
  try {
    const writer = new BreakWriter(db, now, input.dialect);
    const counts = Object.fromEntries(BREAK_KINDS.map((kind) => [kind, 0])) as Record<BreakKind, number>;
    const disputed = new Set<string>();
    const listed: BreakDraft[] = [];
    let resolved = 0;
    const drafts = mergeSortedBatches(input.drafts.map((sorter) => sorter.sortedBatches()), breakDraftKey);
    for await (const batch of breakGroups(drafts, stored.sortedBatches())) {
      for (const group of batch) {
        const plan = planBreakGroup(group.rows, group.drafts, { entity, day, version, now });
        await writer.apply(plan);
        resolved += plan.resolutions.length;
        for (const draft of plan.open) {
          counts[draft.kind]++;
          if (draft.kind === 'outstanding_balance_mismatch' && draft.currency !== null) disputed.add(draft.currency);
          if (listed.length < input.listMax) listed.push(draft);
        }
      }
    }
    await writer.flush();
    return { resolved, counts, disputedCurrencies: [...disputed].sort(), listed: await readListed(db, { entity, day, listed }) };
  } finally {
    await stored.close();
  }
}

/**
 * One reconciliation of an entity's accounting day, in two phases.
 *
 * 1. Read (no writes): stream the report, validating each entry and hashing the bytes, into two
 *    external sorts (by match key; interest by Earn account); check the header; recompute the
 *    day's interest and compare it account by account (on the interest worker, the projection and
 *    that comparison go on while phase 2 gathers and syncs: the comparison reads sorted files
 *    only, and the plan waits for it; see `day-interest.ts`).
 * 2. One write transaction: record the report version, sync (book the interest, margin and fee
 *    entries the books lack), reload and plan (the pure diff over the merged streams, the
 *    settlement positions and the day checks), then write positions, breaks and instructions.
 *    The books' days the plan merges come from a worker thread that read them during phase 1
 *    (`books-prefetch.ts`) where their marks show nothing was booked on them since; else they
 *    are read in the transaction.
 *
 * A rejection anywhere (a bad entry, a truncated stream, an entry the ledger refuses) throws
 * before the transaction or rolls it back: nothing is written.
 */
import { describeValue, formatInstant, nextAccountingDay, parseAccountingDay, previousAccountingDay, sameTimeZone, toUnits } from '@earnbook/ledger';
import type { Ledger, LedgerLogger, PostingScope } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { valueText } from './input-guards.js';
import { matchKey } from './diff.js';
import { EarlierAmounts, withEarlierAmounts } from './earlier-amounts.js';
import type { AmountsByKey } from './earlier-amounts.js';
import { diffGroup } from './diff-group.js';
import type { BreakDraft, DayContext } from './diff.js';
import { ExternalSorter } from './external-sort.js';
import { reportEntryCodec } from './entry-codec.js';
import { readReportEntries, readReportInput } from './report-stream.js';
import type { ReadReport, ReportInput } from './report-source.js';
import type { ReportEntry, ReportHeader } from './report-entry.js';
import { dayGroups, reportedInterestKey } from './day-streams.js';
import type { InterestOutcome, ReportedInterestTuple } from './day-streams.js';
import type { PendingProjection } from './interest-projection.js';
import { currentInterest, startComparison } from './day-interest.js';
import type { DayInterest } from './day-interest.js';
import { NO_PREFETCHED_BOOKS } from './books-prefetch.js';
import type { PrefetchedBooks } from './books-prefetch.js';
import { syncDay, syncMaySee } from './day-sync.js';
import { rowCounter } from './day-progress.js';
import type { ReconcileProgressListener } from './day-progress.js';
import { storePositions } from './day-positions.js';
import { DayFlowTotals, computeSettlement } from './settlement.js';
import type { SettlementPosition } from './settlement.js';
import { approvalBreaks, marginBreaks, outstandingBreaks } from './day-checks.js';
import { coveredDrafts, heldCurrencies } from './break-store.js';
import type { Break } from './break-store.js';
import { storeDayBreaks } from './break-day-store.js';
import { breakDraftSorter } from './break-order.js';
import type { BreakKind } from './db/schema.js';
import { holdNextDayInstructions, instruct, rowToInstruction } from './instructions.js';
import type { SettlementInstruction } from './instructions.js';
import * as repository from './db/repository.js';
import { startBooksPrefetch, startProjection, workerDatabaseFile } from './day-workers.js';
import type { DaySettings } from './day-workers.js';

/** The report's interest entries of a batch as the comparison sorts them (by Earn account). */
function* reportedInterestOf(batch: readonly ReportEntry[]): Generator<ReportedInterestTuple> {
  for (const entry of batch) if (entry.type === 'Interest' && entry.accountId !== undefined) yield [entry.accountId, entry.id, entry.currency, entry.amount];
}

/** What a reconciliation of one day found and did. */
export interface ReconcileResult {
  readonly entity: string;
  readonly day: string;
  readonly reportId: string;
  readonly reportVersion: number;
  /** `created` the first time this report content was processed, `exists` after. */
  readonly reportStatus: 'created' | 'exists';
  readonly reportEntries: number;
  /** The report without its entries, its content hash and where it came from. */
  readonly report: { readonly header: ReportHeader; readonly contentHash: string; readonly source: string };
  /** Entries the run booked into the ledger (interest, margin, fee). */
  readonly synced: { readonly interest: number; readonly partnerMargin: number; readonly fee: number };
  /**
   * The day's open breaks, in a deterministic order (by kind, currency, Earn account, provider id,
   * entry kind): all of them up to the reconciler's `resultBreaksMax` (default 10,000), else the
   * first that many; {@link openBreaks} counts them all, and `Reconciler.breaks({ entity, day,
   * status: 'open' })` pages through them.
   */
  readonly breaks: readonly Break[];
  /** How many breaks of the day are open (`breaks` lists at most `resultBreaksMax` of them). */
  readonly openBreaks: number;
  /** The day's open breaks per kind (every kind listed, 0 for none). */
  readonly breakCounts: Readonly<Record<BreakKind, number>>;
  /** Currencies whose outstanding balance is disputed (an open `outstanding_balance_mismatch`): their settlement is held. Sorted. */
  readonly disputedCurrencies: readonly string[];
  /** Breaks this run closed because the report no longer shows them. */
  readonly resolvedBreaks: number;
  readonly positions: readonly SettlementPosition[];
  readonly instructions: readonly SettlementInstruction[];
  /** True when there is no open break. */
  readonly clean: boolean;
}

/** The kinds of stored breaks a run reads whole: the holds a person's resolution lifts (a few per currency). */
const BREAK_KINDS_READ_WHOLE = ['approval_required', 'outstanding_balance_mismatch'] as const;

/**
 * Refuses a report of another day, entity or time zone. Zones are compared as zones
 * (`sameTimeZone`): the ledger keeps an alias as written, so an entity in `Asia/Kolkata` takes a
 * report in `Asia/Calcutta` (every accounting day is the same); a zone with other rules is refused.
 */
function checkHeader(header: ReportHeader, input: { entity: string; day: string; timeZone: string }): void {
  const { entity, day, timeZone } = input;
  if (header.accountingDay !== day) throw new ReconcileError('wrong_day', `report ${header.id} is for ${header.accountingDay}, not ${day}`, { field: 'accountingDay', value: header.accountingDay });
  if (header.entity !== undefined && header.entity !== entity) throw new ReconcileError('wrong_entity', `report ${header.id} belongs to ${header.entity}, not ${entity}`, { field: 'entity', value: header.entity });
  if (!sameTimeZone(header.timeZone, timeZone)) throw new ReconcileError('wrong_entity', `report ${header.id} counts days in ${header.timeZone}, but ${entity} keeps its books in ${timeZone}`, { field: 'timeZone', value: header.timeZone });
}

function checkDay(day: unknown): string {
  try {
    return parseAccountingDay(day, 'day');
  } catch (cause) {
    throw new ReconcileError('invalid_input', `day must be an accounting day YYYY-MM-DD, got ${describeValue(day)}`, { field: 'day', value: valueText(day), cause });
  }
}

/**
 * Refuses a day's first reconciliation when the entity reconciled an earlier day but not the day
 * before: what the day settles carries over from the day before (amounts under the settlement
 * threshold), which the books then do not know, so the day's position and instruction would
 * start from nothing. The provider closes every day with a report, so a missing day is a run
 * that failed or was skipped: reconcile the days in order (the CLI's `--from/--to`). A day already
 * reconciled (a re-run, a restatement) and an entity's first day are not refused. Days reconciled
 * before reconcile's migration 0005 left no row in `reconciled_days` and so count as none.
 */
async function refuseBrokenChain(ledger: Ledger, input: { entity: string; day: string }): Promise<void> {
  const db = repository.withReconcileTables(ledger.db);
  const latest = await repository.selectLatestReconciledDayBefore(db, input);
  const before = previousAccountingDay(input.day);
  if (latest === undefined || latest === before || (await repository.findReconciledDay(db, input)) !== undefined) return;
  const first = nextAccountingDay(latest);
  throw new ReconcileError(
    'invalid_transition',
    `${input.entity} ${input.day} cannot be reconciled before ${before}: the books were last reconciled for ${latest}, and what ${input.day} settles carries over from the day before; reconcile ${first}${first === before ? '' : ` to ${before}`} first (earnbook reconcile --from ${first} --to ${input.day} --fetch)`,
    { field: 'day', value: input.day },
  );
}

/** Reconciles one day: see the module comment. */
export async function reconcileDay(settings: DaySettings, input: { entity: string; day: string; report: ReportInput; onProgress?: ReconcileProgressListener | undefined }): Promise<ReconcileResult> {
  const { ledger } = settings;
  const entity = ledger.entity(input.entity).id;
  if (input.report === undefined || input.report === null) throw new ReconcileError('no_report', `no report for ${entity} ${input.day}: nothing can be reconciled`, { field: 'report' });
  const report = readReportInput(input.report, 'report');
  const day = checkDay(input.day);
  if (input.onProgress !== undefined && typeof input.onProgress !== 'function') {
    throw new ReconcileError('invalid_input', `onProgress must be a function, got ${typeof input.onProgress}`, { field: 'onProgress', value: typeof input.onProgress });
  }
  const progress: ReconcileProgressListener = input.onProgress ?? (() => {});
  await refuseBrokenChain(ledger, { entity, day });
  const timeZone = ledger.entity(entity).timeZone;
  const directory = settings.sortDirectory === undefined ? {} : { directory: settings.sortDirectory };
  const byKey = new ExternalSorter<ReportEntry>({ key: matchKey, codec: reportEntryCodec<ReportEntry>(), ...directory });
  const interestByAccount = new ExternalSorter<ReportedInterestTuple>({ key: reportedInterestKey, ...directory });
  // Every worker and sorter the run starts is closed in one place, the finally below, whatever
  // fails and wherever: nothing is started before its try.
  let projection: PendingProjection | undefined;
  let prefetched: PrefetchedBooks = NO_PREFETCHED_BOOKS;
  let comparison: DayInterest | undefined;
  const owned: { close(): Promise<void> }[] = [];
  const own = <T extends { close(): Promise<void> }>(sorter: T): T => {
    owned.push(sorter);
    return sorter;
  };
  let failed = false;
  try {
    projection = await startProjection(settings, { entity, day, timeZone, reportedInterest: () => interestByAccount.count }, report);
    // Set by the read; the books' worker, started once the interest worker posted (one core reads
    // the report, the other the books), asks it then.
    let syncMayBook = false;
    prefetched = await startBooksPrefetch(settings, { entity, day, timeZone, after: projection.posted, syncMayBook: () => syncMayBook }, report);
    let readRows = 0;
    const read = await readReportEntries(report, async (batch) => {
      readRows += batch.length;
      progress({ phase: 'read', rows: readRows });
      await byKey.addAll(batch);
      // One entry the sync must see is enough: the test stops after the first.
      if (!syncMayBook) syncMayBook = batch.some(syncMaySee);
      await interestByAccount.addAll(reportedInterestOf(batch));
    });
    checkHeader(read.header, { entity, day, timeZone });
    // With a worker, the comparison runs there while this thread syncs (its outcome is read by the
    // plan), started as soon as the worker's projection arrives (`day-interest.ts`).
    const interest = await startComparison(projection, { reported: interestByAccount, toleranceUnits: settings.toleranceUnits, tolerances: settings.tolerances, sortDirectory: settings.sortDirectory });
    comparison = interest;
    const context = { day, nextDay: nextAccountingDay(day), timeZone, version: 0 };
    // Prefetch (the ledger's API, outside the write): the day's newest processed version, for a
    // day reconciled before `reconciled_days` existed (see refuseSupersededVersion).
    const processed = await settings.books.processedReports({ entity, accountingDay: day });
    const newestProcessed = processed.reduce<{ version: number; reportId: string } | undefined>((newest, row) => (newest === undefined || row.version > newest.version ? { version: row.version, reportId: row.reportId } : newest), undefined);
    // A sync with nothing to see checks the interest first thing in the transaction: the
    // projection is waited for here instead, not while the transaction holds the books' lock.
    if (!syncMayBook) await interest.started.catch(() => undefined);
    return await ledger.transact((scope) => writeDay(settings, { entity, context, read, interest, byKey, syncMayBook, newestProcessed, prefetched, scope, progress, own, lookupsFile: workerDatabaseFile(settings, report), lookupsAfter: interest.asideDone }));
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // The worker is stopped (projection) before the runs it may still read are removed (comparison).
    // The books' worker first: closing the projection settles what it waits for to start.
    const closing = closeInTurn([() => prefetched.close(), () => byKey.close(), () => interestByAccount.close(), () => projection?.close(), () => comparison?.close(), ...owned.map((sorter) => () => sorter.close())]);
    // After a failure, the caller gets the error that failed the run, not a later one of a close
    // (a folder that cannot be removed): that one is logged.
    await (failed ? closing.catch((error: unknown) => warnCloseFailed(settings.logger, { entity, day, error })) : closing);
  }
}

/** Logs a close that failed after the run had failed (the run's own error is the one thrown). */
function warnCloseFailed(logger: LedgerLogger, input: { entity: string; day: string; error: unknown }): void {
  const reason = input.error instanceof Error ? input.error.message : String(input.error);
  logger.warn({ event: 'reconcile.close_failed', entity: input.entity, day: input.day, reason }, `closing ${input.entity} ${input.day}'s failed run also failed (${reason}): its temporary files may be left behind`);
}

/**
 * Runs every close in turn whatever the others do (a worker left waiting would keep the process
 * alive, a sorter left open its files), then throws the first failure.
 */
export async function closeInTurn(closes: readonly (() => Promise<void> | undefined)[]): Promise<void> {
  let failure: { readonly error: unknown } | undefined;
  for (const close of closes) {
    try {
      await close();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

interface DayWork {
  readonly entity: string;
  readonly context: DayContext;
  readonly read: ReadReport;
  /** The interest comparison, perhaps still under way on the worker (see `day-interest.ts`). */
  readonly interest: DayInterest;
  readonly byKey: ExternalSorter<ReportEntry>;
  /** Whether the report holds an entry the sync pass must see ({@link syncMaySee}). */
  readonly syncMayBook: boolean;
  /** The day's newest version the ledger had processed when the run started, if any. */
  readonly newestProcessed: { readonly version: number; readonly reportId: string } | undefined;
  /** The books' days read on a worker, taken by the plan where still current. */
  readonly prefetched: PrefetchedBooks;
  readonly scope: PostingScope;
  readonly progress: ReconcileProgressListener;
  /** The SQLite file the sync's Earn account lookups are made in on a worker thread, if any (`earn-lookups.ts`). */
  readonly lookupsFile: string | undefined;
  /** When the lookup worker starts: once the interest comparison's worker is done. */
  readonly lookupsAfter: Promise<void>;
  /**
   * Hands a sorter of the run's breaks to the run, which closes it once the day is done: not in
   * the transaction, which PostgreSQL may run again after a deadlock and which then reads the
   * interest comparison's breaks again.
   */
  readonly own: <T extends { close(): Promise<void> }>(sorter: T) => T;
}

/** The write phase, in the day's one transaction. */
async function writeDay(settings: DaySettings, work: DayWork): Promise<ReconcileResult> {
  const { entity, read, scope } = work;
  const day = work.context.day;
  // First: another run of this entity's days commits (or rolls back) before this one writes.
  await repository.lockEntityRuns(scope.db, { dialect: settings.ledger.dialect.name, entity });
  const recorded = await settings.books.recordProcessedReport({ entity, reportId: read.header.id, contentHash: read.contentHash, accountingDay: day }, scope.db);
  const db = repository.withReconcileTables(scope.db);
  const state = recorded.status === 'exists' ? await refuseSupersededVersion(db, { entity, day, reportId: read.header.id, version: recorded.value.version, newestProcessed: work.newestProcessed }) : undefined;
  // The day's stored breaks of the kinds the holds below read whole; earlier versions' figures
  // are read in step with the diff (`earlier-amounts.ts`), the rest merged with the run's drafts
  // as they are stored.
  const breakRows = await repository.selectBreaksOfDayOfKinds(db, { entity, day, kinds: BREAK_KINDS_READ_WHOLE });
  const context = { ...work.context, version: recorded.value.version };
  // Taken before the sync's first posting, which books interest on the Earn accounts (and so
  // moves their mark); after the sync has gathered (reads only), by when the worker's projection
  // is in.
  let interest: (() => Promise<InterestOutcome>) | undefined;
  const synced = await syncDay(settings, work, context, async () => {
    interest = await currentInterest(settings, { entity, day, interest: work.interest, scope });
  });
  if (interest === undefined) throw new Error('assertion: the sync pass checked the interest before its writes');
  const plan = await planDay(settings, work, context, interest);
  const now = formatInstant(settings.now());
  await storePositions(db, { entity, day, positions: plan.positions, stored: plan.stored, header: read.header, now });
  // A person's markSent or confirm on another connection may be writing an instruction: wait for it.
  const rowLocks = settings.ledger.dialect.supportsRowLocks;
  // Before this day's own instructions: a next-day instruction already sent holds this day's.
  const nextDay = await holdNextDayInstructions(db, { entity, day, nextDay: context.nextDay, positions: plan.positions, version: context.version, now, rowLocks });
  if (nextDay.held.length > 0) settings.logger.warn({ event: 'reconcile.next_day_held', entity, day, instructionIds: nextDay.held }, `${entity} ${day} now carries out another figure than ${context.nextDay} carried in: its instruction(s) ${nextDay.held.join(', ')} are held until ${context.nextDay} is reconciled again`);
  // Only the day's checks (margin, fees, the outstanding balance) and the instructions' conflicts
  // hold a currency: a few drafts, covered by rows of their own kinds.
  const dayDrafts = [...plan.checks, ...nextDay.conflicts];
  const held = heldCurrencies(dayDrafts, coveredDrafts(breakRows, dayDrafts));
  const conflicts: BreakDraft[] = [...nextDay.conflicts];
  for (const position of plan.positions) {
    const conflict = await instruct(db, { entity, day, position, wallet: settings.wallet(entity, position.currency), heldReason: held.get(position.currency), version: context.version, now, rowLocks });
    if (conflict !== null) conflicts.push(conflict);
  }
  const checks = work.own(breakDraftSorter(settings.sortDirectory));
  await checks.addAll([...plan.checks, ...conflicts]);
  const stored = await storeDayBreaks(db, { entity, day, drafts: [...plan.drafts, checks], version: context.version, now, dialect: settings.ledger.dialect.name, listMax: settings.resultBreaksMax, sortDirectory: settings.sortDirectory });
  const openBreaks = Object.values(stored.counts).reduce((sum, count) => sum + count, 0);
  // Written when the day moves to a version (a re-run of the newest leaves the row as it was).
  if (state?.report_version !== context.version) await repository.upsertReconciledDay(db, { entity, accounting_day: day, report_id: read.header.id, content_hash: read.contentHash, report_version: context.version, reconciled_at: now });
  return {
    entity,
    day,
    reportId: read.header.id,
    reportVersion: context.version,
    reportStatus: recorded.status,
    reportEntries: read.entries,
    report: { header: read.header, contentHash: read.contentHash, source: read.source },
    synced,
    breaks: stored.listed,
    openBreaks,
    breakCounts: stored.counts,
    disputedCurrencies: stored.disputedCurrencies,
    resolvedBreaks: stored.resolved,
    positions: plan.positions,
    instructions: (await repository.selectInstructions(db, { entity, day })).map(rowToInstruction),
    clean: openBreaks === 0,
  };
}

/**
 * Refuses to reconcile again a processed version older than the day's newest: its plan would
 * close the newer version's breaks and move its instructions back to an older figure. The newest
 * is the one the day's state reflects (`reconciled_days`, read inside the day's transaction, so a
 * run that committed a newer version meanwhile counts), or, for a day reconciled before that table
 * existed, the ledger's newest processed version. Thrown inside the transaction: nothing is
 * written. Running the newest version again goes on (idempotent); the day's row is returned.
 */
async function refuseSupersededVersion(
  db: ReturnType<typeof repository.withReconcileTables>,
  input: { entity: string; day: string; reportId: string; version: number; newestProcessed: DayWork['newestProcessed'] },
): Promise<repository.ReconciledDayRow | undefined> {
  const state = await repository.findReconciledDay(db, { entity: input.entity, day: input.day });
  let newest = input.newestProcessed;
  if (state !== undefined && (newest === undefined || state.report_version > newest.version)) newest = { version: state.report_version, reportId: state.report_id };
  if (newest === undefined || newest.version <= input.version) return state;
  throw new ReconcileError(
    'invalid_transition',
    `report ${input.reportId} is version ${input.version} of ${input.entity} ${input.day}, superseded by version ${newest.version} (report ${newest.reportId}): reconciling it again would take the day back to an older statement, so nothing was written; the day keeps version ${newest.version}'s breaks, positions and instructions`,
    { field: 'reportId', value: input.reportId },
  );
}

/** Pass 2: the diff over the reloaded books, the settlement positions and the day checks. */
async function planDay(
  settings: DaySettings,
  work: DayWork,
  context: DayContext,
  current: () => Promise<InterestOutcome>,
): Promise<{ drafts: ExternalSorter<BreakDraft>[]; checks: BreakDraft[]; positions: SettlementPosition[]; stored: repository.PositionRow[] }> {
  const { entity } = work;
  const flows = new DayFlowTotals();
  const reportedMargin = new Map<string, bigint>();
  const fees = new Map<string, bigint>();
  const interest = await current();
  work.own(interest.breaks);
  // The interest comparison's drafts and the diff's, each sorted in files (a break per account
  // on a bad day); the day's checks below are a few per currency.
  const diffDrafts = work.own(breakDraftSorter(settings.sortDirectory));
  const diffed = rowCounter(work.progress, 'diff');
  // The days the worker read, where nothing was booked on them since (the sync books on them).
  const sorted = await work.prefetched.current(work.scope.db);
  // Earlier versions' figures, per key as the report's entries pass (see earlier-amounts.ts).
  const earlier = work.own(await EarlierAmounts.read(repository.withReconcileTables(work.scope.db), { entity, day: context.day, version: context.version, sortDirectory: settings.sortDirectory }));
  const pending = new Map<string, AmountsByKey>();
  // A day without any (every first run, every clean day) hands its report to the diff as it is.
  const report = earlier.empty ? work.byKey.sortedBatches() : withEarlierAmounts(work.byKey.sortedBatches(), earlier, pending);
  for await (const batch of dayGroups(settings.ledger, { entity, days: [context.day, context.nextDay], report, sortDirectory: settings.sortDirectory, sorted }, work.scope.db)) {
    for (const group of batch) {
      diffed.add(group.report.length);
      const amounts = pending.get(group.key);
      if (amounts !== undefined) pending.delete(group.key);
      const diff = diffGroup(group, amounts === undefined ? context : { ...context, earlierAmounts: amounts });
      if (diff.breaks.length > 0) await diffDrafts.addAll(diff.breaks);
      for (const entry of diff.ofDay) flows.add(entry);
      for (const { currency, units } of diff.margin) reportedMargin.set(currency, (reportedMargin.get(currency) ?? 0n) + units);
      for (const { currency, units } of diff.fees) fees.set(currency, (fees.get(currency) ?? 0n) + units);
    }
  }
  diffed.done();
  const db = repository.withReconcileTables(work.scope.db);
  const carried = await repository.selectCarriedOut(db, { entity, day: previousAccountingDay(context.day) });
  for (const row of carried) if (toUnits(row.carried_out) !== 0n) flows.touch(row.currency);
  // A currency an earlier run of the day stored a position for keeps one, of zero if nothing is
  // left (the day before, restated, no longer carries anything in): else its row, and an
  // instruction issued from it, stayed behind with the old figures and the next day carried the
  // stale figure in (session 25).
  const stored = await repository.selectPositionsOfDay(db, { entity, day: context.day });
  for (const row of stored) flows.touch(row.currency);
  const carriedIn = new Map(carried.map((row) => [row.currency, toUnits(row.carried_out)]));
  const positions = flows.entries().map(([currency, dayFlows]) => computeSettlement({ currency, flows: dayFlows, carriedInUnits: carriedIn.get(currency) ?? 0n, thresholdUnits: settings.thresholdUnits(entity, currency) }));
  const outstanding = new Map(positions.map((position) => [position.currency, toUnits(position.outstanding)]));
  const checks = [
    ...marginBreaks(interest.recomputedMargin, reportedMargin, settings.toleranceUnits),
    // Per fee, the larger of its booked and reported figures (see GroupDiff.fees).
    ...approvalBreaks(fees, (currency) => settings.feeApprovalLimitUnits(entity, currency)),
    ...outstandingBreaks(outstanding, work.read.header.balances, settings.toleranceUnits),
  ];
  return { drafts: [interest.breaks, diffDrafts], checks, positions, stored };
}


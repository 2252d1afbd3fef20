/**
 * The daily accounting cycle of one entity and day, as the provider runs it at midnight in the
 * partner's zone: every Earn account earns interest on its end-of-day balance by the terms of its
 * product in force that day, and the partner margin accrues beside it per currency; both are
 * credited at the start of the next day.
 *
 * Two uses: {@link projectAccountingCycle} computes the figures without writing (the reconciler
 * compares them with the provider's report); {@link runAccountingCycle} books them as the
 * provider would (the local sandbox plays the provider with it). Running a cycle twice books
 * once, and a cycle killed half-way finishes on the next run with every account booked exactly
 * once: each account's interest is a line with a provider id derived from (entity, day, account),
 * each batch is one compound journal transaction per currency (Dr earn_assets once, Cr each user;
 * see `Ledger.postLines`) committed with its residues, and the margin is booked last from all
 * accounts' figures.
 *
 * The cycle's ids and keys are in `cycle-ids.ts`, its reading (batches, lines, marks, the
 * projection) in `cycle-read.ts`; this file runs it.
 */
import { LedgerError, assertInvariant, describeValue, isInstanceInput } from './errors.js';
import { formatUnits } from './money.js';
import type { Amount } from './money.js';
import { accountingDayOf, formatInstant, nextAccountingDay, parseInstant, parseAccountingDay, startOfAccountingDay } from './calendar.js';
import { EarnBooks } from './earn-books.js';
import { readFields, requireFunction } from './input-fields.js';
import type { Ledger } from './ledger.js';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './db/schema.js';
import type { NormalizedLines } from './posting-lines.js';
import { parseMetadata } from './posting.js';
import type { PostingScope } from './ledger-types.js';
import { postLinesWithKnownAccounts } from './ledger.js';
import { insertAccountingCycle, lockProviderIdClaims, selectSqliteWriteMark } from './db/repository.js';
import type { BulkAccountRow, ResidueRow } from './db/journal-bulk.js';
import { requireBulk } from './post-lines.js';
import { optionalWholeNumber } from './whole-number.js';
import { assertCycleDayInOrder } from './cycle-order.js';
import { CYCLE_ENTRY_ACCOUNT_MAX, cycleEntryIdOfDay, localEntryId, marginKey } from './cycle-ids.js';
import { assertBookableScales, assertTermsInForce, openCycleReader, readCycleBatch, readNextWhileBooking } from './cycle-read.js';
import type { CycleBatch, CycleItem, CycleLine, CycleOptions } from './cycle-read.js';
import { CYCLE_READ_AHEAD_MODES, CycleReadAhead } from './cycle-read-ahead.js';
import type { CycleReadAheadMode } from './cycle-read-ahead.js';

/** Lines written per database transaction by default (several batches; see {@link RunCycleOptions.commitLines}). */
export const CYCLE_COMMIT_LINES_DEFAULT = 50_000;

/** The most lines per database transaction. */
export const CYCLE_COMMIT_LINES_MAX = 1_000_000;

function checkCommitLines(commitLines: number | undefined): number {
  return optionalWholeNumber(commitLines, CYCLE_COMMIT_LINES_DEFAULT, { field: 'commitLines', min: 1, max: CYCLE_COMMIT_LINES_MAX });
}

/** Options of {@link runAccountingCycle}. */
export interface RunCycleOptions extends CycleOptions {
  /** Called with each batch of lines as it is booked (e.g. to publish them), in account order. */
  readonly onLines?: (lines: readonly CycleLine[]) => void;
  /**
   * Lines written per database transaction (whole batches; default
   * {@link CYCLE_COMMIT_LINES_DEFAULT}). Fewer, larger commits write each index page once per
   * commit; a crash loses at most the commit in flight, which the next run books.
   */
  readonly commitLines?: number;
  /**
   * The clock that stamps the cycle's completion; default `() => new Date()`. It is also read once
   * before anything is written: one that answers no valid `Date` is refused then (`invalid_input`).
   */
  readonly now?: () => Date;
  /**
   * On a SQLite file, whether a worker thread reads and computes the next batch while this
   * thread books the current one (`cycle-read-ahead.ts`): `auto` (default) once the run has read
   * {@link CYCLE_READ_AHEAD_AFTER_ACCOUNTS} accounts, `always` from the start, `never`. Elsewhere
   * (PostgreSQL, an in-memory SQLite) there is no read-ahead. The booked rows are the same.
   */
  readonly readAhead?: CycleReadAheadMode;
}

/** Accounts a run reads before `readAhead: 'auto'` starts its worker: a small run does not pay for a thread. */
export const CYCLE_READ_AHEAD_AFTER_ACCOUNTS = 10_000;

/** What a cycle run did. */
export interface CycleSummary {
  readonly entity: string;
  readonly day: string;
  /** The instant interest and margin are credited: the start of the next accounting day. */
  readonly creditedAt: string;
  readonly accounts: number;
  readonly interestBooked: number;
  readonly interestAlreadyBooked: number;
  /** Total user interest and partner margin per currency. */
  readonly totals: ReadonlyMap<string, { readonly userInterest: Amount; readonly partnerMargin: Amount }>;
}

/** What one database transaction of a cycle run read and booked; kept once it commits. */
interface CycleTally {
  afterId: number;
  more: boolean;
  legacyIds: boolean | undefined;
  accounts: number;
  booked: number;
  already: number;
  readonly totals: Map<string, { userInterest: bigint; partnerMargin: bigint }>;
  /** The write mark after the transaction's last write, when the run reads ahead. */
  endMark: string | undefined;
}

function addTotals(totals: Map<string, { userInterest: bigint; partnerMargin: bigint }>, currency: string, part: { userInterest: bigint; partnerMargin: bigint }): void {
  const total = totals.get(currency) ?? { userInterest: 0n, partnerMargin: 0n };
  total.userInterest += part.userInterest;
  total.partnerMargin += part.partnerMargin;
  totals.set(currency, total);
}

/** What {@link bookCycleBatch} needs of the run, fixed for all its batches. */
interface CycleBooking {
  readonly entity: string;
  readonly day: string;
  /** When interest is credited (the start of the next day), formatted, and its accounting day. */
  readonly creditedAt: string;
  readonly creditedDay: string;
  /** The metadata of every interest transaction of the run, canonical. */
  readonly metadata: string | null;
  /** The provider id of an account's interest line of the day (this version's ids). */
  readonly entryIdOf: (ledgerAccountId: number) => string;
}

/**
 * Books one batch in the open transaction: per currency one compound transaction (Dr
 * earn_assets, Cr each user), each line idempotent on its provider id, with the batch's residues;
 * counts it in `tally`. The lines are the engine's, so they go to the ledger normalized (positive
 * units, provider ids made here), with the account rows read with the batch.
 */
async function bookCycleBatch(
  ledger: Ledger,
  scope: PostingScope,
  run: CycleBooking,
  batch: { items: readonly CycleItem[]; accounts: ReadonlyMap<number, BulkAccountRow>; legacyIds: boolean; restAbsent: boolean },
  tally: CycleTally,
  pipe: CyclePipe,
): Promise<void> {
  const { entity, day } = run;
  // The run's ids go on in the version it started with (see bookedWithLegacyIds).
  const providerIdOf = batch.legacyIds ? (line: CycleLine) => localEntryId(entity, day, 'interest', line.earnAccountId) : (line: CycleLine) => run.entryIdOf(line.ledgerAccountId);
  const residues: ResidueRow[] = [];
  const byCurrency = new Map<string, NormalizedLines['lines'][number][]>();
  for (const { line, interestUnits, marginUnits, hasResidues } of batch.items) {
    addTotals(tally.totals, line.currency, { userInterest: interestUnits, partnerMargin: marginUnits });
    if (hasResidues) {
      residues.push({ account_id: line.ledgerAccountId, accounting_day: day, user_residue: line.userResidue, margin_residue: line.marginResidue });
    }
    if (interestUnits === 0n) continue;
    assertInvariant(interestUnits > 0n, `interest of account ${line.ledgerAccountId} is negative: ${line.userInterest}`);
    const list = byCurrency.get(line.currency) ?? [];
    // Credit: signed units are negative (debit positive).
    list.push({ accountId: line.ledgerAccountId, units: -interestUnits, providerId: providerIdOf(line) });
    byCurrency.set(line.currency, list);
  }
  const probe = await providerIdsProbe(ledger, scope, { entity, legacyIds: batch.legacyIds, restAbsent: batch.restAbsent, byCurrency });
  let postings = byCurrency.size;
  for (const [currency, lines] of byCurrency) {
    // The ledger's account cache answers this after the first batch.
    const contraAccountId = (await ledger.systemAccount(entity, currency, 'earn_assets', scope.db)).id;
    // earn_assets as this transaction's last posting planned it (pipelined: see CyclePipe).
    const { contraRows } = pipe;
    const contra = contraRows?.get(contraAccountId);
    const known = contra === undefined ? batch.accounts : new Map(batch.accounts).set(contraAccountId, contra);
    const last = --postings === 0;
    const onPlanned =
      contraRows === undefined
        ? undefined
        : (rowAfter: (accountId: number) => BulkAccountRow | undefined): void => {
            const row = rowAfter(contraAccountId);
            if (row !== undefined) contraRows.set(contraAccountId, row);
            if (last) pipe.planned();
          };
    const posting: NormalizedLines = {
      entity,
      kind: 'interest',
      occurredAt: run.creditedAt,
      accountingDay: run.creditedDay,
      side: 'credit',
      contraAccountId,
      description: null,
      metadata: run.metadata,
      lines,
    };
    const result = await postLinesWithKnownAccounts(ledger, scope.db, posting, known, { ...probe, claimsHeld: true, ...(onPlanned === undefined ? {} : { onPlanned }) });
    for (const line of result.lines) {
      if (line.status === 'created') tally.booked++;
      else tally.already++;
    }
  }
  // A batch without interest lines posts nothing: planned as it is.
  pipe.planned();
  if (residues.length > 0) await requireBulk(ledger.dialect.bulk).insertResidues(scope.db, residues);
  tally.accounts += batch.items.length;
}

/**
 * What a batch shares with the transaction's others (see {@link CycleBookings}). `contraRows`
 * (pipelined only; undefined in turn): the earn_assets rows as the transaction's last posting of
 * each planned them (written, or failing with the transaction); the next batch posts with them as
 * known accounts instead of reading them again, since no other writer changes those rows until
 * the transaction ends (it locked each at its first posting). `planned`: called once the batch's
 * last posting is planned and its writes are sent.
 */
interface CyclePipe {
  readonly contraRows: Map<number, BulkAccountRow> | undefined;
  readonly planned: () => void;
}

/**
 * How one transaction's batches are booked. On PostgreSQL, pipelined: once a batch is planned
 * (its statements sent), the previous batch's booking is awaited and this one's left in flight,
 * so that this thread reads and plans the next batch while the server writes this one. Booked
 * one after the other, the server sat idle while this thread converted the next batch's rows,
 * computed and planned (~5 ms of ~36 ms a batch of 1,000, traced per statement at 100k
 * accounts), and this thread while the server wrote: at 300k accounts, six alternating pairs,
 * 11.6-13.3 s before and 9.7-12.3 s pipelined (with the write in one statement:
 * `postgres/journal-bulk.ts`). The statements keep their order (the transaction's one
 * connection runs them in turn), and a batch plans from the earn_assets rows the
 * batch before planned (`contraRows`), never from a read that would not yet see its writes; its
 * own accounts are not the batch before's (ledger account order). SQLite (a synchronous driver,
 * nothing to overlap): each batch is booked before the next is read, and reads earn_assets (an
 * `onLines` callback may have posted to it through the run's own connection).
 *
 * Once a statement fails, PostgreSQL refuses every later one of the transaction ("current
 * transaction is aborted"), and the batch awaited first may be one whose read-back came after the
 * failing write: the failures of what is in flight are recorded as they happen (handled, never
 * unhandled rejections), and {@link run} throws the first, the cause.
 */
class CycleBookings {
  readonly #pipelined: boolean;
  /** See {@link CyclePipe}. */
  readonly #contraRows = new Map<number, BulkAccountRow>();
  #inFlight: Promise<void> | undefined;
  /** Watched promises not yet settled: waited for before a failure is thrown. */
  readonly #pending = new Set<Promise<unknown>>();
  #firstFailure: { readonly error: unknown } | undefined;

  constructor(pipelined: boolean) {
    this.#pipelined = pipelined;
  }

  /** Records the promise's failure, if it fails (and handles it), and returns it. */
  watch<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    promise.then(
      () => this.#pending.delete(promise),
      (error: unknown) => {
        this.#firstFailure ??= { error };
        this.#pending.delete(promise);
      },
    );
    return promise;
  }

  /** Books a batch: in turn, or pipelined (returns once it is planned and the batch before is booked). */
  async book(bookBatch: (pipe: CyclePipe) => Promise<void>): Promise<void> {
    if (!this.#pipelined) return bookBatch({ contraRows: undefined, planned: () => undefined });
    let planned!: () => void;
    const plannedNow = new Promise<void>((resolve) => {
      planned = resolve;
    });
    const booking = this.watch(bookBatch({ contraRows: this.#contraRows, planned }));
    const before = this.#inFlight;
    this.#inFlight = booking;
    try {
      await Promise.race([plannedNow, booking]);
    } finally {
      if (before !== undefined) await before;
    }
  }

  /** Runs the transaction's batches, then waits for the last one in flight; throws the first failure. */
  async run(batches: () => Promise<void>): Promise<void> {
    try {
      await batches();
      if (this.#inFlight !== undefined) await this.#inFlight;
    } catch (error) {
      // The cause as it stands now (a later failure would be a consequence), then every
      // statement still in flight is let settle: the rollback that follows must come after them
      // on the connection, not between a batch's write and its read-back.
      const cause = this.#firstFailure === undefined ? error : this.#firstFailure.error;
      await Promise.allSettled([...this.#pending]);
      throw cause;
    }
  }
}

/**
 * How a batch's postings find which of their provider ids are booked. `restAbsent`: the
 * transaction found none of the day's ids after its first account booked (see
 * {@link dayIdsAbsentAfter}): nothing is looked up. Else: the run's ids of one day
 * are dense in their range (account order), so one index range per table tells that none of them
 * is booked yet, instead of a lookup per id; ids of earlier versions (hashes) are looked up one by
 * one. On SQLite the write transaction holds the whole database, so one range over the whole
 * batch answers for each of its currencies (probed per posting, a later currency's range would
 * hold the lines the batch's first currency has just written, and always fall back to the
 * lookups). On PostgreSQL each posting probes its own ids after locking its accounts
 * (`providerIdsDense`), so that a second run of the same cycle waits on them and then sees the
 * first run's lines: a probe before the locks missed them, and the run failed on the unique index.
 */
async function providerIdsProbe(
  ledger: Ledger,
  scope: PostingScope,
  batch: { entity: string; legacyIds: boolean; restAbsent: boolean; byCurrency: ReadonlyMap<string, readonly NormalizedLines['lines'][number][]> },
): Promise<{ providerIdsAbsent?: boolean; providerIdsDense?: boolean }> {
  if (batch.legacyIds) return {};
  if (batch.restAbsent) return { providerIdsAbsent: true };
  if (ledger.dialect.supportsRowLocks) return { providerIdsDense: true };
  const range = requireBulk(ledger.dialect.bulk).anyProviderIdInRange;
  if (range === undefined) return {};
  const providerIds = [...batch.byCurrency.values()].flatMap((lines) => lines.map((line) => line.providerId));
  return (await range(scope.db, { entity: batch.entity, kind: 'interest', providerIds })) ? {} : { providerIdsAbsent: true };
}

/**
 * Whether none of the day's interest ids (this version's) of accounts after `afterId` is booked,
 * read once at the start of a run's transaction, after its claim lock: one index range per table.
 * Until the transaction commits no one else books an interest id of the entity (the claim lock:
 * whole interest postings take it shared, compound ones exclusively; SQLite's write transaction
 * holds the file), and the run's own batches book ascending ids after `afterId`, each once, so
 * every batch of the transaction may post without looking its ids up. Else (a run resumed after a
 * crash, or one that waited on another run of the day) each batch probes its own range.
 */
async function dayIdsAbsentAfter(ledger: Ledger, db: Kysely<LedgerDatabase>, run: { entity: string; afterId: number; entryIdOf: (ledgerAccountId: number) => string }): Promise<boolean> {
  const range = requireBulk(ledger.dialect.bulk).anyProviderIdInRange;
  if (range === undefined || run.afterId >= CYCLE_ENTRY_ACCOUNT_MAX) return false;
  const providerIds = [run.entryIdOf(run.afterId + 1), run.entryIdOf(CYCLE_ENTRY_ACCOUNT_MAX)];
  return !(await range(db, { entity: run.entity, kind: 'interest', providerIds }));
}

/**
 * Whether this day's lines were booked under the ids of earlier versions (`localEntryId` of
 * the Earn account), by a run that a crash or an upgrade interrupted: then the run goes on with
 * those ids, so that no account is booked twice under two ids. Runs book batches in account
 * order and commit them in order, so an interrupted run booked the first batch with interest
 * first; undefined while the batch has no interest line (the next batch decides).
 */
async function bookedWithLegacyIds(ledger: Ledger, db: Kysely<LedgerDatabase>, entity: string, day: string, items: readonly CycleItem[]): Promise<boolean | undefined> {
  const legacy = items.filter((item) => item.interestUnits !== 0n).map((item) => localEntryId(entity, day, 'interest', item.line.earnAccountId));
  if (legacy.length === 0) return undefined;
  return (await requireBulk(ledger.dialect.bulk).findProviderEntries(db, { entity, kind: 'interest', providerIds: legacy })).length > 0;
}

/**
 * The options of a run, each read once (see `input-fields.ts`) and checked before anything is
 * written: `books` an {@link EarnBooks}, `onLines` a function, `now` a clock. The clock is read
 * once here to refuse one that answers no valid `Date`: it stamps the run's completion, after
 * every line is booked, too late to refuse it then.
 */
function checkRunOptions(given: RunCycleOptions): RunCycleOptions & { readonly now: () => Date } {
  const options = readFields(given, ['books', 'entity', 'day', 'batchSize', 'onLines', 'commitLines', 'now', 'readAhead'], { field: 'options' });
  if (options.readAhead !== undefined && !CYCLE_READ_AHEAD_MODES.includes(options.readAhead)) {
    throw new LedgerError('invalid_input', `readAhead must be one of ${CYCLE_READ_AHEAD_MODES.join(', ')}, got ${describeValue(options.readAhead)}`, { field: 'readAhead', value: describeValue(options.readAhead) });
  }
  if (!isInstanceInput(options.books, EarnBooks, 'books')) throw new LedgerError('invalid_input', `books must be an EarnBooks, got ${describeValue(options.books)}`, { field: 'books', value: describeValue(options.books) });
  if (options.onLines !== undefined) requireFunction(options.onLines, 'onLines');
  const now = options.now ?? (() => new Date());
  requireFunction(now, 'now');
  const probe: unknown = now();
  if (!(probe instanceof Date)) throw new LedgerError('invalid_input', `now must answer a Date, got ${describeValue(probe)}`, { field: 'now', value: describeValue(probe) });
  parseInstant(probe, 'now');
  return { ...options, now };
}

/**
 * Books the cycle: per batch of accounts and currency, one compound interest transaction
 * (Dr earn_assets, Cr each user, each line with its provider id) stamped at the start of the
 * next day; per currency, one partner-margin transaction; residues stored per account and day.
 * Safe to run again and to resume after a crash (lines already booked answer `exists`). Days run
 * in order: a day whose day before has not run (an Earn account holding a balance then), or that
 * never ran while a later day has, is refused before anything is written (`cycle_out_of_order`,
 * see `cycle-order.ts`); the first day ever run for the entity may be any day.
 */
export async function runAccountingCycle(given: RunCycleOptions): Promise<CycleSummary> {
  const options = checkRunOptions(given);
  const { books } = options;
  const ledger = books.ledger;
  const entity = ledger.entity(options.entity).id;
  const day = parseAccountingDay(options.day, 'day');
  const timeZone = ledger.entity(entity).timeZone;
  const creditedDay = nextAccountingDay(day);
  const creditedAt = formatInstant(startOfAccountingDay(creditedDay, timeZone));
  const booking: CycleBooking = { entity, day, creditedAt, creditedDay: accountingDayOf(parseInstant(creditedAt), timeZone), metadata: parseMetadata({ interestDay: day }), entryIdOf: cycleEntryIdOfDay(day) };
  const commitLines = checkCommitLines(options.commitLines);
  const { reader, products } = await openCycleReader({ ...options, entity, day });
  assertBookableScales(ledger, reader);
  await assertTermsInForce(ledger, reader);
  await assertCycleDayInOrder(ledger.db, { entity, day });
  const totals = new Map<string, { userInterest: bigint; partnerMargin: bigint }>();
  let accounts = 0;
  let interestBooked = 0;
  let interestAlreadyBooked = 0;
  // Undecided until the first batch with interest: see bookedWithLegacyIds.
  let legacyIds: boolean | undefined;
  let afterId = 0;
  let more = true;
  // Read ahead on a SQLite file (see cycle-read-ahead.ts): requests are tagged with the run's
  // transaction; one made in the transaction before is taken only if the write mark at its end
  // is the mark at this one's start (nothing written in between by anyone else).
  const readAheadFile = options.readAhead === 'never' || ledger.dialect.name !== 'sqlite' ? undefined : ledger.dialect.databaseFile;
  let readAhead: CycleReadAhead | undefined;
  const startReadAhead = (): void => {
    if (readAhead === undefined && readAheadFile !== undefined) readAhead = new CycleReadAhead({ databaseFile: readAheadFile, entity, day, batchSize: reader.batchSize, products }, ledger.logger);
  };
  if (options.readAhead === 'always') {
    startReadAhead();
    // Asked for: the run waits for the worker to open the books (`auto` reads on meanwhile).
    await readAhead?.ready;
  }
  let transactionIndex = 0;
  let endMark: string | undefined;
  try {
    // Per database transaction, batches are read and booked in turn until `commitLines` lines:
    // each commit writes every index page it dirtied, so few large commits write each page once,
    // and only one batch is held in memory (two with the read-ahead). What a transaction counted is kept once it commits.
    while (more) {
      const tag = `t${++transactionIndex}`;
      const before = `t${transactionIndex - 1}`;
      const done = await ledger.transact(async (scope) => {
        const clean = readAhead !== undefined && endMark !== undefined && (await selectSqliteWriteMark(scope.db)) === endMark;
        const accept = (requested: string): boolean => requested === tag || (clean && requested === before);
        const tally: CycleTally = { afterId, more: true, legacyIds, accounts: 0, booked: 0, already: 0, totals: new Map(), endMark: undefined };
        // PostgreSQL: the claim lock of the entity's interest ids once per transaction, before
        // any account is locked; then each batch's account rows are locked as they are read and
        // posted with as read (read and locked again per posting, they cost 0.81 s of a
        // 200k-account cycle's 12.8 s, and the claim lock per posting 0.60 s). The lock order
        // of every writer of interest lines is the same: the claim lock, then accounts.
        // SQLite: a no-op (the write transaction holds the whole file).
        await lockProviderIdClaims(scope.db, ledger.dialect, { entity, kinds: ['interest'], exclusive: true });
        const restAbsent = await dayIdsAbsentAfter(ledger, scope.db, { entity, afterId, entryIdOf: booking.entryIdOf });
        // PostgreSQL: the next batch of the transaction is read while this one is booked (see
        // readNextWhileBooking); none is read past the transaction's last batch.
        let next: Promise<CycleBatch> | undefined;
        const bookings = new CycleBookings(ledger.dialect.supportsRowLocks);
        await bookings.run(async () => {
          for (let lines = 0; lines < commitLines && tally.more; ) {
            const batch = (await readAhead?.take(tally.afterId, accept)) ?? (await (next ?? readCycleBatch(scope.db, reader, tally.afterId, ledger.dialect.supportsRowLocks ? 'book-locked' : 'book')));
            next = undefined;
            if (batch.lastId === undefined) {
              tally.more = false;
              break;
            }
            if (ledger.dialect.supportsRowLocks && batch.more && lines + batch.items.length < commitLines) next = bookings.watch(readNextWhileBooking(scope.db, reader, batch.lastId));
            if (readAhead === undefined && options.readAhead !== 'never' && accounts + tally.accounts + batch.items.length >= CYCLE_READ_AHEAD_AFTER_ACCOUNTS) startReadAhead();
            if (batch.more) readAhead?.request(batch.lastId, tag);
            if (options.onLines !== undefined) {
              // The caller's code runs inside the run's transaction: if it wrote through the run's
              // connection, a batch read ahead may not show it, so the run reads its own from here.
              const markBefore = readAhead === undefined ? undefined : await selectSqliteWriteMark(scope.db);
              options.onLines(batch.items.map((item) => item.line));
              if (markBefore !== undefined && (await selectSqliteWriteMark(scope.db)) !== markBefore) readAhead?.abandon('onLines wrote to the books inside the run');
            }
            if (tally.legacyIds === undefined) tally.legacyIds = await bookedWithLegacyIds(ledger, scope.db, entity, day, batch.items);
            const input = { items: batch.items, accounts: batch.accounts, legacyIds: tally.legacyIds === true, restAbsent };
            await bookings.book((pipe) => bookCycleBatch(ledger, scope, booking, input, tally, pipe));
            lines += batch.items.length;
            tally.afterId = batch.lastId;
            tally.more = batch.more;
          }
        });
        // After the transaction's last write: the next one compares its own start with it.
        if (readAhead !== undefined) tally.endMark = await selectSqliteWriteMark(scope.db);
        return tally;
      });
      ({ afterId, more, legacyIds, endMark } = done);
      accounts += done.accounts;
      interestBooked += done.booked;
      interestAlreadyBooked += done.already;
      for (const [currency, part] of done.totals) addTotals(totals, currency, part);
    }
  } finally {
    await readAhead?.close();
  }
  if (readAhead !== undefined) {
    ledger.logger.debug({ event: 'cycle.read_ahead', entity, day, taken: readAhead.taken, readAgain: readAhead.stale }, `the cycle booked ${readAhead.taken} batch(es) read ahead, ${readAhead.stale} read again (the books moved between two of its transactions)`);
  }
  for (const [currency, total] of [...totals].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (total.partnerMargin === 0n) continue;
    await books.recordPartnerMargin({
      entity,
      currency,
      providerEntryId: localEntryId(entity, day, 'margin', currency),
      amount: formatUnits(total.partnerMargin),
      occurredAt: creditedAt,
      interestDay: day,
      idempotencyKey: marginKey(entity, day, currency),
    });
  }
  await insertAccountingCycle(ledger.db, { entity, accounting_day: day, accounts, completed_at: formatInstant(options.now()) });
  return {
    entity,
    day,
    creditedAt,
    accounts,
    interestBooked,
    interestAlreadyBooked,
    totals: new Map([...totals].map(([currency, total]) => [currency, { userInterest: formatUnits(total.userInterest), partnerMargin: formatUnits(total.partnerMargin) }])),
  };
}

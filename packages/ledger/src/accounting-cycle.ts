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
 */
import { createHash } from 'node:crypto';
import { LedgerError, assertInvariant, describeValue, isInstanceInput } from './errors.js';
import { AMOUNT_SCALE_DEFAULT, formatUnits, toUnits } from './money.js';
import type { Amount } from './money.js';
import { accountingDayOf, formatInstant, nextAccountingDay, parseInstant, parseAccountingDay, parseEpochDay, previousAccountingDay, startOfAccountingDay } from './calendar.js';
import { computeDailyInterestUnits, parseInterestTerms, parseResidueFineUnits, formatFineUnits } from './interest/index.js';
import type { InterestTerms } from './interest/index.js';
import { EarnBooks } from './earn-books.js';
import { readFields, requireFunction } from './input-fields.js';
import type { Ledger } from './ledger.js';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './db/schema.js';
import type { NormalizedLines } from './posting-lines.js';
import { parseMetadata } from './posting.js';
import type { PostingScope } from './ledger-types.js';
import { POST_BATCH_MAX, postLinesWithKnownAccounts } from './ledger.js';
import { insertAccountingCycle, selectCycleAccounts, selectSqliteWriteMark } from './db/repository.js';
import { selectCycleLinesMark, selectEarnAccountHoldingOnDay, selectProductIds } from './db/earn-repository.js';
import type { BulkAccountRow, ResidueRow } from './db/journal-bulk.js';
import { requireBulk } from './post-lines.js';
import { optionalWholeNumber } from './whole-number.js';
import { assertCycleDayInOrder } from './cycle-order.js';
import { CYCLE_READ_AHEAD_MODES, CycleReadAhead } from './cycle-read-ahead.js';
import type { CycleReadAheadMode } from './cycle-read-ahead.js';

/** Accounts read and booked per database transaction by default. */
export const CYCLE_BATCH_SIZE_DEFAULT = 500;

/** Lines written per database transaction by default (several batches; see {@link RunCycleOptions.commitLines}). */
export const CYCLE_COMMIT_LINES_DEFAULT = 50_000;

/** The most lines per database transaction. */
export const CYCLE_COMMIT_LINES_MAX = 1_000_000;

function checkCommitLines(commitLines: number | undefined): number {
  return optionalWholeNumber(commitLines, CYCLE_COMMIT_LINES_DEFAULT, { field: 'commitLines', min: 1, max: CYCLE_COMMIT_LINES_MAX });
}

/** One account's figures for the day. */
export interface CycleLine {
  readonly earnAccountId: string;
  readonly ledgerAccountId: number;
  readonly providerProductId: string;
  readonly currency: string;
  /** End-of-day balance the interest is computed on. */
  readonly balance: Amount;
  readonly userInterest: Amount;
  readonly partnerMargin: Amount;
  /** Residues carried to the next day (with 18 + 48 decimals), when the terms carry them. */
  readonly userResidue: string;
  readonly marginResidue: string;
}

/** Options of the cycle functions. */
export interface CycleOptions {
  readonly books: EarnBooks;
  readonly entity: string;
  /** The accounting day whose end-of-day balances earn. */
  readonly day: string;
  /** Accounts per batch, 1..{@link POST_BATCH_MAX}. */
  readonly batchSize?: number;
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

/** A deterministic provider-style id (UUID layout) for a locally booked entry. */
export function localEntryId(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Hex digits of the ledger account id in a cycle entry id: 40 bits. */
const CYCLE_ENTRY_ACCOUNT_HEX = 10;

/**
 * The provider-style id of an account's interest line for a day (UUID layout, version 8:
 * RFC 9562's custom layout): the day (days since 1970) in the first group, the ledger account
 * id in the next 40 bits, the last group zero (reserved). Ids of one day sort in ledger account
 * order, and a later day's after an earlier's: the cycle writes its lines in that order, so the
 * journal's provider-id indexes grow at their end. Random ids (`localEntryId`, as the cycle used
 * before) land on a random index page each: at 1M accounts the cycle took 122 s with them and
 * 57 s with these (`bench/interest-cycle.ts`, same day, same machine). Unique per database: a
 * ledger account belongs to one entity.
 */
export function cycleInterestEntryId(day: string, ledgerAccountId: number): string {
  return cycleEntryIdOfDay(day)(ledgerAccountId);
}

/** {@link cycleInterestEntryId} of one day, the day parsed once. */
function cycleEntryIdOfDay(day: string): (ledgerAccountId: number) => string {
  const prefix = parseEpochDay(day, 'day').toString(16).padStart(8, '0');
  return (ledgerAccountId) => {
    if (!Number.isSafeInteger(ledgerAccountId) || ledgerAccountId < 1 || ledgerAccountId >= 2 ** (4 * CYCLE_ENTRY_ACCOUNT_HEX)) {
      throw new LedgerError('invalid_input', `ledgerAccountId must be an integer from 1 to 2^40 - 1, got ${describeValue(ledgerAccountId)}`, { field: 'ledgerAccountId', value: describeValue(ledgerAccountId) });
    }
    const account = ledgerAccountId.toString(16).padStart(CYCLE_ENTRY_ACCOUNT_HEX, '0');
    return `${prefix}-${account.slice(0, 4)}-8${account.slice(4, 7)}-8${account.slice(7, 10)}-000000000000`;
  };
}

/** The idempotency key of an account's interest for a day. */
export function interestKey(entity: string, day: string, earnAccountId: string): string {
  return `cycle:interest:${entity}:${day}:${earnAccountId}`;
}

/** The idempotency key of a currency's partner margin for a day. */
export function marginKey(entity: string, day: string, currency: string): string {
  return `cycle:margin:${entity}:${day}:${currency}`;
}

function checkBatchSize(batchSize: number | undefined): number {
  return optionalWholeNumber(batchSize, CYCLE_BATCH_SIZE_DEFAULT, { field: 'batchSize', min: 1, max: POST_BATCH_MAX });
}

/** What reading a cycle's batches needs, read once per run. */
export interface CycleReader {
  readonly entity: string;
  readonly day: string;
  readonly previousDay: string;
  readonly batchSize: number;
  readonly termsByProduct: ReadonlyMap<string, InterestTerms>;
  /** The currency of each product in {@link termsByProduct}. */
  readonly currencyByProduct: ReadonlyMap<string, string>;
}

/** A product in force as the cycle reads it: plain data (it crosses to the read-ahead worker, `cycle-read-ahead.ts`). */
export interface CycleProduct {
  readonly providerProductId: string;
  readonly currency: string;
  readonly terms: unknown;
}

/** The reader of a run from its products in force (terms parsed here, once). */
export function cycleReaderOf(input: { entity: string; day: string; batchSize: number; products: readonly CycleProduct[] }): CycleReader {
  const termsByProduct = new Map<string, InterestTerms>();
  const currencyByProduct = new Map<string, string>();
  for (const product of input.products) {
    termsByProduct.set(product.providerProductId, parseInterestTerms(product.terms, `products.${product.providerProductId}.terms`));
    currencyByProduct.set(product.providerProductId, product.currency);
  }
  return { entity: input.entity, day: input.day, previousDay: previousAccountingDay(input.day), batchSize: input.batchSize, termsByProduct, currencyByProduct };
}

async function openCycleReader(options: CycleOptions, db: Kysely<LedgerDatabase> = options.books.ledger.db): Promise<{ reader: CycleReader; products: CycleProduct[] }> {
  const { books } = options;
  const entity = books.ledger.entity(options.entity).id;
  const day = parseAccountingDay(options.day, 'day');
  const batchSize = checkBatchSize(options.batchSize);
  const products = (await books.productsInForce({ entity, day }, db)).map((product) => ({ providerProductId: product.providerProductId, currency: product.currency, terms: product.terms }));
  return { reader: cycleReaderOf({ entity, day, batchSize, products }), products };
}

/**
 * Refuses, before anything is written, a product in force whose terms round interest finer than
 * the ledger keeps its currency (`currencyScales`): none of its lines could be booked, and the run
 * found that out at the first of them, after committing the batches before it. Projections are
 * not checked: they compute the product's figures at its own scale, as the provider would.
 */
function assertBookableScales(ledger: Ledger, reader: CycleReader): void {
  for (const [providerProductId, terms] of reader.termsByProduct) {
    const currency = reader.currencyByProduct.get(providerProductId) ?? '';
    const scale = ledger.currencyScale(currency);
    if (terms.scale <= scale) continue;
    const field = `products.${providerProductId}.terms.scale`;
    throw new LedgerError('invalid_input', `${field} is ${terms.scale} decimals, finer than the ${scale} the ledger keeps ${currency} with (currencyScales): its interest cannot be booked; record a version at ${scale}`, {
      field,
      value: String(terms.scale),
    });
  }
}

/** The refusal of a day on which an Earn account holding a balance has no product version in force. */
function noTermsInForce(input: { providerProductId: string; day: string; earnAccountId: string }): LedgerError {
  const { providerProductId, day, earnAccountId } = input;
  return new LedgerError('invalid_input', `product ${providerProductId} has no version in force on ${day} (its first takes effect later) but Earn account ${earnAccountId} holds a balance at the end of the day; record a version effective on or before ${day}`, {
    field: 'providerProductId',
    value: providerProductId,
    context: { day, earnAccountId },
  });
}

/**
 * Refuses, before anything is written, a day on which an Earn account of a product with no
 * version in force holds a balance: the run found it at that account's batch, after committing
 * the batches before it. One read of the entity's product ids; the accounts are read only when a
 * product has no version in force (then one index probe per account of those products).
 */
async function assertTermsInForce(ledger: Ledger, reader: CycleReader): Promise<void> {
  const { entity, day } = reader;
  const without = (await selectProductIds(ledger.db, { entity })).filter((id) => !reader.termsByProduct.has(id));
  const holding = await selectEarnAccountHoldingOnDay(ledger.db, { entity, providerProductIds: without, day, zero: formatUnits(0n) });
  if (holding !== undefined) throw noTermsInForce({ providerProductId: holding.provider_product_id, day, earnAccountId: holding.earn_account_id });
}

/** A line with its figures as the engine made them, so that booking does not parse its texts again. */
export interface CycleItem {
  readonly line: CycleLine;
  readonly interestUnits: bigint;
  readonly marginUnits: bigint;
  /** Whether it leaves residues to store (non-zero fine units). */
  readonly hasResidues: boolean;
}

/** One batch of cycle accounts as read. */
export interface CycleBatch {
  readonly items: CycleItem[];
  /** The ledger account rows of the batch as read with it (balances now, not at the end of the day). */
  readonly accounts: Map<number, BulkAccountRow>;
  /** The last account read; undefined when none was left. */
  readonly lastId: number | undefined;
  /** Whether more accounts may follow. */
  readonly more: boolean;
}

/** One batch of accounts after `afterId`, read through `db`; the account rows are kept only when the batch is to be booked. */
export async function readCycleBatch(db: Kysely<LedgerDatabase>, reader: CycleReader, afterId: number, booking: boolean): Promise<CycleBatch> {
  const { entity, day, previousDay, batchSize, termsByProduct } = reader;
  const rows = await selectCycleAccounts(db, { entity, day, previousDay, afterId, limit: batchSize });
  const items: CycleItem[] = [];
  const accounts = new Map<number, BulkAccountRow>();
  for (const row of rows) {
    if (booking) accounts.set(row.id, row);
    const terms = termsByProduct.get(row.provider_product_id);
    const balanceUnits = row.day_balance === null ? 0n : toUnits(row.day_balance);
    if (terms === undefined) {
      if (balanceUnits === 0n) continue;
      throw noTermsInForce({ providerProductId: row.provider_product_id, day, earnAccountId: row.earn_account_id });
    }
    // toUnits reads the stored balance at the default scale; the engine works at the product's.
    const scaleFactor = 10n ** BigInt(AMOUNT_SCALE_DEFAULT - terms.scale);
    const carried = terms.residueMode === 'carry';
    const result = computeDailyInterestUnits({
      balanceUnits: balanceUnits / scaleFactor,
      terms,
      userResidueFineUnits: carried && row.user_residue !== null ? parseResidueFineUnits(row.user_residue, { field: 'userResidue', scale: terms.scale }) : 0n,
      marginResidueFineUnits: carried && row.margin_residue !== null ? parseResidueFineUnits(row.margin_residue, { field: 'marginResidue', scale: terms.scale }) : 0n,
    });
    const interestUnits = result.userInterestUnits * scaleFactor;
    const marginUnits = result.partnerMarginUnits * scaleFactor;
    const line: CycleLine = {
      earnAccountId: row.earn_account_id,
      ledgerAccountId: row.id,
      providerProductId: row.provider_product_id,
      currency: row.earn_currency,
      balance: formatUnits(balanceUnits),
      userInterest: formatUnits(interestUnits),
      partnerMargin: formatUnits(marginUnits),
      userResidue: formatFineUnits(result.userResidueFineUnits, terms.scale),
      marginResidue: formatFineUnits(result.marginResidueFineUnits, terms.scale),
    };
    items.push({ line, interestUnits, marginUnits, hasResidues: result.userResidueFineUnits !== 0n || result.marginResidueFineUnits !== 0n });
  }
  return { items, accounts, lastId: rows[rows.length - 1]?.id, more: rows.length === batchSize };
}

/** Options of {@link cycleLines}. */
export interface CycleLinesOptions extends CycleOptions {
  /**
   * Where to read: a write transaction (`Ledger.transact`'s `scope.db`) or a snapshot
   * (`Ledger.readSnapshot`); default the ledger's own handle, one statement per batch.
   */
  readonly db?: Kysely<LedgerDatabase>;
}

/**
 * The cycle's lines in batches of accounts (ledger account id order), computed from the
 * end-of-day balances and the product terms in force on the day. Reads only. Each batch is read
 * in a statement of its own: a posting committed during the read may be seen by some batches
 * and not others. A caller that keeps the lines while the books may change takes a
 * {@link cycleLinesMark} before the read, and again where it needs the lines current.
 */
export async function* cycleLines(given: CycleLinesOptions): AsyncGenerator<CycleLine[]> {
  // Read once, like runAccountingCycle's options: a revoked proxy (as options or books) was a raw TypeError.
  const options = readFields(given, ['books', 'entity', 'day', 'batchSize', 'db'], { field: 'options' });
  const db = options.db ?? readFields(options.books, ['ledger'], { field: 'books' }).ledger.db;
  const { reader } = await openCycleReader(options, db);
  let afterId = 0;
  for (;;) {
    const batch = await readCycleBatch(db, reader, afterId, false);
    if (batch.lastId === undefined) return;
    yield batch.items.map((item) => item.line);
    if (!batch.more) return;
    afterId = batch.lastId;
  }
}

/**
 * What the cycle's lines of an entity ({@link cycleLines}, any day) depend on, counted: its Earn
 * accounts, the journal lines on their ledger accounts, and its product versions. All three only
 * grow (journal rows, Earn accounts and product versions are immutable; every posting to an
 * account adds to its line count), so a mark taken before a read of the lines and found equal
 * later says that no account, posting or product version they depend on came in between: the
 * lines read then are the lines a read now would give. The converse does not hold: any posting
 * to an Earn account moves the mark (a deposit of the next day as well), so a moved mark only
 * says to read again. Residues carried from the day before are not counted: only the cycle of
 * that day writes them, and it runs before the day is read. The later mark must be taken where
 * every commit before it is visible (a write transaction that holds SQLite's lock, or a
 * PostgreSQL read-committed statement).
 */
export interface CycleLinesMark {
  readonly earnAccounts: number;
  /** The journal lines on the Earn accounts' ledger accounts, as exact decimal text. */
  readonly entries: string;
  readonly productVersions: number;
}

/** The {@link CycleLinesMark} of an entity now (or in `db`'s snapshot or transaction). */
export async function cycleLinesMark(ledger: Ledger, input: { entity: string }, db: Kysely<LedgerDatabase> = ledger.db): Promise<CycleLinesMark> {
  const entity = ledger.entity(input.entity).id;
  return selectCycleLinesMark(db, { entity });
}

/** Whether two {@link CycleLinesMark}s are the same. */
export function sameCycleLinesMark(a: CycleLinesMark, b: CycleLinesMark): boolean {
  return a.earnAccounts === b.earnAccounts && a.entries === b.entries && a.productVersions === b.productVersions;
}

/** Every line of the cycle, without writing: what the provider's report should show. */
export async function projectAccountingCycle(options: CycleOptions): Promise<CycleLine[]> {
  const lines: CycleLine[] = [];
  for await (const batch of cycleLines(options)) lines.push(...batch);
  return lines;
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
  batch: { items: readonly CycleItem[]; accounts: ReadonlyMap<number, BulkAccountRow>; legacyIds: boolean },
  tally: CycleTally,
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
  const probe = await providerIdsProbe(ledger, scope, { entity, legacyIds: batch.legacyIds, byCurrency });
  for (const [currency, lines] of byCurrency) {
    // The ledger's account cache answers this after the first batch.
    const contraAccountId = (await ledger.systemAccount(entity, currency, 'earn_assets', scope.db)).id;
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
    const result = await postLinesWithKnownAccounts(ledger, scope.db, posting, batch.accounts, probe);
    for (const line of result.lines) {
      if (line.status === 'created') tally.booked++;
      else tally.already++;
    }
  }
  if (residues.length > 0) await requireBulk(ledger.dialect.bulk).insertResidues(scope.db, residues);
  tally.accounts += batch.items.length;
}

/**
 * How a batch's postings find which of their provider ids are booked. The run's ids of one day
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
  batch: { entity: string; legacyIds: boolean; byCurrency: ReadonlyMap<string, readonly NormalizedLines['lines'][number][]> },
): Promise<{ providerIdsAbsent?: boolean; providerIdsDense?: boolean }> {
  if (batch.legacyIds) return {};
  if (ledger.dialect.supportsRowLocks) return { providerIdsDense: true };
  const range = requireBulk(ledger.dialect.bulk).anyProviderIdInRange;
  if (range === undefined) return {};
  const providerIds = [...batch.byCurrency.values()].flatMap((lines) => lines.map((line) => line.providerId));
  return (await range(scope.db, { entity: batch.entity, kind: 'interest', providerIds })) ? {} : { providerIdsAbsent: true };
}

/**
 * Whether this day's lines were booked under the ids of earlier versions (`localEntryId` of
 * the Earn account), by a run that a crash or an upgrade interrupted: then the run goes on with
 * those ids, so that no account is booked twice under two ids. Runs book batches in account
 * order and commit them in order, so an interrupted run booked the first batch with interest
 * first; undefined while the batch has no interest line (the next batch decides).
 */
async function bookedWithLegacyIds(ledger: Ledger, db: Kysely<LedgerDatabase>, entity: string, day: string, lines: readonly CycleLine[]): Promise<boolean | undefined> {
  const legacy = lines.filter((line) => toUnits(line.userInterest) !== 0n).map((line) => localEntryId(entity, day, 'interest', line.earnAccountId));
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
        for (let lines = 0; lines < commitLines && tally.more; ) {
          const batch = (await readAhead?.take(tally.afterId, accept)) ?? (await readCycleBatch(scope.db, reader, tally.afterId, true));
          if (batch.lastId === undefined) {
            tally.more = false;
            break;
          }
          if (readAhead === undefined && options.readAhead !== 'never' && accounts + tally.accounts + batch.items.length >= CYCLE_READ_AHEAD_AFTER_ACCOUNTS) startReadAhead();
          if (batch.more) readAhead?.request(batch.lastId, tag);
          const batchLines = batch.items.map((item) => item.line);
          if (options.onLines !== undefined) {
            // The caller's code runs inside the run's transaction: if it wrote through the run's
            // connection, a batch read ahead may not show it, so the run reads its own from here.
            const before = readAhead === undefined ? undefined : await selectSqliteWriteMark(scope.db);
            options.onLines(batchLines);
            if (before !== undefined && (await selectSqliteWriteMark(scope.db)) !== before) readAhead?.abandon('onLines wrote to the books inside the run');
          }
          if (tally.legacyIds === undefined) tally.legacyIds = await bookedWithLegacyIds(ledger, scope.db, entity, day, batchLines);
          await bookCycleBatch(ledger, scope, booking, { items: batch.items, accounts: batch.accounts, legacyIds: tally.legacyIds === true }, tally);
          lines += batch.items.length;
          tally.afterId = batch.lastId;
          tally.more = batch.more;
        }
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

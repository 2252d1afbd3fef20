/**
 * Reading the accounting cycle: its accounts in batches (ledger account id order), each account's
 * interest and margin computed from its end-of-day balance and its product's terms in force on the
 * day. Reads only; {@link cycleLines} and {@link projectAccountingCycle} are the public reads, and
 * the run (`accounting-cycle.ts`) and its read-ahead worker (`cycle-read-ahead-worker.ts`) read
 * with {@link readCycleBatch}.
 */
import { LedgerError } from './errors.js';
import { AMOUNT_SCALE_DEFAULT, formatUnits, toUnits } from './money.js';
import type { Amount } from './money.js';
import { parseAccountingDay, previousAccountingDay } from './calendar.js';
import { computeDailyInterestUnits, parseInterestTerms, parseResidueFineUnits, formatFineUnits } from './interest/index.js';
import type { InterestTerms } from './interest/index.js';
import type { EarnBooks } from './earn-books.js';
import { readFields } from './input-fields.js';
import type { Ledger } from './ledger.js';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './db/schema.js';
import { POST_BATCH_MAX } from './ledger.js';
import { selectCycleAccounts } from './db/repository.js';
import { selectCycleLinesMark, selectEarnAccountHoldingOnDay, selectProductIds } from './db/earn-repository.js';
import type { BulkAccountRow } from './db/journal-bulk.js';
import { optionalWholeNumber } from './whole-number.js';

/** Accounts read and booked per database transaction by default. */
export const CYCLE_BATCH_SIZE_DEFAULT = 500;

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

export function checkBatchSize(batchSize: number | undefined): number {
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

export async function openCycleReader(options: CycleOptions, db: Kysely<LedgerDatabase> = options.books.ledger.db): Promise<{ reader: CycleReader; products: CycleProduct[] }> {
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
export function assertBookableScales(ledger: Ledger, reader: CycleReader): void {
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
export async function assertTermsInForce(ledger: Ledger, reader: CycleReader): Promise<void> {
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

/** How {@link readCycleBatch} reads a batch: for a projection, or to book it (then with or without row locks). */
export type CycleBatchRead = 'project' | 'book' | 'book-locked';

/**
 * One batch of accounts after `afterId`, read through `db`; the account rows are kept only when
 * the batch is to be booked (`book`), and locked as read with `book-locked` (PostgreSQL: the run
 * posts with them, see `runAccountingCycle`).
 */
export async function readCycleBatch(db: Kysely<LedgerDatabase>, reader: CycleReader, afterId: number, read: CycleBatchRead): Promise<CycleBatch> {
  const booking = read !== 'project';
  const lockRows = read === 'book-locked';
  const { entity, day, previousDay, batchSize, termsByProduct } = reader;
  const rows = await selectCycleAccounts(db, { entity, day, previousDay, afterId, limit: batchSize, lockRows });
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

/**
 * The next batch's read, sent before the current batch is booked (PostgreSQL): the transaction's
 * one connection runs its statements in turn, so the server reads (and row-locks) the next
 * accounts while this thread plans the current posting, and this thread computes the next
 * batch's interest while the server writes the current one; the statements and their order
 * within each batch are unchanged, and the next batch's accounts are not the current one's
 * (ledger account order, after its last id). Booking a batch never changes what the next read
 * answers: it writes the batch's accounts, their rows of the credited day and the day's residues
 * of the batch's accounts, and earn_assets, none of which that read selects. Its failure is
 * handled until the loop awaits it (a batch whose booking fails leaves it unawaited: the
 * transaction rolls back).
 */
export function readNextWhileBooking(db: Kysely<LedgerDatabase>, reader: CycleReader, afterId: number): Promise<CycleBatch> {
  const read = readCycleBatch(db, reader, afterId, 'book-locked');
  read.catch(() => undefined);
  return read;
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
    const batch = await readCycleBatch(db, reader, afterId, 'project');
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

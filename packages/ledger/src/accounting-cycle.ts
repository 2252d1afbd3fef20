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
 * once: each account's interest has a key derived from (entity, day, account), each batch is one
 * database transaction, and the margin is booked last from all accounts' figures.
 */
import { createHash } from 'node:crypto';
import { LedgerError, describeValue } from './errors.js';
import { AMOUNT_SCALE_DEFAULT, formatUnits, toUnits } from './money.js';
import type { Amount } from './money.js';
import { formatInstant, nextAccountingDay, parseAccountingDay, previousAccountingDay, startOfAccountingDay } from './calendar.js';
import { computeDailyInterestUnits, parseInterestTerms, parseResidueFineUnits, formatFineUnits } from './interest/index.js';
import type { InterestTerms } from './interest/index.js';
import type { EarnBooks } from './earn-books.js';
import type { PostingInput } from './posting.js';
import { POST_BATCH_MAX } from './ledger.js';
import { postingRuleEntries } from './chart.js';
import { selectCycleAccounts } from './db/repository.js';

const ZERO_RESIDUE = /^0\.0*$/;

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

/** Options of {@link runAccountingCycle}. */
export interface RunCycleOptions extends CycleOptions {
  /** Called with each batch of lines as it is booked (e.g. to publish them), in account order. */
  readonly onLines?: (lines: readonly CycleLine[]) => void;
}

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

/** The idempotency key of an account's interest for a day. */
export function interestKey(entity: string, day: string, earnAccountId: string): string {
  return `cycle:interest:${entity}:${day}:${earnAccountId}`;
}

/** The idempotency key of a currency's partner margin for a day. */
export function marginKey(entity: string, day: string, currency: string): string {
  return `cycle:margin:${entity}:${day}:${currency}`;
}

function checkBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > POST_BATCH_MAX) {
    throw new LedgerError('invalid_input', `batchSize must be an integer from 1 to ${POST_BATCH_MAX}, got ${describeValue(batchSize)}`, { field: 'batchSize', value: describeValue(batchSize) });
  }
  return batchSize;
}

/**
 * The cycle's lines in batches of accounts (ledger account id order), computed from the
 * end-of-day balances and the product terms in force on the day. Reads only.
 */
export async function* cycleLines(options: CycleOptions): AsyncGenerator<CycleLine[]> {
  const { books } = options;
  const ledger = books.ledger;
  const entity = ledger.entity(options.entity).id;
  const day = parseAccountingDay(options.day, 'day');
  const batchSize = checkBatchSize(options.batchSize ?? CYCLE_BATCH_SIZE_DEFAULT);
  const termsByProduct = new Map<string, InterestTerms>();
  for (const product of await books.productsInForce({ entity, day })) {
    termsByProduct.set(product.providerProductId, parseInterestTerms(product.terms, `products.${product.providerProductId}.terms`));
  }
  const previousDay = previousAccountingDay(day);
  let afterId = 0;
  for (;;) {
    const rows = await selectCycleAccounts(ledger.db, { entity, day, previousDay, afterId, limit: batchSize });
    if (rows.length === 0) return;
    const lines: CycleLine[] = [];
    for (const row of rows) {
      const terms = termsByProduct.get(row.provider_product_id);
      const balanceUnits = row.balance === null ? 0n : toUnits(row.balance);
      if (terms === undefined) {
        if (balanceUnits === 0n) continue;
        throw new LedgerError('invalid_input', `product ${row.provider_product_id} has no terms in force on ${day} but account ${row.earn_account_id} holds a balance`, {
          field: 'providerProductId',
          value: row.provider_product_id,
        });
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
      lines.push({
        earnAccountId: row.earn_account_id,
        ledgerAccountId: row.ledger_account_id,
        providerProductId: row.provider_product_id,
        currency: row.currency,
        balance: formatUnits(balanceUnits),
        userInterest: formatUnits(result.userInterestUnits * scaleFactor),
        partnerMargin: formatUnits(result.partnerMarginUnits * scaleFactor),
        userResidue: formatFineUnits(result.userResidueFineUnits, terms.scale),
        marginResidue: formatFineUnits(result.marginResidueFineUnits, terms.scale),
      });
    }
    yield lines;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < batchSize) return;
    afterId = last.ledger_account_id;
  }
}

/** Every line of the cycle, without writing: what the provider's report should show. */
export async function projectAccountingCycle(options: CycleOptions): Promise<CycleLine[]> {
  const lines: CycleLine[] = [];
  for await (const batch of cycleLines(options)) lines.push(...batch);
  return lines;
}

/**
 * Books the cycle: per account, an interest transaction (Dr earn_assets, Cr user) stamped at the
 * start of the next day; per currency, one partner-margin transaction; residues stored per
 * account and day. Safe to run again and to resume after a crash.
 */
export async function runAccountingCycle(options: RunCycleOptions): Promise<CycleSummary> {
  const { books } = options;
  const ledger = books.ledger;
  const entity = ledger.entity(options.entity).id;
  const day = parseAccountingDay(options.day, 'day');
  const timeZone = ledger.entity(entity).timeZone;
  const creditedAt = formatInstant(startOfAccountingDay(nextAccountingDay(day), timeZone));
  const totals = new Map<string, { userInterest: bigint; partnerMargin: bigint }>();
  let accounts = 0;
  let interestBooked = 0;
  let interestAlreadyBooked = 0;
  const earnAssetsByCurrency = new Map<string, number>();
  for await (const lines of cycleLines({ ...options, entity, day })) {
    accounts += lines.length;
    options.onLines?.(lines);
    const postings: PostingInput[] = [];
    const residues: { account_id: number; accounting_day: string; user_residue: string; margin_residue: string }[] = [];
    for (const line of lines) {
      const total = totals.get(line.currency) ?? { userInterest: 0n, partnerMargin: 0n };
      total.userInterest += toUnits(line.userInterest);
      total.partnerMargin += toUnits(line.partnerMargin);
      totals.set(line.currency, total);
      if (!ZERO_RESIDUE.test(line.userResidue) || !ZERO_RESIDUE.test(line.marginResidue)) {
        residues.push({ account_id: line.ledgerAccountId, accounting_day: day, user_residue: line.userResidue, margin_residue: line.marginResidue });
      }
      if (toUnits(line.userInterest) === 0n) continue;
      let earnAssets = earnAssetsByCurrency.get(line.currency);
      if (earnAssets === undefined) {
        earnAssets = (await ledger.systemAccount(entity, line.currency, 'earn_assets')).id;
        earnAssetsByCurrency.set(line.currency, earnAssets);
      }
      postings.push({
        entity,
        kind: 'interest',
        idempotencyKey: interestKey(entity, day, line.earnAccountId),
        occurredAt: creditedAt,
        providerId: localEntryId(entity, day, 'interest', line.earnAccountId),
        metadata: { interestDay: day, earnAccountId: line.earnAccountId },
        entries: postingRuleEntries('interest', { earn_assets: earnAssets, user: line.ledgerAccountId }, line.userInterest),
      });
    }
    await ledger.transact(async (scope) => {
      for (const result of postings.length === 0 ? [] : await scope.postMany(postings)) {
        if (result.status === 'created') interestBooked++;
        else interestAlreadyBooked++;
      }
      if (residues.length > 0) {
        await scope.db
          .insertInto('interest_residues')
          .values(residues)
          .onConflict((conflict) => conflict.columns(['account_id', 'accounting_day']).doNothing())
          .execute();
      }
    });
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
  await ledger.db
    .insertInto('accounting_cycles')
    .values({ entity, accounting_day: day, accounts, completed_at: formatInstant(new Date()) })
    .onConflict((conflict) => conflict.columns(['entity', 'accounting_day']).doNothing())
    .execute();
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

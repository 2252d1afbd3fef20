/**
 * The partner's mirror of its Earn business, on top of the journal: products (versioned by the
 * accounting day they take effect), partner users and their two Earn users (one per entity),
 * Earn accounts per (Earn user, product), the bookings the provider returned, and the reports
 * already processed. Every write is idempotent and every booking posts its journal transaction
 * in the same database transaction as its mirror row.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant, describeValue, isArrayInput, requireObject } from './errors.js';
import { formatUnits, toUnits } from './money.js';
import type { Amount } from './money.js';
import { formatInstant, parseAccountingDay, parseInstant } from './calendar.js';
import { postingRuleEntries, userAccountCode } from './chart.js';
import { parseInterestTerms } from './interest/index.js';
import { Ledger, parseCurrency } from './ledger.js';
import { readAccountPage } from './accounts.js';
import type { JournalTransaction, PostResult, PostingScope } from './ledger.js';
import { COMPOSED_KEY_LENGTH_MAX, parseKey } from './posting.js';
import { requireWellFormed } from './text.js';
import { readArray, readFields } from './input-fields.js';
import type { TransactionKind } from './posting.js';
import type { LedgerDatabase } from './db/schema.js';
import * as earnRepository from './db/earn-repository.js';
import { bookingKeyConflict, checkBookingRepeat } from './booking-repeat.js';
import { writeWhole } from './partial-writes.js';
import type { EarnAccountRow } from './db/earn-repository.js';

/** Bytes of provider data (JSON) stored with one booking. */
export const PROVIDER_DATA_BYTES_MAX = 64 * 1024;
/** Bytes of a product's terms (JSON). */
export const PRODUCT_TERMS_BYTES_MAX = 16 * 1024;

/** A product version as the mirror keeps it. */
export interface EarnProduct {
  readonly entity: string;
  readonly providerProductId: string;
  readonly effectiveDay: string;
  readonly currency: string;
  readonly name: string;
  /** Rates, tiers and partner margin, as given (see the interest engine for their shape). */
  readonly terms: unknown;
}

/** An Earn account: one Earn user's account in one product, with its ledger account. */
export interface EarnAccount {
  readonly entity: string;
  readonly earnAccountId: string;
  readonly earnUserId: string;
  readonly providerProductId: string;
  readonly currency: string;
  readonly ledgerAccountId: number;
}

/** The answer to an idempotent mirror write. */
export interface MirrorResult<T> {
  readonly status: 'created' | 'exists';
  readonly value: T;
}

/** A deposit or withdrawal the provider booked, to record with what it returned. */
export interface RecordBookingInput {
  readonly entity: string;
  readonly earnAccountId: string;
  /** The provider's booking id. */
  readonly providerBookingId: string;
  /** Positive decimal string. */
  readonly amount: string;
  /** When the provider booked it. */
  readonly occurredAt: string | Date;
  /** The key sent to the provider with the booking call. */
  readonly idempotencyKey: string;
  /** The provider's response, stored as returned. */
  readonly providerData: unknown;
}

/** An interest entry from the provider's daily report (or the local engine). */
export interface InterestInput {
  readonly entity: string;
  readonly earnAccountId: string;
  /** The provider's journal entry id. */
  readonly providerEntryId: string;
  readonly amount: string;
  readonly occurredAt: string | Date;
  /** The accounting day whose end-of-day balance earned it. */
  readonly interestDay?: string;
  /** Default `interest:<providerEntryId>`. */
  readonly idempotencyKey?: string;
}

/** A per-currency provider entry: partner margin or fee. */
export interface CurrencyEntryInput {
  readonly entity: string;
  readonly currency: string;
  readonly providerEntryId: string;
  readonly amount: string;
  readonly occurredAt: string | Date;
  readonly interestDay?: string;
  /** Default `<kind>:<providerEntryId>`. */
  readonly idempotencyKey?: string;
}

/** A settlement transfer between the partner and the provider. */
export interface SettlementInput {
  readonly entity: string;
  readonly currency: string;
  /** `to_provider`: the partner paid; `from_provider`: the partner received. */
  readonly direction: 'to_provider' | 'from_provider';
  readonly amount: string;
  readonly occurredAt: string | Date;
  readonly idempotencyKey: string;
  /** On-chain transaction hash or other transfer reference. */
  readonly reference?: string;
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function jsonText(value: unknown, field: string, bytesMax: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new LedgerError('invalid_input', `${field} must be JSON-serialisable`, { field, value: describeValue(value), cause });
  }
  if (text === undefined || typeof value !== 'object' || value === null) throw new LedgerError('invalid_input', `${field} must be a JSON object, got ${describeValue(value)}`, { field, value: describeValue(value) });
  if (Buffer.byteLength(text) > bytesMax) throw new LedgerError('limit_exceeded', `${field} exceeds ${bytesMax} bytes`, { field, value: `${Buffer.byteLength(text)} bytes` });
  return text;
}

function conflict(field: string, value: string, what: string): never {
  throw new LedgerError('idempotency_conflict', `${field} ${value} ${what}`, { field, value });
}

/**
 * The Earn mirror. Built on a {@link Ledger}; shares its database.
 *
 * @example
 * const books = new EarnBooks(ledger);
 * await books.registerUser({ partnerUserId: 'u-1', earnUsers: [{ entity: 'defi', earnUserId: 'e-1' }] });
 * await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'e-1', providerProductId: 'btc-fixed', currency: 'BTC' });
 */
export class EarnBooks {
  readonly ledger: Ledger;
  readonly #now: () => Date;

  constructor(ledger: Ledger, options: { now?: () => Date } = {}) {
    this.ledger = ledger;
    this.#now = readFields(options, ['now'], { field: 'options' }).now ?? (() => new Date());
  }

  get #db(): Kysely<LedgerDatabase> {
    return this.ledger.db;
  }

  // ---- products ---------------------------------------------------------------------------

  /**
   * Records a product version that takes effect on `effectiveDay`. The same (entity, product,
   * day) with the same content is `exists`; with other content it is an `idempotency_conflict`
   * (publish a new version with a later day instead).
   */
  async recordProduct(given: EarnProduct): Promise<MirrorResult<EarnProduct>> {
    const input = readFields(given, ['entity', 'providerProductId', 'effectiveDay', 'currency', 'name', 'terms']);
    const entity = this.ledger.entity(input.entity).id;
    const providerProductId = parseKey(input.providerProductId, 'providerProductId');
    const effectiveDay = parseAccountingDay(input.effectiveDay, 'effectiveDay');
    const currency = parseCurrency(input.currency);
    const name = parseKey(input.name, 'name');
    // Terms are validated by the interest engine and stored canonical, with every default filled
    // in, so that a later change of a default never changes a stored product.
    const terms = parseInterestTerms(input.terms, 'terms');
    const termsText = jsonText(terms, 'terms', PRODUCT_TERMS_BYTES_MAX);
    const contentHash = hashOf([currency, name, termsText]);
    const product: EarnProduct = Object.freeze({ entity, providerProductId, effectiveDay, currency, name, terms: JSON.parse(termsText) as unknown });
    return this.ledger.dialect.writeTransaction(this.#db, async (trx) => {
      const existing = await earnRepository.selectProductVersion(trx, { entity, providerProductId, effectiveDay });
      if (existing !== undefined) {
        if (existing.content_hash !== contentHash) {
          // The field that differs is named, as every other idempotency conflict does (a review, session 44).
          const differing = existing.currency !== currency ? 'currency' : existing.name !== name ? 'name' : 'terms';
          throw new LedgerError('idempotency_conflict', `providerProductId ${providerProductId} already has a version effective ${effectiveDay} with a different ${differing}`, { field: differing, value: providerProductId, context: { differingField: differing } });
        }
        return { status: 'exists' as const, value: product };
      }
      const previousCurrency = await earnRepository.selectProductCurrency(trx, { entity, providerProductId });
      if (previousCurrency !== undefined && previousCurrency !== currency) conflict('currency', currency, `differs from product ${providerProductId}'s currency ${previousCurrency}`);
      await earnRepository.insertProduct(trx, { entity, provider_product_id: providerProductId, effective_day: effectiveDay, currency, name, terms: termsText, content_hash: contentHash, created_at: formatInstant(this.#now()) });
      return { status: 'created' as const, value: product };
    });
  }

  /** The version of a product in force on an accounting day (the latest effective on or before it). */
  async productInForce(input: { entity: string; providerProductId: string; day: string }): Promise<EarnProduct | undefined> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const day = parseAccountingDay(input.day, 'day');
    const row = await earnRepository.selectProductInForce(this.#db, { entity, providerProductId: requireWellFormed(input.providerProductId, 'providerProductId'), day });
    return row === undefined ? undefined : rowToProduct(row);
  }

  /**
   * Every product of an entity in force on a day, by product id. `db`: a transaction or snapshot
   * to read in (`Ledger.transact`'s `scope.db`, `Ledger.readSnapshot`); default the books' own.
   */
  async productsInForce(input: { entity: string; day: string }, db: Kysely<LedgerDatabase> = this.#db): Promise<EarnProduct[]> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const day = parseAccountingDay(input.day, 'day');
    const rows = await earnRepository.selectProductVersionsUpTo(db, { entity, day });
    const latest = new Map<string, EarnProduct>();
    for (const row of rows) if (!latest.has(row.provider_product_id)) latest.set(row.provider_product_id, rowToProduct(row));
    return [...latest.values()];
  }

  // ---- users and accounts -----------------------------------------------------------------

  /**
   * Records a partner user and its Earn users (at most one per entity). Idempotent; a different
   * Earn user for an entity that already has one is an `idempotency_conflict`.
   */
  async registerUser(given: { partnerUserId: string; earnUsers: readonly { entity: string; earnUserId: string }[] }): Promise<MirrorResult<{ partnerUserId: string; earnUsers: { entity: string; earnUserId: string }[] }>> {
    const input = readFields(given, ['partnerUserId', 'earnUsers']);
    const partnerUserId = parseKey(input.partnerUserId, 'partnerUserId');
    const listed = isArrayInput(input.earnUsers, 'earnUsers') ? readArray(input.earnUsers, 'earnUsers', this.ledger.entities.size) : undefined;
    if (listed === undefined || listed.length > this.ledger.entities.size) {
      throw new LedgerError('invalid_input', `earnUsers must list at most one Earn user per entity`, { field: 'earnUsers', value: describeValue(input.earnUsers) });
    }
    const earnUsers = listed.items.map((listedUser, index) => {
      const user = readFields(listedUser, ['entity', 'earnUserId'], { field: `earnUsers[${index}]`, nested: true });
      return { entity: this.ledger.entity(user.entity, `earnUsers[${index}].entity`).id, earnUserId: parseKey(user.earnUserId, `earnUsers[${index}].earnUserId`) };
    });
    if (new Set(earnUsers.map((user) => user.entity)).size !== earnUsers.length) {
      throw new LedgerError('invalid_input', 'earnUsers lists an entity twice', { field: 'earnUsers', value: describeValue(input.earnUsers) });
    }
    return this.ledger.dialect.writeTransaction(this.#db, async (trx) => {
      const createdAt = formatInstant(this.#now());
      let created = await earnRepository.insertPartnerUserIfMissing(trx, { partner_user_id: partnerUserId, created_at: createdAt });
      for (const user of earnUsers) {
        const existing = await earnRepository.selectEarnUsersLinked(trx, { entity: user.entity, partnerUserId, earnUserId: user.earnUserId });
        const same = existing.find((row) => row.partner_user_id === partnerUserId && row.earn_user_id === user.earnUserId);
        if (same !== undefined) continue;
        if (existing.length > 0) conflict('earnUserId', user.earnUserId, `conflicts with the Earn user already linked in ${user.entity}`);
        await earnRepository.insertEarnUser(trx, { entity: user.entity, earn_user_id: user.earnUserId, partner_user_id: partnerUserId, created_at: createdAt });
        created = true;
      }
      const all = await earnRepository.selectEarnUsersOf(trx, partnerUserId);
      return { status: created ? ('created' as const) : ('exists' as const), value: { partnerUserId, earnUsers: all.map((row) => ({ entity: row.entity, earnUserId: row.earn_user_id })) } };
    });
  }

  /** The Earn users of a partner user, one per entity. */
  async earnUsersOf(partnerUserId: string): Promise<{ entity: string; earnUserId: string }[]> {
    const rows = await earnRepository.selectEarnUsersOf(this.#db, requireWellFormed(partnerUserId, 'partnerUserId'));
    return rows.map((row) => ({ entity: row.entity, earnUserId: row.earn_user_id }));
  }

  /**
   * Records an Earn account (one per Earn user and product) and opens its ledger account.
   * Idempotent on the account id; the product must be known and of the same currency.
   */
  async openEarnAccount(given: Omit<EarnAccount, 'ledgerAccountId'>): Promise<MirrorResult<EarnAccount>> {
    const input = readFields(given, ['entity', 'earnAccountId', 'earnUserId', 'providerProductId', 'currency']);
    const entity = this.ledger.entity(input.entity).id;
    const earnAccountId = parseKey(input.earnAccountId, 'earnAccountId');
    const earnUserId = parseKey(input.earnUserId, 'earnUserId');
    const providerProductId = parseKey(input.providerProductId, 'providerProductId');
    const currency = parseCurrency(input.currency);
    if (!(await earnRepository.earnUserExists(this.#db, { entity, earnUserId }))) throw new LedgerError('invalid_input', `earnUserId ${earnUserId} is not a registered Earn user of ${entity}`, { field: 'earnUserId', value: earnUserId });
    const productCurrency = await earnRepository.selectProductCurrency(this.#db, { entity, providerProductId });
    if (productCurrency === undefined) throw new LedgerError('invalid_input', `providerProductId ${providerProductId} is not a product of ${entity}`, { field: 'providerProductId', value: providerProductId });
    if (productCurrency !== currency) throw new LedgerError('invalid_input', `currency ${currency} differs from product ${providerProductId}'s ${productCurrency}`, { field: 'currency', value: currency });
    const wanted = { entity, earnAccountId, earnUserId, providerProductId, currency };
    // A conflict is found before the ledger account is opened, so that a refused account leaves
    // no ledger account behind; it is checked again inside the transaction.
    await this.#earnAccountConflict(this.#db, wanted);
    const ledgerAccount = await this.ledger.openAccount({ entity, currency, code: userAccountCode(earnAccountId), kind: 'user' });
    const account: EarnAccount = Object.freeze({ ...wanted, ledgerAccountId: ledgerAccount.id });
    return this.ledger.dialect.writeTransaction(this.#db, async (trx) => {
      if (await this.#earnAccountConflict(trx, wanted)) return { status: 'exists' as const, value: account };
      await earnRepository.insertEarnAccount(trx, { entity, earn_account_id: earnAccountId, earn_user_id: earnUserId, provider_product_id: providerProductId, currency, ledger_account_id: ledgerAccount.id, created_at: formatInstant(this.#now()) });
      return { status: 'created' as const, value: account };
    });
  }

  /**
   * Whether the Earn account is already recorded as wanted (`true`), absent (`false`), or
   * conflicting (an `idempotency_conflict` is thrown): recorded for another user, product or
   * currency, or the user already has another account in the product.
   */
  async #earnAccountConflict(db: Kysely<LedgerDatabase>, wanted: Omit<EarnAccount, 'ledgerAccountId'>): Promise<boolean> {
    const { entity, earnAccountId, earnUserId, providerProductId, currency } = wanted;
    const existing = await earnRepository.selectEarnAccount(db, { entity, earnAccountId });
    if (existing !== undefined) {
      if (existing.earn_user_id !== earnUserId || existing.provider_product_id !== providerProductId || existing.currency !== currency) {
        conflict('earnAccountId', earnAccountId, 'is already recorded for another user, product or currency');
      }
      return true;
    }
    const sameProduct = await earnRepository.selectEarnAccountIdOfUserProduct(db, { entity, earnUserId, providerProductId });
    if (sameProduct !== undefined) conflict('earnAccountId', earnAccountId, `: Earn user ${earnUserId} already has account ${sameProduct} in ${providerProductId}`);
    return false;
  }

  /** An Earn account, or an `unknown_account` error naming it. */
  async earnAccount(input: { entity: string; earnAccountId: string }, db: Kysely<LedgerDatabase> = this.#db): Promise<EarnAccount> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const row = await earnRepository.selectEarnAccount(db, { entity, earnAccountId: requireWellFormed(input.earnAccountId, 'earnAccountId') });
    if (row === undefined) throw new LedgerError('unknown_account', `earnAccountId ${describeValue(input.earnAccountId)} is not an Earn account of ${entity}`, { field: 'earnAccountId', value: describeValue(input.earnAccountId) });
    return rowToEarnAccount(row);
  }

  /**
   * The Earn accounts of an entity (optionally of one currency), in the order of their ledger
   * accounts: those after `afterLedgerAccountId` (exclusive), at most `limit`
   * (1..{@link ACCOUNTS_PAGE_SIZE_MAX}) of them. Without `limit`, every one: on books of many
   * users, walk them in pages (the next starts after this page's last `ledgerAccountId`).
   */
  async earnAccounts(input: { entity: string; currency?: string; afterLedgerAccountId?: number; limit?: number }): Promise<EarnAccount[]> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const currency = input.currency === undefined ? {} : { currency: parseCurrency(input.currency) };
    const page = readAccountPage(input, { field: 'afterLedgerAccountId', value: input.afterLedgerAccountId });
    const rows = await earnRepository.selectEarnAccounts(this.#db, { entity, ...currency, ...page });
    return rows.map(rowToEarnAccount);
  }

  // ---- bookings ---------------------------------------------------------------------------

  /**
   * Records a deposit the provider booked: the mirror row and its journal transaction, atomically.
   * Given a `scope` (from {@link Ledger.transact}), both are written in that transaction, so a
   * caller can make the booking one step with writes of its own.
   */
  async recordDeposit(input: RecordBookingInput, scope?: PostingScope): Promise<PostResult> {
    return this.#recordBooking('deposit', input, scope);
  }

  /** Records a withdrawal the provider booked (refused beyond the user's balance); `scope` as for {@link recordDeposit}. */
  async recordWithdrawal(input: RecordBookingInput, scope?: PostingScope): Promise<PostResult> {
    return this.#recordBooking('withdrawal', input, scope);
  }

  async #recordBooking(kind: 'deposit' | 'withdrawal', given: RecordBookingInput, scope: PostingScope | undefined): Promise<PostResult> {
    const input = readFields(given, ['entity', 'earnAccountId', 'providerBookingId', 'amount', 'occurredAt', 'providerData', 'idempotencyKey']);
    if (scope !== undefined) requireObject(scope, 'scope');
    const account = await this.earnAccount(input, scope?.db);
    const providerBookingId = parseKey(input.providerBookingId, 'providerBookingId');
    const amount = this.ledger.parseAmount(input.amount, { field: 'amount', currency: account.currency });
    const occurredAt = formatInstant(parseInstant(input.occurredAt, 'occurredAt'));
    const providerData = jsonText(input.providerData, 'providerData', PROVIDER_DATA_BYTES_MAX);
    const idempotencyKey = parseKey(input.idempotencyKey, 'idempotencyKey', COMPOSED_KEY_LENGTH_MAX);
    const work = async (within: PostingScope): Promise<PostResult> => {
      const stored = await earnRepository.selectBooking(within.db, { entity: account.entity, providerBookingId });
      if (stored !== undefined) checkBookingRepeat(stored, { kind, providerBookingId, earnAccountId: account.earnAccountId, amount, occurredAt, providerData });
      // The system accounts are opened with the posting, in this transaction: a refused booking leaves none.
      const result = await this.ledger
        .postWithSystemAccounts(
          { entity: account.entity, currency: account.currency },
          (system) => ({ entity: account.entity, kind, idempotencyKey, occurredAt, providerId: providerBookingId, entries: postingRuleEntries(kind, { ...system, user: account.ledgerAccountId }, amount) }),
          within,
        )
        .catch((error: unknown) => {
          throw bookingKeyConflict(error);
        });
      if (result.status === 'created') {
        // After the posting: a failure here (another process booking the id meanwhile) leaves the
        // scope unable to commit, as a posting that failed part-way does.
        await writeWhole(within.db, () => earnRepository.insertBooking(within.db, {
          entity: account.entity,
          provider_booking_id: providerBookingId,
          kind,
          earn_account_id: account.earnAccountId,
          amount,
          currency: account.currency,
          occurred_at: occurredAt,
          provider_data: providerData,
          transaction_id: result.transaction.id,
        }));
      }
      return result;
    };
    return scope === undefined ? this.ledger.transact(work) : work(scope);
  }

  /** The provider data stored with a booking, or undefined. */
  async booking(input: { entity: string; providerBookingId: string }): Promise<{ kind: string; earnAccountId: string; amount: Amount; currency: string; occurredAt: string; providerData: unknown; transactionId: number } | undefined> {
    requireObject(input, 'input');
    const row = await earnRepository.selectBooking(this.#db, { entity: this.ledger.entity(input.entity).id, providerBookingId: requireWellFormed(input.providerBookingId, 'providerBookingId') });
    if (row === undefined) return undefined;
    return { kind: row.kind, earnAccountId: row.earn_account_id, amount: formatUnits(toUnits(row.amount)), currency: row.currency, occurredAt: row.occurred_at, providerData: JSON.parse(row.provider_data) as unknown, transactionId: row.transaction_id };
  }

  /**
   * Records an interest entry: Dr earn_assets, Cr the user's account. Idempotent on the provider
   * entry id by default. The first posting of a currency opens its system accounts with it.
   */
  async recordInterest(given: InterestInput): Promise<PostResult> {
    const input = readFields(given, ['entity', 'earnAccountId', 'providerEntryId', 'amount', 'occurredAt', 'interestDay', 'idempotencyKey']);
    const account = await this.earnAccount(input);
    const providerEntryId = parseKey(input.providerEntryId, 'providerEntryId');
    const amount = this.ledger.parseAmount(input.amount, { field: 'amount', currency: account.currency, allowZero: false });
    const metadata = input.interestDay === undefined ? {} : { metadata: { interestDay: parseAccountingDay(input.interestDay, 'interestDay') } };
    return this.ledger.postWithSystemAccounts({ entity: account.entity, currency: account.currency }, (system) => ({
      entity: account.entity,
      kind: 'interest',
      idempotencyKey: input.idempotencyKey ?? `interest:${providerEntryId}`,
      occurredAt: input.occurredAt,
      providerId: providerEntryId,
      ...metadata,
      entries: postingRuleEntries('interest', { ...system, user: account.ledgerAccountId }, amount),
    }));
  }

  /** Records partner margin: Dr settlement (the provider owes it), Cr partner_margin_income. */
  async recordPartnerMargin(input: CurrencyEntryInput): Promise<PostResult> {
    return this.#recordCurrencyEntry('partner_margin', input);
  }

  /** Records a fee: Dr fee_expense, Cr settlement (the partner owes it). */
  async recordFee(input: CurrencyEntryInput): Promise<PostResult> {
    return this.#recordCurrencyEntry('fee', input);
  }

  async #recordCurrencyEntry(kind: Extract<TransactionKind, 'partner_margin' | 'fee'>, given: CurrencyEntryInput): Promise<PostResult> {
    const input = readFields(given, ['entity', 'currency', 'providerEntryId', 'amount', 'occurredAt', 'interestDay', 'idempotencyKey']);
    const entity = this.ledger.entity(input.entity).id;
    const currency = parseCurrency(input.currency);
    const providerEntryId = parseKey(input.providerEntryId, 'providerEntryId');
    const amount = this.ledger.parseAmount(input.amount, { field: 'amount', currency });
    const metadata = input.interestDay === undefined ? {} : { metadata: { interestDay: parseAccountingDay(input.interestDay, 'interestDay') } };
    return this.ledger.postWithSystemAccounts({ entity, currency }, (accounts) => ({
      entity,
      kind,
      idempotencyKey: input.idempotencyKey ?? `${kind}:${providerEntryId}`,
      occurredAt: input.occurredAt,
      providerId: providerEntryId,
      ...metadata,
      entries: postingRuleEntries(kind, accounts, amount),
    }));
  }

  /** Records a settlement transfer, which moves the outstanding balance back toward zero. */
  async recordSettlement(given: SettlementInput): Promise<PostResult> {
    const input = readFields(given, ['entity', 'currency', 'direction', 'amount', 'occurredAt', 'idempotencyKey', 'reference']);
    const entity = this.ledger.entity(input.entity).id;
    const currency = parseCurrency(input.currency);
    if (input.direction !== 'to_provider' && input.direction !== 'from_provider') {
      throw new LedgerError('invalid_input', `direction must be "to_provider" or "from_provider", got ${describeValue(input.direction)}`, { field: 'direction', value: describeValue(input.direction) });
    }
    const amount = this.ledger.parseAmount(input.amount, { field: 'amount', currency });
    const reference = input.reference === undefined ? {} : { providerId: parseKey(input.reference, 'reference') };
    const rule = input.direction === 'to_provider' ? 'settlement_to_provider' : 'settlement_from_provider';
    return this.ledger.postWithSystemAccounts({ entity, currency }, (accounts) => ({
      entity,
      kind: 'settlement',
      idempotencyKey: input.idempotencyKey,
      occurredAt: input.occurredAt,
      ...reference,
      metadata: { direction: input.direction },
      entries: postingRuleEntries(rule, accounts, amount),
    }));
  }

  /**
   * The outstanding balance with the provider for (entity, currency), signed like the report's:
   * zero for a currency never booked (read without opening its accounts).
   */
  async outstandingBalance(input: { entity: string; currency: string; day?: string }): Promise<Amount> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const currency = parseCurrency(input.currency);
    const day = input.day === undefined ? undefined : parseAccountingDay(input.day, 'day');
    const settlement = await this.ledger.findAccount({ entity, currency, code: 'settlement' });
    if (settlement === undefined) return formatUnits(0n);
    // As systemAccount would: an account of another kind under the code is not the settlement account.
    if (settlement.kind !== 'settlement') {
      throw new LedgerError('idempotency_conflict', `account ${settlement.code} exists with kind ${settlement.kind}, not settlement`, { field: 'kind', value: 'settlement' });
    }
    return day === undefined ? this.ledger.balance(settlement.id) : this.ledger.balanceAtEndOfDay(settlement.id, day);
  }


  // ---- reports ----------------------------------------------------------------------------

  /**
   * Records that a report (id and content hash) was processed for an accounting day. The same
   * pair again is `exists` with its version; a new content for the same day (a restatement)
   * gets the next version.
   */
  async recordProcessedReport(given: { entity: string; reportId: string; contentHash: string; accountingDay: string }, db: Kysely<LedgerDatabase> = this.#db): Promise<MirrorResult<{ version: number }>> {
    const input = readFields(given, ['entity', 'reportId', 'contentHash', 'accountingDay']);
    const entity = this.ledger.entity(input.entity).id;
    const reportId = parseKey(input.reportId, 'reportId');
    const contentHash = parseKey(input.contentHash, 'contentHash');
    const accountingDay = parseAccountingDay(input.accountingDay, 'accountingDay');
    const work = async (trx: Kysely<LedgerDatabase>) => {
      const existing = await earnRepository.selectProcessedReport(trx, { entity, reportId, contentHash });
      if (existing !== undefined) {
        if (existing.accounting_day !== accountingDay) conflict('reportId', reportId, `was processed for ${existing.accounting_day}, not ${accountingDay}`);
        return { status: 'exists' as const, value: { version: existing.version } };
      }
      const version = (await earnRepository.selectLatestReportVersion(trx, { entity, accountingDay })) + 1;
      await earnRepository.insertProcessedReport(trx, { entity, report_id: reportId, content_hash: contentHash, accounting_day: accountingDay, version, processed_at: formatInstant(this.#now()) });
      return { status: 'created' as const, value: { version } };
    };
    return db === this.#db ? this.ledger.dialect.writeTransaction(this.#db, work) : work(db);
  }

  /** Processed versions of an entity's reports for a day, oldest first. */
  async processedReports(input: { entity: string; accountingDay: string }): Promise<{ reportId: string; contentHash: string; version: number; processedAt: string }[]> {
    requireObject(input, 'input');
    const entity = this.ledger.entity(input.entity).id;
    const rows = await earnRepository.selectProcessedReports(this.#db, { entity, accountingDay: parseAccountingDay(input.accountingDay, 'accountingDay') });
    return rows.map((row) => ({ reportId: row.report_id, contentHash: row.content_hash, version: row.version, processedAt: row.processed_at }));
  }

  /** The journal transaction recorded for a provider id of a kind, if any. */
  async transactionOf(input: { entity: string; kind: TransactionKind; providerId: string }): Promise<JournalTransaction | undefined> {
    requireObject(input, 'input');
    return this.ledger.transactionByProviderId(input.entity, input.kind, input.providerId);
  }
}

function rowToEarnAccount(row: EarnAccountRow): EarnAccount {
  return Object.freeze({ entity: row.entity, earnAccountId: row.earn_account_id, earnUserId: row.earn_user_id, providerProductId: row.provider_product_id, currency: row.currency, ledgerAccountId: row.ledger_account_id });
}

function rowToProduct(row: { entity: string; provider_product_id: string; effective_day: string; currency: string; name: string; terms: string }): EarnProduct {
  const terms = JSON.parse(row.terms) as unknown;
  assertInvariant(typeof terms === 'object' && terms !== null, `product ${row.provider_product_id} has unreadable terms`);
  return Object.freeze({ entity: row.entity, providerProductId: row.provider_product_id, effectiveDay: row.effective_day, currency: row.currency, name: row.name, terms });
}

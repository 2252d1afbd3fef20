/**
 * The provider the sandbox plays, without HTTP: users, accounts, bookings with idempotent
 * answers, the accounting cycle at each local midnight of a controllable clock, the settlement
 * netting and the daily reports. It keeps its books with `@earnbook/ledger` (one SQLite database
 * for every entity; the ledger keeps entities apart) and its own tables beside them.
 *
 * Every write and every clock move runs through one queue, so that a booking never interleaves
 * with a cycle and an idempotency check and its write are never separated by another request.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  DAY_PAGE_SIZE_MAX,
  EarnBooks,
  HISTORY_PAGE_SIZE_MAX,
  Ledger,
  LedgerError,
  accountingDayOf,
  assertInvariant,
  formatInstant,
  formatUnits,
  localEntryId,
  cycleInterestEntryId,
  nextAccountingDay,
  previousAccountingDay,
  runAccountingCycle,
  startOfAccountingDay,
  toUnits,
} from '@earnbook/ledger';
import type { Amount, CycleLine, VerifyReport } from '@earnbook/ledger';
import { validateContract } from '@earnbook/earn-client';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { checkRestatementOptions } from './faults.js';
import type { FaultController, PublishRestatementOptions } from './faults.js';
import { SandboxError } from './errors.js';
import type { SandboxConfig, SandboxEntity, SandboxProduct } from './options.js';
import { SeededRandom } from './random.js';
import { applyReportFaults, reportBalanceOf, restatedReport } from './report.js';
import type { DailyReportJson, ReportEntryJson } from './report.js';
import { settleCurrencyDay } from './settlement.js';
import type { SettlementFigures } from './settlement.js';
import { migrateSandbox } from './db/migrations.js';
import * as repository from './db/repository.js';
import type { SandboxDb, SandboxTables } from './db/schema.js';

/** An answer of the provider: the HTTP status and the JSON body. */
export interface ProviderAnswer {
  readonly status: number;
  readonly body: unknown;
  /** Whether the answer is the stored first answer to the same Idempotency-Key. */
  readonly replayed: boolean;
}

/** A booking as the sandbox's books hold it, for test assertions. */
export interface SandboxBooking {
  readonly entity: string;
  readonly bookingId: string;
  readonly kind: 'deposit' | 'withdrawal';
  readonly accountId: string;
  readonly amount: Amount;
  readonly currency: string;
  readonly createdAt: string;
  /** The Idempotency-Key the booking was made with. */
  readonly idempotencyKey: string;
}

/** A page request after validation. */
export interface PageRequest {
  readonly cursor: string | undefined;
  readonly limit: number;
}

/** Download URLs remembered at most; the oldest are forgotten first. */
export const DOWNLOADS_MAX = 10_000;

/** What the ledger stores as provider data with each booking. */
interface BookingProviderData {
  readonly requestHash: string;
  readonly idempotencyKey: string;
  readonly response: Record<string, unknown>;
}

const LEDGER_KEY_PREFIX = 'http:';

/** JSON with object keys sorted, so that equal bodies hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The fingerprint of a request for idempotency: operation, path and canonical body. */
export function requestHashOf(input: { readonly operation: string; readonly path: string; readonly body: unknown }): string {
  return createHash('sha256').update(canonicalJson([input.operation, input.path, input.body ?? null])).digest('hex');
}

/** Maps an expected ledger failure to the error the API answers. */
export function fromLedgerError(error: unknown): unknown {
  if (!(error instanceof LedgerError)) return error;
  const field = error.field === undefined ? {} : { field: error.field };
  switch (error.code) {
    case 'invalid_input':
    case 'invalid_amount':
    case 'invalid_day':
    case 'invalid_instant':
    case 'limit_exceeded':
      return new SandboxError('invalid_request', error.message, { ...field, cause: error });
    case 'unknown_account':
      return new SandboxError('not_found', error.message, { ...field, cause: error });
    case 'insufficient_balance':
      return new SandboxError('insufficient_balance', error.message, { ...field, cause: error });
    case 'idempotency_conflict':
    case 'duplicate_provider_id':
      return new SandboxError('idempotency_conflict', error.message, { ...field, cause: error });
    default:
      return new SandboxError('internal_error', `ledger failure: ${error.code}`, { cause: error });
  }
}

function encodeCursor(prefix: string, value: number): string {
  return Buffer.from(`${prefix}:${value}`, 'utf8').toString('base64url');
}

function decodeCursor(prefix: string, cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = new RegExp(`^${prefix}:(\\d{1,15})$`).exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null || match[1] === undefined) throw new SandboxError('invalid_request', `cursor is not a cursor this sandbox issued, got ${JSON.stringify(cursor.slice(0, 40))}`, { field: 'cursor' });
  return Number(match[1]);
}

/** The contract's Product of a configured product. */
function productJson(product: SandboxProduct): Record<string, unknown> {
  const margin = product.terms.partnerMargin;
  return {
    id: product.id,
    name: product.name,
    currency: product.currency,
    entity: product.entity,
    interest: {
      tierMode: product.terms.tierMode,
      tiers: product.terms.tiers.map((tier) => ({ fromAmount: tier.fromAmount, toAmount: tier.toAmount, apy: tier.apy })),
    },
    // The contract's rate-difference margin names the product's total rate in `apy`; the margin is
    // that rate minus the user's.
    partnerMargin: margin === null ? null : margin.mode === 'own-apy' ? { mode: 'own-apy', apy: margin.apy } : { mode: 'rate-difference', apy: margin.productApy },
  };
}

const TRANSACTION_TYPES: Readonly<Record<string, string>> = Object.freeze({
  deposit: 'Deposit',
  withdrawal: 'Withdrawal',
  interest: 'Interest',
  partner_margin: 'PartnerMargin',
  fee: 'Fee',
  settlement: 'Settlement',
});

/**
 * The provider behind the sandbox's HTTP server. Open it with {@link EarnProvider.open}.
 *
 * @example
 * const provider = await EarnProvider.open({ config: resolveSandboxOptions(), faults: new FaultController({ seed: 1 }) });
 * await provider.advanceTo(new Date('2025-03-19T00:00:00Z')); // closes 2025-03-18 for every entity
 */
export class EarnProvider {
  /** The frozen configuration. */
  readonly config: SandboxConfig;
  /** The sandbox's ledger (both entities). */
  readonly ledger: Ledger;
  /** The Earn mirror on that ledger, which the sandbox uses as the provider's accounts. */
  readonly books: EarnBooks;
  readonly #db: SandboxDb;
  readonly #faults: FaultController;
  readonly #random: SeededRandom;
  readonly #entities: ReadonlyMap<string, SandboxEntity>;
  readonly #lastClosedDay = new Map<string, string>();
  readonly #downloads = new Map<string, { readonly entity: string; readonly reportId: string; readonly expiresAtMs: number }>();
  #nowMs: number;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(input: { config: SandboxConfig; ledger: Ledger; books: EarnBooks; db: SandboxDb; faults: FaultController; clock: { nowMs: number }; opening: number }) {
    this.config = input.config;
    this.ledger = input.ledger;
    this.books = input.books;
    this.#db = input.db;
    this.#faults = input.faults;
    // Each opening of the same books draws a stream of its own: a reopened file must never hand
    // out the ids of an earlier run again. The first opening keeps the plain seed (determinism).
    this.#random = new SeededRandom(input.opening === 0 ? input.config.seed : (input.config.seed * 1_000_003 + input.opening) % Number.MAX_SAFE_INTEGER);
    this.#entities = new Map(input.config.entities.map((entity) => [entity.id, entity]));
    this.#nowMs = input.clock.nowMs;
  }

  /**
   * Opens the books (a new or an existing SQLite database), records the products in force from
   * the current accounting day, and restores the clock and the closed days of an existing file.
   */
  static async open(input: { readonly config: SandboxConfig; readonly faults: FaultController }): Promise<EarnProvider> {
    const { config } = input;
    const storage = openSqliteDatabase({ filename: config.databaseFilename });
    const clock = { nowMs: Date.parse(config.startAt) };
    try {
      const ledger = await Ledger.open({
        storage: { db: storage.db, dialect: storage.dialect },
        entities: config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })),
        now: () => new Date(clock.nowMs),
      });
      // The same Kysely instance (and so the same connection queue) as the ledger's, so that a
      // sandbox statement never lands inside a ledger transaction of another request.
      const db: SandboxDb = ledger.db.withTables<SandboxTables>();
      await migrateSandbox(db);
      const stored = await repository.readState(db, 'clock');
      if (stored !== undefined && Date.parse(stored) > clock.nowMs) clock.nowMs = Date.parse(stored);
      const opening = Number((await repository.readState(db, 'openings')) ?? '0');
      await repository.writeState(db, 'openings', String(opening + 1));
      const books = new EarnBooks(ledger, { now: () => new Date(clock.nowMs) });
      const provider = new EarnProvider({ config, ledger, books, db, faults: input.faults, clock, opening });
      await provider.#initialise();
      return provider;
    } catch (error) {
      await storage.db.destroy();
      throw fromLedgerError(error);
    }
  }

  async #initialise(): Promise<void> {
    const now = this.now();
    for (const product of this.config.products) {
      const entity = this.#entity(product.entity);
      await this.books.recordProduct({
        entity: product.entity,
        providerProductId: product.id,
        effectiveDay: accountingDayOf(now, entity.timeZone),
        currency: product.currency,
        name: product.name,
        terms: product.terms,
      });
    }
    for (const entity of this.config.entities) {
      const closed = await repository.latestClosedDay(this.#db, entity.id);
      this.#lastClosedDay.set(entity.id, closed ?? previousAccountingDay(accountingDayOf(now, entity.timeZone)));
    }
    await repository.writeState(this.#db, 'clock', formatInstant(now));
  }

  /** The sandbox clock's current instant. */
  now(): Date {
    return new Date(this.#nowMs);
  }

  /** The configuration of an entity the caller authenticated as. */
  #entity(id: string): SandboxEntity {
    const entity = this.#entities.get(id);
    assertInvariant(entity !== undefined, `unknown entity ${id}`);
    return entity;
  }

  /** Runs `work` after every write queued before it. */
  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new SandboxError('service_unavailable', 'the sandbox is closing');
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    try {
      return await run;
    } catch (error) {
      throw fromLedgerError(error);
    }
  }

  /**
   * Answers a POST idempotently: the first answer to (entity, Idempotency-Key) is stored and
   * replayed for the same request; another request with the same key is `idempotency_conflict`.
   * Failures are not stored, so a failed request may be repeated with the same key.
   */
  async #idempotent(
    input: { readonly entity: string; readonly idempotencyKey: string; readonly operation: string; readonly path: string; readonly body: unknown },
    work: (requestHash: string) => Promise<{ status: number; body: unknown }>,
  ): Promise<ProviderAnswer> {
    const requestHash = requestHashOf(input);
    return this.#exclusive(async () => {
      const existing = await repository.findIdempotencyRecord(this.#db, input.entity, input.idempotencyKey);
      if (existing !== undefined) {
        if (existing.requestHash !== requestHash) {
          throw new SandboxError('idempotency_conflict', `Idempotency-Key ${JSON.stringify(input.idempotencyKey)} was already used for another request`, { field: 'Idempotency-Key' });
        }
        return { status: existing.statusCode, body: JSON.parse(existing.response) as unknown, replayed: true };
      }
      const answer = await work(requestHash);
      await repository.insertIdempotencyRecord(this.#db, {
        entity: input.entity,
        idempotencyKey: input.idempotencyKey,
        requestHash,
        statusCode: answer.status,
        response: JSON.stringify(answer.body),
        createdAt: formatInstant(this.now()),
      });
      return { ...answer, replayed: false };
    });
  }

  // ---- products and users -------------------------------------------------------------------

  /** `GET /v1/products`: the entity's products. */
  listProducts(entity: string): { items: Record<string, unknown>[] } {
    return { items: this.config.products.filter((product) => product.entity === entity).map(productJson) };
  }

  /** `POST /v1/users`. */
  async createUser(input: { readonly entity: string; readonly idempotencyKey: string; readonly body: { readonly externalReference?: string } }): Promise<ProviderAnswer> {
    return this.#idempotent({ ...input, operation: 'createUser', path: '/v1/users' }, async () => {
      const userId = this.#random.uuid();
      const createdAt = formatInstant(this.now());
      await this.books.registerUser({ partnerUserId: `${input.entity}:${userId}`, earnUsers: [{ entity: input.entity, earnUserId: userId }] });
      await repository.insertUser(this.#db, { entity: input.entity, userId, externalReference: input.body.externalReference ?? null, createdAt });
      return { status: 201, body: userJson({ userId, createdAt, externalReference: input.body.externalReference ?? null }) };
    });
  }

  /** `GET /v1/users/{userId}`. */
  async getUser(input: { readonly entity: string; readonly userId: string }): Promise<Record<string, unknown>> {
    const user = await repository.findUser(this.#db, input.entity, input.userId);
    if (user === undefined) throw new SandboxError('not_found', `user ${JSON.stringify(input.userId)} does not exist`, { field: 'userId' });
    return userJson(user);
  }

  // ---- accounts -----------------------------------------------------------------------------

  /** `POST /v1/accounts`: one account per (user, product); the product must be the entity's. */
  async createAccount(input: { readonly entity: string; readonly idempotencyKey: string; readonly body: { readonly userId: string; readonly productId: string } }): Promise<ProviderAnswer> {
    return this.#idempotent({ ...input, operation: 'createAccount', path: '/v1/accounts' }, async () => {
      const { userId, productId } = input.body;
      const user = await repository.findUser(this.#db, input.entity, userId);
      if (user === undefined) throw new SandboxError('not_found', `user ${JSON.stringify(userId)} does not exist`, { field: 'userId' });
      const product = this.config.products.find((candidate) => candidate.id === productId && candidate.entity === input.entity);
      if (product === undefined) throw new SandboxError('not_found', `product ${JSON.stringify(productId)} does not exist`, { field: 'productId' });
      const existing = await repository.findAccountOfUserInProduct(this.#db, input.entity, userId, productId);
      if (existing !== undefined) throw new SandboxError('account_exists', `user ${userId} already has account ${existing.earnAccountId} in product ${productId}`, { field: 'productId' });
      const accountId = this.#random.uuid();
      await this.books.openEarnAccount({ entity: input.entity, earnAccountId: accountId, earnUserId: userId, providerProductId: productId, currency: product.currency });
      const row = await repository.findAccount(this.#db, input.entity, accountId);
      assertInvariant(row !== undefined, `account ${accountId} was not stored`);
      return { status: 201, body: accountJson(row, formatUnits(0n)) };
    });
  }

  async #account(entity: string, accountId: string): Promise<repository.AccountRow> {
    const row = await repository.findAccount(this.#db, entity, accountId);
    if (row === undefined) throw new SandboxError('not_found', `account ${JSON.stringify(accountId)} does not exist`, { field: 'accountId' });
    return row;
  }

  /** `GET /v1/accounts/{accountId}`. */
  async getAccount(input: { readonly entity: string; readonly accountId: string }): Promise<Record<string, unknown>> {
    const row = await this.#account(input.entity, input.accountId);
    return accountJson(row, await this.ledger.balance(row.ledgerAccountId));
  }

  /** `GET /v1/users/{userId}/accounts`. */
  async listUserAccounts(input: { readonly entity: string; readonly userId: string; readonly page: PageRequest }): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    await this.getUser(input);
    const after = decodeCursor('a', input.page.cursor);
    const rows = await repository.selectUserAccounts(this.#db, { entity: input.entity, earnUserId: input.userId, afterLedgerAccountId: after, limit: input.page.limit });
    const page = rows.slice(0, input.page.limit);
    const items: Record<string, unknown>[] = [];
    for (const row of page) items.push(accountJson(row, await this.ledger.balance(row.ledgerAccountId)));
    const last = page[page.length - 1];
    return { items, nextCursor: rows.length > input.page.limit && last !== undefined ? encodeCursor('a', last.ledgerAccountId) : null };
  }

  // ---- bookings -----------------------------------------------------------------------------

  /**
   * `POST /v1/accounts/{accountId}/deposits|withdrawals`: books on the sandbox's ledger with the
   * clock's instant. The ledger posting and its stored answer share the ledger key
   * `http:<Idempotency-Key>`, so even an answer lost between the two is recovered on a retry.
   */
  async book(input: {
    readonly entity: string;
    readonly kind: 'deposit' | 'withdrawal';
    readonly accountId: string;
    readonly idempotencyKey: string;
    readonly body: { readonly amount: string; readonly reference?: string };
  }): Promise<ProviderAnswer> {
    const operation = input.kind === 'deposit' ? 'createDeposit' : 'createWithdrawal';
    const path = `/v1/accounts/${input.accountId}/${input.kind}s`;
    return this.#idempotent({ entity: input.entity, idempotencyKey: input.idempotencyKey, operation, path, body: input.body }, async (requestHash) => {
      const account = await this.#account(input.entity, input.accountId);
      const ledgerKey = `${LEDGER_KEY_PREFIX}${input.idempotencyKey}`;
      const recovered = await this.#recoverBooking(input.entity, ledgerKey, requestHash);
      if (recovered !== undefined) return { status: 201, body: recovered };
      const amount = this.ledger.parseAmount(input.body.amount, { field: 'amount', currency: account.currency, allowZero: false });
      const balanceUnits = toUnits(await this.ledger.balance(account.ledgerAccountId));
      const afterUnits = input.kind === 'deposit' ? balanceUnits + toUnits(amount) : balanceUnits - toUnits(amount);
      if (afterUnits < 0n) {
        throw new SandboxError('insufficient_balance', `withdrawal of ${amount} exceeds the balance ${formatUnits(balanceUnits)} of account ${account.earnAccountId}`, { field: 'amount' });
      }
      const bookingId = this.#random.uuid();
      const createdAt = formatInstant(this.now());
      const response: Record<string, unknown> = {
        id: bookingId,
        accountId: account.earnAccountId,
        type: input.kind === 'deposit' ? 'Deposit' : 'Withdrawal',
        amount,
        currency: account.currency,
        createdAt,
        balanceAfter: formatUnits(afterUnits),
        ...(input.body.reference === undefined ? {} : { reference: input.body.reference }),
      };
      const providerData: BookingProviderData = { requestHash, idempotencyKey: input.idempotencyKey, response };
      const record = { entity: input.entity, earnAccountId: account.earnAccountId, providerBookingId: bookingId, amount, occurredAt: createdAt, idempotencyKey: ledgerKey, providerData };
      const result = input.kind === 'deposit' ? await this.books.recordDeposit(record) : await this.books.recordWithdrawal(record);
      const line = result.transaction.entries.find((entry) => entry.accountId === account.ledgerAccountId);
      assertInvariant(result.status === 'created' && line !== undefined && toUnits(line.balanceAfter) === afterUnits, `booking ${bookingId}: the ledger's balance after differs from ${formatUnits(afterUnits)}`);
      return { status: 201, body: response };
    });
  }

  /** The stored answer of a booking already posted under `ledgerKey`, if any. */
  async #recoverBooking(entity: string, ledgerKey: string, requestHash: string): Promise<Record<string, unknown> | undefined> {
    const transaction = await this.ledger.transactionByKey(entity, ledgerKey);
    if (transaction === undefined) return undefined;
    const booking = await repository.findBookingByTransaction(this.#db, entity, transaction.id);
    assertInvariant(booking !== undefined, `ledger transaction ${transaction.id} has no booking row`);
    const data = JSON.parse(booking.providerData) as BookingProviderData;
    if (data.requestHash !== requestHash) throw new SandboxError('idempotency_conflict', `Idempotency-Key ${JSON.stringify(ledgerKey.slice(LEDGER_KEY_PREFIX.length))} was already used for another request`, { field: 'Idempotency-Key' });
    return data.response;
  }

  /** `GET /v1/accounts/{accountId}/transactions`: the account's history, oldest first. */
  async listTransactions(input: { readonly entity: string; readonly accountId: string; readonly page: PageRequest }): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    const account = await this.#account(input.entity, input.accountId);
    let history;
    try {
      history = await this.ledger.history(account.ledgerAccountId, { order: 'asc', limit: Math.min(input.page.limit, HISTORY_PAGE_SIZE_MAX), cursor: input.page.cursor ?? null });
    } catch (error) {
      throw fromLedgerError(error);
    }
    const items = history.items.map((item) => {
      const type = TRANSACTION_TYPES[item.kind] ?? item.kind;
      const booking = item.kind === 'deposit' || item.kind === 'withdrawal';
      return {
        id: item.providerId ?? `transaction-${item.transactionId}`,
        accountId: account.earnAccountId,
        type,
        amount: item.amount,
        currency: item.currency,
        createdAt: item.occurredAt,
        balanceAfter: item.balanceAfter,
        ...(booking && item.providerId !== null ? { bookingId: item.providerId } : {}),
      };
    });
    return { items, nextCursor: history.nextCursor };
  }

  /** `GET /v1/outstanding-balances`: the settlement position now, per currency of the entity. */
  async outstandingBalances(entity: string): Promise<{ asOf: string; balances: { currency: string; outstandingBalance: string }[] }> {
    const balances = [];
    for (const currency of this.#currenciesOf(entity)) {
      balances.push({ currency, outstandingBalance: await this.books.outstandingBalance({ entity, currency }) });
    }
    return { asOf: formatInstant(this.now()), balances };
  }

  #currenciesOf(entity: string): string[] {
    return [...new Set(this.config.products.filter((product) => product.entity === entity).map((product) => product.currency))].sort();
  }

  // ---- reports ------------------------------------------------------------------------------

  /** `GET /v1/reports?type=Report`: the entity's reports, oldest first. */
  async listReports(input: { readonly entity: string; readonly page: PageRequest }): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    const after = decodeCursor('r', input.page.cursor);
    const rows = await repository.selectReports(this.#db, { entity: input.entity, afterSequence: after, limit: input.page.limit });
    const page = rows.slice(0, input.page.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => ({ id: row.reportId, type: 'Report', accountingDay: row.accountingDay, createdAt: row.createdAt })),
      nextCursor: rows.length > input.page.limit && last !== undefined ? encodeCursor('r', last.sequence) : null,
    };
  }

  /**
   * `GET /v1/reports/{reportId}/download-uri`: a random download token that expires
   * `reportUrlLifetimeMs` later on the sandbox clock.
   */
  async issueDownload(input: { readonly entity: string; readonly reportId: string }): Promise<{ token: string; expiresAt: string }> {
    const content = await repository.findReportContent(this.#db, input.entity, input.reportId);
    if (content === undefined) throw new SandboxError('not_found', `report ${JSON.stringify(input.reportId)} does not exist`, { field: 'reportId' });
    const token = randomBytes(24).toString('base64url');
    const expiresAtMs = this.#nowMs + this.config.reportUrlLifetimeMs;
    if (this.#downloads.size >= DOWNLOADS_MAX) {
      const oldest = this.#downloads.keys().next().value;
      if (oldest !== undefined) this.#downloads.delete(oldest);
    }
    this.#downloads.set(token, { entity: input.entity, reportId: input.reportId, expiresAtMs });
    return { token, expiresAt: formatInstant(new Date(expiresAtMs)) };
  }

  /** The report text behind a download token; `download_unknown` or `download_expired` otherwise. */
  async download(token: string): Promise<string> {
    const download = this.#downloads.get(token);
    if (download === undefined) throw new SandboxError('download_unknown', 'this download URL was not issued by the sandbox');
    if (this.#nowMs >= download.expiresAtMs) throw new SandboxError('download_expired', `this download URL expired at ${formatInstant(new Date(download.expiresAtMs))}`);
    const content = await repository.findReportContent(this.#db, download.entity, download.reportId);
    assertInvariant(content !== undefined, `report ${download.reportId} vanished`);
    return content;
  }

  // ---- the clock and the accounting cycle ---------------------------------------------------

  /**
   * Moves the clock to `target`, closing every accounting day that ends on the way, in time
   * order across entities: at each local midnight the entity's cycle books interest and margin,
   * nets and settles, and publishes the day's report. The clock never goes backwards.
   */
  async advanceTo(target: Date): Promise<void> {
    const targetMs = target.getTime();
    if (!Number.isFinite(targetMs)) throw new SandboxError('invalid_option', 'the clock target must be a valid instant', { field: 'instant' });
    await this.#exclusive(async () => {
      if (targetMs < this.#nowMs) {
        throw new SandboxError('invalid_option', `the sandbox clock cannot go back from ${formatInstant(this.now())} to ${formatInstant(target)}`, { field: 'instant' });
      }
      for (;;) {
        let next: { entity: SandboxEntity; day: string; boundaryMs: number } | undefined;
        for (const entity of this.config.entities) {
          const day = nextAccountingDay(this.#lastClosedDay.get(entity.id) ?? previousAccountingDay(accountingDayOf(this.now(), entity.timeZone)));
          const boundaryMs = startOfAccountingDay(nextAccountingDay(day), entity.timeZone).getTime();
          if (boundaryMs <= targetMs && (next === undefined || boundaryMs < next.boundaryMs)) next = { entity, day, boundaryMs };
        }
        if (next === undefined) break;
        if (next.boundaryMs > this.#nowMs) this.#nowMs = next.boundaryMs;
        await this.#closeDay(next.entity, next.day);
        this.#lastClosedDay.set(next.entity.id, next.day);
        // A long move closes many days: let other requests (tokens, reads) be answered between them.
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.#nowMs = targetMs;
      await repository.writeState(this.#db, 'clock', formatInstant(this.now()));
    });
  }

  /** The cycle of one entity's day: interest, margin, settlement and the report. Safe to rerun. */
  async #closeDay(entity: SandboxEntity, day: string): Promise<void> {
    const creditedAt = formatInstant(startOfAccountingDay(nextAccountingDay(day), entity.timeZone));
    // One pass: the lines the cycle books are the ones the report publishes.
    const lines: CycleLine[] = [];
    const summary = await runAccountingCycle({ books: this.books, entity: entity.id, day, onLines: (batch) => lines.push(...batch) });
    const accounts = await repository.selectAccountsOfEntity(this.#db, entity.id);
    const byLedgerId = new Map([...accounts.values()].map((account) => [account.ledgerAccountId, account]));

    const flows = new Map<string, { depositsUnits: bigint; withdrawalsUnits: bigint; feesUnits: bigint; partnerMarginUnits: bigint }>();
    const flowOf = (currency: string) => {
      let flow = flows.get(currency);
      if (flow === undefined) {
        flow = { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
        flows.set(currency, flow);
      }
      return flow;
    };
    for (const currency of this.#currenciesOf(entity.id)) flowOf(currency);

    const transactions: ReportEntryJson[] = [];
    let afterId = 0;
    for (;;) {
      const page = await this.ledger.transactionsOfDay({ entity: entity.id, day, afterId, limit: DAY_PAGE_SIZE_MAX });
      for (const transaction of page) {
        if (transaction.kind !== 'deposit' && transaction.kind !== 'withdrawal') continue;
        const line = transaction.entries.find((entry) => byLedgerId.has(entry.accountId));
        const account = line === undefined ? undefined : byLedgerId.get(line.accountId);
        assertInvariant(line !== undefined && account !== undefined && transaction.providerId !== null, `booking transaction ${transaction.id} has no Earn account line`);
        const units = toUnits(line.amount);
        const flow = flowOf(line.currency);
        if (transaction.kind === 'deposit') flow.depositsUnits += units;
        else flow.withdrawalsUnits += units;
        transactions.push({
          id: localEntryId(entity.id, day, 'booking', transaction.providerId),
          type: TRANSACTION_TYPES[transaction.kind] ?? transaction.kind,
          currency: line.currency,
          amount: line.amount,
          createdAt: transaction.occurredAt,
          accountId: account.earnAccountId,
          userId: account.earnUserId,
          productId: account.productId,
          bookingId: transaction.providerId,
          idempotencyKey: transaction.idempotencyKey.startsWith(LEDGER_KEY_PREFIX) ? transaction.idempotencyKey.slice(LEDGER_KEY_PREFIX.length) : transaction.idempotencyKey,
        });
      }
      const last = page[page.length - 1];
      if (last === undefined || page.length < DAY_PAGE_SIZE_MAX) break;
      afterId = last.id;
    }

    let hasInterest = false;
    for (const line of lines) {
      if (toUnits(line.userInterest) === 0n) continue;
      hasInterest = true;
      const account = accounts.get(line.earnAccountId);
      transactions.push({
        id: cycleInterestEntryId(day, line.ledgerAccountId),
        type: 'Interest',
        currency: line.currency,
        amount: line.userInterest,
        createdAt: creditedAt,
        accountId: line.earnAccountId,
        ...(account === undefined ? {} : { userId: account.earnUserId, productId: account.productId }),
      });
    }
    for (const [currency, total] of [...summary.totals].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const marginUnits = toUnits(total.partnerMargin);
      if (marginUnits === 0n) continue;
      flowOf(currency).partnerMarginUnits += marginUnits;
      transactions.push({ id: localEntryId(entity.id, day, 'margin', currency), type: 'PartnerMargin', currency, amount: total.partnerMargin, createdAt: creditedAt });
    }

    const carriedIn = await repository.selectCarriedOut(this.#db, entity.id, previousAccountingDay(day));
    for (const [currency, carried] of carriedIn) if (toUnits(carried) !== 0n) flowOf(currency);
    const thresholds = this.config.settlementThresholds.get(entity.id);
    const figures: SettlementFigures[] = [...flows]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([currency, flow]) =>
        settleCurrencyDay({ currency, flows: flow, carriedInUnits: toUnits(carriedIn.get(currency) ?? '0'), thresholdUnits: toUnits(thresholds?.get(currency) ?? '0') }),
      );
    for (const figure of figures) {
      const settledUnits = toUnits(figure.settled);
      if (settledUnits === 0n) continue;
      // The sandbox assumes that every settlement due is made at the day boundary, so that its
      // settlement account holds exactly what is carried.
      await this.books.recordSettlement({
        entity: entity.id,
        currency: figure.currency,
        direction: settledUnits < 0n ? 'to_provider' : 'from_provider',
        amount: formatUnits(settledUnits < 0n ? -settledUnits : settledUnits),
        occurredAt: creditedAt,
        idempotencyKey: `sandbox:settlement:${entity.id}:${day}:${figure.currency}`,
      });
    }

    const report: DailyReportJson = {
      id: localEntryId(entity.id, day, 'report', '1'),
      type: 'Report',
      entity: entity.id,
      accountingDay: day,
      timeZone: entity.timeZone,
      generatedAt: creditedAt,
      transactions,
      balances: figures.map(reportBalanceOf),
    };
    const faults = this.#faults.takeReportFaults({ entity: entity.id, hasInterest });
    const { published, restated } = applyReportFaults(report, faults, localEntryId(entity.id, day, 'report', '2'));
    // Validated once, when published: downloads serve the stored text as it is.
    for (const version of restated === undefined ? [published] : [published, restated]) {
      try {
        validateContract('DailyReport', version, { operation: 'sandbox report' });
      } catch (error) {
        throw new SandboxError('contract_violation', `the sandbox was about to publish report ${version.id} outside the contract`, { cause: error });
      }
    }
    await this.ledger.dialect.writeTransaction(this.#db, async (trx) => {
      await repository.insertSettlements(
        trx,
        figures.map((figure) => ({ entity: entity.id, currency: figure.currency, accountingDay: day, outstanding: figure.outstanding, settled: figure.settled, carriedOut: figure.carriedOut })),
      );
      await repository.insertReport(trx, { reportId: published.id, entity: entity.id, accountingDay: day, version: 1, createdAt: creditedAt, content: JSON.stringify(published) });
      if (restated !== undefined) {
        await repository.insertReport(trx, { reportId: restated.id, entity: entity.id, accountingDay: day, version: 2, createdAt: creditedAt, content: JSON.stringify(restated) });
      }
      await repository.insertClosedDay(trx, entity.id, day, creditedAt);
    });
  }

  /**
   * Restates a published day now, as a provider does after the partner processed the original:
   * publishes the next version of the entity's newest report of the day (a new id, `createdAt`
   * the sandbox's now) with its first interest entry changed by `deltaUnits`. The books are
   * unchanged. A day without a published report, or without interest, is `invalid_option`.
   */
  async publishRestatement(options: PublishRestatementOptions): Promise<{ readonly reportId: string; readonly version: number; readonly createdAt: string }> {
    const { entity, accountingDay, deltaUnits } = checkRestatementOptions(options, [...this.#entities.keys()]);
    return this.#exclusive(async () => {
      const newest = await repository.findNewestReportOfDay(this.#db, entity, accountingDay);
      if (newest === undefined) throw new SandboxError('invalid_option', `${entity} has published no report for accounting day ${accountingDay} to restate`, { field: 'accountingDay' });
      const version = newest.version + 1;
      const restated = restatedReport(JSON.parse(newest.content) as DailyReportJson, { id: localEntryId(entity, accountingDay, 'report', String(version)), deltaUnits });
      if (restated === undefined) throw new SandboxError('invalid_option', `the ${entity} report of ${accountingDay} has no interest entry to restate`, { field: 'accountingDay' });
      try {
        validateContract('DailyReport', restated, { operation: 'sandbox report' });
      } catch (error) {
        throw new SandboxError('contract_violation', `the sandbox was about to publish report ${restated.id} outside the contract`, { cause: error });
      }
      const createdAt = formatInstant(this.now());
      await repository.insertReport(this.#db, { reportId: restated.id, entity, accountingDay, version, createdAt, content: JSON.stringify(restated) });
      return Object.freeze({ reportId: restated.id, version, createdAt });
    });
  }

  // ---- for tests ----------------------------------------------------------------------------

  /** Every booking of an entity in the sandbox's books, oldest first. */
  async bookings(entity: string): Promise<SandboxBooking[]> {
    const rows = await repository.selectBookings(this.#db, entity);
    return rows.map((row) => {
      const data = JSON.parse(row.providerData) as BookingProviderData;
      return Object.freeze({
        entity,
        bookingId: row.providerBookingId,
        kind: row.kind === 'withdrawal' ? 'withdrawal' : 'deposit',
        accountId: row.earnAccountId,
        amount: formatUnits(toUnits(row.amount)),
        currency: row.currency,
        createdAt: row.occurredAt,
        idempotencyKey: data.idempotencyKey,
      });
    });
  }

  /** The balance of an Earn account in the sandbox's books. */
  async accountBalance(input: { readonly entity: string; readonly accountId: string }): Promise<Amount> {
    const row = await this.#account(input.entity, input.accountId);
    return this.ledger.balance(row.ledgerAccountId);
  }

  /** Checks every invariant of the sandbox's books. */
  async verify(): Promise<VerifyReport> {
    return this.ledger.verify({ allEntities: true });
  }

  /** Waits for queued writes and closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#downloads.clear();
    await this.ledger.close();
  }
}

function userJson(user: { userId: string; createdAt: string; externalReference: string | null }): Record<string, unknown> {
  return { id: user.userId, createdAt: user.createdAt, ...(user.externalReference === null ? {} : { externalReference: user.externalReference }) };
}

function accountJson(row: repository.AccountRow, balance: string): Record<string, unknown> {
  return { id: row.earnAccountId, userId: row.earnUserId, productId: row.productId, currency: row.currency, balance, createdAt: row.createdAt };
}

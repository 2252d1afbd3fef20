/**
 * The double-entry ledger: immutable journal transactions, idempotent writes, balances now and
 * at the end of any accounting day, paginated history, and a full invariant check.
 *
 * This module is the facade: the {@link Ledger} class and its public shapes. The work lives by
 * concept beside it: `accounts.ts` (opening and finding accounts), `post-batch.ts` and
 * `post-lines.ts` (posting), `journal-reads.ts` (reading back, history, day pages),
 * `verify.ts` (the invariant check), `open-books.ts` (entities on open); every SQL statement is
 * in `db/`.
 */
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant, describeValue, isArrayInput, requireObject } from './errors.js';
import { AMOUNT_SCALE_DEFAULT, assertCurrencyScale, assertScale, formatUnits, parseUnits } from './money.js';
import type { Amount } from './money.js';
import { dateMs, formatInstant, parseAccountingDay } from './calendar.js';
import { SYSTEM_ACCOUNT_KINDS, isAccountKind } from './chart.js';
import type { AccountKind } from './chart.js';
import { normalizePosting, parseTransactionKind, readPosting } from './posting.js';
import { readFields, requireFunction } from './input-fields.js';
import { requireWellFormed } from './text.js';
import type { NormalizedPosting, PostingInput, TransactionKind } from './posting.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import { migrateLedger, unappliedLedgerMigrations } from './db/migrations.js';
import * as repository from './db/repository.js';
import { readBalanceAtEndOfDayUnits, readBalanceUnits } from './balances.js';
import { normalizeLines, readLines } from './posting-lines.js';
import type { LinesInput, LinesResult, NormalizedLines } from './posting-lines.js';
import { postLinesWithin, requireBulk } from './post-lines.js';
import type { PlannedRows, PostLinesContext } from './post-lines.js';
import type { BulkAccountRow } from './db/journal-bulk.js';
import { CommitQueue, checkGroupCommitOptions } from './commit-queue.js';
import { commitPostingGroup } from './group-post.js';
import { idempotencyConflict, storedContent } from './idempotency-conflict.js';
import { SILENT_LEDGER_LOGGER, isLedgerLogger } from './logger.js';
import type { LedgerLogger } from './logger.js';
import { AccountDirectory, parseCurrency, readAccountPage } from './accounts.js';
import { PLACEHOLDER_SYSTEM_ACCOUNT_IDS, postOpeningSystemAccounts } from './system-accounts.js';
import type { SystemAccountIds } from './system-accounts.js';
import { postBatch, shardPicker } from './post-batch.js';
import { assertNoPartialWrite, markPartialWrite } from './partial-writes.js';
import type { PostBatchContext } from './post-batch.js';
import { readHistory, readTransaction, readTransactionsOfDay } from './journal-reads.js';
import { verifyBooks } from './verify.js';
import { entitiesToOpen, parseEntities, readOpenOptions, recordEntities, refusePendingMigrations } from './open-books.js';
import { POST_BATCH_MAX } from './ledger-types.js';
import type {
  HistoryOptions,
  HistoryPage,
  JournalTransaction,
  LedgerAccount,
  LedgerEntity,
  LedgerOptions,
  PostResult,
  PostingScope,
  ReverseInput,
  VerifyReport,
} from './ledger-types.js';

export { ACCOUNTS_PAGE_SIZE_MAX, DAY_PAGE_SIZE_MAX, DEFAULT_ENTITIES, ENTITIES_MAX, HISTORY_PAGE_SIZE_MAX, POST_BATCH_MAX } from './ledger-types.js';
export type {
  HistoryItem,
  HistoryOptions,
  HistoryPage,
  JournalEntry,
  JournalTransaction,
  LedgerAccount,
  LedgerEntity,
  LedgerOptions,
  LedgerStorage,
  PostResult,
  PostingScope,
  ReverseInput,
  ScopeLinesOptions,
  VerifyReport,
} from './ledger-types.js';
export { CACHED_USER_ACCOUNTS_MAX, parseCurrency } from './accounts.js';

/**
 * Inside the package only (not exported by the index): posts normalized lines in an open write
 * transaction with account rows the caller already read there (see `postLinesWithin`'s `known`):
 * where the dialect has row locks, the caller read them locked, after taking the provider-id
 * claim lock (`claimsHeld`). The accounting cycle reads its accounts with their balances and
 * posts with them. `options`: how the posting's provider ids are checked (see `postLinesWithin`).
 */
export let postLinesWithKnownAccounts: (
  ledger: Ledger,
  trx: Kysely<LedgerDatabase>,
  posting: NormalizedLines,
  known: ReadonlyMap<number, BulkAccountRow>,
  options?: { readonly claimsHeld?: boolean; readonly providerIdsAbsent?: boolean; readonly providerIdsDense?: boolean; readonly onPlanned?: PlannedRows },
) => Promise<LinesResult>;

/**
 * The ledger's clock: `now` (default the system clock) read through a check, each reading a real
 * Date of a valid time (a copy), else `invalid_input` naming `now`. A clock answering a string, a
 * proxy of a Date or an invalid Date reached the journal's timestamps as a raw TypeError.
 */
function checkedClock(now: unknown): () => Date {
  if (now === undefined) return () => new Date();
  if (typeof now !== 'function') throw new LedgerError('invalid_input', `now must be a function returning a Date, got ${describeValue(now)}`, { field: 'now', value: describeValue(now) });
  return () => {
    const reading: unknown = (now as () => unknown)();
    const ms = dateMs(reading);
    if (ms === undefined || !Number.isFinite(ms)) throw new LedgerError('invalid_input', `now must return a valid Date, got ${describeValue(reading)}`, { field: 'now', value: describeValue(reading) });
    return new Date(ms);
  };
}

/**
 * The ledger. Open it with {@link Ledger.open} on a SQLite or PostgreSQL storage.
 *
 * @example
 * const { db, dialect } = openSqliteDatabase({ filename: ':memory:' });
 * const ledger = await Ledger.open({ storage: { db, dialect } });
 * const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a1', kind: 'user' });
 */
export class Ledger {
  static {
    postLinesWithKnownAccounts = (ledger, trx, posting, known, options) =>
      postLinesWithin(trx, posting, ledger.#linesContext(), { ...options, known });
  }

  readonly db: Kysely<LedgerDatabase>;
  /**
   * The storage's dialect, except that its `writeTransaction` remembers the accounts read or
   * opened in the transaction only once it commits (the ledger caches committed accounts only).
   */
  readonly dialect: LedgerDialect;
  /** The PostgreSQL schema of the tables, when one was given. */
  readonly schema: string | undefined;
  readonly entities: ReadonlyMap<string, LedgerEntity>;
  /** The logger given to {@link Ledger.open} (silent by default); the reconciler logs to it too. */
  readonly logger: LedgerLogger;
  readonly #currencyScales: Readonly<Record<string, number>>;
  readonly #now: () => Date;
  readonly #accounts: AccountDirectory;
  readonly #posting: PostBatchContext;
  readonly #commits: CommitQueue<NormalizedPosting, PostResult>;

  private constructor(options: LedgerOptions, entities: ReadonlyMap<string, LedgerEntity>) {
    this.db = options.storage.db;
    this.schema = options.storage.schema;
    this.entities = entities;
    this.logger = options.logger ?? SILENT_LEDGER_LOGGER;
    if (options.logger !== undefined) options.storage.dialect.logConnectionErrorsTo?.(options.logger);
    this.#currencyScales = Object.freeze({ ...(options.currencyScales ?? {}) });
    this.#now = checkedClock(options.now);
    const accounts = new AccountDirectory({ db: this.db, now: this.#now });
    const storageDialect = options.storage.dialect;
    this.#accounts = accounts;
    this.dialect = Object.freeze<LedgerDialect>({
      ...storageDialect,
      writeTransaction: (db, work) => accounts.writeTransaction(storageDialect, db, work),
    });
    this.#posting = Object.freeze({ dialect: this.dialect, now: this.#now, currencyScale: (currency: string) => this.currencyScale(currency), accounts: this.#accounts, shardOf: shardPicker(this.dialect.balanceShardCount ?? 0) });
    this.#commits = new CommitQueue(
      options.groupCommit ?? {},
      (postings) => commitPostingGroup({ db: this.db, dialect: this.dialect, postBatch: (trx, group) => postBatch(this.#posting, trx, group) }, postings),
      this.logger,
    );
  }

  /** Opens the ledger: validates the configuration, migrates, and records the entities. */
  static async open(given: LedgerOptions): Promise<Ledger> {
    const options = readOpenOptions(given);
    const entities = parseEntities(await entitiesToOpen(options));
    for (const [currency, scale] of Object.entries(options.currencyScales ?? {})) assertScale(scale, `currencyScales.${currency}`);
    // Every option is checked before the migration creates or upgrades the books.
    checkGroupCommitOptions(options.groupCommit ?? {});
    // The clock read once: one that is not a function or answers no real Date is refused here,
    // not after the migration (a review, session 44).
    checkedClock(options.now)();
    if (options.logger !== undefined && !isLedgerLogger(options.logger)) {
      throw new LedgerError('invalid_input', `logger must have info, warn, error and debug methods, got ${describeValue(options.logger)}`, { field: 'logger', value: describeValue(options.logger) });
    }
    const schema = options.storage.schema === undefined ? {} : { schema: options.storage.schema };
    if (options.migrate !== false) await migrateLedger(options.storage.db as Kysely<unknown>, options.storage.dialect, schema);
    else refusePendingMigrations(await unappliedLedgerMigrations(options.storage.db as Kysely<unknown>, options.storage.dialect, schema));
    const ledger = new Ledger(options, entities);
    await recordEntities({ db: ledger.db, dialect: ledger.dialect }, entities.values(), ledger.#now());
    ledger.logger.info({ event: 'ledger.open', dialect: ledger.dialect.name, entities: [...entities.values()] }, `opened the books (${ledger.dialect.name}): ${[...entities.keys()].join(', ')}`);
    return ledger;
  }

  /** Closes the database connection. */
  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** The configuration of an entity, or a typed error. */
  entity(id: unknown, field = 'entity'): LedgerEntity {
    const config = typeof id === 'string' ? this.entities.get(id) : undefined;
    if (config === undefined) {
      throw new LedgerError('unknown_entity', `${field} must be one of ${[...this.entities.keys()].join(', ')}, got ${describeValue(id)}`, { field, value: describeValue(id) });
    }
    return config;
  }

  /** Decimal places of a currency (default 18). */
  currencyScale(currency: string): number {
    return this.#currencyScales[currency] ?? AMOUNT_SCALE_DEFAULT;
  }

  /**
   * Parses a positive amount of a currency from input, canonical at 18 decimals. The currency's
   * scale bounds the amount's precision, not its text. The provider writes every amount with 18
   * decimals, and postings check an amount's value, not its text, so "0.500000000000000000" BTC
   * is 0.5 BTC at 8 decimals. A digit past the scale is refused (`invalid_amount`, naming
   * `field`).
   */
  parseAmount(input: unknown, given: { field: string; currency: string; allowZero?: boolean }): Amount {
    const options = readFields(given, ['field', 'currency', 'allowZero'], { field: 'options' });
    const units = parseUnits(input, { field: options.field, allowZero: options.allowZero ?? false });
    assertCurrencyScale(units, { scale: this.currencyScale(options.currency), currency: options.currency, field: options.field });
    return formatUnits(units);
  }

  // ---- accounts ---------------------------------------------------------------------------

  /**
   * Opens an account, or returns the existing one with the same (entity, currency, code).
   * The same code with a different kind is an `idempotency_conflict`.
   */
  async openAccount(input: { entity: string; currency: string; code: string; kind: AccountKind }, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    const fields = readFields(input, ['entity', 'currency', 'code', 'kind']);
    const entity = this.entity(fields.entity).id;
    const currency = parseCurrency(fields.currency);
    return this.#accounts.open(db, { entity, currency, code: fields.code, kind: fields.kind });
  }

  /** The system account of a kind for (entity, currency), opened on first use. */
  async systemAccount(entity: string, currency: string, kind: Exclude<AccountKind, 'user'>, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    // A user account is opened by openAccount under its own code, never as "the" account of its kind.
    if (!(SYSTEM_ACCOUNT_KINDS as readonly unknown[]).includes(kind)) throw new LedgerError('invalid_input', `kind must be a system account kind, got ${describeValue(kind)}`, { field: 'kind', value: describeValue(kind) });
    return this.openAccount({ entity, currency, code: kind, kind }, db);
  }

  /**
   * The ids of every system account of (entity, currency), opened on first use (in `db`: pass a
   * transaction to open them in it). Opened through the books' own handle they commit at once,
   * whatever happens next: to post with them, use {@link Ledger.postWithSystemAccounts}, which
   * opens them with the posting.
   */
  async systemAccountIds(entity: string, currency: string, db: Kysely<LedgerDatabase> = this.db): Promise<Record<Exclude<AccountKind, 'user'>, number>> {
    const ids: Partial<Record<Exclude<AccountKind, 'user'>, number>> = {};
    for (const kind of SYSTEM_ACCOUNT_KINDS) ids[kind] = (await this.systemAccount(entity, currency, kind, db)).id;
    return ids as Record<Exclude<AccountKind, 'user'>, number>;
  }

  /**
   * Posts `build(ids)`, `ids` those of every system account of (entity, currency), opening the
   * missing ones with the posting: a posting refused for any reason (bad input, a balance rule, an
   * idempotency conflict) leaves no account behind. Where they are all open and known (the common
   * case) this is {@link Ledger.post} (or `scope.post`) with them, without a read. Otherwise the
   * posting is checked first, then the accounts are opened in its own transaction (in `scope`'s,
   * when given, after a savepoint that a refusal rolls back to, so `scope` may catch it and go on).
   *
   * @example
   * await ledger.postWithSystemAccounts({ entity: 'defi', currency: 'BTC' }, (ids) => ({
   *   entity: 'defi', kind: 'fee', idempotencyKey: 'fee-1', occurredAt: '2025-03-19T00:00:00Z',
   *   entries: [{ accountId: ids.fee_expense, side: 'debit', amount: '0.1' }, { accountId: ids.settlement, side: 'credit', amount: '0.1' }],
   * }));
   */
  async postWithSystemAccounts(target: { entity: string; currency: string }, build: (ids: SystemAccountIds) => PostingInput, scope?: PostingScope): Promise<PostResult> {
    // A target or scope that answers no read (a revoked proxy) is invalid_input, not a TypeError.
    const read = typeof target === 'object' && target !== null ? readFields(target, ['entity', 'currency'], { field: 'target' }) : { entity: undefined, currency: undefined };
    if (scope !== undefined) requireObject(scope, 'scope');
    const entity = this.entity(read.entity).id;
    const currency = parseCurrency(read.currency);
    requireFunction(build, 'build');
    const known = this.#accounts.knownSystemAccounts(scope?.db ?? this.db, entity, currency);
    if (known.missing.length === 0) {
      const posting = build(known.ids as SystemAccountIds);
      return scope === undefined ? this.post(posting) : scope.post(posting);
    }
    // Bad input is refused before a transaction opens anything.
    this.#normalize(build(PLACEHOLDER_SYSTEM_ACCOUNT_IDS));
    if (scope === undefined) return this.transact((own) => this.postWithSystemAccounts({ entity, currency }, build, own));
    const opening = { accounts: this.#accounts, open: (e: string, c: string, db: Kysely<LedgerDatabase>) => this.systemAccountIds(e, c, db) };
    return postOpeningSystemAccounts(opening, scope, { entity, currency, missing: known.missing }, build);
  }

  /** An account by id, or an `unknown_account` error. */
  async account(id: number, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    return this.#accounts.byId(db, id);
  }

  /**
   * An account by (entity, currency, code), or undefined. An unknown entity is `unknown_entity`
   * and a currency that is not one (`parseCurrency`) `invalid_input`: no account could match them.
   */
  async findAccount(input: { entity: string; currency: string; code: string }): Promise<LedgerAccount | undefined> {
    requireObject(input, 'input');
    const entity = this.entity(input.entity).id;
    const currency = parseCurrency(input.currency);
    return this.#accounts.byCode(this.db, { entity, currency, code: input.code });
  }

  /**
   * Lists an entity's accounts (optionally of one currency or kind, each checked), by id: those
   * after `afterId` (exclusive), at most `limit` (1..{@link ACCOUNTS_PAGE_SIZE_MAX}) of them.
   * Without `limit`, every one: on books of many users, walk them in pages (the next page starts
   * after the last id of this one; a page shorter than `limit` is the last).
   */
  async listAccounts(input: { entity: string; currency?: string; kind?: AccountKind; afterId?: number; limit?: number }): Promise<LedgerAccount[]> {
    requireObject(input, 'input');
    const entity = this.entity(input.entity).id;
    const currency = input.currency === undefined ? {} : { currency: parseCurrency(input.currency) };
    if (input.kind !== undefined && !isAccountKind(input.kind)) throw new LedgerError('invalid_input', `kind must be an account kind, got ${describeValue(input.kind)}`, { field: 'kind', value: describeValue(input.kind) });
    const page = readAccountPage(input, { field: 'afterId', value: input.afterId });
    return this.#accounts.list(this.db, { entity, ...currency, ...(input.kind === undefined ? {} : { kind: input.kind }), page });
  }

  // ---- posting ----------------------------------------------------------------------------

  /**
   * Posts one journal transaction, idempotently: the same `idempotencyKey` with the same content
   * returns the stored transaction with status `exists`; with other content it is an
   * `idempotency_conflict`. Nothing is written when an error is thrown.
   *
   * Concurrent calls in one process share database transactions (group commit, tuned by
   * {@link LedgerOptions.groupCommit}): what arrives while a commit is in flight commits next,
   * together, in arrival order; a refused posting gets its own error and costs the others at most
   * one more commit.
   */
  async post(input: PostingInput): Promise<PostResult> {
    const posting = this.#normalize(input);
    // Concurrent callers share commits (group commit); each still gets its own result or error.
    return this.#commits.submit(posting);
  }

  /**
   * Posts many transactions in one database transaction: all are written or none.
   * Each is idempotent on its own key, as with {@link Ledger.post}.
   */
  async postMany(inputs: readonly PostingInput[]): Promise<PostResult[]> {
    checkBatch(inputs);
    const postings = inputs.map((input) => this.#normalize(input));
    const entities = [...new Set(postings.map((posting) => posting.entity))];
    return this.dialect.writeTransaction(this.db, async (trx) => {
      // One entity per bulk write; a mixed batch is split and the results put back in order.
      if (entities.length === 1) return postBatch(this.#posting, trx, postings);
      const results: PostResult[] = new Array<PostResult>(postings.length);
      for (const entity of entities) {
        const indexes = postings.flatMap((posting, index) => (posting.entity === entity ? [index] : []));
        const part = await postBatch(this.#posting, trx, indexes.map((index) => postings[index] as NormalizedPosting));
        indexes.forEach((index, at) => {
          const result = part[at];
          if (result !== undefined) results[index] = result;
        });
      }
      return results;
    });
  }

  /**
   * Runs `work` in one write transaction in which {@link PostingScope.post} posts; other
   * writes through `scope.db` (e.g. the Earn mirror) commit or roll back with the postings.
   * A posting refused with a `LedgerError` wrote nothing: `work` may catch it and go on. A
   * posting that failed any other way (or part-way through its writes) may have left part of its
   * rows: from then on the scope refuses to post, and the transaction rolls back with a
   * `transaction_aborted` error (its `cause` the failure) even if `work` caught that failure.
   */
  async transact<T>(work: (scope: PostingScope) => Promise<T>): Promise<T> {
    requireFunction(work, 'work');
    return this.dialect.writeTransaction(this.db, async (trx) => {
      // A posting that failed part-way leaves the scope unable to post or commit, even if `work`
      // caught its error (partial-writes.ts); so does any failure that is not a LedgerError (a
      // refusal decided before writing): on PostgreSQL it has aborted the transaction.
      const guarded = async <R>(post: () => Promise<R>): Promise<R> => {
        assertNoPartialWrite(trx);
        try {
          return await post();
        } catch (error) {
          if (!(error instanceof LedgerError)) markPartialWrite(trx, error);
          throw error;
        }
      };
      const result = await work({
        db: trx,
        post: (input) => guarded(() => this.#postWithin(trx, this.#normalize(input))),
        postMany: (inputs) =>
          guarded(() => {
            checkBatch(inputs);
            return postBatch(this.#posting, trx, inputs.map((input) => this.#normalize(input)));
          }),
        postLines: (input, options) => guarded(() => postLinesWithin(trx, this.#normalizeLines(input), this.#linesContext(), { providerIdsAbsent: options?.providerIdsAbsent === true })),
      });
      assertNoPartialWrite(trx);
      return result;
    });
  }

  /**
   * Posts a compound transaction: every line moves one account on `side` and carries its own
   * provider id; the contra account takes their sum on the other side (the cycle's interest:
   * Dr earn_assets once, Cr each user). Idempotent per line: a line whose provider id is booked
   * is `exists` (same account and amount) or an `idempotency_conflict` naming the field that
   * differs. Lines already booked are skipped; the rest are written in one transaction.
   */
  async postLines(input: LinesInput): Promise<LinesResult> {
    requireBulk(this.dialect.bulk);
    const posting = this.#normalizeLines(input);
    return this.dialect.writeTransaction(this.db, (trx) => postLinesWithin(trx, posting, this.#linesContext()));
  }

  /** Validates a caller's compound posting; every caller's input goes through here, whatever properties it carries. */
  #normalizeLines(input: LinesInput): NormalizedLines {
    // Read once: the entity whose zone dates the posting is the entity it is posted in.
    const fields = typeof input === 'object' && input !== null ? readLines(input) : input;
    return normalizeLines(fields, this.entity(fields?.entity).timeZone);
  }

  #linesContext(): PostLinesContext {
    return { dialect: this.dialect, createdAt: formatInstant(this.#now()), currencyScale: (currency) => this.currencyScale(currency) };
  }

  #normalize(input: PostingInput, reversesTransactionId?: number): NormalizedPosting {
    // Read once: the entity whose zone dates the posting is the entity it is posted in.
    const fields = typeof input === 'object' && input !== null ? readPosting(input) : input;
    const entity = this.entity(fields?.entity);
    return normalizePosting(fields, reversesTransactionId === undefined ? { timeZone: entity.timeZone } : { timeZone: entity.timeZone, reversesTransactionId });
  }

  async #postWithin(trx: Kysely<LedgerDatabase>, posting: NormalizedPosting): Promise<PostResult> {
    const [result] = await postBatch(this.#posting, trx, [posting]);
    assertInvariant(result !== undefined, 'a posted batch of one returned nothing');
    return result;
  }

  /**
   * Reverses a transaction: a new `reversal` transaction with every entry on the other side,
   * linked to the original. A transaction is reversed at most once; the reversal obeys the
   * account rules (a user balance cannot go negative). A compound transaction ({@link Ledger.postLines})
   * is reversed whole, in one reversal of all its entries (up to `REVERSAL_ENTRIES_MAX`).
   * A second reversal is `already_reversed`; the same one again (same key and content) `exists`,
   * also when the two are called at once (they take turns on the original's row).
   */
  async reverse(input: ReverseInput): Promise<PostResult> {
    if (typeof input !== 'object' || input === null) throw new LedgerError('invalid_input', `reverse takes an object, got ${describeValue(input)}`, { field: 'input', value: describeValue(input) });
    const fields = readFields(input, ['entity', 'transactionId', 'idempotencyKey', 'occurredAt', 'description']);
    const entity = this.entity(fields.entity).id;
    const original = await this.transaction(fields.transactionId);
    if (original.entity !== entity) throw new LedgerError('mixed_entities', `transaction ${original.id} belongs to ${original.entity}, not ${entity}`, { field: 'transactionId', value: String(original.id) });
    if (original.kind === 'reversal') throw new LedgerError('invalid_input', `transaction ${original.id} is a reversal; post an adjustment instead`, { field: 'transactionId', value: String(original.id) });
    const posting = this.#normalize(
      {
        entity,
        kind: 'reversal',
        idempotencyKey: fields.idempotencyKey,
        occurredAt: fields.occurredAt,
        ...(fields.description === undefined ? {} : { description: fields.description }),
        entries: original.entries.map((entry) => ({ accountId: entry.accountId, side: entry.side === 'debit' ? 'credit' : 'debit', amount: entry.amount })),
      },
      original.id,
    );
    try {
      return await this.dialect.writeTransaction(this.db, async (trx) => {
        // Concurrent reversals of one transaction take turns on its row: the later one reads the
        // earlier one's reversal below, under its key (`exists`) or another (`already_reversed`).
        await repository.lockTransactionForReversal(trx, this.dialect, original.id);
        const existing = (await repository.findTransactionByKey(trx, entity, posting.idempotencyKey)) ?? (await repository.findReversalOf(trx, original.id));
        if (existing?.idempotency_key === posting.idempotencyKey) {
          const transaction = await readTransaction(trx, existing.id);
          if (existing.request_hash !== posting.requestHash) throw idempotencyConflict(posting, storedContent(transaction), existing.id);
          return { status: 'exists', transaction };
        }
        if (existing !== undefined) throw alreadyReversed(original.id, existing.id);
        return this.#postWithin(trx, posting);
      });
    } catch (error) {
      // A safety net behind the lock: the unique index on the reversed transaction is answered as
      // the ledger's refusal, never as the driver's error.
      if (!repository.isUniqueViolation(error, 'journal_transactions_reverses')) throw error;
      const reversal = await repository.findReversalOf(this.db, original.id);
      throw alreadyReversed(original.id, reversal?.id, error);
    }
  }

  // ---- reads ------------------------------------------------------------------------------

  /**
   * Runs `work` in one read-only transaction whose reads all see one snapshot of the books, for
   * reads that must agree with each other (a day's entries in pages, and the mark that says
   * whether they are still current: {@link providerEntriesDayMark}). Pass its handle to the read
   * functions, and only it: on SQLite the ledger's one connection is the snapshot's until `work`
   * ends, so a read through `ledger.db` inside `work` waits for ever. Only for reads: on SQLite the
   * transaction does not refuse a write. On SQLite the snapshot is taken at the first read, and
   * writers on other connections go on meanwhile.
   */
  async readSnapshot<T>(work: (db: Kysely<LedgerDatabase>) => Promise<T>): Promise<T> {
    return repository.readSnapshot(this.db, work);
  }

  /** A transaction by id (an `unknown_transaction` error if absent). */
  async transaction(id: number): Promise<JournalTransaction> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new LedgerError('unknown_transaction', `transactionId must be a positive integer, got ${describeValue(id)}`, { field: 'transactionId', value: describeValue(id) });
    return readTransaction(this.db, id);
  }

  /** The transaction posted under an idempotency key, if any. */
  async transactionByKey(entity: string, idempotencyKey: string): Promise<JournalTransaction | undefined> {
    const row = await repository.findTransactionByKey(this.db, this.entity(entity).id, requireWellFormed(idempotencyKey, 'idempotencyKey'));
    return row === undefined ? undefined : readTransaction(this.db, row.id);
  }

  /** The transaction of a provider id and kind, if any. */
  async transactionByProviderId(entity: string, kind: TransactionKind, providerId: string): Promise<JournalTransaction | undefined> {
    // A kind that is none (an object, an array) reached the driver as a raw TypeError or SqliteError.
    const row = await repository.findTransactionByProviderId(this.db, this.entity(entity).id, parseTransactionKind(kind), requireWellFormed(providerId, 'providerId'));
    return row === undefined ? undefined : readTransaction(this.db, row.id);
  }

  /** The current normal-side balance of an account: one row read (plus its shards' on PostgreSQL), no history scan. */
  async balance(accountId: number): Promise<Amount> {
    const units = Number.isSafeInteger(accountId) && accountId > 0 ? await readBalanceUnits(this.db, this.dialect, accountId) : undefined;
    if (units === undefined) throw new LedgerError('unknown_account', `accountId ${describeValue(accountId)} is not an account`, { field: 'accountId', value: describeValue(accountId) });
    return formatUnits(units);
  }

  /** The normal-side balance at the end of an accounting day (entity's zone). */
  async balanceAtEndOfDay(accountId: number, day: string): Promise<Amount> {
    const accountingDay = parseAccountingDay(day, 'day');
    await this.account(accountId);
    return formatUnits(await readBalanceAtEndOfDayUnits(this.db, this.dialect, accountId, accountingDay));
  }

  /** A page of an account's entries in a stable order (by entry id). */
  async history(accountId: number, options: HistoryOptions = {}): Promise<HistoryPage> {
    await this.account(accountId);
    return readHistory(this.db, accountId, options);
  }

  /**
   * The transactions of an entity's accounting day, by id, in pages (`afterId` exclusive).
   */
  async transactionsOfDay(input: { entity: string; day: string; afterId?: number; limit?: number }): Promise<JournalTransaction[]> {
    requireObject(input, 'input');
    const entity = this.entity(input.entity).id;
    const day = parseAccountingDay(input.day, 'day');
    return readTransactionsOfDay(this.db, { ...input, entity, day });
  }

  // ---- verify -----------------------------------------------------------------------------

  /**
   * Checks every invariant of the stored books, for one entity or (explicitly) all:
   * each transaction balances per currency; each account's stored balance equals its entries;
   * each account's latest end-of-day balance equals its balance; per (entity, currency) the
   * signed entries sum to zero. Throws {@link LedgerInvariantError} on the first violation.
   * Its reads share one snapshot ({@link readSnapshot}), so that postings committed while it runs
   * cannot make consistent books look broken (on SQLite, writes of this ledger wait for it).
   */
  async verify(options: { entity: string } | { allEntities: true }): Promise<VerifyReport> {
    // Anything but one of the two shapes is refused: `{}` and `{ allEntities: false }` checked every entity.
    const given: Record<string, unknown> = requireObject(options as unknown as Record<string, unknown>, 'options');
    if (!('entity' in given) && given['allEntities'] !== true) {
      throw new LedgerError('invalid_input', `options must be { entity } or { allEntities: true }, got ${describeValue(options)}`, { field: 'options', value: describeValue(options) });
    }
    const entity = 'entity' in given ? this.entity(given['entity']).id : undefined;
    return this.readSnapshot((snapshot) => verifyBooks(snapshot, this.dialect, entity));
  }
}

/** The refusal of a second reversal of one transaction. */
function alreadyReversed(transactionId: number, reversalId: number | undefined, cause?: unknown): LedgerError {
  const by = reversalId === undefined ? '' : ` by ${reversalId}`;
  return new LedgerError('already_reversed', `transaction ${transactionId} is already reversed${by}`, { field: 'transactionId', value: String(transactionId), ...(cause === undefined ? {} : { cause }) });
}

/**
 * Refuses a batch of postings before anything is written, naming `inputs`: one that is not an
 * array (`invalid_input`) or holds more than {@link POST_BATCH_MAX} (`limit_exceeded`).
 */
function checkBatch(inputs: unknown): asserts inputs is readonly PostingInput[] {
  if (!isArrayInput(inputs, 'inputs')) throw new LedgerError('invalid_input', `postMany takes an array of postings, got ${describeValue(inputs)}`, { field: 'inputs', value: describeValue(inputs) });
  if (inputs.length > POST_BATCH_MAX) throw new LedgerError('limit_exceeded', `postMany takes at most ${POST_BATCH_MAX} postings`, { field: 'inputs', value: String(inputs.length) });
}

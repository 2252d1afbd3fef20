/**
 * The double-entry ledger: immutable journal transactions, idempotent writes, balances now and
 * at the end of any accounting day, paginated history, and a full invariant check.
 */
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant, describeValue } from './errors.js';
import { AMOUNT_SCALE_DEFAULT, assertScale, formatUnits, parseUnits, toUnits } from './money.js';
import type { Amount } from './money.js';
import { assertTimeZone, formatInstant, parseAccountingDay } from './calendar.js';
import { ACCOUNT_KIND_RULES, SYSTEM_ACCOUNT_KINDS, isAccountKind } from './chart.js';
import type { AccountKind, NormalSide } from './chart.js';
import { normalDelta, normalizePosting, parseKey, planPosting, transactionRow } from './posting.js';
import { requireWellFormed } from './text.js';
import type { NormalizedPosting, PlanAccount, PostingInput, TransactionKind } from './posting.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import { migrateLedger } from './db/migrations.js';
import * as repository from './db/repository.js';
import { normalizeLines } from './posting-lines.js';
import type { LinesInput, LinesResult, NormalizedLines } from './posting-lines.js';
import { postLinesWithin, requireBulk } from './post-lines.js';
import { CommitQueue } from './commit-queue.js';
import type { GroupCommitOptions } from './commit-queue.js';
import { commitPostingGroup } from './group-post.js';
import { idempotencyConflict, storedContent } from './idempotency-conflict.js';
import { selectStoredEntities } from './db/stored-entities.js';
import { SILENT_LEDGER_LOGGER, isLedgerLogger } from './logger.js';
import type { LedgerLogger } from './logger.js';
import type { AccountRow, EntryRow } from './db/repository.js';

/** Entries one history page may return. */
export const HISTORY_PAGE_SIZE_MAX = 500;
/** Transactions one {@link Ledger.transactionsOfDay} page may return. */
export const DAY_PAGE_SIZE_MAX = 10_000;
/** Postings one {@link Ledger.postMany} call may hold. */
export const POST_BATCH_MAX = 1_000;
/** Legal entities one ledger may keep. */
export const ENTITIES_MAX = 16;

/** A legal entity's configuration: its id and the IANA zone of its accounting day. */
export interface LedgerEntity {
  readonly id: string;
  readonly timeZone: string;
}

/** The provider's two legal entities, with the provider's usual zone. */
export const DEFAULT_ENTITIES: readonly LedgerEntity[] = Object.freeze([
  Object.freeze({ id: 'defi', timeZone: 'UTC' }),
  Object.freeze({ id: 'lending', timeZone: 'UTC' }),
]);

/** Where the ledger keeps its books. */
export interface LedgerStorage {
  readonly db: Kysely<LedgerDatabase>;
  readonly dialect: LedgerDialect;
  /** PostgreSQL schema of the tables (default: the connection's search path). */
  readonly schema?: string;
}

/** Options of {@link Ledger.open}. */
export interface LedgerOptions {
  readonly storage: LedgerStorage;
  /**
   * Legal entities. Their zones are fixed once stored. Default: the entities the books already
   * keep, or {@link DEFAULT_ENTITIES} for new books.
   */
  readonly entities?: readonly LedgerEntity[];
  /**
   * What to do when the storage holds no books yet (no ledger tables, or no entity): `create`
   * them (default), or `fail` with `books_not_found` before anything is written, for callers that
   * must not make new books by mistake (a mistyped path).
   */
  readonly ifMissing?: 'create' | 'fail';
  /** Decimal places per currency (default 18); inputs with more decimals are refused. */
  readonly currencyScales?: Readonly<Record<string, number>>;
  /** Apply pending migrations on open; default true. */
  readonly migrate?: boolean;
  /** The clock for `created_at` stamps; default `() => new Date()`. */
  readonly now?: () => Date;
  /** How concurrent {@link Ledger.post} calls share transactions; see {@link GroupCommitOptions}. */
  readonly groupCommit?: GroupCommitOptions;
  /** Where the books log (pino-compatible `{ info, warn, error, debug }`); default silent. */
  readonly logger?: LedgerLogger;
}

/** A ledger account. */
export interface LedgerAccount {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly code: string;
  readonly kind: AccountKind;
  readonly normalSide: NormalSide;
}

/** One line of a journal transaction, as stored. */
export interface JournalEntry {
  readonly id: number;
  readonly transactionId: number;
  readonly accountId: number;
  readonly currency: string;
  readonly side: 'debit' | 'credit';
  /** Positive amount on `side`. */
  readonly amount: Amount;
  /** The account's normal-side balance after this entry, in posting order. */
  readonly balanceAfter: Amount;
  readonly accountingDay: string;
  /** The provider's id of this one line in a compound transaction (see {@link Ledger.postLines}); else null. */
  readonly providerId: string | null;
}

/** A journal transaction, as stored. */
export interface JournalTransaction {
  readonly id: number;
  readonly entity: string;
  readonly kind: TransactionKind;
  readonly idempotencyKey: string;
  readonly occurredAt: string;
  readonly accountingDay: string;
  readonly providerId: string | null;
  readonly reversesTransactionId: number | null;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly entries: readonly JournalEntry[];
}

/** The answer to an idempotent write: `created` the first time, `exists` for a replay. */
export interface PostResult {
  readonly status: 'created' | 'exists';
  readonly transaction: JournalTransaction;
}

/** An entry in an account's history, with its transaction's facts (`providerId`: the entry's, else the transaction's). */
export interface HistoryItem extends JournalEntry {
  readonly kind: TransactionKind;
  readonly occurredAt: string;
  readonly providerId: string | null;
  readonly description: string | null;
}

/** One page of history; pass `nextCursor` back for the next page (null at the end). */
export interface HistoryPage {
  readonly items: readonly HistoryItem[];
  readonly nextCursor: string | null;
}

/** Options of {@link Ledger.history}. */
export interface HistoryOptions {
  /** Entries per page, 1..{@link HISTORY_PAGE_SIZE_MAX}; default 50. */
  readonly limit?: number;
  readonly cursor?: string | null;
  /** `desc` (newest first, default) or `asc`. */
  readonly order?: 'asc' | 'desc';
}

/** Options of {@link Ledger.reverse}. */
export interface ReverseInput {
  readonly entity: string;
  readonly transactionId: number;
  readonly idempotencyKey: string;
  readonly occurredAt: string | Date;
  readonly description?: string;
}

/** Counts from a successful {@link Ledger.verify}. */
export interface VerifyReport {
  readonly accounts: number;
  readonly transactions: number;
  readonly entries: number;
}

/** A scope in which several postings share one database transaction (all or nothing). */
export interface PostingScope {
  readonly db: Kysely<LedgerDatabase>;
  post(input: PostingInput): Promise<PostResult>;
  /** Posts many of one entity with bulk statements; see {@link Ledger.postMany}. */
  postMany(inputs: readonly PostingInput[]): Promise<PostResult[]>;
  /** Posts a compound transaction of many lines; see {@link Ledger.postLines}. */
  postLines(input: LinesInput): Promise<LinesResult>;
}

function rowToAccount(row: AccountRow): LedgerAccount {
  assertInvariant(isAccountKind(row.kind), `account ${row.id} has unknown kind ${row.kind}`);
  return Object.freeze({ id: row.id, entity: row.entity, currency: row.currency, code: row.code, kind: row.kind, normalSide: row.normal_side });
}

function rowToEntry(row: EntryRow): JournalEntry {
  const units = toUnits(row.amount);
  return {
    id: row.id,
    transactionId: row.transaction_id,
    accountId: row.account_id,
    currency: row.currency,
    side: units >= 0n ? 'debit' : 'credit',
    amount: formatUnits(units >= 0n ? units : -units),
    balanceAfter: formatUnits(toUnits(row.balance_after)),
    accountingDay: row.accounting_day,
    providerId: row.provider_id,
  };
}

function encodeCursor(entryId: number): string {
  return Buffer.from(`e:${entryId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^e:(\d{1,15})$/.exec(text);
  if (match === null || match[1] === undefined) {
    throw new LedgerError('invalid_input', `cursor is not a cursor this ledger issued, got ${describeValue(cursor)}`, { field: 'cursor', value: describeValue(cursor) });
  }
  return Number(match[1]);
}

/**
 * The entities to open after the `ifMissing` rule: the caller's, else the stored ones, else the
 * defaults for new books; `books_not_found` (before anything is written) when books must exist.
 */
async function entitiesToOpen(options: LedgerOptions): Promise<readonly LedgerEntity[]> {
  const ifMissing = options.ifMissing ?? 'create';
  if (ifMissing !== 'create' && ifMissing !== 'fail') {
    throw new LedgerError('invalid_input', `ifMissing must be "create" or "fail", got ${describeValue(ifMissing)}`, { field: 'ifMissing', value: describeValue(ifMissing) });
  }
  if (options.entities !== undefined && ifMissing === 'create') return options.entities;
  const stored = await selectStoredEntities(options.storage.db);
  const exists = stored !== undefined && stored.length > 0;
  if (!exists && ifMissing === 'fail') {
    throw new LedgerError('books_not_found', 'the storage holds no books (no ledger tables or no entity); open with ifMissing: "create" to make new ones', { field: 'storage' });
  }
  return options.entities ?? (exists ? stored : DEFAULT_ENTITIES);
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
  readonly db: Kysely<LedgerDatabase>;
  readonly dialect: LedgerDialect;
  /** The PostgreSQL schema of the tables, when one was given. */
  readonly schema: string | undefined;
  readonly entities: ReadonlyMap<string, LedgerEntity>;
  /** The logger given to {@link Ledger.open} (silent by default); the reconciler logs to it too. */
  readonly logger: LedgerLogger;
  readonly #currencyScales: Readonly<Record<string, number>>;
  readonly #now: () => Date;
  readonly #accounts = new Map<number, LedgerAccount>();
  readonly #accountsByCode = new Map<string, LedgerAccount>();
  readonly #commits: CommitQueue<NormalizedPosting, PostResult>;

  private constructor(options: LedgerOptions, entities: ReadonlyMap<string, LedgerEntity>) {
    this.db = options.storage.db;
    this.dialect = options.storage.dialect;
    this.schema = options.storage.schema;
    this.entities = entities;
    this.logger = options.logger ?? SILENT_LEDGER_LOGGER;
    this.#currencyScales = Object.freeze({ ...(options.currencyScales ?? {}) });
    this.#now = options.now ?? (() => new Date());
    this.#commits = new CommitQueue(options.groupCommit ?? {}, (postings) =>
      commitPostingGroup({ db: this.db, dialect: this.dialect, postBatch: (trx, group) => this.#postBatch(trx, group) }, postings),
    );
  }

  /** Opens the ledger: validates the configuration, migrates, and records the entities. */
  static async open(options: LedgerOptions): Promise<Ledger> {
    const configs = await entitiesToOpen(options);
    if (!Array.isArray(configs) || configs.length === 0 || configs.length > ENTITIES_MAX) {
      throw new LedgerError('invalid_input', `entities must list 1 to ${ENTITIES_MAX} entities`, { field: 'entities', value: describeValue(configs) });
    }
    const entities = new Map<string, LedgerEntity>();
    configs.forEach((config, index) => {
      const id = parseKey(config.id, `entities[${index}].id`);
      const timeZone = assertTimeZone(config.timeZone, `entities[${index}].timeZone`);
      if (entities.has(id)) throw new LedgerError('invalid_input', `entities[${index}].id ${id} is listed twice`, { field: `entities[${index}].id`, value: id });
      entities.set(id, Object.freeze({ id, timeZone }));
    });
    for (const [currency, scale] of Object.entries(options.currencyScales ?? {})) assertScale(scale, `currencyScales.${currency}`);
    if (options.migrate !== false) {
      await migrateLedger(options.storage.db as Kysely<unknown>, options.storage.dialect, options.storage.schema === undefined ? {} : { schema: options.storage.schema });
    }
    if (options.logger !== undefined && !isLedgerLogger(options.logger)) throw new LedgerError('invalid_input', 'logger must have info, warn, error and debug methods', { field: 'logger' });
    const ledger = new Ledger(options, entities);
    await ledger.#recordEntities();
    ledger.logger.info({ event: 'ledger.open', dialect: ledger.dialect.name, entities: [...entities.values()] }, `opened the books (${ledger.dialect.name}): ${[...entities.keys()].join(', ')}`);
    return ledger;
  }

  async #recordEntities(): Promise<void> {
    const createdAt = formatInstant(this.#now());
    for (const entity of this.entities.values()) {
      await this.db.insertInto('ledger_entities').values({ id: entity.id, time_zone: entity.timeZone, created_at: createdAt }).onConflict((c) => c.column('id').doNothing()).execute();
      const stored = await this.db.selectFrom('ledger_entities').select('time_zone').where('id', '=', entity.id).executeTakeFirstOrThrow();
      if (stored.time_zone !== entity.timeZone) {
        throw new LedgerError(
          'entity_configuration_changed',
          `entity ${entity.id} keeps its books in ${stored.time_zone}; it cannot be reopened in ${entity.timeZone} (every accounting day would move)`,
          { field: 'entities.timeZone', value: entity.timeZone },
        );
      }
    }
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

  /** Parses a positive amount of a currency from input, at that currency's scale. */
  parseAmount(input: unknown, options: { field: string; currency: string; allowZero?: boolean }): Amount {
    const scale = this.currencyScale(options.currency);
    const units = parseUnits(input, { field: options.field, scale, allowZero: options.allowZero ?? false });
    return formatUnits(units * 10n ** BigInt(AMOUNT_SCALE_DEFAULT - scale));
  }

  /**
   * Opens an account, or returns the existing one with the same (entity, currency, code).
   * The same code with a different kind is an `idempotency_conflict`.
   */
  async openAccount(input: { entity: string; currency: string; code: string; kind: AccountKind }, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    const entity = this.entity(input.entity).id;
    const currency = parseCurrency(input.currency);
    const code = parseKey(input.code, 'code');
    if (!isAccountKind(input.kind)) throw new LedgerError('invalid_input', `kind must be an account kind, got ${describeValue(input.kind)}`, { field: 'kind', value: describeValue(input.kind) });
    const cached = this.#accountsByCode.get(`${entity}\u0000${currency}\u0000${code}`);
    if (cached !== undefined) return this.#sameKind(cached, input.kind);
    await db
      .insertInto('ledger_accounts')
      .values({
        entity,
        currency,
        code,
        kind: input.kind,
        normal_side: ACCOUNT_KIND_RULES[input.kind].normalSide,
        balance: formatUnits(0n),
        last_day: null,
        created_at: formatInstant(this.#now()),
      })
      .onConflict((c) => c.columns(['entity', 'currency', 'code']).doNothing())
      .execute();
    const row = await db.selectFrom('ledger_accounts').selectAll().where('entity', '=', entity).where('currency', '=', currency).where('code', '=', code).executeTakeFirstOrThrow();
    return this.#sameKind(this.#remember(rowToAccount(row)), input.kind);
  }

  #sameKind(account: LedgerAccount, kind: AccountKind): LedgerAccount {
    if (account.kind !== kind) {
      throw new LedgerError('idempotency_conflict', `account ${account.code} exists with kind ${account.kind}, not ${kind}`, { field: 'kind', value: kind });
    }
    return account;
  }

  #remember(account: LedgerAccount): LedgerAccount {
    this.#accounts.set(account.id, account);
    this.#accountsByCode.set(`${account.entity}\u0000${account.currency}\u0000${account.code}`, account);
    return account;
  }

  /** The system account of a kind for (entity, currency), opened on first use. */
  async systemAccount(entity: string, currency: string, kind: Exclude<AccountKind, 'user'>, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    return this.openAccount({ entity, currency, code: kind, kind }, db);
  }

  /** The ids of every system account of (entity, currency), opened on first use. */
  async systemAccountIds(entity: string, currency: string): Promise<Record<Exclude<AccountKind, 'user'>, number>> {
    const ids: Partial<Record<Exclude<AccountKind, 'user'>, number>> = {};
    for (const kind of SYSTEM_ACCOUNT_KINDS) ids[kind] = (await this.systemAccount(entity, currency, kind)).id;
    return ids as Record<Exclude<AccountKind, 'user'>, number>;
  }

  /** An account by id, or an `unknown_account` error. */
  async account(id: number, db: Kysely<LedgerDatabase> = this.db): Promise<LedgerAccount> {
    const cached = this.#accounts.get(id);
    if (cached !== undefined) return cached;
    if (!Number.isSafeInteger(id) || id <= 0) throw new LedgerError('unknown_account', `accountId must be a positive integer, got ${describeValue(id)}`, { field: 'accountId', value: describeValue(id) });
    const row = await db.selectFrom('ledger_accounts').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new LedgerError('unknown_account', `accountId ${id} is not an account`, { field: 'accountId', value: String(id) });
    return this.#remember(rowToAccount(row));
  }

  /** An account by (entity, currency, code), or undefined. */
  async findAccount(input: { entity: string; currency: string; code: string }): Promise<LedgerAccount | undefined> {
    requireWellFormed(input.code, 'code');
    const cached = this.#accountsByCode.get(`${input.entity}\u0000${input.currency}\u0000${input.code}`);
    if (cached !== undefined) return cached;
    const row = await this.db.selectFrom('ledger_accounts').selectAll().where('entity', '=', input.entity).where('currency', '=', input.currency).where('code', '=', input.code).executeTakeFirst();
    return row === undefined ? undefined : this.#remember(rowToAccount(row));
  }

  /** Lists an entity's accounts (optionally of one currency or kind), by id. */
  async listAccounts(input: { entity: string; currency?: string; kind?: AccountKind }): Promise<LedgerAccount[]> {
    const entity = this.entity(input.entity).id;
    let query = this.db.selectFrom('ledger_accounts').selectAll().where('entity', '=', entity).orderBy('id');
    if (input.currency !== undefined) query = query.where('currency', '=', input.currency);
    if (input.kind !== undefined) query = query.where('kind', '=', input.kind);
    return (await query.execute()).map((row) => this.#remember(rowToAccount(row)));
  }

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
    if (!Array.isArray(inputs) || inputs.length > POST_BATCH_MAX) {
      throw new LedgerError('limit_exceeded', `postMany takes at most ${POST_BATCH_MAX} postings`, { field: 'inputs', value: String(Array.isArray(inputs) ? inputs.length : inputs) });
    }
    const postings = inputs.map((input) => this.#normalize(input));
    const entities = [...new Set(postings.map((posting) => posting.entity))];
    return this.dialect.writeTransaction(this.db, async (trx) => {
      // One entity per bulk write; a mixed batch is split and the results put back in order.
      if (entities.length === 1) return this.#postBatch(trx, postings);
      const results: PostResult[] = new Array<PostResult>(postings.length);
      for (const entity of entities) {
        const indexes = postings.flatMap((posting, index) => (posting.entity === entity ? [index] : []));
        const part = await this.#postBatch(trx, indexes.map((index) => postings[index] as NormalizedPosting));
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
   */
  async transact<T>(work: (scope: PostingScope) => Promise<T>): Promise<T> {
    return this.dialect.writeTransaction(this.db, (trx) =>
      work({
        db: trx,
        post: (input) => this.#postWithin(trx, this.#normalize(input)),
        postMany: (inputs) => {
          if (inputs.length > POST_BATCH_MAX) throw new LedgerError('limit_exceeded', `postMany takes at most ${POST_BATCH_MAX} postings`, { field: 'inputs', value: String(inputs.length) });
          return this.#postBatch(trx, inputs.map((input) => this.#normalize(input)));
        },
        postLines: (input) => this.#postLinesWithin(trx, input),
      }),
    );
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
    const posting = normalizeLines(input, this.entity(input?.entity).timeZone);
    return this.dialect.writeTransaction(this.db, (trx) => this.#postLinesWithin(trx, posting));
  }

  async #postLinesWithin(trx: Kysely<LedgerDatabase>, input: LinesInput | NormalizedLines): Promise<LinesResult> {
    const posting = 'accountingDay' in input ? input : normalizeLines(input, this.entity(input?.entity).timeZone);
    return postLinesWithin(trx, posting, { bulk: this.dialect.bulk, createdAt: formatInstant(this.#now()), currencyScale: (currency) => this.currencyScale(currency) });
  }

  #normalize(input: PostingInput, reversesTransactionId?: number): NormalizedPosting {
    const entity = this.entity(input?.entity);
    return normalizePosting(input, reversesTransactionId === undefined ? { timeZone: entity.timeZone } : { timeZone: entity.timeZone, reversesTransactionId });
  }

  async #postWithin(trx: Kysely<LedgerDatabase>, posting: NormalizedPosting): Promise<PostResult> {
    const [result] = await this.#postBatch(trx, [posting]);
    assertInvariant(result !== undefined, 'a posted batch of one returned nothing');
    return result;
  }

  /**
   * Posts a batch inside one database transaction with a handful of multi-row statements:
   * accounts are locked (PostgreSQL) before idempotency keys are checked, so that a concurrent
   * writer of the same key is seen; every posting is planned in memory in order, each on the
   * balances the previous ones left; then transactions, entries, balances and end-of-day
   * balances are written in bulk.
   */
  async #postBatch(trx: Kysely<LedgerDatabase>, postings: readonly NormalizedPosting[]): Promise<PostResult[]> {
    const entity = postings[0]?.entity;
    if (entity === undefined) return [];
    for (const posting of postings) {
      if (posting.entity !== entity) {
        throw new LedgerError('mixed_entities', `one batch posts to one entity: ${posting.entity} differs from ${entity}`, { field: 'entity', value: posting.entity });
      }
    }
    const accountIds = [...new Set(postings.flatMap((posting) => posting.entries.map((entry) => entry.accountId)))];
    const rows = new Map((await repository.selectAccountsLocked(trx, this.dialect, accountIds)).map((row) => [row.id, { ...row }]));
    const stored = new Map((await repository.selectTransactionsByKeys(trx, entity, postings.map((posting) => posting.idempotencyKey))).map((row) => [row.idempotency_key, row]));
    const providerIds = postings.flatMap((posting) => (posting.providerId === null ? [] : [posting.providerId]));
    const byProvider = new Map<string, { id: number; idempotency_key: string }>();
    for (const row of providerIds.length === 0 ? [] : await repository.selectTransactionsByProviderIds(trx, entity, providerIds)) {
      byProvider.set(`${row.kind}\u0000${row.provider_id ?? ''}`, row);
    }

    type Outcome = { readonly kind: 'exists'; readonly id: number } | { readonly kind: 'created'; readonly index: number };
    const outcomes: Outcome[] = [];
    const created: { posting: NormalizedPosting; balancesAfter: readonly bigint[] }[] = [];
    const inBatch = new Map<string, { hash: string; outcome: Outcome; posting: NormalizedPosting }>();
    const pendingDays = new Map<number, Map<string, bigint>>();
    const addedEntries = new Map<number, number>();
    for (const posting of postings) {
      const earlier = inBatch.get(posting.idempotencyKey);
      const existing = stored.get(posting.idempotencyKey);
      if (earlier !== undefined || existing !== undefined) {
        const hash = earlier?.hash ?? existing?.request_hash;
        if (hash !== posting.requestHash) {
          if (earlier !== undefined) throw idempotencyConflict(posting, earlier.posting, undefined);
          throw idempotencyConflict(posting, storedContent(await this.#readTransaction(trx, existing?.id ?? 0)), existing?.id);
        }
        outcomes.push(earlier?.outcome ?? { kind: 'exists', id: existing?.id ?? 0 });
        continue;
      }
      if (posting.providerId !== null) {
        const key = `${posting.kind}\u0000${posting.providerId}`;
        const duplicate = byProvider.get(key);
        if (duplicate !== undefined) {
          throw new LedgerError('duplicate_provider_id', `providerId ${posting.providerId} is already booked as ${posting.kind} transaction ${duplicate.id} under another idempotency key`, {
            field: 'providerId',
            value: posting.providerId,
            context: { transactionId: String(duplicate.id), idempotencyKey: duplicate.idempotency_key },
          });
        }
        byProvider.set(key, { id: 0, idempotency_key: posting.idempotencyKey });
      }
      const plan = planPosting(posting, this.#planAccounts(posting, rows));
      for (const change of plan.changes) {
        const row = rows.get(change.account.id);
        assertInvariant(row !== undefined, 'planned account row lost');
        row.balance = formatUnits(change.balanceAfterUnits);
        addedEntries.set(row.id, (addedEntries.get(row.id) ?? 0) + posting.entries.filter((entry) => entry.accountId === row.id).length);
        const days = pendingDays.get(row.id) ?? new Map<string, bigint>();
        pendingDays.set(row.id, days);
        if (row.last_day === null || row.last_day <= posting.accountingDay) {
          days.set(posting.accountingDay, change.balanceAfterUnits);
          row.last_day = posting.accountingDay;
        } else {
          await this.#backdate(trx, rowToAccount(row), posting.accountingDay, change.deltaUnits, days);
        }
      }
      const outcome: Outcome = { kind: 'created', index: created.length };
      created.push({ posting, balancesAfter: plan.entryBalancesAfter });
      inBatch.set(posting.idempotencyKey, { hash: posting.requestHash, outcome, posting });
      outcomes.push(outcome);
    }

    const createdAt = formatInstant(this.#now());
    const ids = await repository.insertTransactions(
      trx,
      created.map(({ posting }) => transactionRow(posting, createdAt)),
    );
    if (ids.size !== created.length) {
      // A concurrent writer committed one of these keys with other accounts (so other content).
      const lost = created.find(({ posting }) => !ids.has(posting.idempotencyKey));
      throw new LedgerError('idempotency_conflict', `idempotencyKey ${lost?.posting.idempotencyKey ?? '?'} was used concurrently for another transaction`, {
        field: 'idempotencyKey',
        value: lost?.posting.idempotencyKey ?? '',
      });
    }
    const entryRows: Omit<EntryRow, 'id'>[] = [];
    for (const { posting, balancesAfter } of created) {
      const transactionId = ids.get(posting.idempotencyKey);
      assertInvariant(transactionId !== undefined, 'inserted transaction lost its id');
      posting.entries.forEach((entry, index) => {
        const row = rows.get(entry.accountId);
        const balanceAfter = balancesAfter[index];
        assertInvariant(row !== undefined && balanceAfter !== undefined, 'planned entry lost its account');
        entryRows.push({
          transaction_id: transactionId,
          entity: posting.entity,
          account_id: entry.accountId,
          currency: row.currency,
          amount: formatUnits(entry.units),
          balance_after: formatUnits(balanceAfter),
          accounting_day: posting.accountingDay,
          provider_id: null,
        });
      });
    }
    await repository.insertEntryRows(trx, entryRows);
    await repository.writeAccountBalances(
      trx,
      [...addedEntries.keys()].map((id) => {
        const row = rows.get(id);
        assertInvariant(row !== undefined, 'touched account lost');
        return { ...row, entry_count: row.entry_count + (addedEntries.get(id) ?? 0) };
      }),
    );
    await repository.writeDayBalances(
      trx,
      [...pendingDays].flatMap(([accountId, days]) => [...days].map(([day, units]) => ({ account_id: accountId, accounting_day: day, balance: formatUnits(units) }))),
    );

    // Read the new rows back: the entry ids, and the invariant that each transaction balances.
    const createdIds = [...ids.values()];
    const readBack = await repository.selectEntriesOfTransactions(trx, createdIds);
    const entriesByTransaction = new Map<number, EntryRow[]>();
    for (const entry of readBack) {
      const list = entriesByTransaction.get(entry.transaction_id) ?? [];
      list.push(entry);
      entriesByTransaction.set(entry.transaction_id, list);
    }
    const results: PostResult[] = [];
    for (const outcome of outcomes) {
      if (outcome.kind === 'exists') {
        results.push({ status: 'exists', transaction: await this.#readTransaction(trx, outcome.id) });
        continue;
      }
      const item = created[outcome.index];
      assertInvariant(item !== undefined, 'created posting lost');
      const id = ids.get(item.posting.idempotencyKey) ?? 0;
      const entries = entriesByTransaction.get(id) ?? [];
      assertInvariant(entries.length === item.posting.entries.length, `transaction ${id} reads back ${entries.length} of ${item.posting.entries.length} entries`);
      results.push({ status: 'created', transaction: this.#toTransaction({ id, ...transactionRow(item.posting, createdAt) }, entries) });
    }
    return results;
  }

  #planAccounts(posting: NormalizedPosting, rows: ReadonlyMap<number, AccountRow>): Map<number, PlanAccount> {
    const accounts = new Map<number, PlanAccount>();
    for (const [index, entry] of posting.entries.entries()) {
      const row = rows.get(entry.accountId);
      if (row === undefined) continue;
      const scale = this.currencyScale(row.currency);
      if (scale < AMOUNT_SCALE_DEFAULT && entry.units % 10n ** BigInt(AMOUNT_SCALE_DEFAULT - scale) !== 0n) {
        const amount = formatUnits(entry.units < 0n ? -entry.units : entry.units);
        throw new LedgerError('invalid_amount', `entries[${index}].amount has more than ${scale} decimal places, the scale of ${row.currency}, got ${amount}`, {
          field: `entries[${index}].amount`,
          value: amount,
        });
      }
      const account = this.#remember(rowToAccount(row));
      accounts.set(row.id, { ...account, balanceUnits: toUnits(row.balance) });
    }
    return accounts;
  }

  /**
   * A posting dated before the account's latest day: that day's and every later day's closing
   * balance move by the delta (in `days`, the batch's pending rows, read from storage on first
   * use). A user account may not end any of those days negative.
   */
  async #backdate(trx: Kysely<LedgerDatabase>, account: LedgerAccount, day: string, deltaUnits: bigint, days: Map<string, bigint>): Promise<void> {
    for (const row of await repository.selectDayBalancesFrom(trx, account.id, day)) {
      if (!days.has(row.accounting_day)) days.set(row.accounting_day, toUnits(row.balance));
    }
    if (!days.has(day)) {
      const earlier = [...days.keys()].filter((known) => known < day).sort().pop();
      const stored = await repository.selectBalanceAtEndOfDay(trx, account.id, day);
      days.set(day, earlier !== undefined ? (days.get(earlier) ?? 0n) : toUnits(stored ?? '0'));
    }
    const rule = ACCOUNT_KIND_RULES[account.kind];
    for (const [accountingDay, units] of days) {
      if (accountingDay < day) continue;
      const moved = units + deltaUnits;
      if (moved < 0n && !rule.negativeAllowed) {
        throw new LedgerError('insufficient_balance', `account ${account.id} would be negative at the end of ${accountingDay} (${formatUnits(moved)})`, {
          field: 'occurredAt',
          value: day,
          context: { accountId: String(account.id), accountingDay },
        });
      }
      days.set(accountingDay, moved);
    }
  }

  async #replay(trx: Kysely<LedgerDatabase>, id: number, storedHash: string, posting: NormalizedPosting): Promise<PostResult> {
    const transaction = await this.#readTransaction(trx, id);
    if (storedHash !== posting.requestHash) throw idempotencyConflict(posting, storedContent(transaction), id);
    return { status: 'exists', transaction };
  }

  async #readTransaction(db: Kysely<LedgerDatabase>, id: number): Promise<JournalTransaction> {
    const row = await repository.findTransactionById(db, id);
    if (row === undefined) throw new LedgerError('unknown_transaction', `transaction ${id} does not exist`, { field: 'transactionId', value: String(id) });
    const entryRows = await repository.selectEntriesOfTransactions(db, [id]);
    return this.#toTransaction(row, entryRows);
  }

  #toTransaction(row: NonNullable<Awaited<ReturnType<typeof repository.findTransactionById>>>, entryRows: readonly EntryRow[]): JournalTransaction {
    // Invariant after reading back: a stored transaction balances per currency.
    const perCurrency = new Map<string, bigint>();
    for (const entry of entryRows) perCurrency.set(entry.currency, (perCurrency.get(entry.currency) ?? 0n) + toUnits(entry.amount));
    assertInvariant(entryRows.length >= 2, `transaction ${row.id} has ${entryRows.length} entries`);
    for (const [currency, total] of perCurrency) assertInvariant(total === 0n, `transaction ${row.id} does not balance in ${currency}`);
    return Object.freeze({
      id: row.id,
      entity: row.entity,
      kind: row.kind as TransactionKind,
      idempotencyKey: row.idempotency_key,
      occurredAt: row.occurred_at,
      accountingDay: row.accounting_day,
      providerId: row.provider_id,
      reversesTransactionId: row.reverses_transaction_id,
      description: row.description,
      metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
      entries: Object.freeze(entryRows.map(rowToEntry)),
    });
  }

  /** A transaction by id (an `unknown_transaction` error if absent). */
  async transaction(id: number): Promise<JournalTransaction> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new LedgerError('unknown_transaction', `transactionId must be a positive integer, got ${describeValue(id)}`, { field: 'transactionId', value: describeValue(id) });
    return this.#readTransaction(this.db, id);
  }

  /** The transaction posted under an idempotency key, if any. */
  async transactionByKey(entity: string, idempotencyKey: string): Promise<JournalTransaction | undefined> {
    const row = await repository.findTransactionByKey(this.db, this.entity(entity).id, requireWellFormed(idempotencyKey, 'idempotencyKey'));
    return row === undefined ? undefined : this.#readTransaction(this.db, row.id);
  }

  /** The transaction of a provider id and kind, if any. */
  async transactionByProviderId(entity: string, kind: TransactionKind, providerId: string): Promise<JournalTransaction | undefined> {
    const row = await repository.findTransactionByProviderId(this.db, this.entity(entity).id, kind, requireWellFormed(providerId, 'providerId'));
    return row === undefined ? undefined : this.#readTransaction(this.db, row.id);
  }

  /**
   * Reverses a transaction: a new `reversal` transaction with every entry on the other side,
   * linked to the original. A transaction is reversed at most once; the reversal obeys the
   * account rules (a user balance cannot go negative).
   */
  async reverse(input: ReverseInput): Promise<PostResult> {
    const entity = this.entity(input.entity).id;
    const original = await this.transaction(input.transactionId);
    if (original.entity !== entity) throw new LedgerError('mixed_entities', `transaction ${original.id} belongs to ${original.entity}, not ${entity}`, { field: 'transactionId', value: String(original.id) });
    if (original.kind === 'reversal') throw new LedgerError('invalid_input', `transaction ${original.id} is a reversal; post an adjustment instead`, { field: 'transactionId', value: String(original.id) });
    const posting = this.#normalize(
      {
        entity,
        kind: 'reversal',
        idempotencyKey: input.idempotencyKey,
        occurredAt: input.occurredAt,
        ...(input.description === undefined ? {} : { description: input.description }),
        entries: original.entries.map((entry) => ({ accountId: entry.accountId, side: entry.side === 'debit' ? 'credit' : 'debit', amount: entry.amount })),
      },
      original.id,
    );
    return this.dialect.writeTransaction(this.db, async (trx) => {
      const existing = await repository.findTransactionByKey(trx, entity, posting.idempotencyKey);
      if (existing !== undefined) return this.#replay(trx, existing.id, existing.request_hash, posting);
      const reversal = await repository.findReversalOf(trx, original.id);
      if (reversal !== undefined) throw new LedgerError('already_reversed', `transaction ${original.id} is already reversed by ${reversal.id}`, { field: 'transactionId', value: String(original.id) });
      return this.#postWithin(trx, posting);
    });
  }

  /** The current normal-side balance of an account: one row read, no history scan. */
  async balance(accountId: number): Promise<Amount> {
    const row = Number.isSafeInteger(accountId) && accountId > 0 ? await this.db.selectFrom('ledger_accounts').select('balance').where('id', '=', accountId).executeTakeFirst() : undefined;
    if (row === undefined) throw new LedgerError('unknown_account', `accountId ${describeValue(accountId)} is not an account`, { field: 'accountId', value: describeValue(accountId) });
    return formatUnits(toUnits(row.balance));
  }

  /** The normal-side balance at the end of an accounting day (entity's zone). */
  async balanceAtEndOfDay(accountId: number, day: string): Promise<Amount> {
    const accountingDay = parseAccountingDay(day, 'day');
    await this.account(accountId);
    const balance = await repository.selectBalanceAtEndOfDay(this.db, accountId, accountingDay);
    return formatUnits(balance === undefined ? 0n : toUnits(balance));
  }

  /** A page of an account's entries in a stable order (by entry id). */
  async history(accountId: number, options: HistoryOptions = {}): Promise<HistoryPage> {
    await this.account(accountId);
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_PAGE_SIZE_MAX) {
      throw new LedgerError('invalid_input', `limit must be an integer from 1 to ${HISTORY_PAGE_SIZE_MAX}, got ${describeValue(limit)}`, { field: 'limit', value: describeValue(limit) });
    }
    const order = options.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new LedgerError('invalid_input', `order must be "asc" or "desc", got ${describeValue(order)}`, { field: 'order', value: describeValue(order) });
    let query = this.db
      .selectFrom('journal_entries as e')
      .innerJoin('journal_transactions as t', 't.id', 'e.transaction_id')
      .selectAll('e')
      .select(['t.kind', 't.occurred_at', 't.provider_id as transaction_provider_id', 't.description'])
      .where('e.account_id', '=', accountId)
      .orderBy('e.id', order)
      .limit(limit + 1);
    if (options.cursor !== undefined && options.cursor !== null) {
      const after = decodeCursor(options.cursor);
      query = query.where('e.id', order === 'asc' ? '>' : '<', after);
    }
    const rows = await query.execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => ({ ...rowToEntry(row), kind: row.kind as TransactionKind, occurredAt: row.occurred_at, providerId: row.provider_id ?? row.transaction_provider_id, description: row.description })),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null,
    };
  }

  /**
   * The transactions of an entity's accounting day, by id, in pages (`afterId` exclusive).
   */
  async transactionsOfDay(input: { entity: string; day: string; afterId?: number; limit?: number }): Promise<JournalTransaction[]> {
    const entity = this.entity(input.entity).id;
    const day = parseAccountingDay(input.day, 'day');
    const limit = input.limit ?? HISTORY_PAGE_SIZE_MAX;
    if (!Number.isInteger(limit) || limit < 1 || limit > DAY_PAGE_SIZE_MAX) {
      throw new LedgerError('invalid_input', `limit must be an integer from 1 to ${DAY_PAGE_SIZE_MAX}, got ${describeValue(limit)}`, { field: 'limit', value: describeValue(limit) });
    }
    const rows = await this.db
      .selectFrom('journal_transactions')
      .selectAll()
      .where('entity', '=', entity)
      .where('accounting_day', '=', day)
      .where('id', '>', input.afterId ?? 0)
      .orderBy('id')
      .limit(limit)
      .execute();
    const entries = await repository.selectEntriesOfTransactions(this.db, rows.map((row) => row.id));
    const byTransaction = new Map<number, EntryRow[]>();
    for (const entry of entries) {
      const list = byTransaction.get(entry.transaction_id) ?? [];
      list.push(entry);
      byTransaction.set(entry.transaction_id, list);
    }
    return rows.map((row) => this.#toTransaction(row, byTransaction.get(row.id) ?? []));
  }

  /**
   * Checks every invariant of the stored books, for one entity or (explicitly) all:
   * each transaction balances per currency; each account's stored balance equals its entries;
   * each account's latest end-of-day balance equals its balance; per (entity, currency) the
   * signed entries sum to zero. Throws {@link LedgerInvariantError} on the first violation.
   */
  async verify(options: { entity: string } | { allEntities: true }): Promise<VerifyReport> {
    const entity = 'entity' in options ? this.entity(options.entity).id : undefined;
    const perTransaction = await repository.sumEntriesPerTransactionCurrency(this.db, this.dialect, entity);
    const transactions = new Set<number>();
    for (const row of perTransaction) {
      transactions.add(row.transaction_id);
      assertInvariant(toUnits(row.total) === 0n, `transaction ${row.transaction_id} does not balance in ${row.currency}: ${row.total}`);
    }
    let transactionCount = this.db.selectFrom('journal_transactions').select((eb) => eb.fn.countAll<number>().as('n'));
    if (entity !== undefined) transactionCount = transactionCount.where('entity', '=', entity);
    const storedTransactions = Number((await transactionCount.executeTakeFirstOrThrow()).n);
    assertInvariant(storedTransactions === transactions.size, `${storedTransactions} transactions are stored but ${transactions.size} have entries`);
    let accountQuery = this.db.selectFrom('ledger_accounts').selectAll();
    if (entity !== undefined) accountQuery = accountQuery.where('entity', '=', entity);
    const accounts = await accountQuery.execute();
    const sums = new Map((await repository.sumEntriesPerAccount(this.db, this.dialect, entity)).map((row) => [row.account_id, row]));
    const latestDays = new Map((await repository.selectLatestDayBalances(this.db)).map((row) => [row.account_id, row]));
    const perEntityCurrency = new Map<string, bigint>();
    let entries = 0;
    for (const account of accounts) {
      const sum = sums.get(account.id);
      const signed = sum === undefined ? 0n : toUnits(sum.total);
      entries += Number(sum?.entries ?? 0);
      const expected = normalDelta(signed, account.normal_side);
      const stored = toUnits(account.balance);
      assertInvariant(stored === expected, `account ${account.id} stores ${formatUnits(stored)} but its entries sum to ${formatUnits(expected)}`);
      assertInvariant(Number(sum?.entries ?? 0) === account.entry_count, `account ${account.id} counts ${account.entry_count} entries but has ${sum?.entries ?? 0}`);
      const latest = latestDays.get(account.id);
      if (sum !== undefined) {
        assertInvariant(latest !== undefined && toUnits(latest.balance) === stored, `account ${account.id}: latest end-of-day balance differs from its balance`);
        assertInvariant(latest.accounting_day === account.last_day, `account ${account.id}: latest day row ${latest.accounting_day} is not its last day ${account.last_day}`);
      }
      if (!ACCOUNT_KIND_RULES[account.kind as AccountKind].negativeAllowed) assertInvariant(stored >= 0n, `account ${account.id} (${account.kind}) is negative`);
      const key = `${account.entity} ${account.currency}`;
      perEntityCurrency.set(key, (perEntityCurrency.get(key) ?? 0n) + signed);
    }
    for (const [key, total] of perEntityCurrency) assertInvariant(total === 0n, `entries of ${key} do not sum to zero: ${formatUnits(total)}`);
    return { accounts: accounts.length, transactions: transactions.size, entries };
  }
}

const CURRENCY_PATTERN = /^[A-Z0-9]{2,12}$/;

/** Checks a currency code: 2–12 upper-case letters or digits (e.g. `BTC`, `USDC`). */
export function parseCurrency(value: unknown, field = 'currency'): string {
  if (typeof value !== 'string' || !CURRENCY_PATTERN.test(value)) {
    throw new LedgerError('invalid_input', `${field} must be 2 to 12 upper-case letters or digits, got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  return value;
}

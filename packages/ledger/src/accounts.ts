/**
 * Ledger accounts: opening (idempotent on entity, currency and code), finding and listing, with a
 * per-ledger cache of committed accounts (an account's identity never changes once stored, so it
 * is cached by id and by code; balances are never cached).
 */
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant, describeValue } from './errors.js';
import { formatUnits } from './money.js';
import { formatInstant } from './calendar.js';
import { ACCOUNT_KIND_RULES, SYSTEM_ACCOUNT_KINDS, isAccountKind } from './chart.js';
import type { AccountKind } from './chart.js';
import { COMPOSED_KEY_LENGTH_MAX, parseKey } from './posting.js';
import { requireWellFormed } from './text.js';
import { optionalWholeNumber } from './whole-number.js';
import { ACCOUNTS_PAGE_SIZE_MAX } from './ledger-types.js';
import type { LedgerAccount } from './ledger-types.js';
import type { LedgerDatabase } from './db/schema.js';
import type { LedgerDialect } from './db/dialect.js';
import type { AccountRow } from './db/repository.js';
import { insertAccountReturningRow, selectAccountByCode, selectAccountById, selectAccounts } from './db/accounts-repository.js';

/** A kind of account that exists once per (entity, currency), its code the kind itself. */
export type SystemAccountKind = Exclude<AccountKind, 'user'>;

const CURRENCY_PATTERN = /^[A-Z0-9]{2,12}$/;

/** Checks a currency code: 2–12 upper-case letters or digits (e.g. `BTC`, `USDC`). */
export function parseCurrency(value: unknown, field = 'currency'): string {
  if (typeof value !== 'string' || !CURRENCY_PATTERN.test(value)) {
    throw new LedgerError('invalid_input', `${field} must be 2 to 12 upper-case letters or digits, got ${describeValue(value)}`, { field, value: describeValue(value) });
  }
  return value;
}

/** Where a page of accounts starts (an account id, exclusive; 0 from the first) and how many it holds (all when undefined). */
export interface AccountPage {
  readonly afterId: number;
  readonly limit?: number;
}

/**
 * Reads a page of an account listing from its input: `after` (the field `afterField`, a ledger
 * account id, exclusive) a whole number from 0, `limit` from 1 to {@link ACCOUNTS_PAGE_SIZE_MAX};
 * either left out reads from the first account, or to the last.
 */
export function readAccountPage(input: { readonly limit?: unknown }, after: { field: string; value: unknown }): AccountPage {
  const afterId = optionalWholeNumber(after.value, 0, { field: after.field, min: 0, max: Number.MAX_SAFE_INTEGER });
  if (input.limit === undefined) return { afterId };
  return { afterId, limit: optionalWholeNumber(input.limit, ACCOUNTS_PAGE_SIZE_MAX, { field: 'limit', min: 1, max: ACCOUNTS_PAGE_SIZE_MAX }) };
}

/** An account row as the public {@link LedgerAccount} (its kind asserted known). */
export function rowToAccount(row: AccountRow): LedgerAccount {
  assertInvariant(isAccountKind(row.kind), `account ${row.id} has unknown kind ${row.kind}`);
  return Object.freeze({ id: row.id, entity: row.entity, currency: row.currency, code: row.code, kind: row.kind, normalSide: row.normal_side });
}

function codeKey(entity: string, currency: string, code: string): string {
  return `${entity}\u0000${currency}\u0000${code}`;
}

/**
 * User accounts the ledger's cache of committed accounts keeps (beyond it, the first remembered are
 * forgotten first; a forgotten account is read again when next asked for). System accounts are always kept: a few per (entity, currency), and the posting path's
 * fast paths rest on them. Unbounded, a back office that posted to 1M users held ~290 MiB of
 * cached accounts for good (303 bytes an account, measured); at this bound, at most ~3 MiB.
 */
export const CACHED_USER_ACCOUNTS_MAX = 10_000;

/** Accounts by id and by (entity, currency, code); user accounts beyond `userAccountsMax` are forgotten, oldest first. */
class AccountCache {
  readonly byId = new Map<number, LedgerAccount>();
  readonly byCode = new Map<string, LedgerAccount>();
  /** The cached user accounts' code keys, in the order they were remembered. */
  readonly #users = new Map<number, string>();
  readonly #userAccountsMax: number;

  constructor(userAccountsMax = Number.POSITIVE_INFINITY) {
    this.#userAccountsMax = userAccountsMax;
  }

  set(account: LedgerAccount): void {
    const key = codeKey(account.entity, account.currency, account.code);
    this.byId.set(account.id, account);
    this.byCode.set(key, account);
    if (account.kind !== 'user') return;
    this.#users.set(account.id, key);
    for (const [id, oldest] of this.#users) {
      if (this.#users.size <= this.#userAccountsMax) break;
      this.#users.delete(id);
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const account = this.byCode.get(key);
    if (account === undefined) return;
    this.byCode.delete(key);
    this.byId.delete(account.id);
    this.#users.delete(account.id);
  }
}

/** The system accounts of one (entity, currency) the cache knows, and the kinds it does not. */
export interface KnownSystemAccounts {
  readonly ids: Partial<Record<SystemAccountKind, number>>;
  readonly missing: readonly SystemAccountKind[];
}

/**
 * The accounts of one ledger, cached by id and by (entity, currency, code). The cache holds only
 * committed rows: what is read or opened through the ledger's own connection (autocommit) is
 * remembered at once; what is read or opened in a write transaction run by
 * {@link AccountDirectory.writeTransaction} is remembered for that transaction and kept once it
 * commits (dropped when it rolls back, so no rolled-back id is ever answered); what is read
 * through any other `Kysely` (a transaction the ledger did not start) is not remembered. Committed
 * user accounts are kept up to a bound ({@link CACHED_USER_ACCOUNTS_MAX}), system accounts always.
 */
export class AccountDirectory {
  readonly #committed: AccountCache;
  /** The accounts of each write transaction in flight, by its `Kysely`. */
  readonly #pending = new WeakMap<object, AccountCache>();
  readonly #db: Kysely<LedgerDatabase>;
  readonly #now: () => Date;

  /** `cachedUserAccountsMax` (default {@link CACHED_USER_ACCOUNTS_MAX}) bounds the committed user accounts kept. */
  constructor(options: { db: Kysely<LedgerDatabase>; now: () => Date; cachedUserAccountsMax?: number }) {
    this.#db = options.db;
    this.#now = options.now;
    this.#committed = new AccountCache(options.cachedUserAccountsMax ?? CACHED_USER_ACCOUNTS_MAX);
  }

  /**
   * Runs `work` in `dialect`'s write transaction; the accounts it reads or opens are remembered
   * once the transaction commits (only the attempt that committed, when the dialect retries).
   */
  async writeTransaction<DB, T>(dialect: LedgerDialect, db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    let pending: AccountCache | undefined;
    const result = await dialect.writeTransaction(db, async (trx) => {
      const own = new AccountCache();
      pending = own;
      this.#pending.set(trx, own);
      try {
        return await work(trx);
      } finally {
        this.#pending.delete(trx);
      }
    });
    if (pending !== undefined) for (const account of pending.byId.values()) this.#committed.set(account);
    return result;
  }

  /** Caches an account read through `db` (see the class) and returns it. */
  remember(db: Kysely<LedgerDatabase>, account: LedgerAccount): LedgerAccount {
    const known = this.#committed.byId.get(account.id);
    if (known !== undefined) return known;
    const cache = db === this.#db ? this.#committed : this.#pending.get(db);
    cache?.set(account);
    return account;
  }

  /** An account already read through `db` or committed, without a database read (undefined when not yet). */
  cached(db: Kysely<LedgerDatabase>, id: number): LedgerAccount | undefined {
    return this.#committed.byId.get(id) ?? this.#pending.get(db)?.byId.get(id);
  }

  #cachedByCode(db: Kysely<LedgerDatabase>, key: string): LedgerAccount | undefined {
    return this.#committed.byCode.get(key) ?? this.#pending.get(db)?.byCode.get(key);
  }

  /**
   * The system accounts of (entity, currency) known without a database read (committed, or read
   * or opened in `db`'s transaction), and the kinds that are not: an account cached with another
   * kind under a system kind's code counts as missing (opening it answers the conflict).
   */
  knownSystemAccounts(db: Kysely<LedgerDatabase>, entity: string, currency: string): KnownSystemAccounts {
    const ids: Partial<Record<SystemAccountKind, number>> = {};
    const missing: SystemAccountKind[] = [];
    for (const kind of SYSTEM_ACCOUNT_KINDS) {
      const account = this.#cachedByCode(db, codeKey(entity, currency, kind));
      if (account?.kind === kind) ids[kind] = account.id;
      else missing.push(kind);
    }
    return { ids, missing };
  }

  /**
   * Forgets accounts of these codes that `db`'s transaction opened after a savepoint it has rolled
   * back to: they are no rows any more, and must not be remembered when the transaction commits.
   * Committed accounts are never forgotten.
   */
  forgetPending(db: Kysely<LedgerDatabase>, entity: string, currency: string, codes: readonly string[]): void {
    const pending = this.#pending.get(db);
    if (pending === undefined) return;
    for (const code of codes) pending.delete(codeKey(entity, currency, code));
  }

  /** Opens an account (entity already checked), or returns the stored one of the same kind. */
  async open(db: Kysely<LedgerDatabase>, input: { entity: string; currency: string; code: string; kind: AccountKind }): Promise<LedgerAccount> {
    const code = parseKey(input.code, 'code', COMPOSED_KEY_LENGTH_MAX);
    if (!isAccountKind(input.kind)) throw new LedgerError('invalid_input', `kind must be an account kind, got ${describeValue(input.kind)}`, { field: 'kind', value: describeValue(input.kind) });
    const cached = this.#cachedByCode(db, codeKey(input.entity, input.currency, code));
    if (cached !== undefined) return sameKind(cached, input.kind);
    const row = await insertAccountReturningRow(db, {
      entity: input.entity,
      currency: input.currency,
      code,
      kind: input.kind,
      normal_side: ACCOUNT_KIND_RULES[input.kind].normalSide,
      balance: formatUnits(0n),
      last_day: null,
      created_at: formatInstant(this.#now()),
    });
    return sameKind(this.remember(db, rowToAccount(row)), input.kind);
  }

  /** An account by id, or an `unknown_account` error. */
  async byId(db: Kysely<LedgerDatabase>, id: number): Promise<LedgerAccount> {
    const cached = this.cached(db, id);
    if (cached !== undefined) return cached;
    if (!Number.isSafeInteger(id) || id <= 0) throw new LedgerError('unknown_account', `accountId must be a positive integer, got ${describeValue(id)}`, { field: 'accountId', value: describeValue(id) });
    const row = await selectAccountById(db, id);
    if (row === undefined) throw new LedgerError('unknown_account', `accountId ${id} is not an account`, { field: 'accountId', value: String(id) });
    return this.remember(db, rowToAccount(row));
  }

  /** An account by (entity, currency, code), or undefined. */
  async byCode(db: Kysely<LedgerDatabase>, input: { entity: string; currency: string; code: string }): Promise<LedgerAccount | undefined> {
    requireWellFormed(input.code, 'code');
    const cached = this.#cachedByCode(db, codeKey(input.entity, input.currency, input.code));
    if (cached !== undefined) return cached;
    const row = await selectAccountByCode(db, input);
    return row === undefined ? undefined : this.remember(db, rowToAccount(row));
  }

  /** An entity's accounts (optionally of one currency or kind), by id, in a page. */
  async list(db: Kysely<LedgerDatabase>, filter: { entity: string; currency?: string; kind?: AccountKind; page: AccountPage }): Promise<LedgerAccount[]> {
    const { page, ...where } = filter;
    return (await selectAccounts(db, { ...where, ...page })).map((row) => this.remember(db, rowToAccount(row)));
  }
}

function sameKind(account: LedgerAccount, kind: AccountKind): LedgerAccount {
  if (account.kind !== kind) {
    throw new LedgerError('idempotency_conflict', `account ${account.code} exists with kind ${account.kind}, not ${kind}`, { field: 'kind', value: kind });
  }
  return account;
}

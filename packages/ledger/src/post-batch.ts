/**
 * Posting a batch of journal transactions of one entity inside an open write transaction, with a
 * handful of multi-row statements: accounts are locked (PostgreSQL) before idempotency keys are
 * checked, so that a concurrent writer of the same key is seen; every posting is planned in
 * memory in order, each on the balances the previous ones left; then transactions, entries,
 * balances and end-of-day balances are written in bulk and the entries read back and asserted.
 * `Ledger.post` (through group commit), `postMany`, `transact` and `reverse` all end here.
 *
 * Balance shards (PostgreSQL): an account whose kind may go negative (every system account) needs
 * no balance check, so a writer need not wait for its one row. When another transaction holds
 * that row, the account is written in this transaction's balance shard
 * (`db/balance-shards-repository.ts`): its running balance, last day, entry count and day rows
 * are the shard's, and its entries' `balance_after` is the shard's running balance (the entry's
 * `balance_shard` names the shard; null: the account's own row). User accounts keep one row,
 * locked, because a withdrawal must see their whole balance.
 */
import type { Kysely } from 'kysely';
import { LedgerError, assertInvariant } from './errors.js';
import { assertCurrencyScale, formatUnits, isStorableUnits, storageLimitExceeded, toUnits } from './money.js';
import { formatInstant } from './calendar.js';
import { ACCOUNT_KIND_RULES, isAccountKind } from './chart.js';
import { planPosting, transactionRow } from './posting.js';
import type { NormalizedPosting, PlanAccount } from './posting.js';
import { idempotencyConflict, storedContent } from './idempotency-conflict.js';
import { writeWhole } from './partial-writes.js';
import { rowToAccount } from './accounts.js';
import type { AccountDirectory } from './accounts.js';
import { entriesByTransaction, readTransaction, toTransaction } from './journal-reads.js';
import type { LedgerAccount, PostResult } from './ledger-types.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { AccountRow, EntryRow } from './db/repository.js';
import type { PostingBulk, StoredOfBatch } from './db/posting-bulk.js';
import { lockShards, selectAccountsSkipLocked, selectShardBalanceAtEndOfDay, selectShardDaysFrom, writeShardDays, writeShards } from './db/balance-shards-repository.js';

type Db = Kysely<LedgerDatabase>;

/** What posting a batch needs from the ledger. */
export interface PostBatchContext {
  readonly dialect: LedgerDialect;
  readonly now: () => Date;
  readonly currencyScale: (currency: string) => number;
  readonly accounts: AccountDirectory;
  /** The balance shard of a write transaction, the same for all its batches; undefined: no shards. */
  readonly shardOf: (trx: Db) => number | undefined;
}

/**
 * Draws one balance shard per write transaction, in turn from a random start, so that the
 * concurrent transactions of one process never share a shard (up to `shardCount` of them) and
 * those of other processes rarely do (sharing one only makes them wait, as one row would).
 */
export function shardPicker(shardCount: number): (trx: Db) => number | undefined {
  if (shardCount <= 0) return () => undefined;
  const shards = new WeakMap<Db, number>();
  let next = Math.floor(Math.random() * shardCount);
  return (trx) => {
    let shard = shards.get(trx);
    if (shard === undefined) {
      shard = next;
      next = (next + 1) % shardCount;
      shards.set(trx, shard);
    }
    return shard;
  };
}

/** Whether an account of this kind is kept in shards: it may go negative, so no posting needs its whole balance. */
function isShardedKind(kind: string): boolean {
  return isAccountKind(kind) && ACCOUNT_KIND_RULES[kind].negativeAllowed;
}

/**
 * What the batch answers one posting: `exists` (stored before), `created` (the plan's item
 * `index`), or `repeat`: a key posted earlier in this batch, which the later caller finds
 * existing, as `post()` would answer it a moment later.
 */
type Outcome = { readonly kind: 'exists'; readonly id: number } | { readonly kind: 'created' | 'repeat'; readonly index: number };

/** What the batch read before deciding: account rows (mutated as postings are planned), stored keys and provider ids. */
interface BatchState {
  readonly entity: string;
  /** Per account its running state: the account's row, or for a sharded account its shard's. */
  readonly rows: Map<number, AccountRow>;
  /** The shard each sharded account is written in. */
  readonly shards: ReadonlyMap<number, number>;
  readonly stored: Map<string, { id: number; idempotency_key: string; request_hash: string }>;
  /** Per (kind, provider id): the transaction that holds it, or `id: null` when a posting earlier in this batch claimed it. */
  readonly byProvider: Map<string, { id: number | null; idempotency_key: string }>;
}

/** What the batch decided to write. */
interface BatchPlan {
  readonly outcomes: Outcome[];
  readonly created: { posting: NormalizedPosting; balancesAfter: readonly bigint[] }[];
  readonly pendingDays: Map<number, Map<string, bigint>>;
  readonly addedEntries: Map<number, number>;
}

/** Posts a batch of one entity's postings in `trx`; one result per posting, in order. */
export async function postBatch(context: PostBatchContext, trx: Db, postings: readonly NormalizedPosting[]): Promise<PostResult[]> {
  const entity = postings[0]?.entity;
  if (entity === undefined) return [];
  for (const posting of postings) {
    if (posting.entity !== entity) {
      throw new LedgerError('mixed_entities', `one batch posts to one entity: ${posting.entity} differs from ${entity}`, { field: 'entity', value: posting.entity });
    }
  }
  for (let attempt = 1; ; attempt++) {
    const state = await readBatchState(context, trx, entity, postings);
    const plan = await decideBatch(context, trx, state, postings);
    const createdAt = formatInstant(context.now());
    // From the first write on, a failure leaves part of the batch in `trx`: see partial-writes.ts.
    const results = await writeWhole(trx, async () => {
      const written = await writeBatch(context, trx, state, plan, createdAt);
      return written === KEYS_TAKEN ? KEYS_TAKEN : readBackBatch(context, trx, plan, written, createdAt);
    });
    if (results !== KEYS_TAKEN) return results;
    // Another writer committed one of the keys meanwhile (nothing of this batch stays written):
    // planned again, that key now reads as stored, `exists` or a conflict naming what differs.
    // Each round reads at least one more key as stored, so a batch is planned at most once per
    // posting (another process committing the same keys one by one takes them one at a time).
    assertInvariant(attempt <= postings.length, `the keys of a batch of ${postings.length} were taken ${attempt} times`);
  }
}

/**
 * Answered by {@link writeBatch} when another writer committed one of the batch's keys between
 * the batch's read and its insert: possible only for postings that wait on no account row lock
 * (system accounts alone, with balance shards: PostgreSQL), since a lock waited for orders two
 * writers of the same posting. The batch's rows are rolled back to a savepoint taken for that case.
 */
const KEYS_TAKEN = Symbol('keys taken meanwhile');

async function readBatchState(context: PostBatchContext, trx: Db, entity: string, postings: readonly NormalizedPosting[]): Promise<BatchState> {
  const accountIds = [...new Set(postings.flatMap((posting) => posting.entries.map((entry) => entry.accountId)))];
  // Before the account locks and the provider-id lookup: a compound posting booking one of these
  // ids as a line at the same moment is waited for (see lockProviderIdClaims).
  const claimedKinds = postings.flatMap((posting) => (posting.providerId === null ? [] : [posting.kind]));
  await repository.lockProviderIdClaims(trx, context.dialect, { entity, kinds: claimedKinds, exclusive: false });
  const { rows, shards } = await readAccountStates(context, trx, accountIds);
  const keys = postings.map((posting) => posting.idempotencyKey);
  const providerIds = postings.flatMap((posting) => (posting.providerId === null ? [] : [posting.providerId]));
  const found = await selectStored(context, trx, entity, keys, providerIds);
  const stored = new Map(found.byKeys.map((row) => [row.idempotency_key, row]));
  const byProvider = new Map<string, { id: number | null; idempotency_key: string }>();
  for (const row of found.byProviderIds) byProvider.set(`${row.kind}\u0000${row.provider_id ?? ''}`, row);
  return { entity, rows, stored, byProvider, shards };
}

/** What transactions with these keys and provider ids the books hold: in one statement where the dialect has one. */
async function selectStored(context: PostBatchContext, trx: Db, entity: string, keys: readonly string[], providerIds: readonly string[]): Promise<StoredOfBatch> {
  const combined = context.dialect.postingBulk?.combined;
  if (combined !== undefined) return combined.selectStored(trx, entity, keys, providerIds);
  const reads = context.dialect.postingBulk ?? repository;
  return { byKeys: await reads.selectTransactionsByKeys(trx, entity, keys), byProviderIds: providerIds.length === 0 ? [] : await reads.selectTransactionsByProviderIds(trx, entity, providerIds) };
}

/**
 * The running state of each account. User accounts (and accounts not seen yet) are locked in id
 * order, waiting for other writers: a withdrawal must see the whole balance. With balance shards
 * (PostgreSQL), a known system account's own row is taken only if no one holds it (SKIP LOCKED,
 * no wait); the held ones are written in the transaction's shard, locked in id order. So a lone
 * writer writes every account's own row as without shards, and concurrent writers of the same
 * system accounts never wait on each other (only on a shard drawn by two at once).
 */
async function readAccountStates(context: PostBatchContext, trx: Db, accountIds: readonly number[]): Promise<{ rows: Map<number, AccountRow>; shards: Map<number, number> }> {
  const shard = context.shardOf(trx);
  const system = new Map<number, LedgerAccount>();
  if (shard !== undefined) {
    for (const id of accountIds) {
      const account = context.accounts.cached(trx, id);
      if (account !== undefined && isShardedKind(account.kind)) system.set(id, account);
    }
  }
  const waitFor = accountIds.filter((id) => !system.has(id));
  const combined = shard !== undefined && system.size > 0 && waitFor.length > 0 ? context.dialect.postingBulk?.combined : undefined;
  const read = combined === undefined ? undefined : await combined.selectAccounts(trx, waitFor, [...system.keys()]);
  const locked = read?.locked ?? (await repository.selectAccountsLocked(trx, context.dialect, waitFor));
  const rows = new Map(locked.map((row) => [row.id, { ...row }]));
  const shards = new Map<number, number>();
  if (shard === undefined || system.size === 0) return { rows, shards };
  for (const row of read?.taken ?? (await selectAccountsSkipLocked(trx, [...system.keys()]))) {
    rows.set(row.id, { ...row });
    system.delete(row.id);
  }
  for (const state of await lockShards(trx, [...system.keys()], shard)) {
    const account = system.get(state.account_id);
    assertInvariant(account !== undefined, `shard of account ${state.account_id} was not asked for`);
    rows.set(account.id, {
      id: account.id,
      entity: account.entity,
      currency: account.currency,
      code: account.code,
      kind: account.kind,
      normal_side: account.normalSide,
      balance: state.balance,
      last_day: state.last_day,
      entry_count: state.entry_count,
      created_at: '',
    });
    shards.set(account.id, shard);
  }
  return { rows, shards };
}

/** Plans every posting in order on the balances the previous ones left; throws the first refusal. */
async function decideBatch(context: PostBatchContext, trx: Db, state: BatchState, postings: readonly NormalizedPosting[]): Promise<BatchPlan> {
  const plan: BatchPlan = { outcomes: [], created: [], pendingDays: new Map(), addedEntries: new Map() };
  const inBatch = new Map<string, { hash: string; index: number; posting: NormalizedPosting }>();
  for (const posting of postings) {
    const earlier = inBatch.get(posting.idempotencyKey);
    const existing = state.stored.get(posting.idempotencyKey);
    if (earlier !== undefined || existing !== undefined) {
      const hash = earlier?.hash ?? existing?.request_hash;
      if (hash !== posting.requestHash) {
        if (earlier !== undefined) throw idempotencyConflict(posting, earlier.posting, undefined);
        throw idempotencyConflict(posting, storedContent(await readTransaction(trx, existing?.id ?? 0)), existing?.id);
      }
      plan.outcomes.push(earlier === undefined ? { kind: 'exists', id: existing?.id ?? 0 } : { kind: 'repeat', index: earlier.index });
      continue;
    }
    if (posting.providerId !== null) claimProviderId(state, posting);
    const planned = planPosting(posting, planAccounts(context, trx, posting, state.rows));
    for (const change of planned.changes) {
      const row = state.rows.get(change.account.id);
      assertInvariant(row !== undefined, 'planned account row lost');
      row.balance = formatUnits(change.balanceAfterUnits);
      plan.addedEntries.set(row.id, (plan.addedEntries.get(row.id) ?? 0) + posting.entries.filter((entry) => entry.accountId === row.id).length);
      const days = plan.pendingDays.get(row.id) ?? new Map<string, bigint>();
      plan.pendingDays.set(row.id, days);
      if (row.last_day === null || row.last_day <= posting.accountingDay) {
        days.set(posting.accountingDay, change.balanceAfterUnits);
        row.last_day = posting.accountingDay;
      } else {
        await backdate(trx, { account: rowToAccount(row), shard: state.shards.get(row.id) }, posting.accountingDay, change.deltaUnits, days);
      }
    }
    const index = plan.created.length;
    plan.created.push({ posting, balancesAfter: planned.entryBalancesAfter });
    inBatch.set(posting.idempotencyKey, { hash: posting.requestHash, index, posting });
    plan.outcomes.push({ kind: 'created', index });
  }
  return plan;
}

/** A provider id is booked once per (entity, kind): a second key for it is `duplicate_provider_id`, in the journal or in this batch. */
function claimProviderId(state: BatchState, posting: NormalizedPosting): void {
  const providerId = posting.providerId ?? '';
  const key = `${posting.kind}\u0000${providerId}`;
  const duplicate = state.byProvider.get(key);
  if (duplicate !== undefined && duplicate.id === null) {
    throw new LedgerError('duplicate_provider_id', `providerId ${providerId} is claimed twice in one batch as ${posting.kind}: by idempotencyKey ${duplicate.idempotency_key} and by ${posting.idempotencyKey}`, {
      field: 'providerId',
      value: providerId,
      context: { idempotencyKey: duplicate.idempotency_key, otherIdempotencyKey: posting.idempotencyKey },
    });
  }
  if (duplicate !== undefined) {
    throw new LedgerError('duplicate_provider_id', `providerId ${providerId} is already booked as ${posting.kind} transaction ${duplicate.id} under another idempotency key`, {
      field: 'providerId',
      value: providerId,
      context: { transactionId: String(duplicate.id), idempotencyKey: duplicate.idempotency_key },
    });
  }
  state.byProvider.set(key, { id: null, idempotency_key: posting.idempotencyKey });
}

function planAccounts(context: PostBatchContext, trx: Db, posting: NormalizedPosting, rows: ReadonlyMap<number, AccountRow>): Map<number, PlanAccount> {
  const accounts = new Map<number, PlanAccount>();
  for (const [index, entry] of posting.entries.entries()) {
    const row = rows.get(entry.accountId);
    if (row === undefined) continue;
    assertCurrencyScale(entry.units, { scale: context.currencyScale(row.currency), currency: row.currency, field: `entries[${index}].amount` });
    const account = context.accounts.remember(trx, rowToAccount(row));
    accounts.set(row.id, { ...account, balanceUnits: toUnits(row.balance) });
  }
  return accounts;
}

/**
 * A posting dated before the account's latest day: that day's and every later day's closing
 * balance move by the delta (in `days`, the batch's pending rows, read from storage on first
 * use). A user account may not end any of those days negative.
 */
async function backdate(trx: Db, series: { account: LedgerAccount; shard: number | undefined }, day: string, deltaUnits: bigint, days: Map<string, bigint>): Promise<void> {
  const { account, shard } = series;
  const key = { accountId: account.id, shard: shard ?? 0, day };
  const stored = shard === undefined ? await repository.selectDayBalancesFrom(trx, account.id, day) : await selectShardDaysFrom(trx, key);
  for (const row of stored) {
    if (!days.has(row.accounting_day)) days.set(row.accounting_day, toUnits(row.balance));
  }
  if (!days.has(day)) {
    const earlier = [...days.keys()].filter((known) => known < day).sort().pop();
    const stored = shard === undefined ? await repository.selectBalanceAtEndOfDay(trx, account.id, day) : await selectShardBalanceAtEndOfDay(trx, key);
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
    if (!isStorableUnits(moved)) throw storageLimitExceeded(moved, { field: 'entries', what: `the balance of account ${account.id} at the end of ${accountingDay}`, context: { accountId: String(account.id), currency: account.currency, accountingDay } });
    days.set(accountingDay, moved);
  }
}

/** What a batch wrote: (key → id) of the new transactions, and their entries as stored where the insert answered them. */
interface WrittenBatch {
  readonly ids: ReadonlyMap<string, number>;
  readonly storedEntries: readonly EntryRow[] | undefined;
}

/** Writes the planned transactions, entries, balances and day rows. */
async function writeBatch(context: PostBatchContext, trx: Db, state: BatchState, plan: BatchPlan, createdAt: string): Promise<WrittenBatch | typeof KEYS_TAKEN> {
  const bulk = context.dialect.postingBulk;
  const transactionRows = plan.created.map(({ posting }) => transactionRow(posting, createdAt));
  // Only a posting that waits on no account row lock can find its key taken (see KEYS_TAKEN):
  // one on system accounts alone, whose rows are taken with SKIP LOCKED. Only then is the
  // savepoint worth its two statements.
  const unlocked = context.shardOf(trx) !== undefined && plan.created.some(({ posting }) => posting.entries.every((entry) => isShardedKind(state.rows.get(entry.accountId)?.kind ?? '')));
  if (unlocked) await repository.savepoint(trx, 'batch_keys');
  const ids = bulk === undefined ? await repository.insertTransactions(trx, transactionRows) : await bulk.insertTransactions(trx, transactionRows);
  if (ids.size !== plan.created.length) {
    if (unlocked) {
      await repository.rollbackToSavepoint(trx, 'batch_keys');
      return KEYS_TAKEN;
    }
    // This batch waited on a user account's lock, but the writer that committed the key first
    // took none it holds (its system accounts went to a shard). The same posting would have locked
    // the same user account and come first or after, so the stored one differs: a conflict that
    // names what differs, from the transaction now committed under the key.
    const lost = plan.created.find(({ posting }) => !ids.has(posting.idempotencyKey));
    assertInvariant(lost !== undefined, 'a batch lost a key it did not post');
    const reads = context.dialect.postingBulk ?? repository;
    const [stored] = await reads.selectTransactionsByKeys(trx, state.entity, [lost.posting.idempotencyKey]);
    if (stored === undefined) {
      throw new LedgerError('idempotency_conflict', `idempotencyKey ${lost.posting.idempotencyKey} was used concurrently for another transaction`, { field: 'idempotencyKey', value: lost.posting.idempotencyKey });
    }
    throw idempotencyConflict(lost.posting, storedContent(await readTransaction(trx, stored.id)), stored.id);
  }
  if (unlocked) await repository.releaseSavepoint(trx, 'batch_keys');
  const entryRows: Omit<EntryRow, 'id'>[] = [];
  for (const { posting, balancesAfter } of plan.created) {
    const transactionId = ids.get(posting.idempotencyKey);
    assertInvariant(transactionId !== undefined, 'inserted transaction lost its id');
    posting.entries.forEach((entry, index) => {
      const row = state.rows.get(entry.accountId);
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
        balance_shard: state.shards.get(entry.accountId) ?? null,
      });
    });
  }
  let storedEntries: EntryRow[] | undefined;
  if (bulk === undefined) await repository.insertEntryRows(trx, entryRows);
  else storedEntries = (await bulk.insertEntries(trx, entryRows)) ?? undefined;
  const touched = [...plan.addedEntries.keys()].map((id) => {
    const row = state.rows.get(id);
    assertInvariant(row !== undefined, 'touched account lost');
    return { ...row, entry_count: row.entry_count + (plan.addedEntries.get(id) ?? 0) };
  });
  const own = touched.filter((row) => !state.shards.has(row.id));
  const days = [...plan.pendingDays].flatMap(([accountId, days]) => [...days].map(([day, units]) => ({ account_id: accountId, accounting_day: day, balance: formatUnits(units) })));
  const ownDays = days.filter((row) => !state.shards.has(row.account_id));
  await writeOwnBalances(bulk, trx, own, ownDays);
  await writeShards(
    trx,
    touched.flatMap((row) => {
      const shard = state.shards.get(row.id);
      return shard === undefined ? [] : [{ account_id: row.id, shard, balance: row.balance, last_day: row.last_day, entry_count: row.entry_count }];
    }),
  );
  await writeShardDays(
    trx,
    days.flatMap((row) => {
      const shard = state.shards.get(row.account_id);
      return shard === undefined ? [] : [{ ...row, shard }];
    }),
  );
  return { ids, storedEntries };
}

/** The new balances of the accounts' own rows and their end-of-day rows: in one statement where the dialect has one. */
async function writeOwnBalances(bulk: PostingBulk | undefined, trx: Db, accounts: readonly AccountRow[], days: readonly { account_id: number; accounting_day: string; balance: string }[]): Promise<void> {
  if (bulk === undefined) {
    await repository.writeAccountBalances(trx, accounts);
    await repository.writeDayBalances(trx, days);
  } else if (bulk.combined !== undefined) await bulk.combined.writeBalances(trx, accounts, days);
  else {
    await bulk.writeAccounts(trx, accounts);
    await bulk.writeDays(trx, days);
  }
}

/** Reads the new rows back: the entry ids, and the invariant that each transaction balances. */
async function readBackBatch(context: PostBatchContext, trx: Db, plan: BatchPlan, written: WrittenBatch, createdAt: string): Promise<PostResult[]> {
  const { ids } = written;
  // The entries as the insert stored them (RETURNING), or read back in a statement of their own.
  const stored = written.storedEntries ?? (await (context.dialect.postingBulk ?? repository).selectEntriesOfTransactions(trx, [...ids.values()]));
  const byTransaction = entriesByTransaction(stored);
  const created = plan.created.map((item) => {
    const id = ids.get(item.posting.idempotencyKey) ?? 0;
    const entries = byTransaction.get(id) ?? [];
    assertInvariant(entries.length === item.posting.entries.length, `transaction ${id} reads back ${entries.length} of ${item.posting.entries.length} entries`);
    return toTransaction({ id, ...transactionRow(item.posting, createdAt) }, entries);
  });
  const results: PostResult[] = [];
  for (const outcome of plan.outcomes) {
    if (outcome.kind === 'exists') {
      results.push({ status: 'exists', transaction: await readTransaction(trx, outcome.id) });
      continue;
    }
    const transaction = created[outcome.index];
    assertInvariant(transaction !== undefined, 'created posting lost');
    results.push({ status: outcome.kind === 'created' ? 'created' : 'exists', transaction });
  }
  return results;
}

/**
 * Writes a compound posting inside an open write transaction, in the shape of every write:
 * read what the decision needs (accounts, locked on PostgreSQL; the provider ids already booked;
 * day rows of back-dated accounts), decide in {@link planLines}, write with the dialect's bulk
 * statements, read the entries back and assert them.
 */
import type { Kysely } from 'kysely';
import { LedgerError, LedgerInvariantError, assertInvariant } from './errors.js';
import { toUnits } from './money.js';
import { linesTransactionKey, planLines } from './posting-lines.js';
import { writeWhole } from './partial-writes.js';
import type { BackdatedDays, LinesPlan, LinesResult, NormalizedLines } from './posting-lines.js';
import type { BulkAccountRow, JournalBulk, StoredProviderEntry } from './db/journal-bulk.js';
import type { LedgerDatabase } from './db/schema.js';
import type { LedgerDialect } from './db/dialect.js';
import { isUniqueViolation, lockProviderIdClaims } from './db/repository.js';

/** What {@link postLinesWithin} needs from the ledger. */
export interface PostLinesContext {
  /** The storage's dialect: its bulk statements, and whether it takes the provider-id claim lock. */
  readonly dialect: LedgerDialect;
  readonly createdAt: string;
  readonly currencyScale: (currency: string) => number;
}

/** The dialect's bulk statements, or a typed error for a storage opened without them. */
export function requireBulk(bulk: JournalBulk | undefined): JournalBulk {
  if (bulk === undefined) {
    throw new LedgerError('invalid_input', 'storage.dialect has no bulk statements: open the storage with openSqliteDatabase or openPostgresDatabase', { field: 'storage.dialect', value: 'no bulk' });
  }
  return bulk;
}

/**
 * Posts a normalized compound posting in `trx`; see {@link planLines} for the rules. `known`:
 * account rows already read in this transaction where no other writer can have changed them
 * since (SQLite: the transaction holds the database's write lock from its start; PostgreSQL: the
 * caller read them with a row lock, after the provider-id claim lock, see `claimsHeld`); the rest
 * are read, and locked where the dialect has row locks. `claimsHeld`: the caller took the
 * exclusive provider-id claim lock of the posting's entity and kind in this transaction, before
 * any account lock (`lockProviderIdClaims`), so it is not taken again. `providerIdsAbsent`: the caller's word that
 * none of the lines' provider ids is booked (nothing is looked up); `providerIdsDense`: the ids
 * are dense in their range, so one index range per table is probed first (see
 * {@link storedProviderEntries}).
 */
export async function postLinesWithin(
  trx: Kysely<LedgerDatabase>,
  posting: NormalizedLines,
  context: PostLinesContext,
  options: { readonly known?: ReadonlyMap<number, BulkAccountRow> | undefined; readonly claimsHeld?: boolean; readonly providerIdsAbsent?: boolean; readonly providerIdsDense?: boolean; readonly onPlanned?: PlannedRows } = {},
): Promise<LinesResult> {
  const bulk = requireBulk(context.dialect.bulk);
  const { known } = options;
  const accountIds = [...new Set([posting.contraAccountId, ...posting.lines.map((line) => line.accountId)])].sort((a, b) => a - b);
  const unknown = known === undefined ? accountIds : accountIds.filter((id) => !known.has(id));
  // Before the account locks and the provider-id lookup: a whole transaction booking one of the
  // lines' ids at the same moment waits for this one's commit, or this one for its. A compound
  // posting of another kind does not (see lockProviderIdClaims): a line id booked by one at the
  // same moment fails on the line index, answered in writeKeyed.
  if (options.claimsHeld !== true) await lockProviderIdClaims(trx, context.dialect, { entity: posting.entity, kinds: [posting.kind], exclusive: true });
  const rows = unknown.length === 0 ? [] : await bulk.lockAccounts(trx, unknown);
  if (known !== undefined) {
    for (const id of accountIds) {
      const row = known.get(id);
      if (row !== undefined) rows.push(row);
    }
  }
  const stored = new Map<string, StoredProviderEntry[]>();
  const found = await storedProviderEntries(trx, bulk, posting, options);
  for (const entry of found) {
    const list = stored.get(entry.provider_id);
    if (list === undefined) stored.set(entry.provider_id, [entry]);
    else list.push(entry);
  }
  const backdated = new Map<number, BackdatedDays>();
  for (const row of rows) {
    if (row.last_day !== null && row.last_day > posting.accountingDay) backdated.set(row.id, await bulk.dayBalancesFrom(trx, row.id, posting.accountingDay));
  }
  const byId = new Map(rows.map((row) => [row.id, row]));
  const plan = planLines(posting, { accounts: byId, stored, backdated, currencyScale: context.currencyScale });
  options.onPlanned?.((accountId) => plannedRow(byId, plan, accountId));
  if (plan.entries.length === 0) return { transactionId: null, lines: plan.existing.map((id) => ({ status: 'exists', transactionId: id ?? 0 })) };
  const { idempotencyKey, requestHash } = linesTransactionKey(posting, plan);
  // From the first write on, a failure leaves part of the posting in `trx`: see partial-writes.ts.
  return writeWhole(trx, () => writeLines(trx, bulk, posting, plan, { idempotencyKey, requestHash, createdAt: context.createdAt }));
}

/**
 * Called once a posting is planned, before its first write, with the row of an account it
 * writes as the row will be once written (balance, last day, entry count; undefined for an
 * account it does not write): a caller that posts again in the same transaction may give such a
 * row as a `known` account instead of reading it again (it is the transaction's own, locked where
 * the dialect locks: see `postLinesWithin`). Should the write fail, the transaction fails with it.
 */
export type PlannedRows = (rowAfter: (accountId: number) => BulkAccountRow | undefined) => void;

function plannedRow(read: ReadonlyMap<number, BulkAccountRow>, plan: LinesPlan, accountId: number): BulkAccountRow | undefined {
  const written = plan.accounts.find((account) => account.id === accountId);
  const row = read.get(accountId);
  if (written === undefined || row === undefined) return undefined;
  return { ...row, balance: written.balance, last_day: written.last_day, entry_count: written.entry_count };
}

/**
 * What the journal holds of the posting's provider ids, read after the accounts are locked (on
 * PostgreSQL a writer of the same accounts has committed by then, and is seen). With the caller's
 * word that none is booked (`providerIdsAbsent`, see ScopeLinesOptions) nothing is read: the
 * unique index still stands behind it. With `providerIdsDense` (ids dense in their range, as the
 * accounting cycle's are) one index range per table first tells whether any can be booked.
 */
async function storedProviderEntries(
  trx: Kysely<LedgerDatabase>,
  bulk: JournalBulk,
  posting: NormalizedLines,
  options: { readonly providerIdsAbsent?: boolean; readonly providerIdsDense?: boolean },
): Promise<StoredProviderEntry[]> {
  if (options.providerIdsAbsent === true) return [];
  const input = { entity: posting.entity, kind: posting.kind, providerIds: posting.lines.map((line) => line.providerId) };
  if (options.providerIdsDense === true && bulk.anyProviderIdInRange !== undefined && !(await bulk.anyProviderIdInRange(trx, input))) return [];
  return bulk.findProviderEntries(trx, input);
}

/** Writes a planned compound posting and asserts it read back; returns its result. */
async function writeLines(trx: Kysely<LedgerDatabase>, bulk: JournalBulk, posting: NormalizedLines, plan: LinesPlan, key: { idempotencyKey: string; requestHash: string; createdAt: string }): Promise<LinesResult> {
  const { idempotencyKey, requestHash } = key;
  const transactionId = await writeKeyed(idempotencyKey, posting, () => bulk.write(trx, {
    transaction: {
      entity: posting.entity,
      kind: posting.kind,
      idempotency_key: idempotencyKey,
      request_hash: requestHash,
      occurred_at: posting.occurredAt,
      accounting_day: posting.accountingDay,
      metadata: posting.metadata,
      description: posting.description,
      created_at: key.createdAt,
    },
    currency: plan.currency,
    entries: plan.entries,
    accounts: plan.accounts,
    dayBalances: plan.dayBalances,
  }));
  await assertReadBack(trx, bulk, transactionId, plan);
  return { transactionId, lines: plan.existing.map((id) => (id === undefined ? { status: 'created', transactionId } : { status: 'exists', transactionId: id })) };
}

/**
 * Runs the insert of a compound posting under `idempotencyKey`, answering two unique-index
 * failures as `idempotency_conflict`s instead of the driver's error (and a third, an end-of-day
 * row written as new that exists, as the `LedgerInvariantError` of broken books): a transaction
 * already under the key (written before callers' keys with the reserved prefix were refused),
 * naming the key; a line provider id booked at the same moment by a compound posting of another
 * kind (PostgreSQL: the two lookups missed each other's uncommitted line), naming the line. The
 * failed insert still leaves the transaction unable to commit (`writeWhole`); run again, the
 * posting gets the answer a posting after the other gets (the line's booking found, and
 * compared).
 */
async function writeKeyed(idempotencyKey: string, posting: NormalizedLines, write: () => Promise<number>): Promise<number> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error, 'journal_transactions_entity_key')) {
      throw new LedgerError('idempotency_conflict', `idempotencyKey ${idempotencyKey} of this compound posting is taken by another transaction`, { field: 'idempotencyKey', value: idempotencyKey, cause: error });
    }
    if (isUniqueViolation(error, 'journal_entries_entity_provider')) {
      const index = lineOfDuplicate(error, posting);
      const providerId = index === -1 ? undefined : posting.lines[index]?.providerId;
      throw new LedgerError(
        'idempotency_conflict',
        `${providerId === undefined ? 'a line provider id' : `providerId ${providerId}`} of this compound posting was booked at the same moment by another posting; run it again to compare with that booking`,
        { field: index === -1 ? 'lines' : `lines[${index}].providerId`, ...(providerId === undefined ? {} : { value: providerId }), cause: error },
      );
    }
    if (isUniqueViolation(error, 'account_day_balances_pk')) {
      // An end-of-day row after the account's last day (a fresh row, see BulkDayRow): broken books.
      const detail = (error as { detail?: unknown }).detail;
      throw new LedgerInvariantError(`an end-of-day row this posting writes exists already past its account's last day (${typeof detail === 'string' ? detail : 'no detail'}); verify() names the account`, { cause: error });
    }
    throw error;
  }
}

/** The index of the line whose provider id a unique violation names (PostgreSQL's `detail`: `Key (entity, provider_id)=(e, id) already exists.`); -1 when it names none. */
function lineOfDuplicate(error: unknown, posting: NormalizedLines): number {
  const detail = (error as { detail?: unknown }).detail;
  const prefix = `Key (entity, provider_id)=(${posting.entity}, `;
  const suffix = ') already exists.';
  if (typeof detail !== 'string' || !detail.startsWith(prefix) || !detail.endsWith(suffix)) return -1;
  const providerId = detail.slice(prefix.length, detail.length - suffix.length);
  return posting.lines.findIndex((line) => line.providerId === providerId);
}

/** Invariant after writing: the stored entries are the planned ones, and they balance. */
async function assertReadBack(trx: Kysely<LedgerDatabase>, bulk: JournalBulk, transactionId: number, plan: LinesPlan): Promise<void> {
  // Stored entries equal to the planned ones balance as they do (asserted before writing).
  if (bulk.readBackMatches !== undefined && (await bulk.readBackMatches(trx, transactionId, plan))) return;
  const entries = await bulk.readBack(trx, transactionId);
  assertInvariant(entries.length === plan.entries.length, `transaction ${transactionId} reads back ${entries.length} of ${plan.entries.length} entries`);
  let total = 0n;
  entries.forEach((entry, index) => {
    const planned = plan.entries[index];
    const units = toUnits(entry.amount);
    total += units;
    // Both are canonical 18-decimal strings; the units decide only if the texts differ.
    const sameAmount = planned !== undefined && (entry.amount === planned.amount || units === toUnits(planned.amount));
    assertInvariant(
      planned !== undefined && entry.account_id === planned.account_id && sameAmount && entry.provider_id === planned.provider_id && entry.currency === plan.currency,
      `transaction ${transactionId} entry ${index} reads back other than written`,
    );
  });
  assertInvariant(total === 0n, `transaction ${transactionId} does not balance in ${plan.currency}`);
}

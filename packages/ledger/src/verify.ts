/**
 * The full invariant check of stored books (`Ledger.verify`): every transaction balances per
 * currency; every balance series of an account (its own row, and each balance shard on
 * PostgreSQL) stores the balance and entry count of its entries; every end-of-day row of a series
 * equals its entries up to that day, there is one exactly on each day the series has entries,
 * and the last of them is on the series' last day (so it equals the stored balance); no account
 * that may not go negative is negative; per (entity, currency) the signed entries sum to zero. A
 * violation is a {@link LedgerInvariantError}: the books are inconsistent.
 */
import type { Kysely } from 'kysely';
import { assertInvariant } from './errors.js';
import { formatUnits, toUnits, totalToUnits } from './money.js';
import { ACCOUNT_KIND_RULES, isAccountKind } from './chart.js';
import { normalDelta } from './posting.js';
import type { VerifyReport } from './ledger-types.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { AccountRow } from './db/repository.js';
import { selectAccounts } from './db/accounts-repository.js';
import { countTransactions } from './db/journal-pages.js';
import { selectShardDays, selectShardsWithLatestDay, sumShardEntriesPerDay } from './db/balance-shards-repository.js';

type Db = Kysely<LedgerDatabase>;
/** Per account, per series (null: the account's own row; else the shard): signed entry sum and count. */
type SeriesSums = Map<number, Map<number | null, { total: bigint; entries: number }>>;
type ShardState = Awaited<ReturnType<typeof selectShardsWithLatestDay>>[number];

/** Accounts read and checked at a time: memory holds one range's accounts, sums and days, whatever the size of the books. */
const ACCOUNTS_PER_READ = 1_000;
/**
 * The ids a range of accounts spans at most. Its sums and day rows are read for every account
 * whose id falls in it, of any entity, and the other entities' skipped: a page of an entity whose
 * accounts are sparse among another's (ids interleave as users open accounts in both) would
 * otherwise span the other's whole table, every one of its rows read in one range.
 */
const RANGE_IDS_MAX = 4 * ACCOUNTS_PER_READ;
/** Transaction ids whose sums are read at a time. */
const TRANSACTION_IDS_PER_READ = 10_000;

/**
 * Checks one entity's books (or every entity's when `entity` is undefined), a range of accounts
 * and of transactions at a time. (It read every account, every account's sums and every
 * transaction's sums at once: 585 MiB of heap at 300k accounts.)
 */
export async function verifyBooks(db: Db, dialect: LedgerDialect, entity: string | undefined): Promise<VerifyReport> {
  const transactions = await verifyTransactions(db, dialect, entity);
  const shards = new Map<number, ShardState[]>();
  for (const shard of await selectShardsWithLatestDay(db, entity)) shards.set(shard.account_id, [...(shards.get(shard.account_id) ?? []), shard]);
  const shardDays = await readShardDays(db, dialect, entity);
  const shardDayAccounts = new Map<number, AccountRow>();
  const perEntityCurrency = new Map<string, bigint>();
  let entries = 0;
  let accountCount = 0;
  for (let afterId = 0; ; ) {
    const page = await selectAccounts(db, { entity, afterId, limit: ACCOUNTS_PER_READ });
    const first = page[0];
    const last = page[page.length - 1];
    if (first === undefined || last === undefined) break;
    // The page's accounts within RANGE_IDS_MAX ids of its first; the rest are read again after.
    const range = { fromId: first.id, toId: Math.min(last.id, first.id + RANGE_IDS_MAX - 1) };
    const accounts = page.filter((account) => account.id <= range.toId);
    const byId = new Map(accounts.map((account) => [account.id, account]));
    const { sums, ownDays } = readRangeSums(await repository.sumEntriesPerAccountDay(db, dialect, range), byId, entity);
    for (const account of accounts) {
      const checked = verifyAccount(account, sums.get(account.id) ?? new Map(), shards.get(account.id) ?? []);
      entries += checked.entries;
      const key = `${account.entity} ${account.currency}`;
      perEntityCurrency.set(key, (perEntityCurrency.get(key) ?? 0n) + checked.signed);
      if (shardDays.accountIds.has(account.id)) shardDayAccounts.set(account.id, account);
    }
    await verifyOwnDays(db, byId, { ...range, entity }, ownDays);
    accountCount += accounts.length;
    if (page.length < ACCOUNTS_PER_READ && accounts.length === page.length) break;
    afterId = range.toId;
  }
  for (const [key, total] of perEntityCurrency) assertInvariant(total === 0n, `entries of ${key} do not sum to zero: ${formatUnits(total)}`);
  walkDays(shardDays.walk, shardDayAccounts);
  return { accounts: accountCount, transactions, entries };
}

/** A day with entries of a balance series, and their signed sum. */
interface EntryDay {
  readonly accountId: number;
  readonly series: number | null;
  readonly day: string;
  units: bigint;
}

/**
 * A range's sums per (account, series, entity, day), in (account, day) order, as verify() checks
 * them: per series of each account, its entity's entries (`entity` undefined: all); per own day
 * of each account of `accounts` (the entity's accounts of the range), every entry whatever its
 * own entity, in (account, day) order.
 */
function readRangeSums(
  rows: readonly { account_id: number; balance_shard: number | null; entity: string; accounting_day: string; total: string; entries: number }[],
  accounts: ReadonlyMap<number, AccountRow>,
  entity: string | undefined,
): { sums: SeriesSums; ownDays: EntryDay[] } {
  const sums: SeriesSums = new Map();
  const ownDays: EntryDay[] = [];
  for (const row of rows) {
    const units = totalToUnits(row.total);
    if (entity === undefined || row.entity === entity) {
      const series = sums.get(row.account_id) ?? new Map();
      const sum = series.get(row.balance_shard) ?? { total: 0n, entries: 0 };
      series.set(row.balance_shard, { total: sum.total + units, entries: sum.entries + row.entries });
      sums.set(row.account_id, series);
    }
    if (row.balance_shard !== null || !accounts.has(row.account_id)) continue;
    // Rows of one (account, day) are next to each other (the order): one per entries' entity.
    const previous = ownDays[ownDays.length - 1];
    if (previous !== undefined && previous.accountId === row.account_id && previous.day === row.accounting_day) previous.units += units;
    else ownDays.push({ accountId: row.account_id, series: null, day: row.accounting_day, units });
  }
  return { sums, ownDays };
}

/** One account's stored balance and count against its entries, each shard's, and its sign; answers its entries and their signed sum. */
function verifyAccount(account: AccountRow, series: SeriesSums extends Map<number, infer S> ? S : never, states: readonly ShardState[]): { entries: number; signed: bigint } {
  const own = series.get(null);
  const ownBalance = toUnits(account.balance);
  assertInvariant(ownBalance === normalDelta(own?.total ?? 0n, account.normal_side), `account ${account.id} stores ${formatUnits(ownBalance)} but its entries sum to ${formatUnits(normalDelta(own?.total ?? 0n, account.normal_side))}`);
  assertInvariant((own?.entries ?? 0) === account.entry_count, `account ${account.id} counts ${account.entry_count} entries but has ${own?.entries ?? 0}`);
  const balance = ownBalance + verifyShards(account, states, series);
  // A row written behind the ledger's back may hold any kind: a broken invariant, not a TypeError.
  assertInvariant(isAccountKind(account.kind), `account ${account.id} has unknown kind ${account.kind}`);
  if (!ACCOUNT_KIND_RULES[account.kind].negativeAllowed) assertInvariant(balance >= 0n, `account ${account.id} (${account.kind}) is negative`);
  let entries = 0;
  let signed = 0n;
  for (const sum of series.values()) {
    entries += sum.entries;
    signed += sum.total;
  }
  return { entries, signed };
}

/** Each shard of an account stores its entries' balance and count, and its latest day row equals them; answers the shards' total. */
function verifyShards(account: AccountRow, states: readonly ShardState[], series: SeriesSums extends Map<number, infer S> ? S : never): bigint {
  let total = 0n;
  const stored = new Set(states.map((state) => state.shard));
  for (const shard of series.keys()) assertInvariant(shard === null || stored.has(shard), `account ${account.id} has entries in shard ${shard} but no such shard`);
  for (const state of states) {
    const sum = series.get(state.shard);
    const balance = toUnits(state.balance);
    const expected = normalDelta(sum?.total ?? 0n, account.normal_side);
    assertInvariant(balance === expected, `account ${account.id} shard ${state.shard} stores ${formatUnits(balance)} but its entries sum to ${formatUnits(expected)}`);
    assertInvariant((sum?.entries ?? 0) === state.entry_count, `account ${account.id} shard ${state.shard} counts ${state.entry_count} entries but has ${sum?.entries ?? 0}`);
    if (sum !== undefined) {
      assertInvariant(state.day_balance !== null && toUnits(state.day_balance) === balance, `account ${account.id} shard ${state.shard}: latest end-of-day balance differs from its balance`);
      assertInvariant(state.day === state.last_day, `account ${account.id} shard ${state.shard}: latest day row ${state.day} is not its last day ${state.last_day}`);
    }
    total += balance;
  }
  return total;
}

/** One balance series' day rows and its days with entries, both in (account, series, day) order. */
interface DayWalk {
  readonly rows: readonly { account_id: number; series: number | null; accounting_day: string; balance: string }[];
  readonly entryDays: readonly { accountId: number; series: number | null; day: string; units: bigint }[];
}

/** Names a series in messages: the account's own, or a shard. */
function seriesName(accountId: number, series: number | null): string {
  return series === null ? `account ${accountId}` : `account ${accountId} shard ${series}`;
}

/**
 * Every end-of-day row of a series equals its entries up to that day. A series has a day row
 * exactly on the days it has entries (a posting writes its day's row; a back-dated one moves the
 * later rows), so rows and days with entries are walked together.
 */
function walkDays(walk: DayWalk, accounts: ReadonlyMap<number, AccountRow>): void {
  const running = new Map<string, bigint>();
  let next = 0;
  for (const row of walk.rows) {
    const account = accounts.get(row.account_id);
    assertInvariant(account !== undefined, `day row of unknown account ${row.account_id}`);
    const entryDay = walk.entryDays[next];
    assertInvariant(
      entryDay !== undefined && entryDay.accountId === row.account_id && entryDay.series === row.series && entryDay.day === row.accounting_day,
      `${seriesName(row.account_id, row.series)}: the end-of-day row of ${row.accounting_day} and the days with entries (next: ${entryDay === undefined ? 'none' : `${seriesName(entryDay.accountId, entryDay.series)} ${entryDay.day}`}) differ`,
    );
    next++;
    const key = `${row.account_id} ${row.series ?? 'own'}`;
    const sum = (running.get(key) ?? 0n) + entryDay.units;
    running.set(key, sum);
    const expected = normalDelta(sum, account.normal_side);
    assertInvariant(toUnits(row.balance) === expected, `${seriesName(row.account_id, row.series)}: end of ${row.accounting_day} stores ${formatUnits(toUnits(row.balance))} but its entries sum to ${formatUnits(expected)}`);
  }
  const left = walk.entryDays[next];
  assertInvariant(left === undefined, `${left === undefined ? '' : seriesName(left.accountId, left.series)} has entries on ${left?.day} without an end-of-day row`);
}

/**
 * The shards' day rows and days with entries, in (account, shard, day) order, and the accounts
 * they belong to: every shard day row must equal the shard's entries up to that day (see
 * {@link walkDays}; shards are a few system accounts' series, so they are read whole).
 */
async function readShardDays(db: Db, dialect: LedgerDialect, entity: string | undefined): Promise<{ walk: DayWalk; accountIds: ReadonlySet<number> }> {
  const entryDays = (await sumShardEntriesPerDay(db, dialect, entity))
    .map((row) => ({ accountId: row.account_id, series: row.balance_shard ?? 0, day: row.accounting_day, units: totalToUnits(row.total) }))
    .sort((a, b) => a.accountId - b.accountId || a.series - b.series || (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const rows = (await selectShardDays(db, entity)).map((row) => ({ account_id: row.account_id, series: row.shard, accounting_day: row.accounting_day, balance: row.balance }));
  return { walk: { rows, entryDays }, accountIds: new Set([...rows.map((row) => row.account_id), ...entryDays.map((day) => day.accountId)]) };
}

/**
 * Every own end-of-day row of a range of accounts equals its own entries up to that day (see
 * {@link walkDays}). Only rows of `accounts` (the entity's accounts of the range, or every
 * account's when `entity` is undefined) are checked: other entities' ids may fall inside the
 * range, and their rows are read with the range's.
 */
async function verifyOwnDays(db: Db, accounts: ReadonlyMap<number, AccountRow>, range: { fromId: number; toId: number; entity: string | undefined }, entryDays: readonly EntryDay[]): Promise<void> {
  const rows = (await repository.selectDayBalancesOfAccounts(db, range)).filter((row) => range.entity === undefined || accounts.has(row.account_id)).map((row) => ({ ...row, series: null }));
  walkDays({ rows, entryDays }, accounts);
  // The rows are the days with entries, so the last is the latest entry's day (and equals the
  // balance, which equals the entries): it must be the account's last day.
  const lastDays = new Map<number, string>();
  for (const entryDay of entryDays) lastDays.set(entryDay.accountId, entryDay.day);
  for (const [accountId, day] of lastDays) {
    const lastDay = accounts.get(accountId)?.last_day;
    assertInvariant(day === lastDay, `account ${accountId}: latest day row ${day} is not its last day ${lastDay}`);
  }
}

/**
 * Every stored transaction has entries and balances per currency; answers how many there are.
 * Read a range of transaction ids at a time, so memory holds one range's sums.
 */
async function verifyTransactions(db: Db, dialect: LedgerDialect, entity: string | undefined): Promise<number> {
  // The entity's own span of ids: the ranges before and after it hold none of its transactions.
  const ids = await repository.selectTransactionIdRange(db, entity);
  let withEntries = 0;
  for (let fromId = ids?.fromId ?? 1; ids !== undefined && fromId <= ids.toId; fromId += TRANSACTION_IDS_PER_READ) {
    const range = { fromId, toId: Math.min(fromId + TRANSACTION_IDS_PER_READ - 1, ids.toId) };
    const transactions = new Set<number>();
    for (const row of await repository.sumEntriesPerTransactionCurrency(db, dialect, range)) {
      // Another entity's entries in the range are no part of this one's check.
      if (entity !== undefined && row.entity !== entity) continue;
      transactions.add(row.transaction_id);
      assertInvariant(totalToUnits(row.total) === 0n, `transaction ${row.transaction_id} does not balance in ${row.currency}: ${row.total}`);
    }
    withEntries += transactions.size;
  }
  const stored = await countTransactions(db, entity);
  assertInvariant(stored === withEntries, `${stored} transactions are stored but ${withEntries} have entries`);
  return withEntries;
}

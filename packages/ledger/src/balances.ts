/**
 * Reading balances: an account's current balance and its balance at the end of an accounting day.
 * Where the dialect keeps balance shards (PostgreSQL's system accounts), the account's own row
 * (its balance before shards, and what compound postings write) is added to the sum of its
 * shards', each shard's end of day being its latest day row on or before the day.
 */
import type { Kysely } from 'kysely';
import { toUnits } from './money.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import { selectAccountBalance } from './db/accounts-repository.js';
import { selectBalanceAtEndOfDay } from './db/repository.js';
import { selectSeriesBalances } from './db/balance-shards-repository.js';

/** The normal-side balance of an account in minor units, or undefined when there is no such account. */
export async function readBalanceUnits(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, accountId: number): Promise<bigint | undefined> {
  if ((dialect.balanceShardCount ?? 0) === 0) {
    const own = await selectAccountBalance(db, accountId);
    return own === undefined ? undefined : toUnits(own);
  }
  // The own row and the shards in one statement: one snapshot.
  const series = await selectSeriesBalances(db, { accountId });
  const own = series.find((row) => row.shard === null);
  if (own === undefined || own.balance === null) return undefined;
  return series.reduce((units, row) => units + toUnits(row.balance ?? '0'), 0n);
}

/** The normal-side balance of an (existing) account at the end of `day`, in minor units. */
export async function readBalanceAtEndOfDayUnits(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, accountId: number, day: string): Promise<bigint> {
  if ((dialect.balanceShardCount ?? 0) === 0) {
    const own = await selectBalanceAtEndOfDay(db, accountId, day);
    return own === undefined ? 0n : toUnits(own);
  }
  // The own series and the shards' in one statement: one snapshot.
  return (await selectSeriesBalances(db, { accountId, day })).reduce((units, row) => units + (row.balance === null ? 0n : toUnits(row.balance)), 0n);
}

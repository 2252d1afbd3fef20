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
import { selectShardsWithDay } from './db/balance-shards-repository.js';

/** The normal-side balance of an account in minor units, or undefined when there is no such account. */
export async function readBalanceUnits(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, accountId: number): Promise<bigint | undefined> {
  const own = await selectAccountBalance(db, accountId);
  if (own === undefined) return undefined;
  let units = toUnits(own);
  if ((dialect.balanceShardCount ?? 0) > 0) {
    for (const shard of await selectShardsWithDay(db, { accountId })) units += toUnits(shard.balance);
  }
  return units;
}

/** The normal-side balance of an (existing) account at the end of `day`, in minor units. */
export async function readBalanceAtEndOfDayUnits(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, accountId: number, day: string): Promise<bigint> {
  const own = await selectBalanceAtEndOfDay(db, accountId, day);
  let units = own === undefined ? 0n : toUnits(own);
  if ((dialect.balanceShardCount ?? 0) > 0) {
    for (const shard of await selectShardsWithDay(db, { accountId, day })) if (shard.day_balance !== null) units += toUnits(shard.day_balance);
  }
  return units;
}

/**
 * The full invariant check of stored books (`Ledger.verify`): every transaction balances per
 * currency; every account's stored balance and entry count equal its entries; its latest
 * end-of-day balance equals its balance and sits on its last day; no account that may not go
 * negative is negative; per (entity, currency) the signed entries sum to zero. A violation is a
 * {@link LedgerInvariantError}: the books are inconsistent.
 */
import type { Kysely } from 'kysely';
import { assertInvariant } from './errors.js';
import { formatUnits, toUnits } from './money.js';
import { ACCOUNT_KIND_RULES } from './chart.js';
import type { AccountKind } from './chart.js';
import { normalDelta } from './posting.js';
import type { VerifyReport } from './ledger-types.js';
import type { LedgerDialect } from './db/dialect.js';
import type { LedgerDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import { selectAccounts } from './db/accounts-repository.js';
import { countTransactions } from './db/journal-pages.js';

/** Checks one entity's books (or every entity's when `entity` is undefined). */
export async function verifyBooks(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, entity: string | undefined): Promise<VerifyReport> {
  const transactions = await verifyTransactions(db, dialect, entity);
  const accounts = await selectAccounts(db, { entity });
  const sums = new Map((await repository.sumEntriesPerAccount(db, dialect, entity)).map((row) => [row.account_id, row]));
  const latestDays = new Map((await repository.selectLatestDayBalances(db)).map((row) => [row.account_id, row]));
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
  return { accounts: accounts.length, transactions, entries };
}

/** Every stored transaction has entries and balances per currency; answers how many there are. */
async function verifyTransactions(db: Kysely<LedgerDatabase>, dialect: LedgerDialect, entity: string | undefined): Promise<number> {
  const perTransaction = await repository.sumEntriesPerTransactionCurrency(db, dialect, entity);
  const transactions = new Set<number>();
  for (const row of perTransaction) {
    transactions.add(row.transaction_id);
    assertInvariant(toUnits(row.total) === 0n, `transaction ${row.transaction_id} does not balance in ${row.currency}: ${row.total}`);
  }
  const stored = await countTransactions(db, entity);
  assertInvariant(stored === transactions.size, `${stored} transactions are stored but ${transactions.size} have entries`);
  return transactions.size;
}

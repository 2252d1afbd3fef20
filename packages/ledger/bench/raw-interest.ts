/**
 * The raw same-rows writer of a day's interest on SQLite, shared by the benchmarks whose baseline
 * it is: the ledger's cycle (`interest-cycle.ts`) and the reconciler's nightly
 * (`packages/reconcile/bench/nightly-accounts.ts`, which books the same rows from the report).
 * Exactly the rows the ledger's compound posting writes, with native prepared statements (a
 * batch's user entries and end-of-day rows one statement each, as the ledger writes them; entries
 * whose provider ids do not ascend row by row, as the ledger writes those) and no
 * reads or checks: per batch one journal transaction, its earn_assets line and the users' lines
 * (each with its provider id), every account row touched and its end-of-day row of the credited
 * day. The caller holds the transaction(s); rows are precomputed by the caller, untimed.
 */
import type Database from 'better-sqlite3';
import { formatUnits, toUnits } from '../src/index.js';

/** One user's interest line, precomputed. */
export interface RawInterestLine {
  readonly accountId: number;
  readonly providerId: string;
  readonly amount: string;
  readonly balanceAfter: string;
}

/** The writer's statements for one credited day; `interestDay` goes into each transaction's metadata. */
export function rawInterestWriter(native: Database.Database, input: { creditedDay: string; createdAt: string; interestDay: string }) {
  const insertTransaction = native.prepare(
    "insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at) values ('defi', ?, ?, ?, ?, ?, null, null, null, ?, ?)",
  );
  const insertEntry = native.prepare("insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id) values (?, 'defi', ?, 'BTC', ?, ?, ?, ?)");
  const updateAccount = native.prepare('update ledger_accounts set balance = ?, last_day = ?, entry_count = entry_count + 1 where id = ?');
  const upsertDay = native.prepare('insert into account_day_balances (account_id, accounting_day, balance) values (?, ?, ?) on conflict (account_id, accounting_day) do update set balance = excluded.balance');
  // A batch's user entries and end-of-day rows as one JSON array each, bound to json_each: faster
  // than a statement per row (the ledger writes them so; see its SQLite journal-bulk.ts).
  const insertEntries = native.prepare(
    "insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id) select ?, 'defi', value ->> 0, 'BTC', value ->> 1, value ->> 2, ?, value ->> 3 from json_each(?)",
  );
  const upsertDays = native.prepare(
    'insert into account_day_balances (account_id, accounting_day, balance) select value ->> 0, ?, value ->> 1 from json_each(?) where true on conflict (account_id, accounting_day) do update set balance = excluded.balance',
  );
  const metadata = `{"interestDay":"${input.interestDay}"}`;
  const { creditedDay } = input;
  /** A compound transaction keyed by its first line's provider id, as the ledger keys one. */
  const transaction = (kind: string, firstProviderId: string, occurredAt: string): number =>
    Number(insertTransaction.run(kind, `lines:${kind}:${firstProviderId}`, firstProviderId.padEnd(64, '0'), occurredAt, creditedDay, metadata, input.createdAt).lastInsertRowid);
  const entry = (transactionId: number, accountId: number, amount: string, balance: string, providerId: string | null) => insertEntry.run(transactionId, accountId, amount, balance, creditedDay, providerId);
  const account = (accountId: number, balance: string) => {
    updateAccount.run(balance, creditedDay, accountId);
    upsertDay.run(accountId, creditedDay, balance);
  };
  return {
    transaction,
    entry,
    account,
    /** One batch of interest lines (Dr earn_assets once, Cr each user) at `occurredAt`; returns earn_assets' balance after, in units. */
    interestBatch(lines: readonly RawInterestLine[], earnAssets: { readonly id: number; readonly balanceUnits: bigint }, occurredAt: string): bigint {
      const first = lines[0];
      if (first === undefined) return earnAssets.balanceUnits;
      const totalUnits = lines.reduce((sum, line) => sum + toUnits(line.amount), 0n);
      const balanceUnits = earnAssets.balanceUnits + totalUnits;
      const id = transaction('interest', first.providerId, occurredAt);
      entry(id, earnAssets.id, formatUnits(totalUnits), formatUnits(balanceUnits), null);
      // As the ledger does (its SQLite journal-bulk.ts): one statement for provider ids that
      // ascend (the cycle's), row by row for ids that do not (a provider's UUIDs, the nightly's),
      // which a multi-row statement writes at about twice the cost (its statement journal).
      if (lines.every((line, index) => index === 0 || (lines[index - 1] as RawInterestLine).providerId < line.providerId)) {
        insertEntries.run(id, creditedDay, JSON.stringify(lines.map((line) => [line.accountId, formatUnits(-toUnits(line.amount)), line.balanceAfter, line.providerId])));
      } else {
        for (const line of lines) entry(id, line.accountId, formatUnits(-toUnits(line.amount)), line.balanceAfter, line.providerId);
      }
      account(earnAssets.id, formatUnits(balanceUnits));
      for (const line of lines) updateAccount.run(line.balanceAfter, creditedDay, line.accountId);
      upsertDays.run(creditedDay, JSON.stringify(lines.map((line) => [line.accountId, line.balanceAfter])));
      return balanceUnits;
    },
  };
}

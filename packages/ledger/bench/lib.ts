/**
 * Shared pieces of the ledger benchmarks: sizes, the deposit booking every benchmark writes,
 * the rows a deposit stores (for the raw baselines), timing and the printed line.
 *
 * Benchmarks are not tests: they print measured figures and the ratio to a baseline measured in
 * the same run, and never assert a target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { formatInstant, formatUnits } from '../src/index.js';
import type { Ledger } from '../src/index.js';
import type { LedgerAccount, PostingInput } from '../src/index.js';
import { normalizePosting, transactionRow } from '../src/posting.js';
import type { NormalizedPosting } from '../src/posting.js';

/** How big a run is: `full` (default, the sizes) or `small` (a quick check). */
export type BenchScaleName = 'full' | 'small';

/** Sizes of one run. */
export interface BenchSizes {
  readonly scale: BenchScaleName;
  /** User accounts the deposits go to, round robin. */
  readonly userAccounts: number;
  /** Deposits per SQLite measure (raw baseline, postMany, post). */
  readonly sqliteBookings: number;
  readonly sqliteSingleBookings: number;
  /** Seconds each PostgreSQL measure runs (it counts the deposits written in that time). */
  readonly postgresSeconds: number;
  readonly postgresWarmupSeconds: number;
  readonly postgresWriters: number;
  /** User accounts of the PostgreSQL run (opening them is a round trip each). */
  readonly postgresUserAccounts: number;
  /** Journal entries in the balance-at-day database (4 per deposit). */
  readonly balanceEntries: number;
  readonly balanceUserAccounts: number;
  readonly balanceDays: number;
  readonly balanceQueries: number;
  /** Accounts of the interest benchmark. */
  readonly interestAccounts: number;
}

/** Postings one `postMany` call holds in the batched measures. */
export const BENCH_BATCH_SIZE = 500;

const SIZES: Readonly<Record<BenchScaleName, BenchSizes>> = Object.freeze({
  full: Object.freeze({
    scale: 'full',
    userAccounts: 10_000,
    sqliteBookings: 30_000,
    sqliteSingleBookings: 5_000,
    postgresSeconds: 10,
    postgresWarmupSeconds: 2,
    postgresUserAccounts: 2_000,
    postgresWriters: 8,
    balanceEntries: 1_000_000,
    balanceUserAccounts: 10_000,
    balanceDays: 365,
    balanceQueries: 10_000,
    interestAccounts: 1_000_000,
  }),
  small: Object.freeze({
    scale: 'small',
    userAccounts: 1_000,
    sqliteBookings: 5_000,
    sqliteSingleBookings: 1_000,
    postgresSeconds: 3,
    postgresWarmupSeconds: 1,
    postgresUserAccounts: 400,
    postgresWriters: 8,
    balanceEntries: 40_000,
    balanceUserAccounts: 1_000,
    balanceDays: 60,
    balanceQueries: 2_000,
    interestAccounts: 50_000,
  }),
});

/** The sizes chosen by `EARNBOOK_BENCH_SCALE` (`full` or `small`; default `full`). */
export function benchSizes(): BenchSizes {
  const name = process.env['EARNBOOK_BENCH_SCALE'] ?? 'full';
  if (name !== 'full' && name !== 'small') throw new Error(`EARNBOOK_BENCH_SCALE must be full or small, got ${JSON.stringify(name)}`);
  return SIZES[name];
}

/** One printed measure: `name: value unit ratio=r (baseline)`. */
export interface Measure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Measured value ÷ baseline value, where higher is better for the unit (or the reverse for times; see `baseline`). */
  readonly ratio?: number;
  /** What the ratio compares against, and how the measure was taken. */
  readonly baseline: string;
}

function formatNumber(value: number): string {
  if (value >= 100) return Math.round(value).toString();
  if (value >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** Formats a measure as the one line the benchmark prints. */
export function formatMeasure(measure: Measure): string {
  const ratio = measure.ratio === undefined ? 'ratio=n/a' : `ratio=${measure.ratio.toFixed(2)}`;
  return `${measure.name}: ${formatNumber(measure.value)} ${measure.unit} ${ratio} (${measure.baseline})`;
}

/** Formats a rate for a baseline description. */
export function formatRate(value: number, unit: string): string {
  return `${formatNumber(value)} ${unit}`;
}

/** A fresh temporary directory, removed by the returned function. */
export function temporaryDirectory(prefix: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `earnbook-bench-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Seconds elapsed since a `process.hrtime.bigint()` stamp. */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

/** The value at quantile `q` (0..1) of ascending numbers (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** The accounts a deposit moves, per the chart: customer_funds, user, earn_assets, settlement. */
export interface DepositAccounts {
  readonly entity: string;
  readonly currency: string;
  readonly customerFunds: LedgerAccount;
  readonly earnAssets: LedgerAccount;
  readonly settlement: LedgerAccount;
  readonly users: readonly LedgerAccount[];
}

/** Opens the system accounts and `users` user accounts of one (entity, currency). */
export async function openDepositAccounts(ledger: Ledger, options: { entity: string; currency: string; users: number }): Promise<DepositAccounts> {
  const { entity, currency } = options;
  const customerFunds = await ledger.systemAccount(entity, currency, 'customer_funds');
  const earnAssets = await ledger.systemAccount(entity, currency, 'earn_assets');
  const settlement = await ledger.systemAccount(entity, currency, 'settlement');
  const users: LedgerAccount[] = [];
  for (let index = 0; index < options.users; index++) {
    users.push(await ledger.openAccount({ entity, currency, code: `user:bench-${index}`, kind: 'user' }));
  }
  return { entity, currency, customerFunds, earnAssets, settlement, users };
}

/** Where the deposits of a run start; one deposit every `stepMs`, so accounting days advance. */
export const BENCH_EPOCH_MS = Date.UTC(2025, 0, 1);

/** Options of {@link depositInput}. */
export interface DepositOptions {
  readonly accounts: DepositAccounts;
  /** Sequence number: picks the user (round robin), the amount and the key. */
  readonly index: number;
  readonly occurredAtMs: number;
  /** Prefix of the idempotency key, unique per run and writer. */
  readonly keyPrefix: string;
}

/**
 * A deposit as the chart defines it: Dr customer_funds, Cr user; Dr earn_assets, Cr settlement,
 * with a unique idempotency key and a provider id.
 */
export function depositInput(options: DepositOptions): PostingInput {
  const { accounts, index } = options;
  const user = accounts.users[index % accounts.users.length];
  if (user === undefined) throw new Error('no user accounts');
  const amount = `${1 + (index % 997)}.${String(index % 100_000_000).padStart(8, '0')}`;
  return {
    entity: accounts.entity,
    kind: 'deposit',
    idempotencyKey: `${options.keyPrefix}-${index}`,
    providerId: `${options.keyPrefix}-booking-${index}`,
    occurredAt: new Date(options.occurredAtMs).toISOString(),
    entries: [
      { accountId: accounts.customerFunds.id, side: 'debit', amount },
      { accountId: user.id, side: 'credit', amount },
      { accountId: accounts.earnAssets.id, side: 'debit', amount },
      { accountId: accounts.settlement.id, side: 'credit', amount },
    ],
  };
}

/** The rows one booking stores, exactly as the ledger writes them (for raw baselines). */
export interface BookingRows {
  readonly transaction: {
    readonly entity: string;
    readonly kind: string;
    readonly idempotency_key: string;
    readonly request_hash: string;
    readonly occurred_at: string;
    readonly accounting_day: string;
    readonly provider_id: string | null;
    readonly reverses_transaction_id: number | null;
    readonly description: string | null;
    readonly metadata: string | null;
    readonly created_at: string;
  };
  readonly entries: readonly {
    readonly account_id: number;
    readonly currency: string;
    readonly amount: string;
    readonly balance_after: string;
  }[];
  /** One per account, in the order the posting first touches it (the ledger's update order). */
  readonly accounts: readonly { readonly id: number; readonly balance: string; readonly lastDay: string; readonly entriesAdded: number }[];
  readonly dayBalances: readonly { readonly account_id: number; readonly accounting_day: string; readonly balance: string }[];
}

/**
 * Computes the rows a sequence of in-order (never back-dated) postings stores, starting from
 * zero balances: the journal transaction, its entries with running balances, the account
 * updates and the end-of-day balances. Uses the ledger's own normalisation so that every value
 * (hash, canonical amounts, accounting day) is identical.
 */
export class BookingRowPlanner {
  readonly #balances = new Map<number, bigint>();
  readonly #normalSides: ReadonlyMap<number, 'debit' | 'credit'>;
  readonly #currencies: ReadonlyMap<number, string>;
  readonly #timeZone: string;

  constructor(accounts: readonly LedgerAccount[], timeZone: string) {
    this.#normalSides = new Map(accounts.map((account) => [account.id, account.normalSide]));
    this.#currencies = new Map(accounts.map((account) => [account.id, account.currency]));
    this.#timeZone = timeZone;
  }

  /** The rows of the next posting; updates the running balances. */
  plan(input: PostingInput, createdAt: Date): BookingRows {
    const posting: NormalizedPosting = normalizePosting(input, { timeZone: this.#timeZone });
    const running = new Map<number, bigint>();
    const entries = posting.entries.map((entry) => {
      const side = this.#normalSides.get(entry.accountId);
      const currency = this.#currencies.get(entry.accountId);
      if (side === undefined || currency === undefined) throw new Error(`unknown account ${entry.accountId}`);
      const after = (running.get(entry.accountId) ?? this.#balances.get(entry.accountId) ?? 0n) + (side === 'debit' ? entry.units : -entry.units);
      running.set(entry.accountId, after);
      return { account_id: entry.accountId, currency, amount: formatUnits(entry.units), balance_after: formatUnits(after) };
    });
    const counts = new Map<number, number>();
    for (const entry of posting.entries) counts.set(entry.accountId, (counts.get(entry.accountId) ?? 0) + 1);
    const accounts = [...running].map(([id, balance]) => ({ id, balance: formatUnits(balance), lastDay: posting.accountingDay, entriesAdded: counts.get(id) ?? 0 }));
    for (const [id, balance] of running) this.#balances.set(id, balance);
    return {
      transaction: transactionRow(posting, formatInstant(createdAt)),
      entries,
      accounts,
      dayBalances: accounts.map((account) => ({ account_id: account.id, accounting_day: posting.accountingDay, balance: account.balance })),
    };
  }
}

/** Every account of a {@link DepositAccounts}. */
export function allDepositAccounts(accounts: DepositAccounts): LedgerAccount[] {
  return [accounts.customerFunds, accounts.earnAssets, accounts.settlement, ...accounts.users];
}

/** The peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  // maxRSS is in kilobytes.
  return process.resourceUsage().maxRSS / 1024;
}

/** The raw writer: the statements the ledger issues for a deposit, as prepared statements. */
export function prepareRawSqliteWriter(native: Database.Database): (rows: readonly BookingRows[]) => void {
  const insertTransaction = native.prepare(
    `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
     values (@entity, @kind, @idempotency_key, @request_hash, @occurred_at, @accounting_day, @provider_id, @reverses_transaction_id, @description, @metadata, @created_at)
     on conflict (entity, idempotency_key) do nothing returning id`,
  );
  const insertEntry = native.prepare(
    'insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day) values (?, ?, ?, ?, ?, ?, ?)',
  );
  const updateAccount = native.prepare('update ledger_accounts set balance = ?, last_day = ?, entry_count = entry_count + ? where id = ?');
  const upsertDay = native.prepare(
    'insert into account_day_balances (account_id, accounting_day, balance) values (?, ?, ?) on conflict (account_id, accounting_day) do update set balance = excluded.balance',
  );
  const write = native.transaction((bookings: readonly BookingRows[]) => {
    for (const booking of bookings) {
      const { transaction } = booking;
      const inserted = insertTransaction.get(transaction) as { id: number } | undefined;
      if (inserted === undefined) throw new Error(`raw baseline: key ${transaction.idempotency_key} exists`);
      for (const entry of booking.entries) {
        insertEntry.run(inserted.id, transaction.entity, entry.account_id, entry.currency, entry.amount, entry.balance_after, transaction.accounting_day);
      }
      for (const account of booking.accounts) updateAccount.run(account.balance, account.lastDay, account.entriesAdded, account.id);
      for (const day of booking.dayBalances) upsertDay.run(day.account_id, day.accounting_day, day.balance);
    }
  });
  // BEGIN IMMEDIATE, as the ledger's SQLite write transaction.
  return (rows) => write.immediate(rows);
}


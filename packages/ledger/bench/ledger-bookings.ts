/**
 * Deposit bookings per second through the public API, against raw drivers writing the same rows.
 *
 * SQLite: a file database per measure (WAL, the ledger's pragmas, indexes and triggers from the
 * ledger's own migration). The raw baseline is better-sqlite3 with prepared statements in one
 * transaction, writing exactly the rows the ledger writes (checked by comparing the stored
 * journals afterwards).
 *
 * PostgreSQL: 8 concurrent writers in one process, each its own `Ledger` with its own pool (or
 * its own `pg.Client` for the raw baseline), in fresh schemas that are dropped at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { Ledger } from '../src/index.js';
import { formatUnits, toUnits } from '../src/index.js';
import type { NormalSide, PostingInput } from '../src/index.js';
import { normalDelta } from '../src/posting.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { LEDGER_MIGRATION_LOCK_TABLE, LEDGER_MIGRATION_TABLE } from '../src/db/migrations.js';
import {
  BENCH_BATCH_SIZE,
  BENCH_EPOCH_MS,
  BookingRowPlanner,
  allDepositAccounts,
  depositInput,
  prepareRawSqliteWriter,
  formatMeasure,
  formatRate,
  openDepositAccounts,
  secondsSince,
  temporaryDirectory,
} from './lib.js';
import type { BookingRows, DepositAccounts } from './lib.js';

const ENTITY = 'defi';
const CURRENCY = 'BTC';
/** Deposits posted before a measure starts, so that JIT compilation is not timed. */
const WARMUP_BOOKINGS = 2_000;
/** SQLite deposits per accounting day: the run spans many days, always in order (never back-dated). */
const SQLITE_BOOKINGS_PER_DAY = 200;
const DAY_MS = 86_400_000;

/** Options of {@link benchLedgerBookingsSqlite}. */
export interface SqliteBookingsOptions {
  readonly bookings: number;
  readonly singleBookings: number;
  readonly userAccounts: number;
}

interface SqliteLedgerFile {
  readonly ledger: Ledger;
  readonly native: Database.Database;
  readonly accounts: DepositAccounts;
}

async function openSqliteLedgerFile(directory: string, name: string, userAccounts: number): Promise<SqliteLedgerFile> {
  const { db, native, dialect } = openSqliteDatabase({ filename: join(directory, name) });
  const ledger = await Ledger.open({ storage: { db, dialect } });
  const accounts = await openDepositAccounts(ledger, { entity: ENTITY, currency: CURRENCY, users: userAccounts });
  return { ledger, native, accounts };
}

function sqliteDeposits(accounts: DepositAccounts, count: number, keyPrefix: string): PostingInput[] {
  const stepMs = DAY_MS / SQLITE_BOOKINGS_PER_DAY;
  return Array.from({ length: count }, (_, index) => depositInput({ accounts, index, occurredAtMs: BENCH_EPOCH_MS + index * stepMs, keyPrefix }));
}

/** A digest of what a database stores for the journal and the balances (not the created_at stamps). */
function storedDigest(native: Database.Database): string {
  const hash = createHash('sha256');
  const queries = [
    'select id, entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id from journal_transactions order by id',
    'select id, transaction_id, entity, account_id, currency, amount, balance_after, accounting_day from journal_entries order by id',
    'select id, balance, last_day, entry_count from ledger_accounts order by id',
    'select account_id, accounting_day, balance from account_day_balances order by account_id, accounting_day',
  ];
  for (const query of queries) {
    for (const row of native.prepare(query).raw().iterate()) hash.update(JSON.stringify(row));
  }
  return hash.digest('hex');
}

/**
 * `ledger_bookings_sqlite` (postMany batches) and `ledger_bookings_sqlite_single` (one post per
 * call), each as a ratio to raw better-sqlite3 writing the same rows in one transaction.
 */
export async function benchLedgerBookingsSqlite(options: SqliteBookingsOptions): Promise<string[]> {
  const directory = temporaryDirectory('bookings');
  try {
    const total = WARMUP_BOOKINGS + options.bookings;

    // Raw baseline: rows planned up front (untimed), written with prepared statements in one transaction.
    const raw = await openSqliteLedgerFile(directory.path, 'raw.db', options.userAccounts);
    const rawInputs = sqliteDeposits(raw.accounts, total, 'dep');
    const planner = new BookingRowPlanner(allDepositAccounts(raw.accounts), 'UTC');
    const createdAt = new Date();
    const rawRows = rawInputs.map((input) => planner.plan(input, createdAt));
    const writeRaw = prepareRawSqliteWriter(raw.native);
    writeRaw(rawRows.slice(0, WARMUP_BOOKINGS));
    const rawStart = process.hrtime.bigint();
    writeRaw(rawRows.slice(WARMUP_BOOKINGS));
    const rawRate = options.bookings / secondsSince(rawStart);

    // Raw, one transaction per booking: what the commits alone cost (context for `_single`).
    const rawPerBooking = await openSqliteLedgerFile(directory.path, 'raw-per-booking.db', options.userAccounts);
    const perBookingPlanner = new BookingRowPlanner(allDepositAccounts(rawPerBooking.accounts), 'UTC');
    const perBookingRows = sqliteDeposits(rawPerBooking.accounts, WARMUP_BOOKINGS + options.singleBookings, 'dep').map((input) => perBookingPlanner.plan(input, createdAt));
    const writePerBooking = prepareRawSqliteWriter(rawPerBooking.native);
    for (const row of perBookingRows.slice(0, WARMUP_BOOKINGS)) writePerBooking([row]);
    const perBookingStart = process.hrtime.bigint();
    for (const row of perBookingRows.slice(WARMUP_BOOKINGS)) writePerBooking([row]);
    const rawPerBookingRate = options.singleBookings / secondsSince(perBookingStart);
    await rawPerBooking.ledger.close();

    // The public API, postMany batches.
    const batched = await openSqliteLedgerFile(directory.path, 'ledger-batched.db', options.userAccounts);
    const batchedInputs = sqliteDeposits(batched.accounts, total, 'dep');
    for (let start = 0; start < WARMUP_BOOKINGS; start += BENCH_BATCH_SIZE) await batched.ledger.postMany(batchedInputs.slice(start, Math.min(start + BENCH_BATCH_SIZE, WARMUP_BOOKINGS)));
    const batchedStart = process.hrtime.bigint();
    for (let start = WARMUP_BOOKINGS; start < total; start += BENCH_BATCH_SIZE) await batched.ledger.postMany(batchedInputs.slice(start, Math.min(start + BENCH_BATCH_SIZE, total)));
    const batchedRate = options.bookings / secondsSince(batchedStart);

    // The rows must be the same, or the ratio compares different work.
    const same = storedDigest(raw.native) === storedDigest(batched.native);
    if (!same) throw new Error('ledger_bookings_sqlite: the raw baseline stored different rows than the ledger');
    await raw.ledger.close();
    await batched.ledger.close();

    // The public API, one post per call (one transaction per booking).
    const single = await openSqliteLedgerFile(directory.path, 'ledger-single.db', options.userAccounts);
    const singleInputs = sqliteDeposits(single.accounts, WARMUP_BOOKINGS + options.singleBookings, 'dep');
    for (const input of singleInputs.slice(0, WARMUP_BOOKINGS)) await single.ledger.post(input);
    const singleStart = process.hrtime.bigint();
    for (const input of singleInputs.slice(WARMUP_BOOKINGS)) await single.ledger.post(input);
    const singleRate = options.singleBookings / secondsSince(singleStart);
    await single.ledger.close();

    const setting = `file db, WAL, synchronous=NORMAL, indexes+triggers on, ${options.userAccounts} users round robin, 4 entries per deposit`;
    return [
      formatMeasure({
        name: 'ledger_bookings_sqlite',
        value: batchedRate,
        unit: 'bookings/s',
        ratio: batchedRate / rawRate,
        baseline: `public API postMany batches of ${BENCH_BATCH_SIZE}, ${options.bookings} deposits; baseline raw better-sqlite3 same rows, prepared statements, one transaction: ${formatRate(rawRate, 'bookings/s')}; ${setting}; target ratio >= 0.6`,
      }),
      formatMeasure({
        name: 'ledger_bookings_sqlite_single',
        value: singleRate,
        unit: 'bookings/s',
        ratio: singleRate / rawRate,
        baseline: `public API one post() per call = one transaction per deposit, ${options.singleBookings} deposits; baseline raw better-sqlite3 one transaction for all: ${formatRate(rawRate, 'bookings/s')}; raw with one transaction per deposit: ${formatRate(rawPerBookingRate, 'bookings/s')}`,
      }),
    ];
  } finally {
    directory.remove();
  }
}

/** Options of {@link benchLedgerBookingsPostgres}. */
export interface PostgresBookingsOptions {
  readonly connectionString: string;
  readonly writers: number;
  /** Seconds each measure runs (after `warmupSeconds` of single posts). */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly userAccounts: number;
}

/** The one accounting day of the PostgreSQL run: concurrent writers must never back-date a shared account. */
const POSTGRES_DAY_MS = Date.UTC(2025, 5, 1);

export function postgresDeposits(accounts: DepositAccounts, options: { writer: number; writers: number; from: number; count: number; keyPrefix: string; keySpread?: number }): PostingInput[] {
  // Writer w takes users w, w + writers, …: disjoint user accounts, shared system accounts.
  const users = accounts.users.filter((_, index) => index % options.writers === options.writer);
  const own: DepositAccounts = { ...accounts, users };
  return Array.from({ length: options.count }, (_, offset) => {
    const index = options.from + offset;
    // keySpread: consecutive deposits' keys and provider ids under that many prefixes, as many
    // concurrent callers' are (each lands at its own place in the indexes), not in one sequence.
    const spread = options.keySpread === undefined ? '' : `-${index % options.keySpread}`;
    return depositInput({ accounts: own, index, occurredAtMs: POSTGRES_DAY_MS + (index % 1_000) * 1_000, keyPrefix: `${options.keyPrefix}${spread}-w${options.writer}` });
  });
}

export interface RawPostgresBooking {
  readonly transaction: readonly unknown[];
  /** Per account in ascending id order: id, normal-side delta. */
  readonly updates: readonly (readonly [number, string])[];
  readonly entries: readonly { readonly accountId: number; readonly currency: string; readonly amount: string }[];
}

export function rawPostgresBooking(input: PostingInput, sides: ReadonlyMap<number, NormalSide>, planner: BookingRowPlanner): RawPostgresBooking {
  // Planned for the static values (hash, canonical amounts, day); balances come from the database.
  const rows = planner.plan(input, new Date());
  const t = rows.transaction;
  const deltas = new Map<number, bigint>();
  for (const entry of rows.entries) {
    deltas.set(entry.account_id, (deltas.get(entry.account_id) ?? 0n) + normalDelta(toUnits(entry.amount), sides.get(entry.account_id) ?? 'debit'));
  }
  const updates = [...deltas].sort(([a], [b]) => a - b).map(([id, delta]): readonly [number, string] => [id, formatUnits(delta)]);
  if (rows.entries.length !== 4 || updates.length !== 4) throw new Error('raw baseline: a deposit moves 4 distinct accounts');
  return {
    transaction: [t.entity, t.kind, t.idempotency_key, t.request_hash, t.occurred_at, t.accounting_day, t.provider_id, t.reverses_transaction_id, t.description, t.metadata, t.created_at],
    updates,
    entries: rows.entries.map((entry) => ({ accountId: entry.account_id, currency: entry.currency, amount: entry.amount })),
  };
}

function entryValues(entry: RawPostgresBooking['entries'][number] | undefined, balances: ReadonlyMap<number, string>): unknown[] {
  if (entry === undefined) throw new Error('raw baseline: a deposit has 4 entries');
  return [entry.accountId, entry.currency, entry.amount, balances.get(entry.accountId)];
}

/** Writes bookings with one `pg.Client`, `batchSize` per transaction, as the ledger's statements do (row locks by UPDATE). */
export async function writeRawPostgres(client: pg.Client, bookings: readonly RawPostgresBooking[], batchSize: number): Promise<void> {
  for (let start = 0; start < bookings.length; start += batchSize) {
    await client.query('begin');
    try {
      for (const booking of bookings.slice(start, start + batchSize)) {
        const inserted = await client.query<{ id: string }>({
          name: 'raw_insert_transaction',
          text: `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (entity, idempotency_key) do nothing returning id`,
          values: [...booking.transaction],
        });
        const transactionId = inserted.rows[0]?.id;
        if (transactionId === undefined) throw new Error('raw baseline: key exists');
        const balances = new Map<number, string>();
        for (const [id, delta] of booking.updates) {
          const updated = await client.query<{ balance: string; last_day: string }>({
            name: 'raw_update_account',
            text: 'update ledger_accounts set balance = balance + $2, last_day = greatest(last_day, $3), entry_count = entry_count + 1 where id = $1 returning balance, last_day',
            values: [id, delta, booking.transaction[5]],
          });
          const row = updated.rows[0];
          if (row === undefined) throw new Error(`raw baseline: account ${id} missing`);
          balances.set(id, row.balance);
        }
        const day = booking.transaction[5];
        await client.query({
          name: 'raw_insert_entries',
          text: `insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day)
                 values ($1, $2, $3, $4, $5, $6, $7), ($1, $2, $8, $9, $10, $11, $7), ($1, $2, $12, $13, $14, $15, $7), ($1, $2, $16, $17, $18, $19, $7)`,
          values: [
            transactionId,
            booking.transaction[0],
            ...entryValues(booking.entries[0], balances),
            day,
            ...booking.entries.slice(1).flatMap((entry) => entryValues(entry, balances)),
          ],
        });
        await client.query({
          name: 'raw_upsert_days',
          text: `insert into account_day_balances (account_id, accounting_day, balance) values ($1, $2, $3), ($4, $2, $5), ($6, $2, $7), ($8, $2, $9)
                 on conflict (account_id, accounting_day) do update set balance = excluded.balance`,
          values: [booking.updates[0]?.[0], day, balances.get(booking.updates[0]?.[0] ?? 0), ...booking.updates.slice(1).flatMap(([id]) => [id, balances.get(id)])],
        });
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
  }
}

/**
 * The raw floor of the ledger's PostgreSQL write shape: one writer's deposits, precomputed by its
 * own {@link BookingRowPlanner} (its users are its own, and its running balance of each system
 * account is its balance shard's, shard = the writer's number), written with one `unnest`
 * statement per table and one transaction per call. It reads nothing, locks no shared row and
 * checks nothing: the same rows as the ledger's (entries with the shard of a system account's
 * series, the users' rows and day rows, the shard rows and shard day rows), none of its work
 * around them. `verify()` afterwards shows the rows make valid books.
 */
export async function writeRawPostgresSharded(client: pg.Client, rows: readonly BookingRows[], input: { shard: number; system: ReadonlySet<number> }): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (row: BookingRows) => T): T[] => rows.map(pick);
  await client.query('begin');
  try {
    const inserted = await client.query<{ id: string; idempotency_key: string }>({
      name: 'raw_sharded_transactions',
      text: `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at)
             select u.entity, u.kind, u.idempotency_key, u.request_hash, u.occurred_at, u.accounting_day, u.provider_id, u.reverses_transaction_id, u.description, u.metadata, u.created_at
             from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[])
                  with ordinality as u(entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at, n)
             order by u.n
             on conflict (entity, idempotency_key) do nothing returning id, idempotency_key`,
      values: [
        column((r) => r.transaction.entity), column((r) => r.transaction.kind), column((r) => r.transaction.idempotency_key), column((r) => r.transaction.request_hash),
        column((r) => r.transaction.occurred_at), column((r) => r.transaction.accounting_day), column((r) => r.transaction.provider_id), column((r) => r.transaction.reverses_transaction_id),
        column((r) => r.transaction.description), column((r) => r.transaction.metadata), column((r) => r.transaction.created_at),
      ],
    });
    const ids = new Map(inserted.rows.map((row) => [row.idempotency_key, row.id]));
    if (ids.size !== rows.length) throw new Error('raw baseline: a key exists');
    const entries = rows.flatMap((row) => row.entries.map((entry) => ({ ...entry, transactionId: ids.get(row.transaction.idempotency_key), day: row.transaction.accounting_day, entity: row.transaction.entity })));
    await client.query({
      name: 'raw_sharded_entries',
      text: `insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id, balance_shard)
             select u.transaction_id, u.entity, u.account_id, u.currency, u.amount, u.balance_after, u.accounting_day, null, u.balance_shard
             from unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::numeric[], $6::numeric[], $7::text[], $8::int[])
                  with ordinality as u(transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, balance_shard, n)
             order by u.n`,
      values: [
        entries.map((e) => e.transactionId), entries.map((e) => e.entity), entries.map((e) => e.account_id), entries.map((e) => e.currency),
        entries.map((e) => e.amount), entries.map((e) => e.balance_after), entries.map((e) => e.day), entries.map((e) => (input.system.has(e.account_id) ? input.shard : null)),
      ],
    });
    // Each account's state after the call, and its closing balance per day.
    const accounts = new Map<number, { balance: string; lastDay: string; added: number }>();
    const days = new Map<string, { accountId: number; day: string; balance: string }>();
    for (const row of rows) {
      for (const account of row.accounts) {
        const state = accounts.get(account.id);
        accounts.set(account.id, { balance: account.balance, lastDay: account.lastDay, added: (state?.added ?? 0) + account.entriesAdded });
      }
      for (const day of row.dayBalances) days.set(`${day.account_id} ${day.accounting_day}`, { accountId: day.account_id, day: day.accounting_day, balance: day.balance });
    }
    const users = [...accounts].filter(([id]) => !input.system.has(id));
    const shards = [...accounts].filter(([id]) => input.system.has(id));
    await client.query({
      name: 'raw_sharded_users',
      text: `update ledger_accounts as a set balance = u.balance, last_day = u.last_day, entry_count = a.entry_count + u.added
             from unnest($1::bigint[], $2::numeric[], $3::text[], $4::int[]) as u(id, balance, last_day, added) where a.id = u.id`,
      values: [users.map(([id]) => id), users.map(([, a]) => a.balance), users.map(([, a]) => a.lastDay), users.map(([, a]) => a.added)],
    });
    await client.query({
      name: 'raw_sharded_shards',
      text: `insert into account_balance_shards (account_id, shard, balance, last_day, entry_count)
             select u.id, $1::int, u.balance, u.last_day, u.added from unnest($2::bigint[], $3::numeric[], $4::text[], $5::int[]) as u(id, balance, last_day, added)
             on conflict (account_id, shard) do update set balance = excluded.balance, last_day = excluded.last_day, entry_count = account_balance_shards.entry_count + excluded.entry_count`,
      values: [input.shard, shards.map(([id]) => id), shards.map(([, a]) => a.balance), shards.map(([, a]) => a.lastDay), shards.map(([, a]) => a.added)],
    });
    const userDays = [...days.values()].filter((d) => !input.system.has(d.accountId));
    const shardDays = [...days.values()].filter((d) => input.system.has(d.accountId));
    await client.query({
      name: 'raw_sharded_days',
      text: `insert into account_day_balances (account_id, accounting_day, balance) select * from unnest($1::bigint[], $2::text[], $3::numeric[])
             on conflict (account_id, accounting_day) do update set balance = excluded.balance`,
      values: [userDays.map((d) => d.accountId), userDays.map((d) => d.day), userDays.map((d) => d.balance)],
    });
    await client.query({
      name: 'raw_sharded_shard_days',
      text: `insert into account_shard_day_balances (account_id, shard, accounting_day, balance) select u.id, $1::int, u.day, u.balance from unnest($2::bigint[], $3::text[], $4::numeric[]) as u(id, day, balance)
             on conflict (account_id, shard, accounting_day) do update set balance = excluded.balance`,
      values: [input.shard, shardDays.map((d) => d.accountId), shardDays.map((d) => d.day), shardDays.map((d) => d.balance)],
    });
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}

/** What {@link withRawFloor} gives its work: deposit accounts, one raw client per writer, the system account ids. */
export interface RawFloor {
  readonly accounts: DepositAccounts;
  readonly clients: readonly pg.Client[];
  readonly system: ReadonlySet<number>;
}

/**
 * Runs `work` with `writers` raw `pg` clients on fresh books (a new schema, migrated by the
 * ledger, with deposit accounts), for {@link writeRawPostgresSharded}; then checks with
 * `verify()` that what they wrote is valid books.
 */
export async function withRawFloor<T>(connectionString: string, options: { writers: number; userAccounts: number }, work: (floor: RawFloor) => Promise<T>): Promise<T> {
  return withSchema(connectionString, async (schema) => {
    const setup = await openPostgresLedger(connectionString, schema, { migrate: true });
    const accounts = await openDepositAccounts(setup, { entity: ENTITY, currency: CURRENCY, users: options.userAccounts });
    const clients = Array.from({ length: options.writers }, () => new pg.Client({ connectionString, options: `-c search_path=${schema} -c jit=off` }));
    await Promise.all(clients.map((client) => client.connect()));
    try {
      const result = await work({ accounts, clients, system: new Set([accounts.customerFunds.id, accounts.earnAssets.id, accounts.settlement.id]) });
      await setup.verify({ allEntities: true });
      return result;
    } finally {
      await Promise.all(clients.map((client) => client.end()));
      await setup.close();
    }
  });
}

/** Runs `work` in a fresh schema (with the migration tables made up front), dropped afterwards. */
export async function withSchema<T>(connectionString: string, work: (schema: string) => Promise<T>): Promise<T> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  try {
    // Kysely's Migrator, without `migrationTableSchema`, takes a migration table of the same name
    // in any other schema (another test's) for its own and then fails on the missing lock table.
    // Creating both tables here, exactly as the Migrator would, keeps the run independent of
    // other schemas on the server.
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      await client.query(`create schema ${schema}`);
      await client.query(`create table ${schema}.${LEDGER_MIGRATION_TABLE} (name varchar(255) not null primary key, timestamp varchar(255) not null)`);
      await client.query(`create table ${schema}.${LEDGER_MIGRATION_LOCK_TABLE} (id varchar(255) not null primary key, is_locked integer default 0 not null)`);
    } finally {
      await client.end();
    }
    return await work(schema);
  } finally {
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      await client.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await client.end();
    }
  }
}

/** Attempts to open a migrating ledger while other processes create and drop schemas. */
const OPEN_ATTEMPTS_MAX = 5;

export async function openPostgresLedger(connectionString: string, schema: string, options: { migrate: boolean }): Promise<Ledger> {
  for (let attempt = 1; ; attempt++) {
    const { db, dialect } = await openPostgresDatabase({ connectionString, schema, poolSizeMax: 2 });
    try {
      return await Ledger.open({ storage: { db, dialect }, migrate: options.migrate });
    } catch (error) {
      await db.destroy();
      // Kysely's Migrator introspects every schema on the server; a schema another test drops
      // meanwhile fails that query (3F000). Setup only, never a timed part: try again.
      const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
      if (code !== '3F000' || attempt >= OPEN_ATTEMPTS_MAX) throw error;
    }
  }
}

/** PostgreSQL deposits per `postMany` call (and per raw transaction) in the batched measures. */
const POSTGRES_BATCH_SIZE = 500;

/**
 * Runs `writers` loops for `seconds`; each loop writes chunks of `chunk` deposits (indexes from
 * `from`) until the time is up, finishing the chunk in hand. Returns the deposits written per
 * second over the real elapsed time, and where each writer's indexes stopped.
 */
async function runWriters(options: {
  writers: number;
  seconds: number;
  chunk: number;
  from: readonly number[];
  write: (writer: number, from: number, count: number) => Promise<void>;
}): Promise<{ rate: number; next: number[]; bookings: number }> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(options.seconds * 1e9));
  const next = [...options.from];
  await Promise.all(
    Array.from({ length: options.writers }, async (_, writer) => {
      while (process.hrtime.bigint() < deadline) {
        const from = next[writer] ?? 0;
        await options.write(writer, from, options.chunk);
        next[writer] = from + options.chunk;
      }
    }),
  );
  const seconds = secondsSince(start);
  const bookings = next.reduce((sum, value, writer) => sum + value - (options.from[writer] ?? 0), 0);
  return { rate: bookings / seconds, next, bookings };
}

/**
 * `ledger_bookings_postgres` (postMany batches) and `ledger_bookings_postgres_single` (one post
 * per call) with concurrent writers, each as a ratio to raw `pg` clients writing the same rows.
 * Each measure runs for a fixed time (the count written is printed), so that a slow server
 * bounds the run's length instead of stretching it.
 */
export async function benchLedgerBookingsPostgres(options: PostgresBookingsOptions): Promise<string[]> {
  const { writers, connectionString } = options;
  const zeros = Array.from({ length: writers }, () => 0);
  const measure = async (write: (writer: number, from: number, count: number) => Promise<void>) => {
    const warm = await runWriters({ writers, seconds: options.warmupSeconds, chunk: 1, from: zeros, write });
    const batched = await runWriters({ writers, seconds: options.seconds, chunk: POSTGRES_BATCH_SIZE, from: warm.next, write });
    const single = await runWriters({ writers, seconds: options.seconds, chunk: 1, from: batched.next, write });
    return { batched, single };
  };

  const ledgerRates = await withSchema(connectionString, async (schema) => {
    const setup = await openPostgresLedger(connectionString, schema, { migrate: true });
    const accounts = await openDepositAccounts(setup, { entity: ENTITY, currency: CURRENCY, users: options.userAccounts });
    await setup.close();
    const ledgers = await Promise.all(Array.from({ length: writers }, () => openPostgresLedger(connectionString, schema, { migrate: false })));
    try {
      const ledgerOf = (writer: number): Ledger => {
        const ledger = ledgers[writer];
        if (ledger === undefined) throw new Error(`no ledger for writer ${writer}`);
        return ledger;
      };
      const rates = await measure(async (writer, from, count) => {
        const inputs = postgresDeposits(accounts, { writer, writers, from, count, keyPrefix: 'dep' });
        if (count === 1 && inputs[0] !== undefined) await ledgerOf(writer).post(inputs[0]);
        else await ledgerOf(writer).postMany(inputs);
      });
      await ledgerOf(0).verify({ allEntities: true });
      return rates;
    } finally {
      await Promise.all(ledgers.map((ledger) => ledger.close()));
    }
  });

  const rawRates = await withSchema(connectionString, async (schema) => {
    const setup = await openPostgresLedger(connectionString, schema, { migrate: true });
    const accounts = await openDepositAccounts(setup, { entity: ENTITY, currency: CURRENCY, users: options.userAccounts });
    const clients = Array.from({ length: writers }, () => new pg.Client({ connectionString, options: `-c search_path=${schema}` }));
    await Promise.all(clients.map((client) => client.connect()));
    try {
      const planner = new BookingRowPlanner(allDepositAccounts(accounts), 'UTC');
      const clientOf = (writer: number): pg.Client => {
        const client = clients[writer];
        if (client === undefined) throw new Error(`no client for writer ${writer}`);
        return client;
      };
      // Built once: the normal side of every account a deposit touches.
      const sides = new Map(allDepositAccounts(accounts).map((account) => [account.id, account.normalSide]));
      const rates = await measure(async (writer, from, count) => {
        // Planning (hash, canonical amounts) is outside the raw work in spirit but cheap next to a round trip; it is timed here.
        const bookings = postgresDeposits(accounts, { writer, writers, from, count, keyPrefix: 'dep' }).map((input) => rawPostgresBooking(input, sides, planner));
        await writeRawPostgres(clientOf(writer), bookings, count);
      });
      // The raw rows must form valid books, or the baseline did less (or other) work.
      await setup.verify({ allEntities: true });
      return rates;
    } finally {
      await Promise.all(clients.map((client) => client.end()));
      await setup.close();
    }
  });

  const shardedRates = await withRawFloor(connectionString, { writers, userAccounts: options.userAccounts }, async ({ accounts, clients, system }) => {
    const planners = clients.map(() => new BookingRowPlanner(allDepositAccounts(accounts), 'UTC'));
    return measure(async (writer, from, count) => {
      const planner = planners[writer];
      const client = clients[writer];
      if (planner === undefined || client === undefined) throw new Error(`no raw writer ${writer}`);
      const rows = postgresDeposits(accounts, { writer, writers, from, count, keyPrefix: 'dep' }).map((input) => planner.plan(input, new Date()));
      await writeRawPostgresSharded(client, rows, { shard: writer, system });
    });
  });

  const setting = `${writers} concurrent writers (one Ledger + pool each, one process), one currency: disjoint user accounts, shared customer_funds/earn_assets/settlement rows, ${options.userAccounts} users, synchronous_commit=on, ${options.seconds} s per side`;
  return [
    formatMeasure({
      name: 'ledger_bookings_postgres',
      value: ledgerRates.batched.rate,
      unit: 'bookings/s',
      ratio: ledgerRates.batched.rate / shardedRates.batched.rate,
      baseline: `public API postMany batches of ${POSTGRES_BATCH_SIZE}, ${ledgerRates.batched.bookings} deposits; baseline raw pg ${writers} clients writing the same rows in the ledger's shape (a balance shard per writer, one unnest statement per table, ${POSTGRES_BATCH_SIZE} per transaction, no reads, no checks): ${formatRate(shardedRates.batched.rate, 'bookings/s')}; raw pg locking the shared system rows, a statement per row: ${formatRate(rawRates.batched.rate, 'bookings/s')}; ${setting}; target >= 10000 bookings/s`,
    }),
    formatMeasure({
      name: 'ledger_bookings_postgres_single',
      value: ledgerRates.single.rate,
      unit: 'bookings/s',
      ratio: ledgerRates.single.rate / shardedRates.single.rate,
      baseline: `public API one post() per call, ${ledgerRates.single.bookings} deposits; baseline raw pg ${writers} clients, the ledger's shape as above, one transaction per deposit: ${formatRate(shardedRates.single.rate, 'bookings/s')}; locking the shared rows: ${formatRate(rawRates.single.rate, 'bookings/s')}; ${setting}; target >= 10000 bookings/s`,
    }),
  ];
}

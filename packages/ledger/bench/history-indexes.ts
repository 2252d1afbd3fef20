/**
 * What a night's writes cost as the books age, on raw better-sqlite3 (no ledger code): the two
 * shapes of index the nightly job writes into, each empty and then after `days` earlier nights of
 * 1M accounts (default 10), in a file of its own with a 64 MiB page cache (the ledger's):
 * - random keys: 1M provider ids that are hashes (the report's interest ids) inserted into a
 *   unique `(entity, provider_id)` index, then 1M other such ids probed (the sync's lookups);
 * - per-account appends: 1M entries indexed `(account_id, id)` and 1M end-of-day rows keyed
 *   `(account_id, day)`, inserted in account order (the cycle and the sync write so).
 * Each night is one transaction, `json_each` statements of 1,000 rows, as the ledger writes them.
 *
 * Run alone (not part of `pnpm bench`; ~8 minutes): `npx tsx bench/history-indexes.ts [days]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { localEntryId } from '../src/index.js';

const ACCOUNTS = 1_000_000;
const ROWS_PER_STATEMENT = 1_000;

function openFile(directory: string, name: string): Database.Database {
  const db = new Database(join(directory, name));
  db.pragma('journal_mode = wal');
  db.pragma('cache_size = -65536');
  return db;
}

function seconds(work: () => void): number {
  const started = performance.now();
  work();
  return (performance.now() - started) / 1000;
}

/** One night of 1M random ids into the unique index after `days` nights; then 1M probes of absent ids. */
function randomKeys(directory: string, days: number): { insert: number; probe: number } {
  const db = openFile(directory, `random-${days}.sqlite`);
  try {
    db.exec('create table e (id integer primary key, entity text not null, provider_id text); create unique index e_provider on e (entity, provider_id)');
    const insert = db.prepare("insert into e (entity, provider_id) select 'defi', value from json_each(?)");
    const night = (ids: readonly string[]) =>
      db.transaction(() => {
        for (let start = 0; start < ids.length; start += ROWS_PER_STATEMENT) insert.run(JSON.stringify(ids.slice(start, start + ROWS_PER_STATEMENT)));
      })();
    for (let day = 0; day < days; day++) night(Array.from({ length: ACCOUNTS }, (_, i) => localEntryId('history', String(day), String(i))));
    db.pragma('wal_checkpoint(truncate)');
    const tonight = Array.from({ length: ACCOUNTS }, (_, i) => localEntryId('tonight', String(i)));
    const insertSeconds = seconds(() => night(tonight));
    const probe = db.prepare("select count(*) from e where entity = 'defi' and provider_id in (select value from json_each(?))");
    const absent = Array.from({ length: ACCOUNTS }, (_, i) => localEntryId('absent', String(i)));
    const probeSeconds = seconds(() => {
      for (let start = 0; start < absent.length; start += ROWS_PER_STATEMENT) probe.get(JSON.stringify(absent.slice(start, start + ROWS_PER_STATEMENT)));
    });
    return { insert: insertSeconds, probe: probeSeconds };
  } finally {
    db.close();
  }
}

/** One night of 1M entries and 1M end-of-day rows in account order after `days` nights. */
function accountAppends(directory: string, days: number): number {
  const db = openFile(directory, `appends-${days}.sqlite`);
  try {
    db.exec(
      'create table e (id integer primary key, account_id integer not null, day text not null, amount text not null); create index e_account on e (account_id, id);' +
        'create table d (account_id integer not null, day text not null, balance text not null, primary key (account_id, day))',
    );
    const entries = db.prepare("insert into e (account_id, day, amount) select value, ?, '0.000000000000000001' from json_each(?)");
    const dayRows = db.prepare("insert into d (account_id, day, balance) select value, ?, '1.000000000000000001' from json_each(?)");
    const night = (day: string) =>
      db.transaction(() => {
        for (let start = 0; start < ACCOUNTS; start += ROWS_PER_STATEMENT) {
          const ids = JSON.stringify(Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => start + i));
          entries.run(day, ids);
          dayRows.run(day, ids);
        }
      })();
    for (let day = 0; day < days; day++) night(`2025-01-${String(day + 1).padStart(3, '0')}`);
    db.pragma('wal_checkpoint(truncate)');
    return seconds(() => night('2025-12-31'));
  } finally {
    db.close();
  }
}

const days = Number(process.argv[2] ?? 10);
if (!Number.isSafeInteger(days) || days < 1) throw new Error(`days must be a whole number of nights, at least 1, got ${process.argv[2]}`);
const directory = mkdtempSync(join(tmpdir(), 'earnbook-history-indexes-'));
try {
  const fresh = randomKeys(directory, 0);
  const aged = randomKeys(directory, days);
  console.log(`history_random_keys_insert_s: ${aged.insert.toFixed(2)} s ratio=${(aged.insert / fresh.insert).toFixed(2)} (1M hash ids into a unique (entity, provider_id) index holding ${days}M; the same into an empty index: ${fresh.insert.toFixed(2)} s)`);
  console.log(`history_random_keys_probe_s: ${aged.probe.toFixed(2)} s ratio=${(aged.probe / fresh.probe).toFixed(2)} (1M absent hash ids probed in that index; against the index of one night: ${fresh.probe.toFixed(2)} s)`);
  const freshAppends = accountAppends(directory, 0);
  const agedAppends = accountAppends(directory, days);
  console.log(`history_account_appends_s: ${agedAppends.toFixed(2)} s ratio=${(agedAppends / freshAppends).toFixed(2)} (1M entries indexed (account_id, id) and 1M end-of-day rows keyed (account_id, day), in account order, after ${days} nights; on empty tables: ${freshAppends.toFixed(2)} s)`);
} finally {
  rmSync(directory, { recursive: true, force: true });
}

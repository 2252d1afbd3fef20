/**
 * Test fixtures: books on a SQLite file (or a PostgreSQL schema) filled through the ledger's
 * public API, a matching daily report file built the way the provider would, a configuration
 * file, and an in-process runner of the CLI with captured output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import type { LedgerStorage } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { buildReport } from '../../reconcile/test/report-builder.js';
import type { ReportJson } from '../../reconcile/test/report-builder.js';
import { run } from '../src/index.js';
import type { CliIo } from '../src/index.js';

import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

export type { ReportJson } from '../../reconcile/test/report-builder.js';
export { DIALECTS, PG_URL, dropSchema } from '../../ledger/test/dialects.js';

export const ZONE = 'Europe/Berlin';
export const DAY = '2025-03-18';
export const ENTITIES = [
  { id: 'defi', timeZone: ZONE },
  { id: 'lending', timeZone: ZONE },
];
export const WALLET = 'bc1-partner-wallet';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

/** A temporary folder, removed by `remove()`. */
export async function tempFolder(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'earnbook-cli-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Fills books on `storage` with the day's bookings of three BTC accounts of `defi`, builds the
 * report the provider would send for the day, and closes the books.
 */
export async function seedBooks(storage: LedgerStorage): Promise<ReportJson> {
  const ledger = await Ledger.open({ storage, entities: ENTITIES });
  try {
    const books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 3; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      await books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: 'btc', currency: 'BTC' });
    }
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: { id: 'b0' } });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b1', amount: '2.5', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'k1', providerData: { id: 'b1' } });
    await books.recordWithdrawal({ entity: 'defi', earnAccountId: 'a1', providerBookingId: 'b2', amount: '0.5', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k2', providerData: { id: 'b2' } });
    return await buildReport(books, 'defi', DAY);
  } finally {
    await ledger.close();
  }
}

/** A temporary folder with a seeded SQLite database, its report file and a configuration file. */
export interface Workspace {
  readonly dir: string;
  readonly database: string;
  readonly reportFile: string;
  readonly configFile: string;
  readonly report: ReportJson;
  /** Writes a report (e.g. a changed copy) to a file in the folder and returns its path. */
  writeReport(name: string, report: unknown): Promise<string>;
  /** Writes a configuration object to a file in the folder and returns its path. */
  writeConfig(name: string, config: unknown): Promise<string>;
  remove(): Promise<void>;
}

/** The configuration the tests use. */
export function testConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { entities: ENTITIES, wallets: { defi: { BTC: WALLET } }, ...extra };
}

export async function workspace(): Promise<Workspace> {
  const folder = await tempFolder();
  const database = join(folder.path, 'books.sqlite');
  const { db, dialect } = openSqliteDatabase({ filename: database });
  const report = await seedBooks({ db, dialect });
  const writeJsonFile = async (name: string, value: unknown) => {
    const path = join(folder.path, name);
    await writeFile(path, typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
    return path;
  };
  return {
    dir: folder.path,
    database,
    report,
    reportFile: await writeJsonFile('report.json', report),
    configFile: await writeJsonFile('config.json', testConfig()),
    writeReport: writeJsonFile,
    writeConfig: writeJsonFile,
    remove: folder.remove,
  };
}

/** A writable that keeps what was written. */
export class Captured extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;

  constructor(options: { tty?: boolean } = {}) {
    super();
    this.isTTY = options.tty === true;
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/** The outcome of an in-process run. */
export interface RunOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams. */
export async function runCli(argv: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined>; tty?: boolean; now?: () => Date } = {}): Promise<RunOutcome> {
  const stdout = new Captured({ tty: options.tty ?? false });
  const stderr = new Captured({ tty: options.tty ?? false });
  const io: CliIo = { stdout, stderr, env: options.env ?? {}, cwd: options.cwd ?? tmpdir(), ...(options.now === undefined ? {} : { now: options.now }) };
  const code = await run(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Every row of the SQLite books at `database`, to compare before and after a run. */
export async function booksSnapshot(database: string): Promise<string> {
  const { db } = openSqliteDatabase({ filename: database });
  try {
    return await snapshotDatabase(db as never);
  } finally {
    await db.destroy();
  }
}

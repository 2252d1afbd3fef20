/**
 * The nightly script reconciles the partner's existing books and never starts new ones: a
 * `--database` that holds no books (a typo, an empty PostgreSQL schema) is exit 2
 * `books_not_found` with nothing created, and a PostgreSQL URL without `?schema=` is the
 * connection's default schema, not a fresh one per night. The demo keeps its fresh schema.
 * Its `--zone` (default UTC) must be the zone the books keep: another one, or one that is not an
 * IANA zone, is exit 2 `invalid_flag` naming `--zone`, and the books are left as they were.
 * The script runs as the scheduler runs it (`node --import tsx`), against a sandbox as the API.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '@earnbook/cli';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import type { Sandbox } from '@earnbook/earn-sandbox';
import { syncProducts } from '@earnbook/reconcile';
import { EXIT_CLEAN, EXIT_ERROR } from '../nightly-reconciliation/src/nightly.js';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';
import { bookSampleActivity } from '../src/lib/sandbox-activity.js';

/** Storage dialects to test, as in the packages: `EARNBOOK_DIALECTS` (default `sqlite,postgres`). */
const DIALECTS = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres').split(',').map((name) => name.trim());
const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ZONE = 'Europe/Berlin';
const EXAMPLES = new URL('../', import.meta.url).pathname;

interface Run {
  readonly code: number | null;
  /** stdout and stderr as they arrived. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the nightly script against the sandbox as the Earn API, as `pnpm … nightly` does. */
function runNightly(args: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'nightly-reconciliation/src/main.ts', ...args], { cwd: EXAMPLES, env: { ...process.env, ...env } });
    let output = '';
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
      stderr += String(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, stdout, stderr }));
  });
}

/** Runs `queries` on one connection to the test database. */
async function withPg<T>(queries: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await queries(client);
  } finally {
    await client.end();
  }
}

/** The schemas and the tables of the `public` schema, to see that a run created none. */
async function pgObjects(): Promise<{ schemas: string[]; publicTables: string[] }> {
  return withPg(async (client) => ({
    schemas: (await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace ORDER BY 1')).rows.map((row) => row.name),
    publicTables: (await client.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((row) => row.name),
  }));
}

/** A sandbox playing the Earn API, its client for the partner's bookings, and the script's environment. */
interface World {
  readonly sandbox: Sandbox;
  readonly earn: EarnFacade;
  readonly env: Readonly<Record<string, string>>;
  /** The sandbox's accounting day when it started. */
  readonly day: string;
}

const worlds: World[] = [];
let directory: string;
const schemasToDrop: string[] = [];

/** Starts a sandbox of its own, so that the activity of one test never shows in another's report. */
async function startWorld(): Promise<World> {
  const sandbox = await startSandbox({ timeZone: ZONE });
  const config = (entity: string) => sandbox.clientConfig(entity);
  const world: World = {
    sandbox,
    earn: new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, config(entity.id)])) }),
    env: {
      EARN_BASE_URL: String(config('defi').baseUrl),
      EARN_TOKEN_URL: String(config('defi').tokenUrl),
      EARN_DEFI_CLIENT_ID: String(config('defi').clientId),
      EARN_DEFI_CLIENT_SECRET: String(config('defi').clientSecret),
      EARN_LENDING_CLIENT_ID: String(config('lending').clientId),
      EARN_LENDING_CLIENT_SECRET: String(config('lending').clientSecret),
    },
    day: sandbox.clock.accountingDay(),
  };
  worlds.push(world);
  return world;
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'earnbook-nightly-books-'));
});

afterAll(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (schemasToDrop.length > 0) {
    await withPg(async (client) => {
      for (const schema of schemasToDrop) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });
  }
  for (const world of worlds) await world.sandbox.close();
});

/**
 * Starts the partner's books at `database` with a day of activity booked on the sandbox (as the
 * back office would have), moves the provider past midnight, and answers the day and the
 * number of journal transactions in the books.
 */
async function startBooks(world: World, database: string): Promise<{ day: string; transactions: number }> {
  const partner = await openPartnerBooks({ database, ifMissing: 'create', entities: world.sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    await syncProducts({ source: world.earn, books: partner.books, effectiveDay: world.day });
    await bookSampleActivity({ earn: world.earn, books: partner.books, users: 2, bookingPrefix: world.day });
    await world.sandbox.clock.advanceDays(1);
    return { day: world.day, transactions: (await partner.ledger.verify({ allEntities: true })).transactions };
  } finally {
    await partner.close();
  }
}

/** The number of journal transactions in the books at `database`, which must exist. */
async function transactionsAt(world: World, database: string): Promise<number> {
  const partner = await openPartnerBooks({ database, ifMissing: 'fail', entities: world.sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    return (await partner.ledger.verify({ allEntities: true })).transactions;
  } finally {
    await partner.close();
  }
}

describe('openPartnerBooks', () => {
  it('with ifMissing "fail", a SQLite path that holds no books is books_not_found naming it, and no file is made', async () => {
    const database = join(directory, 'no-such-books.sqlite');
    const opening = openPartnerBooks({ database, ifMissing: 'fail', entities: [{ id: 'defi', timeZone: ZONE }] });
    await expect(opening).rejects.toBeInstanceOf(CliError);
    await expect(opening).rejects.toMatchObject({ code: 'books_not_found', field: '--database', value: database });
    expect(existsSync(database)).toBe(false);
  });

  it('refuses a fresh schema for books that must exist', async () => {
    await expect(openPartnerBooks({ database: PG_URL, ifMissing: 'fail', unnamedSchema: 'fresh', entities: [{ id: 'defi', timeZone: ZONE }] })).rejects.toThrow(/unnamedSchema "fresh" needs ifMissing "create"/);
  });

  it.runIf(DIALECTS.includes('postgres'))('keeps the demo\'s fresh schema when asked for it (unnamedSchema "fresh")', async () => {
    const partner = await openPartnerBooks({ database: PG_URL, ifMissing: 'create', unnamedSchema: 'fresh', entities: [{ id: 'defi', timeZone: ZONE }] });
    const schema = /\(schema (earnbook_\d{14}_[0-9a-f]{6})\)$/.exec(partner.description)?.[1];
    await partner.close();
    if (schema !== undefined) schemasToDrop.push(schema);
    expect(schema).toBeDefined();
  });
});

describe('the nightly script against the API', () => {
  it('a --database that holds no books (a typo) exits 2 with books_not_found naming it, and creates nothing', async () => {
    const { env, day } = await startWorld();
    const database = join(directory, 'bookz.sqlite');
    const result = await runNightly(['--database', database, '--zone', ZONE, '--day', day], env);
    expect({ code: result.code, created: existsSync(database) }).toEqual({ code: EXIT_ERROR, created: false });
    expect(result.output).toContain('ALERT nightly reconciliation could not run: books_not_found: no books at SQLite');
    expect(result.output).toContain(database);
  });

  it('reconciles the books that exist at --database (SQLite)', async () => {
    const world = await startWorld();
    const database = join(directory, 'books.sqlite');
    const started = await startBooks(world, database);
    const result = await runNightly(['--database', database, '--zone', ZONE, '--day', started.day], world.env);
    expect(result.code, result.output).toBe(EXIT_CLEAN);
    // The night's interest and margin went into those books.
    expect(await transactionsAt(world, database)).toBeGreaterThan(started.transactions);
  });

  it.runIf(DIALECTS.includes('postgres'))('a PostgreSQL URL without ?schema= is the default schema: no books there is exit 2, no schema or table made, no password shown', async () => {
    const { env, day } = await startWorld();
    const before = await pgObjects();
    // The default schema of the test database holds no books (the tests keep theirs in schemas of their own).
    expect(before.publicTables.filter((name) => name.startsWith('ledger_') || name.startsWith('journal_'))).toEqual([]);
    const url = new URL(PG_URL);
    if (url.password === '') url.password = 'not-shown-h6';
    const result = await runNightly(['--database', url.toString(), '--zone', ZONE, '--day', day], env);
    const after = await pgObjects();
    schemasToDrop.push(...after.schemas.filter((name) => !before.schemas.includes(name) && /^earnbook_\d{14}_[0-9a-f]{6}$/.test(name)));
    expect({ code: result.code, schemasMade: after.schemas.filter((name) => !before.schemas.includes(name)), publicTables: after.publicTables }).toEqual({ code: EXIT_ERROR, schemasMade: [], publicTables: before.publicTables });
    expect(result.output).toContain('books_not_found: no books at PostgreSQL');
    expect(result.output).not.toContain(url.password);
  });

  it.runIf(DIALECTS.includes('postgres'))('a PostgreSQL URL with ?schema= reconciles the books in that schema, and a missing schema is not created', async () => {
    const world = await startWorld();
    const schema = `earnbook_nightly_test_${process.pid}_${Date.now()}`;
    schemasToDrop.push(schema, `${schema}_typo`);
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const missing = new URL(url);
    missing.searchParams.set('schema', `${schema}_typo`);
    const refused = await runNightly(['--database', missing.toString(), '--zone', ZONE, '--day', world.day], world.env);
    expect(refused.code).toBe(EXIT_ERROR);
    expect(refused.output).toContain('books_not_found: no books at PostgreSQL');
    expect((await pgObjects()).schemas).not.toContain(`${schema}_typo`);

    const started = await startBooks(world, url.toString());
    const result = await runNightly(['--database', url.toString(), '--zone', ZONE, '--day', started.day], world.env);
    expect(result.code, result.output).toBe(EXIT_CLEAN);
    expect(await transactionsAt(world, url.toString())).toBeGreaterThan(started.transactions);
  });
});

/** The one line a refused run prints: exactly one line on stderr, nothing on stdout, no stack frame. */
function alertLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((line) => line.length > 0);
  expect(lines, run.output).toHaveLength(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0] ?? '';
}

/** Every row of the books at `database` (opened with the zones they keep, which writes nothing). */
async function snapshotAt(world: World, database: string): Promise<string> {
  const partner = await openPartnerBooks({ database, ifMissing: 'fail', entities: world.sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    return await snapshotDatabase(partner.db as never);
  } finally {
    await partner.close();
  }
}

describe('the nightly script\'s --zone', () => {
  it('a --zone that is not an IANA zone is refused before any database is opened: exit 2, one line naming --zone, nothing created', async () => {
    const { env, day } = await startWorld();
    const database = join(directory, 'zone-never-opened.sqlite');
    const result = await runNightly(['--database', database, '--zone', 'Mars/Olympus', '--day', day], env);
    expect(result.code).toBe(EXIT_ERROR);
    expect(alertLine(result)).toBe('ALERT nightly reconciliation could not run: invalid_flag: --zone must be an IANA time zone, got "Mars/Olympus"');
    expect(existsSync(database)).toBe(false);
  });

  for (const dialect of DIALECTS) {
    it.runIf(dialect === 'sqlite' || dialect === 'postgres')(`on books kept in ${ZONE}, the default --zone (UTC) or another zone is invalid_flag, exit 2, one line naming --zone, the value and the books' zone, nothing written; the books' zone in any case reconciles (${dialect})`, async () => {
      const world = await startWorld();
      let database = join(directory, 'zone-berlin.sqlite');
      if (dialect === 'postgres') {
        const schema = `earnbook_nightly_zone_${process.pid}_${Date.now()}`;
        schemasToDrop.push(schema);
        const url = new URL(PG_URL);
        url.searchParams.set('schema', schema);
        database = url.toString();
      }
      const started = await startBooks(world, database);
      const before = await snapshotAt(world, database);
      // The default --zone is UTC; then one given explicitly, with and without --day; then one the runtime does not know.
      for (const [zone, args] of [
        ['UTC', ['--day', started.day]],
        ['UTC', []],
        ['Asia/Tokyo', ['--zone', 'Asia/Tokyo', '--day', started.day]],
      ] as const) {
        const result = await runNightly(['--database', database, ...args], world.env);
        expect(result.code, result.output).toBe(EXIT_ERROR);
        expect(alertLine(result)).toBe(`ALERT nightly reconciliation could not run: invalid_flag: --zone ${zone} is not the zone of these books, which keep defi in ${ZONE}, lending in ${ZONE}: give --zone ${ZONE}`);
      }
      const unknown = await runNightly(['--database', database, '--zone', 'Mars/Olympus', '--day', started.day], world.env);
      expect(unknown.code).toBe(EXIT_ERROR);
      expect(alertLine(unknown)).toBe('ALERT nightly reconciliation could not run: invalid_flag: --zone must be an IANA time zone, got "Mars/Olympus"');
      expect(await snapshotAt(world, database)).toBe(before);
      // The books' zone, in any case the runtime accepts, reconciles the night.
      const good = await runNightly(['--database', database, '--zone', ZONE.toLowerCase(), '--day', started.day], world.env);
      expect(good.code, good.output).toBe(EXIT_CLEAN);
      expect(await transactionsAt(world, database)).toBeGreaterThan(started.transactions);
    });
  }
});

describe('the nightly script\'s --day', () => {
  const MALFORMED = ['2025-02-30', '2025-3-1', 'tomorrow', '', '2025-03-01 ', '1969-12-31'] as const;
  const refusal = (day: string) => `ALERT nightly reconciliation could not run: invalid_flag: --day must be a real YYYY-MM-DD date from 1970-01-01 to 9999-12-31, got ${JSON.stringify(day)}`;

  it('a malformed --day is refused before any database is opened: exit 2, one line naming --day and the value, nothing created', async () => {
    const { env } = await startWorld();
    const database = join(directory, 'day-never-opened.sqlite');
    for (const day of MALFORMED) {
      const result = await runNightly(['--database', database, '--zone', ZONE, '--day', day], env);
      expect(alertLine(result)).toBe(refusal(day));
      expect(result.code).toBe(EXIT_ERROR);
    }
    expect(existsSync(database)).toBe(false);
    const sandbox = await runNightly(['--sandbox', '--day', 'tomorrow'], env);
    expect(alertLine(sandbox)).toBe(refusal('tomorrow'));
    expect(sandbox.code).toBe(EXIT_ERROR);
  });

  for (const dialect of DIALECTS) {
    it.runIf(dialect === 'sqlite' || dialect === 'postgres')(`on existing books, a malformed --day is exit 2, one line naming --day and the value, and the books are left as they were (${dialect})`, async () => {
      const world = await startWorld();
      let database = join(directory, 'day-books.sqlite');
      if (dialect === 'postgres') {
        const schema = `earnbook_nightly_day_${process.pid}_${Date.now()}`;
        schemasToDrop.push(schema);
        const url = new URL(PG_URL);
        url.searchParams.set('schema', schema);
        database = url.toString();
      }
      const started = await startBooks(world, database);
      const before = await snapshotAt(world, database);
      for (const day of MALFORMED) {
        const result = await runNightly(['--database', database, '--zone', ZONE, '--day', day], world.env);
        expect(alertLine(result)).toBe(refusal(day));
        expect(result.code).toBe(EXIT_ERROR);
      }
      expect(await snapshotAt(world, database)).toBe(before);
      expect(await transactionsAt(world, database)).toBe(started.transactions);
    });
  }
});

describe("the nightly script's flags", () => {
  it('an unknown flag, a flag without its value and --day -1 are invalid_flag, exit 2, one line, before any database is opened', async () => {
    const { env } = await startWorld();
    const database = join(directory, 'flags-never-opened.sqlite');
    const unknown = await runNightly(['--database', database, '--zone', ZONE, '--bogus'], env);
    expect(alertLine(unknown)).toMatch(/^ALERT nightly reconciliation could not run: invalid_flag: Unknown option '--bogus'/);
    expect(unknown.code).toBe(EXIT_ERROR);
    const missing = await runNightly(['--database', database, '--zone', ZONE, '--day'], env);
    expect(alertLine(missing)).toMatch(/^ALERT nightly reconciliation could not run: invalid_flag: Option '--day <value>' argument missing/);
    expect(missing.code).toBe(EXIT_ERROR);
    // parseArgs takes "-1" for a flag ("ambiguous"): it is a bad --day, named with its value.
    const negative = await runNightly(['--database', database, '--zone', ZONE, '--day', '-1'], env);
    expect(alertLine(negative)).toBe('ALERT nightly reconciliation could not run: invalid_flag: --day must be a real YYYY-MM-DD date from 1970-01-01 to 9999-12-31, got "-1"');
    expect(negative.code).toBe(EXIT_ERROR);
    expect(existsSync(database)).toBe(false);
  });

  it('--sandbox refuses --day, --database, --zone and --report-folder (it reconciles its own day in memory) instead of ignoring them', async () => {
    const { env, day } = await startWorld();
    const database = join(directory, 'sandbox-never-opened.sqlite');
    for (const [flag, value] of [['--day', day], ['--database', database], ['--zone', ZONE], ['--report-folder', join(directory, 'sandbox-reports')]] as const) {
      const result = await runNightly(['--sandbox', flag, value], env);
      expect(alertLine(result)).toBe(`ALERT nightly reconciliation could not run: invalid_flag: ${flag} does not apply with --sandbox, which reconciles the sandbox's own day in memory: give one or the other`);
      expect(result.code).toBe(EXIT_ERROR);
    }
    expect(existsSync(database)).toBe(false);
    expect(existsSync(join(directory, 'sandbox-reports'))).toBe(false);
  });
});

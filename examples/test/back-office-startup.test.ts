/**
 * The back-office script's startup failures, as a person or a service manager sees them: a typed
 * error is one line on stderr (`earnbook back office: <code>: <message>`) without a stack trace,
 * nothing on stdout, and the exit code its README documents: 2 for bad input (a `--port` that is
 * not a port, an unknown flag, a `--database` that is no path or URL), 1 when it cannot start (the
 * port is in use, the database cannot be opened). Nothing is created or written at the
 * `--database` given, and a PostgreSQL password is never printed. The script runs as
 * `pnpm … back-office` runs it, under tsx; on SQLite and PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';

/** Storage dialects to test, as in the packages: `EARNBOOK_DIALECTS` (default `sqlite,postgres`). */
const DIALECTS = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres').split(',').map((name) => name.trim());
const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EXAMPLES = new URL('../', import.meta.url).pathname;
/** A script that has not stopped by then is hung (a startup failure that left a handle open). */
const RUN_TIMEOUT_MS = 60_000;
const UTC = [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] as const;
const directory = mkdtempSync(join(tmpdir(), 'earnbook-back-office-startup-'));
const schemasToDrop: string[] = [];

afterAll(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (schemasToDrop.length === 0) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const schema of schemasToDrop) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the script to its end; one that starts listening is stopped (SIGTERM) and fails the test. */
function runBackOffice(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'back-office/src/main.ts', ...args], { cwd: EXAMPLES });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      if (stdout.includes('back office listening on')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one error line of a refused start: exactly one line on stderr, nothing on stdout, no stack frame. */
function errorLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((line) => line.length > 0);
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0] ?? '';
}

/** Holds a loopback port, as another service would; answers it and how to free it. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The schemas of the test database, to see that a refused start made none. */
async function pgSchemas(): Promise<string[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace ORDER BY 1')).rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

for (const dialect of DIALECTS.filter((name) => name === 'sqlite' || name === 'postgres')) {
  describe(`the back-office script refuses to start, writing nothing (${dialect})`, () => {
    /** A place for books of its own: a SQLite file, or a PostgreSQL schema (neither made here). */
    function databaseFor(name: string): { database: string; exists: () => Promise<boolean> } {
      if (dialect === 'sqlite') {
        const database = join(directory, `${dialect}-${name}.sqlite`);
        return { database, exists: async () => existsSync(database) };
      }
      const schema = `earnbook_bo_start_${name.replace(/\W/g, '_')}_${process.pid}_${Date.now()}`;
      schemasToDrop.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('schema', schema);
      return { database: url.toString(), exists: async () => (await pgSchemas()).includes(schema) };
    }

    it('a --port that is not a whole number from 0 to 65535 is invalid_flag, exit 2, one line naming --port and the value, before the database is opened', async () => {
      for (const [port, args] of [
        ['abc', ['--port', 'abc']],
        ['-1', ['--port', '-1']],
        ['-1', ['--port=-1']],
        ['70000', ['--port', '70000']],
        ['65536', ['--port', '65536']],
        ['1.5', ['--port', '1.5']],
        ['', ['--port', '']],
        [' 80', ['--port', ' 80']],
        ['0x50', ['--port', '0x50']],
        ['1e3', ['--port', '1e3']],
      ] as const) {
        const place = databaseFor(`port-${port}`);
        const run = await runBackOffice([...args, '--database', place.database]);
        expect(errorLine(run)).toBe(`earnbook back office: invalid_flag: --port must be a whole number from 0 to 65535, got ${JSON.stringify(port)}`);
        expect(run.code).toBe(2);
        expect(await place.exists()).toBe(false);
      }
    });

    it('an unknown flag or a stray argument is invalid_flag, exit 2, one line naming it, before the database is opened', async () => {
      const place = databaseFor('flags');
      const unknown = await runBackOffice(['--port', '0', '--database', place.database, '--bogus']);
      expect(errorLine(unknown)).toMatch(/^earnbook back office: invalid_flag: Unknown option '--bogus'/);
      expect(unknown.code).toBe(2);
      const stray = await runBackOffice(['--port', '0', '--database', place.database, 'extra']);
      expect(errorLine(stray)).toMatch(/^earnbook back office: invalid_flag: Unexpected argument 'extra'/);
      expect(stray.code).toBe(2);
      const missing = await runBackOffice(['--database', place.database, '--port']);
      expect(errorLine(missing)).toMatch(/^earnbook back office: invalid_flag: Option '--port <value>' argument missing/);
      expect(missing.code).toBe(2);
      expect(await place.exists()).toBe(false);
    });

    it('a --port in use is port_unavailable, exit 1, one line naming --port and the port: new books are not started, existing books are left as they were', async () => {
      const { port, server } = await occupyPort();
      try {
        const place = databaseFor('port-in-use-new');
        const fresh = await runBackOffice(['--port', String(port), '--database', place.database]);
        expect(errorLine(fresh)).toBe(`earnbook back office: port_unavailable: --port ${port} is in use on 127.0.0.1: stop what listens there or give another --port`);
        expect(fresh.code).toBe(1);
        expect(await place.exists()).toBe(false);

        // Books without products yet: a start would sync the products into them.
        const kept = databaseFor('port-in-use-kept');
        const created = await openPartnerBooks({ database: kept.database, ifMissing: 'create', entities: UTC });
        const before = await snapshotDatabase(created.db as never);
        await created.close();
        const again = await runBackOffice(['--port', String(port), '--database', kept.database]);
        expect(errorLine(again)).toBe(`earnbook back office: port_unavailable: --port ${port} is in use on 127.0.0.1: stop what listens there or give another --port`);
        expect(again.code).toBe(1);
        const reopened = await openPartnerBooks({ database: kept.database, ifMissing: 'fail' });
        try {
          expect(await snapshotDatabase(reopened.db as never)).toBe(before);
        } finally {
          await reopened.close();
        }
      } finally {
        await closeServer(server);
      }
    });
  });
}

describe('the back-office script on a database it cannot use', () => {
  it('a --database that is a directory is database_unavailable, exit 1, one line naming it; the directory is left empty', async () => {
    const folder = join(directory, 'folder.sqlite');
    mkdirSync(folder);
    const run = await runBackOffice(['--port', '0', '--database', folder]);
    expect(errorLine(run)).toMatch(new RegExp(`^earnbook back office: database_unavailable: cannot open the database ${folder}: `));
    expect(run.code).toBe(1);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('a --database file that is not SQLite is database_unavailable, exit 1, one line naming it; the file is left as it was and nothing is made beside it', async () => {
    const folder = join(directory, 'garbage');
    mkdirSync(folder);
    const garbage = join(folder, 'garbage.sqlite');
    const bytes = 'not a database, but long enough to be read as one: '.repeat(4);
    writeFileSync(garbage, bytes);
    const run = await runBackOffice(['--port', '0', '--database', garbage]);
    expect(errorLine(run)).toBe(`earnbook back office: database_unavailable: cannot open the database ${garbage}: file is not a database`);
    expect(run.code).toBe(1);
    expect(readFileSync(garbage, 'utf8')).toBe(bytes);
    expect(readdirSync(folder)).toEqual(['garbage.sqlite']);
  });

  it('an unreachable PostgreSQL URL is database_unavailable, exit 1, one line without the password', async () => {
    const password = 'not-shown-h2-secret';
    const database = `postgres://earnbook:${password}@127.0.0.1:1/books?schema=partner`;
    const run = await runBackOffice(['--port', '0', '--database', database]);
    const line = errorLine(run);
    expect(line).toMatch(/^earnbook back office: database_unavailable: cannot open the books in postgres:\/\/earnbook:\*\*\*@127\.0\.0\.1:1\/books \(schema partner\): /);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain(password);
  });

  it('a PostgreSQL URL that is not a URL, or names a schema that cannot be one, is invalid_flag, exit 2, one line without the password', async () => {
    const password = 'not-shown-h2-secret';
    for (const [database, message] of [
      [`postgres://earnbook:${password}@127.0.0.1:notaport/books`, '--database is not a valid postgres:// URL'],
      [`postgres://earnbook:${password}@127.0.0.1:5432/books?schema=Not-A-Schema`, 'schema must match /^[a-z_][a-z0-9_]{0,62}$/, got "Not-A-Schema"'],
    ] as const) {
      const run = await runBackOffice(['--port', '0', '--database', database]);
      expect(errorLine(run)).toBe(`earnbook back office: invalid_flag: ${message}`);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toContain(password);
    }
  });
});

/**
 * The audit export script's failures, as a person or a scheduler sees them: a typed error is one
 * line on stderr (`earnbook audit export: <code>: <message>`) without a stack trace, and the exit
 * code its README documents: 2 for bad input (a flag, a month, a `--zone` that is not the books')
 * and a `--database` that holds no books, 1 for anything else (a database that cannot be opened, an `--out` that already holds an
 * export). The script runs as
 * `pnpm … audit-export` runs it, under tsx; nothing is created at the `--database` given. The
 * `--zone` check is shared with the nightly job (`src/lib/books-in-zone.ts`), whose test runs it
 * on SQLite and PostgreSQL too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';

const EXAMPLES = new URL('../', import.meta.url).pathname;
/** Storage dialects to test, as in the packages: `EARNBOOK_DIALECTS` (default `sqlite,postgres`). */
const DIALECTS = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres').split(',').map((name) => name.trim());
const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const directory = mkdtempSync(join(tmpdir(), 'earnbook-audit-errors-'));
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

function runAuditExport(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'audit-export/src/main.ts', ...args], { cwd: EXAMPLES });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one error line of a run: exactly one line on stderr, no stack frame. */
function errorLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((line) => line.length > 0);
  expect(lines).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0] ?? '';
}

describe('audit export script failures', () => {
  it('a --database without books is books_not_found, exit 2, one line, nothing created', async () => {
    const missing = join(directory, 'missing.sqlite');
    const run = await runAuditExport(['--database', missing, '--month', '2025-04', '--out', join(directory, 'out-missing')]);
    expect(run.code).toBe(2);
    expect(errorLine(run)).toMatch(new RegExp(`^earnbook audit export: books_not_found: no books at SQLite ${missing}`));
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(directory, 'out-missing'))).toBe(false);
  });

  it('a --database that cannot be opened is database_unavailable, exit 1, one line', async () => {
    const garbage = join(directory, 'garbage.sqlite');
    writeFileSync(garbage, 'not a database, but long enough to be read as one: '.repeat(4));
    const run = await runAuditExport(['--database', garbage, '--month', '2025-04', '--out', join(directory, 'out-garbage')]);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toMatch(/^earnbook audit export: database_unavailable: cannot open the database .*garbage\.sqlite/);
  });

  it('bad input is exit 2, one line naming the flag: a missing --database, a bad --month, an unknown flag', async () => {
    mkdirSync(join(directory, 'flags'), { recursive: true });
    const withoutDatabase = await runAuditExport(['--month', '2025-04']);
    expect(withoutDatabase.code).toBe(2);
    expect(errorLine(withoutDatabase)).toMatch(/^earnbook audit export: invalid_flag: .*--database/);
    const badMonth = await runAuditExport(['--database', join(directory, 'flags', 'books.sqlite'), '--month', '2025-4']);
    expect(badMonth.code).toBe(2);
    expect(errorLine(badMonth)).toMatch(/^earnbook audit export: invalid_flag: --month must be YYYY-MM, got "2025-4"/);
    const unknown = await runAuditExport(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toMatch(/^earnbook audit export: invalid_flag: .*--bogus/);
  });

  it('a malformed --month is invalid_flag, exit 2, one line naming --month and the value, before the database is opened: nothing created, no --out', async () => {
    const missing = join(directory, 'month-never-opened.sqlite');
    const out = join(directory, 'out-month-malformed');
    for (const month of ['2025-13', '2025-00', 'march', '2025-03-01', '2025-3', '', '1969-12', '10000-01']) {
      const run = await runAuditExport(['--database', missing, '--month', month, '--out', out]);
      expect(run.stdout).toBe('');
      expect(errorLine(run)).toBe(`earnbook audit export: invalid_flag: --month must be YYYY-MM, got ${JSON.stringify(month)}`);
      expect(run.code).toBe(2);
    }
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });

  it('the first and the last month the ledger knows (1970-01, 9999-12) export, and hledger agrees with the ledger', async () => {
    const database = join(directory, 'edge-months.sqlite');
    const books = await openPartnerBooks({ database, ifMissing: 'create', entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    await books.close();
    for (const month of ['1970-01', '9999-12']) {
      const out = join(directory, `out-edge-${month}`);
      const run = await runAuditExport(['--database', database, '--month', month, '--out', out]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`audit export of ${month}-01 → ${month}-31`);
      expect(run.stdout).not.toContain('DISAGREES');
      expect(readdirSync(out)).toContain('manifest.json');
    }
  });

  it('a --zone that is not the books\' zone is invalid_flag, exit 2, one line naming --zone, the value and the books\' zone, nothing written', async () => {
    const database = join(directory, 'berlin.sqlite');
    const created = await openPartnerBooks({ database, ifMissing: 'create', entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] });
    const before = await snapshotDatabase(created.db as never);
    await created.close();
    // The default --zone is UTC; then one given explicitly, and one the runtime does not know.
    for (const [zone, args] of [
      ['UTC', []],
      ['Asia/Tokyo', ['--zone', 'Asia/Tokyo']],
    ] as const) {
      const out = join(directory, `out-zone-${zone.replace('/', '-')}`);
      const run = await runAuditExport(['--database', database, '--month', '2025-04', '--out', out, ...args]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      const line = errorLine(run);
      expect(line).toMatch(/^earnbook audit export: invalid_flag: --zone /);
      expect(line).toContain(`--zone ${zone} `);
      expect(line).toContain('Europe/Berlin');
      expect(existsSync(out)).toBe(false);
    }
    const unknown = await runAuditExport(['--database', database, '--month', '2025-04', '--out', join(directory, 'out-zone-mars'), '--zone', 'Mars/Olympus']);
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toMatch(/^earnbook audit export: invalid_flag: --zone must be an IANA time zone, got "Mars\/Olympus"/);
    expect(existsSync(join(directory, 'out-zone-mars'))).toBe(false);
    const reopened = await openPartnerBooks({ database, ifMissing: 'fail', entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] });
    try {
      expect(await snapshotDatabase(reopened.db as never)).toBe(before);
    } finally {
      await reopened.close();
    }
    // The right zone, in any case the runtime accepts, exports.
    const good = await runAuditExport(['--database', database, '--month', '2025-04', '--out', join(directory, 'out-zone-berlin'), '--zone', 'europe/berlin']);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
  });

  it.runIf(DIALECTS.includes('postgres'))('on PostgreSQL, books whose entities keep different zones refuse the one --zone, naming each entity in another zone, nothing written', async () => {
    const url = new URL(PG_URL);
    const schema = `earnbook_audit_zone_${process.pid}_${Date.now()}`;
    schemasToDrop.push(schema);
    url.searchParams.set('schema', schema);
    const database = url.toString();
    const entities = [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'UTC' }];
    const created = await openPartnerBooks({ database, ifMissing: 'create', entities });
    const before = await snapshotDatabase(created.db as never);
    await created.close();
    const out = join(directory, 'out-zone-mixed');
    const run = await runAuditExport(['--database', database, '--month', '2025-04', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(errorLine(run)).toBe('earnbook audit export: invalid_flag: --zone UTC is not the zone of these books, which keep defi in Europe/Berlin: their entities keep Europe/Berlin, UTC, which one --zone cannot name');
    expect(existsSync(out)).toBe(false);
    const reopened = await openPartnerBooks({ database, ifMissing: 'fail', entities });
    try {
      expect(await snapshotDatabase(reopened.db as never)).toBe(before);
    } finally {
      await reopened.close();
    }
  });

  it('an --out that already holds an export is output_failed, exit 1, one line, and the export there is left as it was', async () => {
    const database = join(directory, 'books.sqlite');
    const books = await openPartnerBooks({ database, ifMissing: 'create', entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    await books.close();
    const out = join(directory, 'out-twice');
    const args = ['--database', database, '--month', '2025-04', '--out', out];
    const first = await runAuditExport(args);
    expect(first.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toContain('manifest.json');
    const before = files.map((name) => readFileSync(join(out, name)).toString('base64'));
    const again = await runAuditExport(args);
    expect(again.stdout).toBe('');
    expect(errorLine(again)).toMatch(new RegExp(`^earnbook audit export: output_failed: --out ${out} already holds journal\\.csv`));
    expect(again.code).toBe(1);
    expect(readdirSync(out).sort()).toEqual(files);
    expect(files.map((name) => readFileSync(join(out, name)).toString('base64'))).toEqual(before);
  });
});

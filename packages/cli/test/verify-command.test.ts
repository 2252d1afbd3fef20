/**
 * `earnbook verify`: every entity's books checked, one line each (or JSON); exit 0 when
 * consistent, 1 when an invariant is broken (named, escaped), 2 when the check cannot run; it
 * writes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { booksSnapshot, runCli, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

describe('earnbook verify', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await workspace();
    // The first command on new books adds the reconciler's tables; what verify writes is checked after it.
    expect((await runCli(['breaks', 'list', '--entity', 'defi', '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir })).code).toBe(0);
  });
  afterEach(async () => ws.remove());

  const cli = (argv: readonly string[]) => runCli(['verify', ...argv, '--database', ws.database, '--config', ws.configFile], { cwd: ws.dir });

  /** Changes the stored balance of Earn account `a1`'s ledger account behind the ledger's back. */
  const tamper = async (balance: string) => {
    const { db } = openSqliteDatabase({ filename: ws.database });
    try {
      await sql`update ledger_accounts set balance = ${balance} where id = (select ledger_account_id from earn_accounts where earn_account_id = 'a1')`.execute(db);
    } finally {
      await db.destroy();
    }
  };

  it('answers consistent for every entity of the books, in lines or JSON, and writes nothing', async () => {
    const before = await booksSnapshot(ws.database);
    const lines = await cli([]);
    expect(lines).toMatchObject({ code: 0, stderr: '' });
    expect(lines.stdout).toMatch(/^defi: consistent \(\d+ accounts, 3 transactions, 12 entries; [\d.]+ s\)\nlending: consistent \(0 accounts, 0 transactions, 0 entries; [\d.]+ s\)\n$/);
    const json = await cli(['--entity', 'defi', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ consistent: true, entities: [{ entity: 'defi', consistent: true, transactions: 3, entries: 12 }] });
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('exits 1 naming the broken invariant, escaped, when the books are inconsistent', async () => {
    await tamper('7.000000000000000000');
    const before = await booksSnapshot(ws.database);
    const lines = await cli([]);
    expect(lines.code).toBe(1);
    expect(lines.stdout).toMatch(/^defi: INCONSISTENT: account \d+ stores 7\.0+ but its entries sum to 2\.0+ \([\d.]+ s\)\nlending: consistent/);
    const json = await cli(['--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ consistent: false, entities: [{ entity: 'defi', consistent: false, invariant: expect.stringMatching(/^account \d+ stores 7/) }, { entity: 'lending', consistent: true }] });
    const quiet = await cli(['--quiet']);
    expect(quiet).toMatchObject({ code: 1, stdout: '' });
    expect(quiet.stderr).toMatch(/^defi: INCONSISTENT: account \d+ stores 7/);
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('exits 2 for an entity the books do not keep, naming --entity', async () => {
    const before = await booksSnapshot(ws.database);
    const unknown = await cli(['--entity', 'nope\u001b[2J']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('field --entity');
    expect(unknown.stderr).not.toContain('\u001b');
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  /** Adds a `lending` account whose stored balance no entry explains, behind the ledger's back. */
  const tamperLending = async () => {
    const { db } = openSqliteDatabase({ filename: ws.database });
    try {
      await sql`insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, last_day, entry_count, created_at) values ('lending', 'BTC', 'user:ghost', 'user', 'credit', '5.000000000000000000', null, 0, '2025-03-18T00:00:00.000Z')`.execute(db);
    } finally {
      await db.destroy();
    }
  };

  it('does not answer consistent when the config lists only some of the entities the books keep', async () => {
    await tamperLending();
    const defiOnly = await ws.writeConfig('defi-only.json', { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }] });
    const before = await booksSnapshot(ws.database);
    const result = await runCli(['verify', '--database', ws.database, '--config', defiOnly], { cwd: ws.dir });
    // lending is kept by the books and inconsistent: a check of every entity may not exit 0.
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('lending');
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('checks the entities the books keep and records none the config adds', async () => {
    const more = await ws.writeConfig('more.json', { entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }, { id: 'otc', timeZone: 'UTC' }] });
    const before = await booksSnapshot(ws.database);
    const result = await runCli(['verify', '--database', ws.database, '--config', more, '--json'], { cwd: ws.dir });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(result.stdout) as { entities: { entity: string }[] }).entities.map((verdict) => verdict.entity)).toEqual(['defi', 'lending']);
    expect(await booksSnapshot(ws.database)).toBe(before);
    const otc = await runCli(['verify', '--entity', 'otc', '--database', ws.database, '--config', more], { cwd: ws.dir });
    expect(otc.code).toBe(2);
    expect(otc.stderr).toContain('field --entity');
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('names the inconsistent entity in --json', async () => {
    await tamperLending();
    const json = await cli(['--json']);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { consistent: boolean; entities: { entity: string; consistent: boolean }[] };
    expect(parsed).toMatchObject({ consistent: false, entities: [{ entity: 'defi', consistent: true }, { entity: 'lending', consistent: false }] });
  });
});

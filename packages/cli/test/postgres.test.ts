import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { DAY, DIALECTS, PG_URL, dropSchema, runCli, seedBooks, tempFolder, testConfig } from './fixtures.js';
import type { ReconcileSummary } from '../src/index.js';

describe.runIf(DIALECTS.includes('postgres'))('earnbook on PostgreSQL', () => {
  const schema = `t_cli_${randomBytes(5).toString('hex')}`;
  let folder: { path: string; remove(): Promise<void> };
  let reportFile: string;
  let configFile: string;

  beforeAll(async () => {
    folder = await tempFolder();
    const opened = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 2 });
    const report = await seedBooks({ db: opened.db, dialect: opened.dialect, schema: opened.schema });
    reportFile = join(folder.path, 'report.json');
    configFile = join(folder.path, 'config.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(reportFile, JSON.stringify(report));
    await writeFile(configFile, JSON.stringify(testConfig()));
  });
  afterAll(async () => {
    await dropSchema(schema);
    await folder.remove();
  });

  const withSchema = () => {
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    return url.toString();
  };

  it('reconciles a day in a schema picked by ?schema= or --schema, and exports it', async () => {
    const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--report-file', reportFile, '--database', withSchema(), '--config', configFile, '--out', 'out', '--json'], { cwd: folder.path });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as ReconcileSummary).settlement[0]?.instruction?.status).toBe('pending');
    const again = await runCli(['settlements', 'list', '--entity', 'defi', '--database', PG_URL, '--schema', schema, '--json'], { cwd: folder.path });
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { instructions: unknown[] }).instructions).toHaveLength(1);
    const exported = await runCli(['export', '--entity', 'defi', '--from', DAY, '--to', DAY, '--what', 'settlements', '--database', withSchema(), '--out', 'audit', '--quiet'], { cwd: folder.path });
    expect(exported.code).toBe(0);
    expect(await readFile(join(folder.path, 'audit', 'settlements.csv'), 'utf8')).toContain('BTC');
  });

  it('refuses a schema that holds no books, creating no schema, unless asked with init', async () => {
    const missing = `${schema}_typo`;
    const typo = await runCli(['breaks', 'list', '--entity', 'defi', '--database', PG_URL, '--schema', missing]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('code books_not_found');
    const { sql } = await import('kysely');
    const catalog = await openPostgresDatabase({ connectionString: PG_URL, poolSizeMax: 1, createSchema: false });
    try {
      const exists = async () => (await sql`select 1 from information_schema.schemata where schema_name = ${missing}`.execute(catalog.db)).rows.length;
      expect(await exists()).toBe(0);
      const made = await runCli(['init', '--database', PG_URL, '--schema', missing, '--config', configFile, '--json']);
      expect(made.code).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ status: 'created' });
      expect(await exists()).toBe(1);
    } finally {
      await catalog.db.destroy();
      await dropSchema(missing);
    }
  });

  it('refuses a --schema that differs from the URL, and never prints a password', async () => {
    const clash = await runCli(['breaks', 'list', '--entity', 'defi', '--database', withSchema(), '--schema', 'other']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('field --schema');
    const url = new URL(PG_URL);
    url.password = 'pg-password-123';
    url.port = '1';
    const down = await runCli(['breaks', 'list', '--entity', 'defi', '--database', url.toString()]);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^error: cannot open the (database|books in) .*\*\*\*.* \(code database_unavailable, field --database\)/);
    expect(down.stderr).not.toContain('pg-password-123');
  });
});

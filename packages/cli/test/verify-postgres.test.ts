/**
 * `earnbook verify` on PostgreSQL books (a schema picked by `?schema=`): exit 0 consistent, 1
 * an invariant broken (named), 2 an unknown entity; it writes nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { DIALECTS, PG_URL, dropSchema, runCli, seedBooks } from './fixtures.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

describe.runIf(DIALECTS.includes('postgres'))('earnbook verify on PostgreSQL', () => {
  const schema = `t_cli_verify_${randomBytes(5).toString('hex')}`;
  let books: Awaited<ReturnType<typeof openPostgresDatabase>>;
  const database = () => {
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    return url.toString();
  };
  const snapshot = () => snapshotDatabase(books.db as Kysely<unknown>);

  beforeAll(async () => {
    const seeding = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 2 });
    // Seeding closes its ledger (and the connection with it).
    await seedBooks({ db: seeding.db, dialect: seeding.dialect, schema: seeding.schema });
    books = await openPostgresDatabase({ connectionString: PG_URL, schema, poolSizeMax: 1 });
    // The first command adds the reconciler's tables; what verify writes is checked after it.
    expect((await runCli(['breaks', 'list', '--entity', 'defi', '--database', database()])).code).toBe(0);
  });
  afterAll(async () => {
    await books.db.destroy();
    await dropSchema(schema);
  });

  it('answers consistent, then exits 1 naming a broken invariant, and 2 for an unknown entity; it writes nothing', async () => {
    const before = await snapshot();
    const clean = await runCli(['verify', '--database', database(), '--json']);
    expect(clean).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(clean.stdout)).toMatchObject({ consistent: true, entities: [{ entity: 'defi', consistent: true, transactions: 3, entries: 12 }, { entity: 'lending', consistent: true, accounts: 0 }] });
    expect(await snapshot()).toBe(before);

    await sql`update ledger_accounts set balance = ${'7.000000000000000000'} where id = (select ledger_account_id from earn_accounts where earn_account_id = 'a1')`.execute(books.db);
    const tampered = await snapshot();
    const broken = await runCli(['verify', '--database', database()]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^defi: INCONSISTENT: account \d+ stores 7\.0+ but its entries sum to 2\.0+ \([\d.]+ s\)\nlending: consistent/);
    const unknown = await runCli(['verify', '--entity', 'otc', '--database', database()]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('field --entity');
    expect(await snapshot()).toBe(tampered);
  });
});

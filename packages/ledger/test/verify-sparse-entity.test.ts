/**
 * `verify({ entity })` of an entity whose accounts are sparse among another's: ids interleave as
 * users open accounts in both legal entities, and one may hold far fewer. A range's sums and
 * end-of-day rows are read for every account whose id falls in it (the other entity's skipped),
 * so a page of the sparse entity's accounts is checked in ranges of at most 4,000 ids
 * (`RANGE_IDS_MAX`): spanning the other entity's whole table, one range read every one of its
 * rows at once. Checked here: no statement of the check answers more rows than such a range holds,
 * the counts are the entity's, and a tampered row of its last account, in a later range, is found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { Ledger, postingRuleEntries } from '../src/index.js';
import type { PostingInput } from '../src/index.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';

/** The dense entity's users: more than two ranges of 4,000 ids. */
const DENSE = 9_000;
/** One sparse user after every this many dense ones. */
const EVERY = 2_000;

/**
 * The most rows a statement of an account range answered while `counting` (rows per account and
 * day: its entries' sums, its end-of-day rows); the transactions' check reads ranges of 10,000
 * transaction ids, bounded apart.
 */
class LargestAccountRange implements KyselyPlugin {
  largest = 0;
  counting = false;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const row = args.result.rows[0];
    if (this.counting && row !== undefined && 'account_id' in row && 'accounting_day' in row) this.largest = Math.max(this.largest, args.result.rows.length);
    return args.result;
  }
}

describe.each(DIALECTS)('verify() of an entity sparse among another (%s)', (dialect) => {
  let ledger: Ledger;
  let close: () => Promise<void> = async () => undefined;
  const plugin = new LargestAccountRange();
  const sparseIds: number[] = [];
  let entriesPerDeposit = 0;

  beforeAll(async () => {
    const storage = await freshStorage(dialect);
    ledger = await Ledger.open({ storage: { ...storage, db: storage.db.withPlugin(plugin) }, entities: [{ id: 'defi', timeZone: 'UTC' }, { id: 'lending', timeZone: 'UTC' }] });
    close = async () => {
      await ledger.close();
      await dropSchema(storage.schema);
    };
    const system = { defi: await ledger.systemAccountIds('defi', 'BTC'), lending: await ledger.systemAccountIds('lending', 'BTC') };
    const createdAt = '2025-03-01T00:00:00.000Z';
    const rows = Array.from({ length: DENSE }, (_, i) => i).flatMap((i) => {
      const dense = { entity: 'defi', currency: 'BTC', code: `user:d${i}`, kind: 'user', normal_side: 'credit' as const, balance: '0', last_day: null, entry_count: 0, created_at: createdAt };
      return i % EVERY === EVERY - 1 ? [dense, { ...dense, entity: 'lending', code: `user:l${i}` }] : [dense];
    });
    const inserted: { id: number; entity: string }[] = [];
    for (let start = 0; start < rows.length; start += 1_000) inserted.push(...(await ledger.db.insertInto('ledger_accounts').values(rows.slice(start, start + 1_000)).returning(['id', 'entity']).execute()));
    sparseIds.push(...inserted.filter((row) => row.entity === 'lending').map((row) => row.id));
    const deposits: PostingInput[] = inserted.map((account, i) => ({
      entity: account.entity,
      kind: 'deposit',
      idempotencyKey: `d${i}`,
      occurredAt: '2025-03-18T10:00:00Z',
      entries: postingRuleEntries('deposit', { ...system[account.entity as 'defi' | 'lending'], user: account.id }, '1'),
    }));
    entriesPerDeposit = deposits[0]?.entries.length ?? 0;
    for (let start = 0; start < deposits.length; start += 500) await ledger.postMany(deposits.slice(start, start + 500));
  }, 120_000);
  afterAll(async () => close());

  it('reads no more than a bounded range at a time, and checks the sparse entity whole', async () => {
    expect(sparseIds.length).toBe(Math.floor(DENSE / EVERY));
    const systemOfEach = Object.keys(await ledger.systemAccountIds('lending', 'BTC')).length;
    plugin.largest = 0;
    plugin.counting = true;
    const report = await ledger.verify({ entity: 'lending' });
    plugin.counting = false;
    expect(report).toEqual({ accounts: sparseIds.length + systemOfEach, transactions: sparseIds.length, entries: entriesPerDeposit * sparseIds.length });
    // A range of 4,000 ids holds at most 4,000 accounts' rows of one day; the sparse page spans all 9,000.
    // (More than the sparse entity's own rows were counted: the plugin saw the range reads.)
    expect(plugin.largest).toBeLessThanOrEqual(4_000);
    expect(plugin.largest).toBeGreaterThan(sparseIds.length + systemOfEach);
    expect(await ledger.verify({ entity: 'defi' })).toMatchObject({ accounts: DENSE + systemOfEach });

    const last = sparseIds[sparseIds.length - 1] ?? 0;
    await sql`update account_day_balances set balance = ${'5.000000000000000000'} where account_id = ${last}`.execute(ledger.db);
    try {
      await expect(ledger.verify({ entity: 'lending' })).rejects.toThrow(`account ${last}: end of 2025-03-18 stores 5.000000000000000000 but its entries sum to 1.000000000000000000`);
      expect(await ledger.verify({ entity: 'defi' })).toMatchObject({ accounts: DENSE + systemOfEach });
    } finally {
      await sql`update account_day_balances set balance = ${'1.000000000000000000'} where account_id = ${last}`.execute(ledger.db);
    }
  });
});

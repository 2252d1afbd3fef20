/**
 * A compound posting reads back what it wrote before it commits (`assertReadBack`). The
 * stored entries are first compared in the database as one text (`readBackMatches`); only when
 * that text differs are the rows read and compared one by one, which names the difference. These
 * tests make the database store other than the ledger wrote (a trigger) and check that the
 * posting fails as an invariant and writes nothing, on both dialects; and that the text matches
 * the stored entries for any provider id a caller may give, and for no changed entry (SQLite
 * builds it from its rows, PostgreSQL too since session 36).
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Ledger, LedgerInvariantError } from '../src/index.js';
import type { LinesInput } from '../src/index.js';
import type { BulkEntryRow } from '../src/db/journal-bulk.js';
import { DIALECTS, dropSchema, freshStorage } from './dialects.js';
import type { DialectName } from './dialects.js';
import { hostileString, isIllFormed } from './support/hostile-strings.js';
import { snapshotDatabase } from './support/snapshot.js';

const AT = '2025-03-18T09:00:00Z';

/** An interest posting of `lines` (account, amount, provider id), Dr `contraAccountId` their sum. */
function interestLines(contraAccountId: number, lines: readonly (readonly [number | undefined, string, string])[]): LinesInput {
  return {
    entity: 'defi',
    kind: 'interest',
    occurredAt: AT,
    side: 'credit',
    contraAccountId,
    lines: lines.map(([accountId, amount, providerId]) => ({ accountId: accountId ?? 0, amount, providerId })),
  };
}

/** Statements that make the database store other than the ledger writes, for the entry of line `T2`. */
const TAMPERING: Record<'amount' | 'extra', Record<DialectName, readonly string[]>> = {
  amount: {
    sqlite: [
      'DROP TRIGGER journal_entries_no_update',
      "CREATE TRIGGER tamper AFTER INSERT ON journal_entries WHEN new.provider_id = 'T2' BEGIN UPDATE journal_entries SET amount = '-9.000000000000000000' WHERE id = new.id; END",
    ],
    postgres: [
      'CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.amount := -9; RETURN NEW; END $$',
      "CREATE TRIGGER tamper BEFORE INSERT ON journal_entries FOR EACH ROW WHEN (NEW.provider_id = 'T2') EXECUTE FUNCTION tamper()",
    ],
  },
  extra: {
    sqlite: [
      `CREATE TRIGGER tamper AFTER INSERT ON journal_entries WHEN new.provider_id = 'T2' BEGIN
         INSERT INTO journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day)
         VALUES (new.transaction_id, new.entity, new.account_id, new.currency, '0.000000000000000000', new.balance_after, new.accounting_day); END`,
    ],
    postgres: [
      `CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         INSERT INTO journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day)
         VALUES (NEW.transaction_id, NEW.entity, NEW.account_id, NEW.currency, 0, NEW.balance_after, NEW.accounting_day); RETURN NULL; END $$`,
      "CREATE TRIGGER tamper AFTER INSERT ON journal_entries FOR EACH ROW WHEN (NEW.provider_id = 'T2') EXECUTE FUNCTION tamper()",
    ],
  },
};

describe.each(DIALECTS)('a compound posting stored other than written (%s)', (dialect) => {
  it.each(['amount', 'extra'] as const)('is an invariant failure and writes nothing: %s', async (tampering) => {
    const storage = await freshStorage(dialect);
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const u1 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u1', kind: 'user' });
      const u2 = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'u2', kind: 'user' });
      const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
      const lines = (first: string, second: string): LinesInput => interestLines(assets.id, [[u1.id, '1', first], [u2.id, '2', second]]);
      // A posting stored as written passes (the same statements, before any trigger).
      expect((await ledger.postLines(lines('S1', 'S2'))).lines.map((line) => line.status)).toEqual(['created', 'created']);
      for (const statement of TAMPERING[tampering][dialect]) await sql.raw(statement).execute(storage.db);
      const before = await snapshotDatabase(storage.db as Kysely<unknown>);
      const error = await ledger.postLines(lines('T1', 'T2')).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(LedgerInvariantError);
      expect((error as Error).message).toMatch(tampering === 'amount' ? /entry 2 reads back other than written/ : /reads back 4 of 3 entries/);
      expect(await snapshotDatabase(storage.db as Kysely<unknown>)).toBe(before);
    } finally {
      await ledger.close();
      await dropSchema(storage.schema);
    }
  });
});

/** Provider ids a caller may give: hostile strings that pass the ledger's key rules. */
const providerId = hostileString().filter((value) => value.length > 0 && value.length <= 128 && value.trim() === value && !/[\u0000-\u001f\u007f]/.test(value) && !isIllFormed(value));

describe.each(DIALECTS)('the read-back text (%s)', (dialect) => {
  /** Books of three users; `onRowsRead` is told each time a posting reads its rows back. */
  async function openBooks(onRowsRead: () => void = () => undefined) {
    const storage = await freshStorage(dialect);
    const bulk = storage.dialect.bulk;
    if (bulk === undefined) throw new Error(`the ${dialect} storage has no bulk statements`);
    const counting = { ...bulk, readBack: (...args: Parameters<typeof bulk.readBack>) => (onRowsRead(), bulk.readBack(...args)) };
    const ledger = await Ledger.open({ storage: { ...storage, dialect: { ...storage.dialect, bulk: counting } }, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const users = [];
    for (let index = 0; index < 3; index++) users.push(await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: `u${index}`, kind: 'user' }));
    const assets = await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    const stored = async (transactionId: number | null): Promise<BulkEntryRow[]> => {
      const result = await sql<{ account_id: number | string; amount: string; balance_after: string; provider_id: string | null }>`
        select account_id, amount, balance_after, provider_id from journal_entries where transaction_id = ${transactionId} order by id`.execute(storage.db);
      // PostgreSQL answers bigint ids as text.
      return result.rows.map((row) => ({ ...row, account_id: Number(row.account_id) }));
    };
    const readBackMatches = bulk.readBackMatches;
    if (readBackMatches === undefined) throw new Error(`the ${dialect} bulk statements have no readBackMatches`);
    const matches = (transactionId: number | null, expected: { currency: string; entries: readonly BulkEntryRow[] }) => {
      if (transactionId === null) throw new Error('the posting created no transaction');
      return readBackMatches.call(bulk, storage.db, transactionId, expected);
    };
    const close = async () => {
      await ledger.close();
      await dropSchema(storage.schema);
    };
    return { ledger, users, assets, stored, matches, close };
  }

  it('matches the stored entries whatever their provider ids (property)', async () => {
    const { ledger, users, assets, stored, matches: readBackMatches, close } = await openBooks();
    try {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(providerId, { minLength: 1, maxLength: 3 }), async (ids) => {
          round++;
          const result = await ledger.postLines(interestLines(assets.id, ids.map((id, index) => [users[index]?.id, `${round}.5`, `${round}:${id}`] as const)));
          const entries = await stored(result.transactionId);
          expect(entries.length).toBe(ids.length + 1);
          expect(await readBackMatches(result.transactionId, { currency: 'BTC', entries })).toBe(true);
        }),
        { numRuns: 60 },
      );
    } finally {
      await close();
    }
  });

  it('proves a posting stored as written without reading its rows back', async () => {
    let rowsRead = 0;
    const { ledger, users, assets, close } = await openBooks(() => rowsRead++);
    try {
      // Amounts of every shape the plan formats: whole, fractional, 18 decimals, large.
      const amounts = ['1', '0.5', '0.000000000000000001', '123456789.123456789123456789'];
      for (const [round, amount] of amounts.entries()) {
        const result = await ledger.postLines(interestLines(assets.id, users.map((user, index) => [user.id, amount, `R${round}:${index}`] as const)));
        expect(result.lines.map((line) => line.status)).toEqual(['created', 'created', 'created']);
      }
      expect(rowsRead).toBe(0);
    } finally {
      await close();
    }
  });

  it('does not match entries that differ in any compared field, or in number', async () => {
    const { ledger, users, assets, stored, matches: readBackMatches, close } = await openBooks();
    try {
      const result = await ledger.postLines(interestLines(assets.id, [[users[0]?.id, '1', 'P1'], [users[1]?.id, '2', 'P2']]));
      const entries = await stored(result.transactionId);
      const [contra, first, second] = entries as [BulkEntryRow, BulkEntryRow, BulkEntryRow];
      const matches = (currency: string, changed: readonly BulkEntryRow[]) => readBackMatches(result.transactionId, { currency, entries: changed });
      expect(await matches('BTC', entries)).toBe(true);
      const changes: [string, string, readonly BulkEntryRow[]][] = [
        ['currency', 'ETH', entries],
        ['account', 'BTC', [contra, { ...first, account_id: users[2]?.id ?? 0 }, second]],
        ['amount', 'BTC', [contra, { ...first, amount: '-1.000000000000000001' }, second]],
        ['provider id', 'BTC', [contra, first, { ...second, provider_id: 'P3' }]],
        ['provider id where none', 'BTC', [{ ...contra, provider_id: '' }, first, second]],
        ['no provider id', 'BTC', [contra, { ...first, provider_id: null }, second]],
        ['order', 'BTC', [contra, second, first]],
        ['one entry less', 'BTC', [contra, first]],
        ['one entry more', 'BTC', [...entries, second]],
        ['no entries', 'BTC', []],
      ];
      const matched = [];
      for (const [name, currency, changed] of changes) if (await matches(currency, changed)) matched.push(name);
      expect(matched).toEqual([]);
      // balance_after is not compared (the account and day rows carry it; verify checks them).
      expect(await matches('BTC', [contra, { ...first, balance_after: '7.000000000000000000' }, second])).toBe(true);
    } finally {
      await close();
    }
  });
});

/**
 * Journal entries, end-of-day balances and interest residues only ever point at rows that exist,
 * whatever writes them (here: hand-written SQL, as a repair script would be). SQLite keeps foreign
 * keys for it; PostgreSQL checks each statement's rows once (migration 0013,
 * `db/postgres/reference-checks.ts`) and keeps the referenced rows from changing their id. A
 * refused statement writes nothing: the database is compared before and after.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshLedger } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

const MISSING = 987_654_321;

describe.each(DIALECTS)('references of journal rows on %s', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  async function bookedLedger() {
    const opened = await freshLedger(dialect);
    close = opened.close;
    const { ledger } = opened;
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    const user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:r1', kind: 'user' });
    const posted = await ledger.post({
      entity: 'defi',
      kind: 'deposit',
      idempotencyKey: 'dep-1',
      occurredAt: '2025-03-18T10:00:00Z',
      entries: [
        { accountId: funds.id, side: 'debit', amount: '1' },
        { accountId: user.id, side: 'credit', amount: '1' },
      ],
    });
    return { ledger, db: ledger.db as unknown as Kysely<unknown>, funds, user, transactionId: posted.transaction.id };
  }

  async function expectRefused(db: Kysely<unknown>, statement: ReturnType<typeof sql>, pattern: RegExp) {
    const before = await snapshotDatabase(db);
    await expect(statement.execute(db)).rejects.toThrow(pattern);
    expect(await snapshotDatabase(db)).toBe(before);
  }

  // SQLite's message: FOREIGN KEY constraint failed; PostgreSQL's: the statement check's, naming the row.
  const missingReference = /FOREIGN KEY constraint failed|references (ledger_accounts|journal_transactions) row 987654321/;

  it('refuses an entry of an account or a transaction that does not exist, among good ones', async () => {
    const { db, user, transactionId } = await bookedLedger();
    const entry = (transaction: number, account: number) => sql`(${transaction}, ${'defi'}, ${account}, ${'BTC'}, ${'0.000000000000000000'}, ${'1.000000000000000000'}, ${'2025-03-18'})`;
    const insert = (rows: ReturnType<typeof sql>[]) => sql`insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day) values ${sql.join(rows)}`;
    await expectRefused(db, insert([entry(transactionId, user.id), entry(transactionId, MISSING)]), missingReference);
    await expectRefused(db, insert([entry(MISSING, user.id), entry(transactionId, user.id)]), missingReference);
  });

  it('refuses an end-of-day balance or a residue of an account that does not exist, and moving one to such an account', async () => {
    const { db, user } = await bookedLedger();
    await expectRefused(db, sql`insert into account_day_balances (account_id, accounting_day, balance) values (${user.id}, ${'2025-03-20'}, ${'1'}), (${MISSING}, ${'2025-03-20'}, ${'1'})`, missingReference);
    await expectRefused(db, sql`insert into interest_residues (account_id, accounting_day, user_residue, margin_residue) values (${MISSING}, ${'2025-03-20'}, ${'0'}, ${'0'})`, missingReference);
    await expectRefused(db, sql`update account_day_balances set account_id = ${MISSING} where account_id = ${user.id}`, /FOREIGN KEY constraint failed|keep their identity/);
  });

  it("refuses changing the id of an account or a transaction that rows point at", async () => {
    const { db, user, transactionId } = await bookedLedger();
    await expectRefused(db, sql`update ledger_accounts set id = ${MISSING} where id = ${user.id}`, /FOREIGN KEY constraint failed|keep their identity/);
    await expectRefused(db, sql`update journal_transactions set id = ${MISSING} where id = ${transactionId}`, /immutable/);
  });

  it('still books, reads back and verifies through the ledger', async () => {
    const { ledger, user } = await bookedLedger();
    expect(await ledger.balance(user.id)).toBe('1.000000000000000000');
    await ledger.verify({ entity: 'defi' });
  });
});

describe.each(DIALECTS.filter((dialect) => dialect === 'postgres'))('PostgreSQL keeps no per-row keys on the journal (%s)', (dialect) => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  it('journal entries, end-of-day balances and residues have statement checks instead of foreign keys to accounts and transactions', async () => {
    const opened = await freshLedger(dialect);
    close = opened.close;
    const db = opened.ledger.db as unknown as Kysely<unknown>;
    const keys = await sql<{ table: string; references: string }>`
      select rel.relname as table, ref.relname as references from pg_constraint con
      join pg_class rel on rel.oid = con.conrelid join pg_class ref on ref.oid = con.confrelid join pg_namespace ns on ns.oid = rel.relnamespace
      where con.contype = 'f' and ns.nspname = current_schema() order by 1, 2`.execute(db);
    const onHotTables = keys.rows.filter((row) => ['journal_entries', 'account_day_balances', 'interest_residues'].includes(row.table));
    expect(onHotTables).toEqual([]);
    // The other tables keep theirs.
    expect(keys.rows.map((row) => `${row.table}->${row.references}`)).toContain('earn_accounts->ledger_accounts');
    const triggers = await sql<{ name: string }>`
      select t.tgname as name from pg_trigger t join pg_class rel on rel.oid = t.tgrelid join pg_namespace ns on ns.oid = rel.relnamespace
      where not t.tgisinternal and ns.nspname = current_schema() and t.tgname like '%_references' order by 1`.execute(db);
    expect(triggers.rows.map((row) => row.name)).toEqual(['account_day_balances_references', 'interest_residues_references', 'journal_entries_references']);
  });
});

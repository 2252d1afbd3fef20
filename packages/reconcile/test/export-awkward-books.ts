/**
 * Awkward books for the export tests: entity ids and account codes that a linguistic collation
 * (PostgreSQL databases are often created with `en_US.UTF-8`) sorts differently from byte order,
 * and stored values where the dialects differ in what they keep (amounts as SQLite text versus
 * PostgreSQL NUMERIC, NULL versus empty text).
 *
 * On PostgreSQL, {@link useLinguisticCollation} gives every text column of the test schema the ICU
 * `en-US` collation, as a database created with that locale would have by default, whatever the
 * test database's own collation is (often `C`, where the bug does not show).
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { DEFAULT_ENTITIES } from '@earnbook/ledger';
import type { LedgerEntity } from '@earnbook/ledger';
import { freshLedger } from '../../ledger/test/dialects.js';
import type { DialectName } from '../../ledger/test/dialects.js';
import { migrateReconcile } from '../src/db/migrations.js';
import type { ReconcileDatabase } from '../src/db/schema.js';
import type { TestBooks } from './export-books.js';

/** A linguistic collation every PostgreSQL build with ICU has (`select collname from pg_collation`). */
export const LINGUISTIC_COLLATION = 'en-US-x-icu';

/**
 * Entity ids in an order that byte order and `en-US` disagree on: byte order gives
 * `B a-b aB a_b ab`, `en-US` gives `a_b a-b ab aB B`.
 */
export const AWKWARD_ENTITIES: readonly LedgerEntity[] = Object.freeze(
  ['ab', 'B', 'a_b', 'aB', 'a-b'].map((id, index) => Object.freeze({ id, timeZone: index % 2 === 0 ? 'UTC' : 'Asia/Tokyo' })),
);

/** Account codes (kind `adjustment`) that the two orders disagree on too, one of them not ASCII. */
export const AWKWARD_CODES: readonly string[] = Object.freeze(['adjustment:ab', 'adjustment:B', 'adjustment:é', 'adjustment:a_b', 'adjustment:z', 'adjustment:aB', 'adjustment:a-b']);

/** UTF-8 byte order (SQLite's BINARY collation, PostgreSQL's `COLLATE "C"`). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Gives every text column of the current schema the collation {@link LINGUISTIC_COLLATION}. The
 * ledger's triggers name some of those columns (`UPDATE OF …`), and PostgreSQL refuses to change
 * a column a trigger names: they are dropped and created again as they were.
 */
export async function useLinguisticCollation(db: Kysely<unknown>): Promise<void> {
  const triggers = await sql<{ table_name: string; trigger_name: string; definition: string }>`
    select c.relname as table_name, t.tgname as trigger_name, pg_get_triggerdef(t.oid) as definition
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and not t.tgisinternal`.execute(db);
  for (const trigger of triggers.rows) await sql`drop trigger ${sql.id(trigger.trigger_name)} on ${sql.id(trigger.table_name)}`.execute(db);
  const columns = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' and c.data_type = 'text'
    order by c.table_name, c.ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const column of columns.rows) byTable.set(column.table_name, [...(byTable.get(column.table_name) ?? []), column.column_name]);
  for (const [table, names] of byTable) {
    const changes = names.map((name) => sql`alter column ${sql.id(name)} type text collate ${sql.id(LINGUISTIC_COLLATION)}`);
    await sql`alter table ${sql.id(table)} ${sql.join(changes)}`.execute(db);
  }
  for (const trigger of triggers.rows) await sql.raw(trigger.definition).execute(db);
}

/**
 * Books with the default entities and {@link AWKWARD_ENTITIES}, reconcile's tables, a fixed clock,
 * and on PostgreSQL every text column in the linguistic collation.
 */
export async function openAwkwardBooks(dialect: DialectName): Promise<TestBooks> {
  const clock = () => new Date('2025-03-21T00:00:00.000Z');
  const opened = await freshLedger(dialect, { now: clock, entities: [...DEFAULT_ENTITIES, ...AWKWARD_ENTITIES] });
  await migrateReconcile(opened.ledger.db as Kysely<unknown>, opened.ledger.dialect, opened.schema === undefined ? {} : { schema: opened.schema });
  if (dialect === 'postgres') await useLinguisticCollation(opened.ledger.db as Kysely<unknown>);
  return { ledger: opened.ledger, db: opened.ledger.db as unknown as Kysely<ReconcileDatabase>, close: opened.close };
}

/**
 * Fills the awkward entities: per entity, an adjustment to each of {@link AWKWARD_CODES} against
 * the treasury (one with an empty description, one with none), and settlement positions in two
 * currencies with amounts written in non-canonical forms (`-0`, `0.10`, 24 integer digits, one
 * unit of 10^-18), a NULL and an empty optional text, and breaks with `''` beside NULL.
 */
export async function seedAwkwardBooks(books: TestBooks): Promise<void> {
  const { ledger, db } = books;
  const stamp = '2025-03-21T00:00:00.000Z';
  for (const [index, { id: entity }] of AWKWARD_ENTITIES.entries()) {
    const treasury = await ledger.systemAccount(entity, 'BTC', 'treasury');
    for (const [line, code] of AWKWARD_CODES.entries()) {
      const account = await ledger.openAccount({ entity, currency: 'BTC', code, kind: 'adjustment' });
      await ledger.post({
        entity,
        kind: 'adjustment',
        idempotencyKey: `awkward-${line}`,
        occurredAt: `2025-03-${18 + (line % 3)}T12:00:00Z`,
        providerId: `${code}-${index}`,
        ...(line === 0 ? { description: '' } : line === 1 ? {} : { description: `fix ${code}` }),
        entries: [
          { accountId: account.id, side: 'debit', amount: `0.${'0'.repeat(17)}${line + 1}` },
          { accountId: treasury.id, side: 'credit', amount: `0.${'0'.repeat(17)}${line + 1}` },
        ],
      });
    }
    const position = (currency: string, day: string) => ({
      entity,
      currency,
      accounting_day: day,
      payables: '0.10',
      receivables: '123456789012345678901234.5',
      net: '-0',
      carried_in: '0.000000000000000001',
      outstanding: '-123456789012345678901234.4',
      settled: '0',
      carried_out: '-0.000000000000000001',
      reported_outstanding: currency === 'BTC' ? null : '1',
      computed_at: stamp,
    });
    await db
      .insertInto('settlement_positions')
      .values([position('USDC', '2025-03-19'), position('BTC', '2025-03-20'), position('BTC', '2025-03-19'), position('B2', '2025-03-19')])
      .execute();
    await db
      .insertInto('settlement_instructions')
      .values({
        entity,
        currency: 'BTC',
        accounting_day: '2025-03-19',
        direction: 'from_provider',
        amount: '7',
        wallet: '',
        status: 'pending',
        transaction_hash: null,
        ledger_transaction_id: null,
        created_at: stamp,
        updated_at: stamp,
      })
      .execute();
    const breakRow = (fingerprint: string, empty: boolean) => ({
      entity,
      accounting_day: '2025-03-19',
      kind: 'amount_mismatch' as const,
      fingerprint,
      provider_id: empty ? '' : null,
      earn_account_id: empty ? '' : null,
      currency: empty ? '' : null,
      expected: empty ? '' : null,
      actual: empty ? '0.10' : '-0',
      details: '{}',
      status: 'open' as const,
      resolution_reason: empty ? '' : null,
      resolution_transaction_id: null,
      report_version: 1,
      created_at: stamp,
      resolved_at: null,
    });
    await db.insertInto('reconcile_breaks').values([breakRow('empty', true), breakRow('null', false)]).execute();
  }
}

/**
 * Reconcile's migration set, applied after the ledger's to the same database (SQLite or
 * PostgreSQL); the amount and id column types come from the ledger's dialect.
 */
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { LedgerDialect } from '@earnbook/ledger';
import { breakFingerprint } from '../diff.js';
import type { BreakKind } from './schema.js';

/** Kysely's record of reconcile's applied migrations. */
export const RECONCILE_MIGRATION_TABLE = 'earnbook_reconcile_migration';
/** Kysely's lock table for reconcile's migrations. */
export const RECONCILE_MIGRATION_LOCK_TABLE = 'earnbook_reconcile_migration_lock';

function initial(dialect: LedgerDialect): Migration {
  const amount = sql.raw(dialect.amountColumnType);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('reconcile_breaks')
        .addColumn('id', dialect.idColumnType, (c) => (dialect.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('provider_id', 'text')
        .addColumn('earn_account_id', 'text')
        .addColumn('currency', 'text')
        .addColumn('expected', 'text')
        .addColumn('actual', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'resolved')`))
        .addColumn('resolution_reason', 'text')
        .addColumn('resolution_transaction_id', dialect.referenceColumnType, (c) => c.references('journal_transactions.id'))
        .addColumn('report_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('resolved_at', 'text')
        .addUniqueConstraint('reconcile_breaks_fingerprint', ['entity', 'accounting_day', 'fingerprint'])
        .execute();
      await db.schema.createIndex('reconcile_breaks_status').on('reconcile_breaks').columns(['status', 'entity', 'accounting_day']).execute();

      await db.schema
        .createTable('settlement_positions')
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('payables', amount, (c) => c.notNull())
        .addColumn('receivables', amount, (c) => c.notNull())
        .addColumn('net', amount, (c) => c.notNull())
        .addColumn('carried_in', amount, (c) => c.notNull())
        .addColumn('outstanding', amount, (c) => c.notNull())
        .addColumn('settled', amount, (c) => c.notNull())
        .addColumn('carried_out', amount, (c) => c.notNull())
        .addColumn('reported_outstanding', amount)
        .addColumn('computed_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('settlement_positions_pk', ['entity', 'currency', 'accounting_day'])
        .execute();

      await db.schema
        .createTable('settlement_instructions')
        .addColumn('id', dialect.idColumnType, (c) => (dialect.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull().check(sql`direction in ('to_provider', 'from_provider')`))
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('wallet', 'text')
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'sent', 'confirmed')`))
        .addColumn('transaction_hash', 'text')
        .addColumn('ledger_transaction_id', dialect.referenceColumnType, (c) => c.references('journal_transactions.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        // The same (entity, currency, day) can never produce two instructions.
        .addUniqueConstraint('settlement_instructions_day', ['entity', 'currency', 'accounting_day'])
        .execute();
    },
  };
}

/**
 * Break fingerprints become the JSON of (kind, provider id, Earn account id, currency), which is
 * injective; the old `|`-joined form let two different breaks share one.
 */
function injectiveFingerprints(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const breaks = db as Kysely<{ reconcile_breaks: { id: number; kind: string; provider_id: string | null; earn_account_id: string | null; currency: string | null; fingerprint: string } }>;
      let afterId = 0;
      for (;;) {
        const rows = await breaks.selectFrom('reconcile_breaks').select(['id', 'kind', 'provider_id', 'earn_account_id', 'currency']).where('id', '>', afterId).orderBy('id').limit(1_000).execute();
        for (const row of rows) {
          await breaks.updateTable('reconcile_breaks').set({ fingerprint: breakFingerprint({ kind: row.kind as BreakKind, providerId: row.provider_id, earnAccountId: row.earn_account_id, currency: row.currency }) }).where('id', '=', row.id).execute();
        }
        const last = rows[rows.length - 1];
        if (last === undefined) return;
        afterId = last.id;
      }
    },
  };
}

/** Applies reconcile's pending migrations (run the ledger's first: these reference its tables). */
export async function migrateReconcile(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<void> {
  await dialect.migrate(db, async (connection, { disableTransactions }) => {
    const migrator = new Migrator({
      db: connection,
      disableTransactions,
      provider: { getMigrations: async () => ({ '0001_initial': initial(dialect), '0002_injective_fingerprints': injectiveFingerprints() }) },
      migrationTableName: RECONCILE_MIGRATION_TABLE,
      migrationLockTableName: RECONCILE_MIGRATION_LOCK_TABLE,
      ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
    });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
  });
}

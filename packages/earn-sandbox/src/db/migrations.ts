/** Creates the sandbox's own tables (idempotent; the ledger migrates its own). */
import type { SandboxDb } from './schema.js';

/** Creates every sandbox table that does not exist yet. */
export async function migrateSandbox(db: SandboxDb): Promise<void> {
  await db.schema
    .createTable('sandbox_idempotency')
    .ifNotExists()
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('idempotency_key', 'text', (column) => column.notNull())
    .addColumn('request_hash', 'text', (column) => column.notNull())
    .addColumn('status_code', 'integer', (column) => column.notNull())
    .addColumn('response', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('sandbox_idempotency_pk', ['entity', 'idempotency_key'])
    .execute();
  await db.schema
    .createTable('sandbox_users')
    .ifNotExists()
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('user_id', 'text', (column) => column.notNull())
    .addColumn('external_reference', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('sandbox_users_pk', ['entity', 'user_id'])
    .execute();
  await db.schema
    .createTable('sandbox_reports')
    .ifNotExists()
    .addColumn('sequence', 'integer', (column) => column.primaryKey().autoIncrement())
    .addColumn('report_id', 'text', (column) => column.notNull().unique())
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('accounting_day', 'text', (column) => column.notNull())
    .addColumn('version', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('content', 'text', (column) => column.notNull())
    .execute();
  await db.schema
    .createTable('sandbox_settlements')
    .ifNotExists()
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('accounting_day', 'text', (column) => column.notNull())
    .addColumn('outstanding', 'text', (column) => column.notNull())
    .addColumn('settled', 'text', (column) => column.notNull())
    .addColumn('carried_out', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('sandbox_settlements_pk', ['entity', 'currency', 'accounting_day'])
    .execute();
  await db.schema
    .createTable('sandbox_closed_days')
    .ifNotExists()
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('accounting_day', 'text', (column) => column.notNull())
    .addColumn('closed_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('sandbox_closed_days_pk', ['entity', 'accounting_day'])
    .execute();
  await db.schema
    .createTable('sandbox_state')
    .ifNotExists()
    .addColumn('name', 'text', (column) => column.primaryKey())
    .addColumn('value', 'text', (column) => column.notNull())
    .execute();
}

/**
 * Reconcile's migration set, applied after the ledger's to the same database (SQLite or
 * PostgreSQL); the amount and id column types come from the ledger's dialect.
 */
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import { appliedMigrationNames, migrationState } from '@earnbook/ledger';
import type { LedgerDialect, MigrationState } from '@earnbook/ledger';
import { breakFingerprint, entryKindOfDetails } from '../diff.js';
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
          // The four-field identity of the time (an entry kind of null keeps that form).
          await breaks.updateTable('reconcile_breaks').set({ fingerprint: breakFingerprint({ kind: row.kind as BreakKind, providerId: row.provider_id, earnAccountId: row.earn_account_id, currency: row.currency, entryKind: null }) }).where('id', '=', row.id).execute();
        }
        const last = rows[rows.length - 1];
        if (last === undefined) return;
        afterId = last.id;
      }
    },
  };
}

/** What a resolution by a run said before `resolved_by` existed (break-store.ts wrote only this). */
const RUN_RESOLUTION_PATTERN = 'no longer found when reconciling report version %';

/** The indexes migration 0003 adds to `reconcile_breaks`, in place of its unique constraint. */
async function createBreakOccurrenceIndexes(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('reconcile_breaks_day').on('reconcile_breaks').columns(['entity', 'accounting_day', 'fingerprint']).execute();
  // One open break per identity; the resolved rows of an identity are its history.
  await db.schema.createIndex('reconcile_breaks_open').unique().on('reconcile_breaks').columns(['entity', 'accounting_day', 'fingerprint']).where(sql.ref('status'), '=', 'open').execute();
}

/**
 * A break's identity may have many rows, at most one open: a break that comes back after a run
 * closed it, or with another figure than the one a person resolved, is a new row beside the old
 * (which stays as the audit trail). `resolved_by` tells a run's resolution from a person's; rows
 * resolved before it existed are the run's when their reason is the one runs wrote (and no
 * transaction is linked), else a person's. SQLite cannot drop a table constraint, so there the
 * table is rebuilt (same ids, same rows); PostgreSQL alters it in place.
 */
function breakOccurrences(dialect: LedgerDialect): Migration {
  const resolvedBy = sql`case when status = 'open' then null when resolution_transaction_id is null and resolution_reason like ${sql.lit(RUN_RESOLUTION_PATTERN)} then 'run' else 'person' end`;
  // An open row has no resolver. A resolved row written without one (by a tool that predates the
  // column) is allowed, and covers no later figure (break-store.ts counts only a person's).
  const resolvedByCheck = sql`resolved_by is null or (status = 'resolved' and resolved_by in ('run', 'person'))`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect.name !== 'sqlite') {
        await db.schema.alterTable('reconcile_breaks').addColumn('resolved_by', 'text').execute();
        await sql`update reconcile_breaks set resolved_by = ${resolvedBy}`.execute(db);
        await db.schema.alterTable('reconcile_breaks').addCheckConstraint('reconcile_breaks_resolved_by', resolvedByCheck).execute();
        await db.schema.alterTable('reconcile_breaks').dropConstraint('reconcile_breaks_fingerprint').execute();
        await createBreakOccurrenceIndexes(db);
        return;
      }
      await db.schema
        .createTable('reconcile_breaks_next')
        .addColumn('id', dialect.idColumnType, (c) => c.primaryKey().autoIncrement())
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
        .addColumn('resolved_by', 'text')
        .addColumn('resolution_reason', 'text')
        .addColumn('resolution_transaction_id', dialect.referenceColumnType, (c) => c.references('journal_transactions.id'))
        .addColumn('report_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('resolved_at', 'text')
        .addCheckConstraint('reconcile_breaks_resolved_by', resolvedByCheck)
        .execute();
      const columns = sql.raw('id, entity, accounting_day, kind, fingerprint, provider_id, earn_account_id, currency, expected, actual, details, status, resolution_reason, resolution_transaction_id, report_version, created_at, resolved_at');
      await sql`insert into reconcile_breaks_next (${columns}, resolved_by) select ${columns}, ${resolvedBy} from reconcile_breaks`.execute(db);
      await db.schema.dropTable('reconcile_breaks').execute();
      await db.schema.alterTable('reconcile_breaks_next').renameTo('reconcile_breaks').execute();
      // The old table's indexes went with it.
      await db.schema.createIndex('reconcile_breaks_status').on('reconcile_breaks').columns(['status', 'entity', 'accounting_day']).execute();
      await createBreakOccurrenceIndexes(db);
    },
  };
}

/**
 * Settlement instructions may be `held` (their currency's figure is disputed or its fees await
 * approval: not payable) or `cancelled` (a restated report settles nothing), each with the reason
 * in `status_reason`; a later run brings either back to `pending` with the figure it then has.
 * SQLite cannot change a column's check, so there the table is rebuilt (same ids, same rows).
 */
function instructionHolds(dialect: LedgerDialect): Migration {
  const statusCheck = sql`status in ('pending', 'held', 'cancelled', 'sent', 'confirmed')`;
  const reasonCheck = sql`(status in ('held', 'cancelled') and status_reason is not null) or (status not in ('held', 'cancelled') and status_reason is null)`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect.name !== 'sqlite') {
        await db.schema.alterTable('settlement_instructions').addColumn('status_reason', 'text').execute();
        // PostgreSQL's name for the column check of migration 0001.
        await db.schema.alterTable('settlement_instructions').dropConstraint('settlement_instructions_status_check').execute();
        await db.schema.alterTable('settlement_instructions').addCheckConstraint('settlement_instructions_status', statusCheck).execute();
        await db.schema.alterTable('settlement_instructions').addCheckConstraint('settlement_instructions_status_reason', reasonCheck).execute();
        return;
      }
      const amount = sql.raw(dialect.amountColumnType);
      await db.schema
        .createTable('settlement_instructions_next')
        .addColumn('id', dialect.idColumnType, (c) => c.primaryKey().autoIncrement())
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull().check(sql`direction in ('to_provider', 'from_provider')`))
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('wallet', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text')
        .addColumn('transaction_hash', 'text')
        .addColumn('ledger_transaction_id', dialect.referenceColumnType, (c) => c.references('journal_transactions.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('settlement_instructions_day', ['entity', 'currency', 'accounting_day'])
        .addCheckConstraint('settlement_instructions_status', statusCheck)
        .addCheckConstraint('settlement_instructions_status_reason', reasonCheck)
        .execute();
      const columns = sql.raw('id, entity, currency, accounting_day, direction, amount, wallet, status, transaction_hash, ledger_transaction_id, created_at, updated_at');
      await sql`insert into settlement_instructions_next (${columns}) select ${columns} from settlement_instructions`.execute(db);
      await db.schema.dropTable('settlement_instructions').execute();
      await db.schema.alterTable('settlement_instructions_next').renameTo('settlement_instructions').execute();
    },
  };
}

/**
 * The version each day's state reflects, so that reconciling an older processed version again is
 * refused inside the day's transaction. Days reconciled before this migration have no row: the
 * run then asks the ledger which versions it processed (`processedReports`), since reconcile
 * never reads the ledger's tables, not even in a migration.
 */
function reconciledDays(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('reconciled_days')
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('report_version', 'integer', (c) => c.notNull().check(sql`report_version >= 1`))
        .addColumn('reconciled_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('reconciled_days_pk', ['entity', 'accounting_day'])
        .execute();
    },
  };
}

/** Rows read per batch by {@link entryKindFingerprints}. */
const FINGERPRINT_BATCH_ROWS_MAX = 1_000;

/**
 * The entry's kind joins a break's identity (a partner margin and a fee under one provider id are
 * two breaks): each stored row whose details name the kind (`entryKindOfDetails`: missing in
 * report, and the report entry of missing in ledger, duplicates and undated entries) is given the
 * fingerprint a run now computes, so that re-running an old day finds its old breaks. Rows about
 * no one entry keep theirs (the same form). The mismatches of a matched entry stored only its
 * transaction id, whose kind is the ledger's to tell and reconcile never reads the ledger's
 * tables: they keep the fingerprint without the kind, and the next run of their day gives them
 * the kind of the draft naming the same transaction (`withLegacyRowsAdopted`). Adding a field
 * only splits identities, so the unique index over open rows still holds. Rows are read in
 * batches by id and updated one by one, on both dialects alike.
 */
function entryKindFingerprints(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const breaks = db as Kysely<{ reconcile_breaks: { id: number; kind: string; provider_id: string | null; earn_account_id: string | null; currency: string | null; details: string; fingerprint: string } }>;
      let afterId = 0;
      for (;;) {
        const rows = await breaks.selectFrom('reconcile_breaks').select(['id', 'kind', 'provider_id', 'earn_account_id', 'currency', 'details', 'fingerprint']).where('id', '>', afterId).orderBy('id').limit(FINGERPRINT_BATCH_ROWS_MAX).execute();
        for (const row of rows) {
          const entryKind = entryKindOfDetails(JSON.parse(row.details) as Record<string, unknown>);
          if (entryKind === null) continue;
          const fingerprint = breakFingerprint({ kind: row.kind as BreakKind, providerId: row.provider_id, earnAccountId: row.earn_account_id, currency: row.currency, entryKind });
          if (fingerprint !== row.fingerprint) await breaks.updateTable('reconcile_breaks').set({ fingerprint }).where('id', '=', row.id).execute();
        }
        const last = rows[rows.length - 1];
        if (last === undefined) return;
        afterId = Number(last.id);
      }
    },
  };
}

/**
 * `reconcile_breaks_entity_id` (entity, id): an entity's breaks in id order are one index range,
 * which the audit export's `breaks.csv` walks a page at a time. Without it SQLite read each page
 * through `reconcile_breaks_day` and sorted the export's whole day range in a temporary B-tree for
 * every page (300k breaks over a year: 0.25 s a page of 5,000, 8.1 s for the year's export; 3.1-3.6
 * s with it). `IF NOT EXISTS`: books where an interim build created it open all the same.
 */
function breaksEntityIdIndex(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('reconcile_breaks_entity_id').ifNotExists().on('reconcile_breaks').columns(['entity', 'id']).execute();
    },
  };
}

/**
 * `reconcile_breaks_entity_day_id` (entity, accounting_day, id): a page of an entity's breaks in
 * (day, id) order (`Reconciler.breaks` with `afterId` and `limit`) is one index range; through
 * `reconcile_breaks_day` each page sorted the breaks of its first day by id.
 */
function breaksDayIdIndex(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('reconcile_breaks_entity_day_id').ifNotExists().on('reconcile_breaks').columns(['entity', 'accounting_day', 'id']).execute();
    },
  };
}

/** Reconcile's migrations by name, in order (exported for the in-place upgrade tests). */
export function reconcileMigrations(dialect: LedgerDialect): Record<string, Migration> {
  return { '0001_initial': initial(dialect), '0002_injective_fingerprints': injectiveFingerprints(), '0003_break_occurrences': breakOccurrences(dialect), '0004_instruction_holds': instructionHolds(dialect), '0005_reconciled_days': reconciledDays(), '0006_entry_kind_fingerprints': entryKindFingerprints(), '0007_breaks_entity_id_index': breaksEntityIdIndex(), '0008_breaks_day_id_index': breaksDayIdIndex() };
}

/** Reconcile's migrations the books have applied and those they have not (all of them for books without reconcile's tables); nothing is written. */
export async function reconcileMigrationState(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<MigrationState> {
  return migrationState(Object.keys(reconcileMigrations(dialect)), await appliedMigrationNames(db, RECONCILE_MIGRATION_TABLE, options.schema));
}

/** Applies reconcile's pending migrations (run the ledger's first: these reference its tables). */
export async function migrateReconcile(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<void> {
  await dialect.migrate(db, async (connection, { disableTransactions }) => {
    const migrator = new Migrator({
      db: connection,
      disableTransactions,
      provider: { getMigrations: async () => reconcileMigrations(dialect) },
      migrationTableName: RECONCILE_MIGRATION_TABLE,
      migrationLockTableName: RECONCILE_MIGRATION_LOCK_TABLE,
      ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
    });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
  });
}

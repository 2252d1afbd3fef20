/**
 * The ledger's one migration set, applied unchanged to SQLite and PostgreSQL; the few column
 * types that must differ come from the {@link LedgerDialect}.
 */
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { accountPagesIndexMigration } from './accounts-repository.js';
import type { LedgerDialect } from './dialect.js';
import { isMissingTable } from './stored-entities.js';
import { LedgerError, describeValue } from '../errors.js';
import { dayReadInBookOrderMigration, entryProviderDayIndexMigration, providerEntryOrderIndexMigration } from './provider-entries-repository.js';
import { postgresReferenceCheckStatements } from './postgres/reference-checks.js';

/** Name of the table in which Kysely records the ledger's applied migrations. */
export const LEDGER_MIGRATION_TABLE = 'earnbook_ledger_migration';
/** Name of the lock table of the ledger's migrations. */
export const LEDGER_MIGRATION_LOCK_TABLE = 'earnbook_ledger_migration_lock';

function initialMigration(dialect: LedgerDialect): Migration {
  const amount = sql.raw(dialect.amountColumnType);
  const reference = dialect.referenceColumnType;
  const idColumn = dialect.idColumnType;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('ledger_entities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('time_zone', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('ledger_accounts')
        .addColumn('id', idColumn, (c) => (dialect.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('normal_side', 'text', (c) => c.notNull().check(sql`normal_side in ('debit', 'credit')`))
        .addColumn('balance', amount, (c) => c.notNull())
        .addColumn('last_day', 'text')
        .addColumn('entry_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('ledger_accounts_entity_currency_code', ['entity', 'currency', 'code'])
        .execute();

      await db.schema
        .createTable('journal_transactions')
        .addColumn('id', idColumn, (c) => (dialect.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('provider_id', 'text')
        .addColumn('reverses_transaction_id', reference, (c) => c.references('journal_transactions.id'))
        .addColumn('description', 'text')
        .addColumn('metadata', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('journal_transactions_entity_key', ['entity', 'idempotency_key'])
        .addUniqueConstraint('journal_transactions_reverses', ['reverses_transaction_id'])
        .execute();
      await db.schema.createIndex('journal_transactions_entity_day').on('journal_transactions').columns(['entity', 'accounting_day', 'id']).execute();
      // One provider id is booked once per kind: the provider's journal entry ids are unique.
      await db.schema
        .createIndex('journal_transactions_entity_provider')
        .on('journal_transactions')
        .columns(['entity', 'kind', 'provider_id'])
        .unique()
        .where(sql.ref('provider_id'), 'is not', null)
        .execute();

      await db.schema
        .createTable('journal_entries')
        .addColumn('id', idColumn, (c) => (dialect.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('transaction_id', reference, (c) => c.notNull().references('journal_transactions.id'))
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('account_id', reference, (c) => c.notNull().references('ledger_accounts.id'))
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('balance_after', amount, (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('journal_entries_account').on('journal_entries').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('journal_entries_transaction').on('journal_entries').columns(['transaction_id']).execute();

      await db.schema
        .createTable('account_day_balances')
        .addColumn('account_id', reference, (c) => c.notNull().references('ledger_accounts.id'))
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('balance', amount, (c) => c.notNull())
        .addPrimaryKeyConstraint('account_day_balances_pk', ['account_id', 'accounting_day'])
        .execute();

      await db.schema
        .createTable('earn_products')
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('provider_product_id', 'text', (c) => c.notNull())
        .addColumn('effective_day', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('terms', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('earn_products_pk', ['entity', 'provider_product_id', 'effective_day'])
        .execute();

      await db.schema
        .createTable('partner_users')
        .addColumn('partner_user_id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('earn_users')
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('earn_user_id', 'text', (c) => c.notNull())
        .addColumn('partner_user_id', 'text', (c) => c.notNull().references('partner_users.partner_user_id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('earn_users_pk', ['entity', 'earn_user_id'])
        .addUniqueConstraint('earn_users_partner_entity', ['partner_user_id', 'entity'])
        .execute();

      await db.schema
        .createTable('earn_accounts')
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('earn_account_id', 'text', (c) => c.notNull())
        .addColumn('earn_user_id', 'text', (c) => c.notNull())
        .addColumn('provider_product_id', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('ledger_account_id', reference, (c) => c.notNull().references('ledger_accounts.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('earn_accounts_pk', ['entity', 'earn_account_id'])
        .addUniqueConstraint('earn_accounts_user_product', ['entity', 'earn_user_id', 'provider_product_id'])
        .addForeignKeyConstraint('earn_accounts_user', ['entity', 'earn_user_id'], 'earn_users', ['entity', 'earn_user_id'])
        .execute();

      await db.schema
        .createTable('earn_bookings')
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('provider_booking_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('earn_account_id', 'text', (c) => c.notNull())
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('provider_data', 'text', (c) => c.notNull())
        .addColumn('transaction_id', reference, (c) => c.notNull().references('journal_transactions.id'))
        .addPrimaryKeyConstraint('earn_bookings_pk', ['entity', 'provider_booking_id'])
        .addForeignKeyConstraint('earn_bookings_account', ['entity', 'earn_account_id'], 'earn_accounts', ['entity', 'earn_account_id'])
        .execute();

      await db.schema
        .createTable('processed_reports')
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('processed_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('processed_reports_pk', ['entity', 'report_id', 'content_hash'])
        .addUniqueConstraint('processed_reports_version', ['entity', 'accounting_day', 'version'])
        .execute();

      for (const statement of dialect.immutabilityStatements) await sql.raw(statement).execute(db);
    },
  };
}

/** Rounding remainders of interest carried per account from one accounting day to the next. */
function interestResidueMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('interest_residues')
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('ledger_accounts.id'))
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('user_residue', 'text', (c) => c.notNull())
        .addColumn('margin_residue', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('interest_residues_pk', ['account_id', 'accounting_day'])
        .execute();
      await db.schema
        .createTable('accounting_cycles')
        .addColumn('entity', 'text', (c) => c.notNull().references('ledger_entities.id'))
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('accounts', 'integer', (c) => c.notNull())
        .addColumn('completed_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('accounting_cycles_pk', ['entity', 'accounting_day'])
        .execute();
    },
  };
}

/** Lookups of transactions by provider id whatever their kind (duplicate checks, reconciliation). */
function providerIdIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('journal_transactions_entity_provider_id').on('journal_transactions').columns(['entity', 'provider_id']).execute();
    },
  };
}

/** The accounting cycle pages an entity's Earn accounts in ledger account order. */
function earnAccountOrderIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('earn_accounts_entity_ledger_account').on('earn_accounts').columns(['entity', 'ledger_account_id']).execute();
    },
  };
}

/**
 * Earn account lookups answered from the index alone. The report sync looks up the Earn account
 * of each interest entry by Earn account id (its ledger account and currency), and the day's read
 * of the books finds the Earn account id of each line by ledger account; with the rows' own
 * indexes each lookup also read the table row, a random page at 1M accounts (opaque Earn ids).
 * Measured at 1M accounts on SQLite (`bench/nightly-accounts.ts` in reconcile, same machine,
 * back to back): 106.8 s without, 98.1 s with them (sync 68.1 -> 58.2 s, diff 16.1 -> 12.8 s).
 * The ledger account index is replaced by one that also holds the Earn account id.
 */
function earnAccountCoveringIndexesMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('earn_accounts_entity_earn_id_ledger').on('earn_accounts').columns(['entity', 'earn_account_id', 'ledger_account_id', 'currency']).execute();
      await db.schema.createIndex('earn_accounts_entity_ledger_earn_id').on('earn_accounts').columns(['entity', 'ledger_account_id', 'earn_account_id']).execute();
      await db.schema.dropIndex('earn_accounts_entity_ledger_account').execute();
    },
  };
}

/** Fill factor of the PostgreSQL account table as 0006 and 0008 set it (0015 lowers the account table's). */
const ACCOUNTS_FILL_FACTOR_PERCENT = 70;

/**
 * Compound transactions of many lines (the accounting cycle's interest): each entry may carry the
 * provider's id of that one line, unique per entity, so that booking a line twice is refused by
 * the database as by the ledger. Adding a nullable column rewrites no row on either dialect.
 */
function entryProviderIdMigration(dialect: LedgerDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // PostgreSQL: room on each page for new versions of account rows (HOT updates); on a page
      // packed to 70 there is room for fewer than half of its rows, see 0015.
      if (dialect.name === 'postgres') await sql`alter table ledger_accounts set (fillfactor = ${sql.lit(ACCOUNTS_FILL_FACTOR_PERCENT)})`.execute(db);
      await db.schema.alterTable('journal_entries').addColumn('provider_id', 'text').execute();
      await db.schema
        .createIndex('journal_entries_entity_provider')
        .on('journal_entries')
        .columns(['entity', 'provider_id'])
        .unique()
        .where(sql.ref('provider_id'), 'is not', null)
        .execute();
    },
  };
}

/**
 * Balance shards (PostgreSQL's writers of system accounts; see `db/balance-shards-repository.ts`):
 * an account's balance is its own row's plus the sum of its shard rows, each shard a running
 * balance of its own with its own end-of-day rows. Existing books upgrade in place: every stored
 * balance stays where it is (the account's own series) and the shards start empty. Entries get
 * the shard whose running balance their `balance_after` is (null: the account's own series);
 * adding nullable columns and new tables rewrites no row on either dialect.
 */
function balanceShardsMigration(dialect: LedgerDialect): Migration {
  const amount = sql.raw(dialect.amountColumnType);
  const reference = dialect.referenceColumnType;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('account_balance_shards')
        .addColumn('account_id', reference, (c) => c.notNull().references('ledger_accounts.id'))
        .addColumn('shard', 'integer', (c) => c.notNull())
        .addColumn('balance', amount, (c) => c.notNull())
        .addColumn('last_day', 'text')
        .addColumn('entry_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('account_balance_shards_pk', ['account_id', 'shard'])
        .execute();
      await db.schema
        .createTable('account_shard_day_balances')
        .addColumn('account_id', reference, (c) => c.notNull())
        .addColumn('shard', 'integer', (c) => c.notNull())
        .addColumn('accounting_day', 'text', (c) => c.notNull())
        .addColumn('balance', amount, (c) => c.notNull())
        .addPrimaryKeyConstraint('account_shard_day_balances_pk', ['account_id', 'shard', 'accounting_day'])
        .execute();
      await db.schema.alterTable('journal_entries').addColumn('balance_shard', 'integer').execute();
      // Shard rows are updated by every booking; room on each page keeps those updates HOT.
      if (dialect.name === 'postgres') await sql`alter table account_balance_shards set (fillfactor = ${sql.lit(ACCOUNTS_FILL_FACTOR_PERCENT)})`.execute(db);
    },
  };
}

/**
 * One index of transactions by provider id, not two: the unique `(entity, kind, provider_id)` of
 * 0001 becomes `(entity, provider_id, kind)` (the same rule: one provider id once per kind) and
 * serves the lookups by provider id whatever the kind, for which 0003 added `(entity,
 * provider_id)` over every row, null ids included. Every transaction inserted into both; with
 * the provider's ids (random) or keys spread over callers, each insert dirtied a page of each
 * at its own place. 64 concurrent `post()` callers on SQLite (`bench/post-concurrent.ts`'s
 * deposits, groups of 64): commits wrote ~250 pages each; the run took 10.0k–10.5k deposits/s
 * with both indexes, 11.6k–12.1k/s with the one (two runs each, interleaved).
 */
function providerIdOneIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('journal_transactions_entity_provider_id').execute();
      await db.schema.dropIndex('journal_transactions_entity_provider').execute();
      await db.schema
        .createIndex('journal_transactions_entity_provider')
        .on('journal_transactions')
        .columns(['entity', 'provider_id', 'kind'])
        .unique()
        .where(sql.ref('provider_id'), 'is not', null)
        .execute();
    },
  };
}

/** The identity columns of a ledger account: what no update may change once it is opened. */
const ACCOUNT_IDENTITY_COLUMNS = ['entity', 'currency', 'code', 'kind', 'normal_side', 'created_at'] as const;

/**
 * Accounts keep what they are, in the database itself (as journal rows have since 0001): an Earn
 * account's row is never updated or deleted, a ledger account is never deleted, and an update of
 * a ledger account may change its running state (balance, last day, entry count) but not its
 * identity ({@link ACCOUNT_IDENTITY_COLUMNS}). The ledger never does either; these rules make a
 * hand repair that would do it fail instead of silently breaking what depends on them: the
 * journal's meaning (an entry's account is what it was when it was booked), and the day marks
 * of `providerEntriesDayMark`, which count journal lines and Earn accounts and so hold only while
 * both only grow (the reconciler takes a day read on a worker thread when its mark is unchanged).
 * Triggers on the identity columns alone (`UPDATE OF`): the balance updates of every posting do
 * not run them.
 */
function accountIdentityMigration(dialect: LedgerDialect): Migration {
  const identity = ACCOUNT_IDENTITY_COLUMNS.join(', ');
  const statements =
    dialect.name === 'postgres'
      ? [
          `CREATE OR REPLACE FUNCTION earnbook_reject_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '% rows keep their identity: % refused', TG_TABLE_NAME, TG_OP; END $$`,
          // Ledger accounts: AFTER, not BEFORE. A BEFORE row trigger on UPDATE makes PostgreSQL
          // fetch the old row again for every row a posting updates, whether or not the
          // trigger's columns are in the SET list; an AFTER trigger's columns are checked before
          // anything is queued. Raising in it fails the statement all the same. Earn accounts
          // are never updated: BEFORE, so that this rule, not a foreign key, answers first.
          `CREATE TRIGGER ledger_accounts_keep_identity AFTER UPDATE OF ${identity} OR DELETE ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION earnbook_reject_account_change()`,
          'CREATE TRIGGER earn_accounts_keep_identity BEFORE UPDATE OR DELETE ON earn_accounts FOR EACH ROW EXECUTE FUNCTION earnbook_reject_account_change()',
        ]
      : [
          `CREATE TRIGGER ledger_accounts_keep_identity BEFORE UPDATE OF ${identity} ON ledger_accounts BEGIN SELECT RAISE(ABORT, 'ledger_accounts rows keep their identity: UPDATE refused'); END`,
          `CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts BEGIN SELECT RAISE(ABORT, 'ledger_accounts rows keep their identity: DELETE refused'); END`,
          `CREATE TRIGGER earn_accounts_no_update BEFORE UPDATE ON earn_accounts BEGIN SELECT RAISE(ABORT, 'earn_accounts rows keep their identity: UPDATE refused'); END`,
          `CREATE TRIGGER earn_accounts_no_delete BEFORE DELETE ON earn_accounts BEGIN SELECT RAISE(ABORT, 'earn_accounts rows keep their identity: DELETE refused'); END`,
        ];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const statement of statements) await sql.raw(statement).execute(db);
    },
  };
}

/**
 * PostgreSQL: the references of journal entries, end-of-day balances and interest residues are
 * checked once per statement instead of by a foreign key per row (see
 * `postgres/reference-checks.ts`, with the figures). SQLite keeps its keys: nothing to do.
 */
function statementReferenceChecksMigration(dialect: LedgerDialect): Migration {
  const statements = dialect.name === 'postgres' ? postgresReferenceCheckStatements(ACCOUNT_IDENTITY_COLUMNS) : [];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const statement of statements) await sql.raw(statement).execute(db);
    },
  };
}

/**
 * Fill factor of the PostgreSQL account table from 0015: a page keeps room for a second version
 * of every row it holds, whatever the length of the account codes.
 */
export const ACCOUNT_ROWS_FILL_FACTOR_PERCENT = 45;

/**
 * PostgreSQL: every account row's balance is updated once a night (the cycle, the report sync),
 * and an update is HOT (a new version on the same page, no new index entry in any of the table's
 * three indexes) only while its page has room for it. Pages packed to 0006's fill factor of 70 (as
 * a bulk load of accounts, a restore of a dump, `VACUUM FULL`, or the rows an update moved off a
 * full page leave them) had room for new versions of fewer than half of their rows: a night
 * updating every row moved most of them to another page and into each index again. 10,000 rows
 * in id order on packed pages, Earn-length codes: 3,991 updates HOT at 70, 9,999 at 50, 10,000
 * at 45; the night after, 6,699 at 70 and every one at 45. The cycle bench's accounts (written
 * in bulk) at 100k: the raw same-rows writer's update of the accounts took 2.7-3.0 s at 70 and
 * 0.9 s at 45 (the costliest of its four statements, now the cheapest); the cycle 8.5 s against
 * 6.3-6.8 s. Accounts opened and funded one by one fill their pages more loosely (each page also
 * held its rows' older versions while it filled): those were updated in place at 70 too. The
 * packed table takes ~1.6 times the pages it took at 70. Setting the fill factor rewrites
 * nothing: pages written from now on are filled to it, so packed books upgraded in place get
 * there as their rows move (within a night or two of updates and autovacuum), or at once with
 * `VACUUM FULL ledger_accounts` (which locks the table). SQLite updates rows in place: nothing
 * to do. `test/account-rows-in-place.test.ts`.
 */
function accountRowsRoomMigration(dialect: LedgerDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect.name === 'postgres') await sql`alter table ledger_accounts set (fillfactor = ${sql.lit(ACCOUNT_ROWS_FILL_FACTOR_PERCENT)})`.execute(db);
    },
  };
}

/** The ledger's migrations in order, keyed by name (names sort in application order). */
export function ledgerMigrations(dialect: LedgerDialect): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
    '0002_interest_residues': interestResidueMigration(),
    '0003_provider_id_index': providerIdIndexMigration(),
    '0004_earn_account_order_index': earnAccountOrderIndexMigration(),
    '0005_provider_entry_order_index': providerEntryOrderIndexMigration(dialect),
    '0006_entry_provider_id': entryProviderIdMigration(dialect),
    '0007_entry_provider_day_index': entryProviderDayIndexMigration(dialect),
    '0008_balance_shards': balanceShardsMigration(dialect),
    '0009_earn_account_covering_indexes': earnAccountCoveringIndexesMigration(),
    '0010_day_read_in_book_order': dayReadInBookOrderMigration(),
    '0011_one_provider_id_index': providerIdOneIndexMigration(),
    '0012_account_identity': accountIdentityMigration(dialect),
    '0013_statement_reference_checks': statementReferenceChecksMigration(dialect),
    '0014_account_pages_index': accountPagesIndexMigration(),
    '0015_account_rows_room': accountRowsRoomMigration(dialect),
  };
}

/** A migration recorded as applied. */
interface AppliedMigration {
  readonly name: string;
  /** When it was applied, by the clock of the process that applied it (ISO 8601). */
  readonly timestamp: string;
}

/** The migrations recorded as applied, in name order; none when the table cannot be read. */
async function appliedMigrations(db: Kysely<unknown>, schema: string | undefined): Promise<AppliedMigration[]> {
  const table = schema === undefined ? LEDGER_MIGRATION_TABLE : `${schema}.${LEDGER_MIGRATION_TABLE}`;
  // A failure that left no migration table to read (a lost connection) keeps its own error.
  const applied = await sql<AppliedMigration>`select name, timestamp from ${sql.table(table)}`.execute(db).catch(() => ({ rows: [] }));
  return applied.rows.map((row) => ({ name: row.name, timestamp: row.timestamp })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Which of a version's migrations the books have applied and which are pending, each in the order they run. */
export interface MigrationState {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
}

/**
 * This version's ledger migrations the books have applied, and those they have not (all of them
 * for a database without the ledger's tables). Nothing is written. For a caller that applies
 * migrations only when told to (the CLI without `--migrate`; `Ledger.open({ migrate: false })`), so
 * that upgrading the code never changes a production schema by surprise. Books that a newer
 * version migrated are refused with `books_too_new`, as {@link migrateLedger} refuses them.
 */
export async function ledgerMigrationState(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<MigrationState> {
  const known = ledgerMigrations(dialect);
  const stored = await appliedMigrationNames(db, LEDGER_MIGRATION_TABLE, options.schema);
  const newer = newerBooksError(stored, known, undefined);
  if (newer !== undefined) throw newer;
  return migrationState(Object.keys(known), stored);
}

/**
 * This version's ledger migrations the books lack, whatever else they have: `Ledger.open({
 * migrate: false })` refuses books behind this version, and leaves books a newer version migrated
 * to its caller, as it always has (a process of the previous release during a rolling upgrade).
 */
export async function unappliedLedgerMigrations(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<readonly string[]> {
  return migrationState(Object.keys(ledgerMigrations(dialect)), await appliedMigrationNames(db, LEDGER_MIGRATION_TABLE, options.schema)).pending;
}

/** The known migrations split by whether `stored` (a migration table's names) holds them. */
export function migrationState(known: readonly string[], stored: readonly string[]): MigrationState {
  const done = new Set(stored);
  return { applied: known.filter((name) => done.has(name)), pending: known.filter((name) => !done.has(name)) };
}

/**
 * The names in a Kysely migration table (none when the table does not exist yet: SQLite's "no
 * such table", PostgreSQL's 42P01). Any other failure, such as a lost connection, is thrown: a
 * read that failed must not look like books that need every migration.
 */
export async function appliedMigrationNames(db: Kysely<unknown>, table: string, schema: string | undefined): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`select name from ${sql.table(schema === undefined ? table : `${schema}.${table}`)}`.execute(db);
    return rows.map((row) => row.name);
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw error;
  }
}

/**
 * The refusal of books a newer version migrated, when `applied` (the names the books record)
 * holds a migration that this version does not know.
 */
function newerBooksError(applied: readonly string[], known: Record<string, Migration>, failure: unknown): LedgerError | undefined {
  const unknown = applied.filter((name) => !Object.hasOwn(known, name));
  const first = unknown[0];
  if (first === undefined) return undefined;
  return new LedgerError('books_too_new', `the books were migrated by a newer version of @earnbook/ledger (migration ${first} is not one of this version's); open them with that version or a later one`, {
    field: 'storage',
    value: describeValue(first),
    context: { unknownMigrations: unknown.join(', ') },
    cause: failure,
  });
}

/**
 * Whether the applied migrations are exactly the first ones of this version's by name (books in a
 * state this version's migrations leave) while their timestamps order them otherwise. Kysely
 * orders applied migrations by timestamp (the clock of the process that applied each, then the
 * name) and refuses books whose order by time is not the order by name as "corrupted", so books
 * migrated in two steps by hosts whose clocks disagree would never open again, though nothing is
 * wrong with them.
 */
function appliedOutOfOrderByTime(applied: readonly AppliedMigration[], known: Record<string, Migration>): boolean {
  const names = Object.keys(known).sort();
  if (applied.length === 0 || !applied.every((migration, index) => names[index] === migration.name)) return false;
  const byTime = [...applied].sort((a, b) => {
    const difference = new Date(a.timestamp).getTime() - new Date(b.timestamp).getTime();
    return difference !== 0 ? difference : a.name < b.name ? -1 : 1;
  });
  return byTime.some((migration, index) => migration.name !== applied[index]?.name);
}

/**
 * Applies every pending ledger migration. Safe to call on every start: applied ones are skipped,
 * and processes starting together are serialised by the dialect (see {@link LedgerDialect.migrate}).
 * Books that a newer version migrated (a migration recorded that this version does not know) are
 * refused with `books_too_new`, naming it, and nothing is written. Books whose applied migrations
 * are this version's first ones but whose timestamps order them otherwise open as well (see
 * {@link appliedOutOfOrderByTime}).
 */
export async function migrateLedger(db: Kysely<unknown>, dialect: LedgerDialect, options: { schema?: string } = {}): Promise<void> {
  const migrations = ledgerMigrations(dialect);
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  await dialect.migrate(db, async (connection, { disableTransactions }) => {
    const migrator = (allowUnorderedMigrations: boolean) =>
      new Migrator({
        db: connection,
        provider,
        disableTransactions,
        allowUnorderedMigrations,
        migrationTableName: LEDGER_MIGRATION_TABLE,
        migrationLockTableName: LEDGER_MIGRATION_LOCK_TABLE,
        // Without the schema, Kysely looks for its tables in every schema and may find another's.
        ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
      });
    const { error } = await migrator(false).migrateToLatest();
    if (error === undefined) return;
    // Read only after the migrator failed, so an ordinary open costs no statement.
    const applied = await appliedMigrations(connection, options.schema);
    const newer = newerBooksError(applied.map((migration) => migration.name), migrations, error);
    if (newer !== undefined) throw newer;
    // Kysely's order check failed on timestamps alone (see appliedOutOfOrderByTime): every pending
    // migration comes after the applied ones by name, so they run in the order they always do.
    if (appliedOutOfOrderByTime(applied, migrations)) {
      const retried = await migrator(true).migrateToLatest();
      if (retried.error !== undefined) throw retried.error;
      return;
    }
    throw error;
  });
}

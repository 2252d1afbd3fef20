/**
 * The statements of the Earn mirror (products, partner and Earn users, Earn accounts, bookings,
 * processed reports), as functions over a `Kysely` handle or transaction. The rules (idempotency,
 * conflicts) live in `earn-books.ts`; these functions only read and write.
 */
import { sql } from 'kysely';
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { EarnAccountTable, EarnBookingTable, EarnProductTable, EarnUserTable, LedgerDatabase, ProcessedReportTable } from './schema.js';

type Db = Kysely<LedgerDatabase>;
export type EarnProductRow = Selectable<EarnProductTable>;
export type EarnAccountRow = Selectable<EarnAccountTable>;

// ---- products -------------------------------------------------------------------------------

/** The version of a product effective on exactly `effectiveDay`, if any. */
export async function selectProductVersion(db: Db, key: { entity: string; providerProductId: string; effectiveDay: string }): Promise<EarnProductRow | undefined> {
  return db
    .selectFrom('earn_products')
    .selectAll()
    .where('entity', '=', key.entity)
    .where('provider_product_id', '=', key.providerProductId)
    .where('effective_day', '=', key.effectiveDay)
    .executeTakeFirst();
}

/** The currency of any version of a product, if the product is known. */
export async function selectProductCurrency(db: Db, key: { entity: string; providerProductId: string }): Promise<string | undefined> {
  const row = await db.selectFrom('earn_products').select('currency').where('entity', '=', key.entity).where('provider_product_id', '=', key.providerProductId).executeTakeFirst();
  return row?.currency;
}

/** Inserts a product version. */
export async function insertProduct(db: Db, row: Insertable<EarnProductTable>): Promise<void> {
  await db.insertInto('earn_products').values(row).execute();
}

/** The version of a product in force on `day`: the latest effective on or before it. */
export async function selectProductInForce(db: Db, key: { entity: string; providerProductId: string; day: string }): Promise<EarnProductRow | undefined> {
  return db
    .selectFrom('earn_products')
    .selectAll()
    .where('entity', '=', key.entity)
    .where('provider_product_id', '=', key.providerProductId)
    .where('effective_day', '<=', key.day)
    .orderBy('effective_day', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Every version of an entity's products effective on or before `day`, by product, newest first. */
export async function selectProductVersionsUpTo(db: Db, key: { entity: string; day: string }): Promise<EarnProductRow[]> {
  return db
    .selectFrom('earn_products')
    .selectAll()
    .where('entity', '=', key.entity)
    .where('effective_day', '<=', key.day)
    .orderBy('provider_product_id')
    .orderBy('effective_day', 'desc')
    .execute();
}

/** The ids of an entity's products (those with any version), in id order. */
export async function selectProductIds(db: Db, key: { entity: string }): Promise<string[]> {
  const rows = await db.selectFrom('earn_products').select('provider_product_id').distinct().where('entity', '=', key.entity).orderBy('provider_product_id').execute();
  return rows.map((row) => row.provider_product_id);
}

/**
 * The first Earn account (in ledger account order) of these products that held a balance at the
 * end of `day` (its latest day row on or before it, other than `zero`, the canonical zero), if
 * any: one index probe per Earn account of the products, and the first one found ends the read.
 */
export async function selectEarnAccountHoldingOnDay(
  db: Db,
  key: { entity: string; providerProductIds: readonly string[]; day: string; zero: string },
): Promise<{ earn_account_id: string; provider_product_id: string } | undefined> {
  if (key.providerProductIds.length === 0) return undefined;
  const { rows } = await sql<{ earn_account_id: string; provider_product_id: string }>`
    select a.earn_account_id, a.provider_product_id from earn_accounts a
    where a.entity = ${key.entity} and a.provider_product_id in (${sql.join(key.providerProductIds)})
      and coalesce((select d.balance from account_day_balances d where d.account_id = a.ledger_account_id and d.accounting_day <= ${key.day}
                    order by d.accounting_day desc limit 1), ${key.zero}) <> ${key.zero}
    order by a.ledger_account_id
    limit 1`.execute(db);
  return rows[0];
}

/**
 * What a read of an entity's Earn accounts' balances depends on, counted (see `CycleLinesMark`):
 * its Earn accounts, the journal lines on their ledger accounts (each posting adds to an
 * account's `entry_count`; user accounts are never kept in balance shards) and its product
 * versions. One statement: a snapshot of all three.
 */
export async function selectCycleLinesMark(db: Db, key: { entity: string }): Promise<{ earnAccounts: number; entries: string; productVersions: number }> {
  const { rows } = await sql<{ earn_accounts: number | string; entries: number | string | null; product_versions: number | string }>`
    select count(*) as earn_accounts, sum(l.entry_count) as entries,
           (select count(*) from earn_products p where p.entity = ${key.entity}) as product_versions
    from earn_accounts a join ledger_accounts l on l.id = a.ledger_account_id
    where a.entity = ${key.entity}`.execute(db);
  const row = rows[0];
  // PostgreSQL answers counts and sums as text (bigint, numeric); the sum stays text: exact.
  return { earnAccounts: Number(row?.earn_accounts ?? 0), entries: String(row?.entries ?? 0), productVersions: Number(row?.product_versions ?? 0) };
}

// ---- users ----------------------------------------------------------------------------------

/** Records a partner user unless known; answers whether it was inserted. */
export async function insertPartnerUserIfMissing(db: Db, row: { partner_user_id: string; created_at: string }): Promise<boolean> {
  const known = await db.selectFrom('partner_users').select('partner_user_id').where('partner_user_id', '=', row.partner_user_id).executeTakeFirst();
  if (known !== undefined) return false;
  await db.insertInto('partner_users').values(row).execute();
  return true;
}

/** The Earn users of an entity linked to the partner user or carrying the Earn user id. */
export async function selectEarnUsersLinked(db: Db, key: { entity: string; partnerUserId: string; earnUserId: string }): Promise<Selectable<EarnUserTable>[]> {
  return db
    .selectFrom('earn_users')
    .selectAll()
    .where('entity', '=', key.entity)
    .where((eb) => eb.or([eb('partner_user_id', '=', key.partnerUserId), eb('earn_user_id', '=', key.earnUserId)]))
    .execute();
}

/** Inserts an Earn user. */
export async function insertEarnUser(db: Db, row: Insertable<EarnUserTable>): Promise<void> {
  await db.insertInto('earn_users').values(row).execute();
}

/** The Earn users of a partner user, by entity. */
export async function selectEarnUsersOf(db: Db, partnerUserId: string): Promise<{ entity: string; earn_user_id: string }[]> {
  return db.selectFrom('earn_users').select(['entity', 'earn_user_id']).where('partner_user_id', '=', partnerUserId).orderBy('entity').execute();
}

/** Whether an Earn user is registered in an entity. */
export async function earnUserExists(db: Db, key: { entity: string; earnUserId: string }): Promise<boolean> {
  const row = await db.selectFrom('earn_users').select('earn_user_id').where('entity', '=', key.entity).where('earn_user_id', '=', key.earnUserId).executeTakeFirst();
  return row !== undefined;
}

// ---- Earn accounts --------------------------------------------------------------------------

/** An Earn account by id, if any. */
export async function selectEarnAccount(db: Db, key: { entity: string; earnAccountId: string }): Promise<EarnAccountRow | undefined> {
  return db.selectFrom('earn_accounts').selectAll().where('entity', '=', key.entity).where('earn_account_id', '=', key.earnAccountId).executeTakeFirst();
}

/** The id of an Earn user's account in a product, if any. */
export async function selectEarnAccountIdOfUserProduct(db: Db, key: { entity: string; earnUserId: string; providerProductId: string }): Promise<string | undefined> {
  const row = await db
    .selectFrom('earn_accounts')
    .select('earn_account_id')
    .where('entity', '=', key.entity)
    .where('earn_user_id', '=', key.earnUserId)
    .where('provider_product_id', '=', key.providerProductId)
    .executeTakeFirst();
  return row?.earn_account_id;
}

/** Inserts an Earn account. */
export async function insertEarnAccount(db: Db, row: Insertable<EarnAccountTable>): Promise<void> {
  await db.insertInto('earn_accounts').values(row).execute();
}

/** The Earn accounts of an entity (optionally of one currency) after a ledger account id (exclusive), in ledger account order, at most `limit` (all without it). */
export async function selectEarnAccounts(db: Db, filter: { entity: string; currency?: string; afterId?: number; limit?: number }): Promise<EarnAccountRow[]> {
  let query = db.selectFrom('earn_accounts').selectAll().where('entity', '=', filter.entity).orderBy('ledger_account_id');
  if (filter.currency !== undefined) query = query.where('currency', '=', filter.currency);
  if (filter.afterId !== undefined && filter.afterId > 0) query = query.where('ledger_account_id', '>', filter.afterId);
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return query.execute();
}

// ---- bookings -------------------------------------------------------------------------------

/** Inserts the mirror row of a booking. */
export async function insertBooking(db: Db, row: Insertable<EarnBookingTable>): Promise<void> {
  await db.insertInto('earn_bookings').values(row).execute();
}

/** A booking by the provider's id, if any. */
export async function selectBooking(db: Db, key: { entity: string; providerBookingId: string }): Promise<Selectable<EarnBookingTable> | undefined> {
  return db.selectFrom('earn_bookings').selectAll().where('entity', '=', key.entity).where('provider_booking_id', '=', key.providerBookingId).executeTakeFirst();
}

// ---- processed reports ----------------------------------------------------------------------

/** The processed version of a report with this id and content, if any. */
export async function selectProcessedReport(db: Db, key: { entity: string; reportId: string; contentHash: string }): Promise<Selectable<ProcessedReportTable> | undefined> {
  return db.selectFrom('processed_reports').selectAll().where('entity', '=', key.entity).where('report_id', '=', key.reportId).where('content_hash', '=', key.contentHash).executeTakeFirst();
}

/** The latest processed version of an entity's reports for a day (0 when none). */
export async function selectLatestReportVersion(db: Db, key: { entity: string; accountingDay: string }): Promise<number> {
  const row = await db.selectFrom('processed_reports').select((eb) => eb.fn.max('version').as('version')).where('entity', '=', key.entity).where('accounting_day', '=', key.accountingDay).executeTakeFirst();
  return Number(row?.version ?? 0);
}

/** Inserts a processed report version. */
export async function insertProcessedReport(db: Db, row: Insertable<ProcessedReportTable>): Promise<void> {
  await db.insertInto('processed_reports').values(row).execute();
}

/** Processed versions of an entity's reports for a day, oldest first. */
export async function selectProcessedReports(db: Db, key: { entity: string; accountingDay: string }): Promise<Selectable<ProcessedReportTable>[]> {
  return db.selectFrom('processed_reports').selectAll().where('entity', '=', key.entity).where('accounting_day', '=', key.accountingDay).orderBy('version').execute();
}

/**
 * Every SQL statement of the sandbox: functions that take the Kysely handle (or a transaction)
 * and read or write one thing. The ledger's own tables are read here only where the ledger has
 * no method for it (an Earn account's creation instant, a user's accounts).
 */
import type { SandboxDb } from './schema.js';

/** A stored idempotent answer. */
export interface IdempotencyRecord {
  readonly requestHash: string;
  readonly statusCode: number;
  readonly response: string;
}

/** The stored answer to (entity, key), if any. */
export async function findIdempotencyRecord(db: SandboxDb, entity: string, idempotencyKey: string): Promise<IdempotencyRecord | undefined> {
  const row = await db.selectFrom('sandbox_idempotency').selectAll().where('entity', '=', entity).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
  return row === undefined ? undefined : { requestHash: row.request_hash, statusCode: row.status_code, response: row.response };
}

/** Stores the first answer to (entity, key). */
export async function insertIdempotencyRecord(db: SandboxDb, record: { entity: string; idempotencyKey: string; requestHash: string; statusCode: number; response: string; createdAt: string }): Promise<void> {
  await db
    .insertInto('sandbox_idempotency')
    .values({ entity: record.entity, idempotency_key: record.idempotencyKey, request_hash: record.requestHash, status_code: record.statusCode, response: record.response, created_at: record.createdAt })
    .execute();
}

/** A user row. */
export interface UserRow {
  readonly userId: string;
  readonly externalReference: string | null;
  readonly createdAt: string;
}

/** Stores a user. */
export async function insertUser(db: SandboxDb, user: { entity: string; userId: string; externalReference: string | null; createdAt: string }): Promise<void> {
  await db.insertInto('sandbox_users').values({ entity: user.entity, user_id: user.userId, external_reference: user.externalReference, created_at: user.createdAt }).execute();
}

/** A user of an entity, if it exists. */
export async function findUser(db: SandboxDb, entity: string, userId: string): Promise<UserRow | undefined> {
  const row = await db.selectFrom('sandbox_users').selectAll().where('entity', '=', entity).where('user_id', '=', userId).executeTakeFirst();
  return row === undefined ? undefined : { userId: row.user_id, externalReference: row.external_reference, createdAt: row.created_at };
}

/** An Earn account row with its creation instant. */
export interface AccountRow {
  readonly earnAccountId: string;
  readonly earnUserId: string;
  readonly productId: string;
  readonly currency: string;
  readonly ledgerAccountId: number;
  readonly createdAt: string;
}

function toAccountRow(row: { earn_account_id: string; earn_user_id: string; provider_product_id: string; currency: string; ledger_account_id: number; created_at: string }): AccountRow {
  return { earnAccountId: row.earn_account_id, earnUserId: row.earn_user_id, productId: row.provider_product_id, currency: row.currency, ledgerAccountId: row.ledger_account_id, createdAt: row.created_at };
}

/** An Earn account of an entity, if it exists. */
export async function findAccount(db: SandboxDb, entity: string, earnAccountId: string): Promise<AccountRow | undefined> {
  const row = await db.selectFrom('earn_accounts').selectAll().where('entity', '=', entity).where('earn_account_id', '=', earnAccountId).executeTakeFirst();
  return row === undefined ? undefined : toAccountRow(row);
}

/** The account of a user in a product, if any. */
export async function findAccountOfUserInProduct(db: SandboxDb, entity: string, earnUserId: string, productId: string): Promise<AccountRow | undefined> {
  const row = await db
    .selectFrom('earn_accounts')
    .selectAll()
    .where('entity', '=', entity)
    .where('earn_user_id', '=', earnUserId)
    .where('provider_product_id', '=', productId)
    .executeTakeFirst();
  return row === undefined ? undefined : toAccountRow(row);
}

/** One page of a user's accounts after a ledger account id, `limit + 1` rows to detect a next page. */
export async function selectUserAccounts(db: SandboxDb, input: { entity: string; earnUserId: string; afterLedgerAccountId: number; limit: number }): Promise<AccountRow[]> {
  const rows = await db
    .selectFrom('earn_accounts')
    .selectAll()
    .where('entity', '=', input.entity)
    .where('earn_user_id', '=', input.earnUserId)
    .where('ledger_account_id', '>', input.afterLedgerAccountId)
    .orderBy('ledger_account_id')
    .limit(input.limit + 1)
    .execute();
  return rows.map(toAccountRow);
}

/** Every account of an entity, by Earn account id. */
export async function selectAccountsOfEntity(db: SandboxDb, entity: string): Promise<Map<string, AccountRow>> {
  const rows = await db.selectFrom('earn_accounts').selectAll().where('entity', '=', entity).execute();
  return new Map(rows.map((row) => [row.earn_account_id, toAccountRow(row)]));
}

/** A booking's stored answer data, by provider booking id. */
export async function findBookingByTransaction(db: SandboxDb, entity: string, transactionId: number): Promise<{ providerBookingId: string; providerData: string } | undefined> {
  const row = await db.selectFrom('earn_bookings').select(['provider_booking_id', 'provider_data']).where('entity', '=', entity).where('transaction_id', '=', transactionId).executeTakeFirst();
  return row === undefined ? undefined : { providerBookingId: row.provider_booking_id, providerData: row.provider_data };
}

/** Every booking of an entity, oldest first. */
export async function selectBookings(db: SandboxDb, entity: string): Promise<{ providerBookingId: string; kind: string; earnAccountId: string; amount: string; currency: string; occurredAt: string; providerData: string }[]> {
  const rows = await db.selectFrom('earn_bookings').selectAll().where('entity', '=', entity).orderBy('transaction_id').execute();
  return rows.map((row) => ({ providerBookingId: row.provider_booking_id, kind: row.kind, earnAccountId: row.earn_account_id, amount: row.amount, currency: row.currency, occurredAt: row.occurred_at, providerData: row.provider_data }));
}

/** A published report's summary. */
export interface ReportRow {
  readonly sequence: number;
  readonly reportId: string;
  readonly accountingDay: string;
  readonly version: number;
  readonly createdAt: string;
}

/** Publishes a report version (ignored if the id exists, so a resumed cycle publishes once). */
export async function insertReport(db: SandboxDb, report: { reportId: string; entity: string; accountingDay: string; version: number; createdAt: string; content: string }): Promise<void> {
  await db
    .insertInto('sandbox_reports')
    .values({ report_id: report.reportId, entity: report.entity, accounting_day: report.accountingDay, version: report.version, created_at: report.createdAt, content: report.content })
    .onConflict((conflict) => conflict.column('report_id').doNothing())
    .execute();
}

/** One page of an entity's reports after a sequence number, `limit + 1` rows. */
export async function selectReports(db: SandboxDb, input: { entity: string; afterSequence: number; limit: number }): Promise<ReportRow[]> {
  const rows = await db
    .selectFrom('sandbox_reports')
    .select(['sequence', 'report_id', 'accounting_day', 'version', 'created_at'])
    .where('entity', '=', input.entity)
    .where('sequence', '>', input.afterSequence)
    .orderBy('sequence')
    .limit(input.limit + 1)
    .execute();
  return rows.map((row) => ({ sequence: row.sequence, reportId: row.report_id, accountingDay: row.accounting_day, version: row.version, createdAt: row.created_at }));
}

/** A report's content, if the entity has it. */
export async function findReportContent(db: SandboxDb, entity: string, reportId: string): Promise<string | undefined> {
  const row = await db.selectFrom('sandbox_reports').select('content').where('entity', '=', entity).where('report_id', '=', reportId).executeTakeFirst();
  return row?.content;
}

/** The newest published version of an entity's day (its version number and content), if any. */
export async function findNewestReportOfDay(db: SandboxDb, entity: string, accountingDay: string): Promise<{ version: number; content: string } | undefined> {
  const row = await db.selectFrom('sandbox_reports').select(['version', 'content']).where('entity', '=', entity).where('accounting_day', '=', accountingDay).orderBy('version', 'desc').executeTakeFirst();
  return row === undefined ? undefined : { version: row.version, content: row.content };
}

/** Stores the settlement positions of a day (ignored when already stored). */
export async function insertSettlements(db: SandboxDb, rows: readonly { entity: string; currency: string; accountingDay: string; outstanding: string; settled: string; carriedOut: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('sandbox_settlements')
    .values(rows.map((row) => ({ entity: row.entity, currency: row.currency, accounting_day: row.accountingDay, outstanding: row.outstanding, settled: row.settled, carried_out: row.carriedOut })))
    .onConflict((conflict) => conflict.columns(['entity', 'currency', 'accounting_day']).doNothing())
    .execute();
}

/** What each currency carried out of a day. */
export async function selectCarriedOut(db: SandboxDb, entity: string, accountingDay: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('sandbox_settlements').select(['currency', 'carried_out']).where('entity', '=', entity).where('accounting_day', '=', accountingDay).execute();
  return new Map(rows.map((row) => [row.currency, row.carried_out]));
}

/** Marks a day closed. */
export async function insertClosedDay(db: SandboxDb, entity: string, accountingDay: string, closedAt: string): Promise<void> {
  await db
    .insertInto('sandbox_closed_days')
    .values({ entity, accounting_day: accountingDay, closed_at: closedAt })
    .onConflict((conflict) => conflict.columns(['entity', 'accounting_day']).doNothing())
    .execute();
}

/** The latest closed day of an entity, if any. */
export async function latestClosedDay(db: SandboxDb, entity: string): Promise<string | undefined> {
  const row = await db.selectFrom('sandbox_closed_days').select('accounting_day').where('entity', '=', entity).orderBy('accounting_day', 'desc').limit(1).executeTakeFirst();
  return row?.accounting_day;
}

/** A named state value. */
export async function readState(db: SandboxDb, name: string): Promise<string | undefined> {
  const row = await db.selectFrom('sandbox_state').select('value').where('name', '=', name).executeTakeFirst();
  return row?.value;
}

/** Writes a named state value. */
export async function writeState(db: SandboxDb, name: string, value: string): Promise<void> {
  await db
    .insertInto('sandbox_state')
    .values({ name, value })
    .onConflict((conflict) => conflict.column('name').doUpdateSet({ value }))
    .execute();
}

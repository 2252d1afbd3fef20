/**
 * Every SQL statement of the reconcile package, as functions over a Kysely handle or
 * transaction. Only reconcile's own tables: what it needs of the books it asks the ledger.
 */
import { CompiledQuery, sql } from 'kysely';
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { LedgerDatabase, LedgerDialect } from '@earnbook/ledger';
import type { ReconcileBreakTable, ReconcileDatabase, ReconcileTables, ReconciledDayTable, SettlementInstructionTable, SettlementPositionTable } from './schema.js';

type Db = Kysely<ReconcileDatabase>;
export type BreakRow = Selectable<ReconcileBreakTable>;
export type PositionRow = Selectable<SettlementPositionTable>;
export type InstructionRow = Selectable<SettlementInstructionTable>;
export type ReconciledDayRow = Selectable<ReconciledDayTable>;

/** The ledger's database handle (or transaction) seen with reconcile's tables beside the ledger's. */
export function withReconcileTables(db: Kysely<LedgerDatabase>): Kysely<ReconcileDatabase> {
  return db.withTables<ReconcileTables>();
}

/** The carried-out amounts of an entity's positions of a day. */
export async function selectCarriedOut(db: Db, input: { entity: string; day: string }): Promise<{ currency: string; carried_out: string }[]> {
  return db.selectFrom('settlement_positions').select(['currency', 'carried_out']).where('entity', '=', input.entity).where('accounting_day', '=', input.day).execute();
}

/** The settlement positions a day stored, every currency's. */
export async function selectPositionsOfDay(db: Db, input: { entity: string; day: string }): Promise<PositionRow[]> {
  return db.selectFrom('settlement_positions').selectAll().where('entity', '=', input.entity).where('accounting_day', '=', input.day).execute();
}

/** Stores (replaces) a settlement position. */
export async function upsertPosition(db: Db, row: PositionRow): Promise<void> {
  const { entity: _entity, currency: _currency, accounting_day: _day, ...values } = row;
  await db
    .insertInto('settlement_positions')
    .values(row)
    .onConflict((conflict) => conflict.columns(['entity', 'currency', 'accounting_day']).doUpdateSet(values))
    .execute();
}

/** The breaks of an entity's day, by id. */
export async function selectBreaksOfDay(db: Db, entity: string, day: string): Promise<BreakRow[]> {
  return db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', entity).where('accounting_day', '=', day).orderBy('id').execute();
}

/** The stored breaks of a day of the given kinds, by id (the few a run reads whole: earlier figures, holds). */
export async function selectBreaksOfDayOfKinds(db: Db, input: { entity: string; day: string; kinds: readonly BreakRow['kind'][] }): Promise<BreakRow[]> {
  if (input.kinds.length === 0) return [];
  return db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', input.entity).where('accounting_day', '=', input.day).where('kind', 'in', [...input.kinds]).orderBy('id').execute();
}

/** A page of a day's `amount_mismatch` and `restated_entry` breaks, by id after `afterId` (what later versions of the day compare their figures with). */
export async function selectAmountBreaksPage(db: Db, input: { entity: string; day: string; afterId: number; limit: number }): Promise<BreakRow[]> {
  return db
    .selectFrom('reconcile_breaks')
    .selectAll()
    .where('entity', '=', input.entity)
    .where('accounting_day', '=', input.day)
    .where('id', '>', input.afterId)
    .where('kind', 'in', ['amount_mismatch', 'restated_entry'])
    .orderBy('id')
    .limit(input.limit)
    .execute();
}

/**
 * The breaks of a day with the given fingerprints, open and resolved (one probe each of
 * `reconcile_breaks_day`; an identity's resolved rows are its history, a few). The caller keeps
 * the open ones: with `status = ?` in the statement SQLite walked `reconcile_breaks_status` over
 * every open break of the day instead (books without statistics; it cannot use the partial index
 * for a parameter): 225 ms against 3.4 ms for 500 fingerprints on a day of 1M open breaks.
 */
export async function selectBreaksOfFingerprints(db: Db, input: { entity: string; day: string; fingerprints: readonly string[] }): Promise<BreakRow[]> {
  if (input.fingerprints.length === 0) return [];
  return breaksOfFingerprintsQuery(db, input).execute();
}

/** The statement of {@link selectBreaksOfFingerprints} (its plan is tested). */
export function breaksOfFingerprintsQuery(db: Db, input: { entity: string; day: string; fingerprints: readonly string[] }) {
  return db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', input.entity).where('accounting_day', '=', input.day).where('fingerprint', 'in', [...input.fingerprints]);
}

/**
 * Breaks of an entity, optionally of one day or status, by day then id: after (day, id) when given,
 * at most `limit`. After a break, the rest of its day (`day = ? and id > ?`) and the days after it
 * (`day > ?`) are read as two index ranges over (entity, accounting_day, id): as one `day >= ? and
 * (day > ? or id > ?)` condition, both dialects scanned the given day from its first break on each
 * page (PostgreSQL, 30k breaks on one day: 29,001 rows read and dropped per page), and with `day`
 * PostgreSQL walked the primary key from the first break of the books (98,021 dropped per page).
 */
export async function selectBreaks(db: Db, input: { entity: string; day?: string; status?: 'open' | 'resolved'; after?: { day: string; id: number }; limit?: number }): Promise<BreakRow[]> {
  const { after, day, limit } = input;
  /** One index range: every day (`day` undefined), one day, or the days after it; by day, then id. */
  const breaks = (range: { day?: string; laterDays?: boolean; idAfter?: number }, rowsMax: number | undefined): Promise<BreakRow[]> => {
    let query = db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', input.entity);
    if (range.day !== undefined) query = query.where('accounting_day', range.laterDays === true ? '>' : '=', range.day);
    if (input.status !== undefined) query = query.where('status', '=', input.status);
    if (range.idAfter !== undefined) query = query.where('id', '>', range.idAfter);
    query = range.day === undefined || range.laterDays === true ? query.orderBy('accounting_day').orderBy('id') : query.orderBy('id');
    return (rowsMax === undefined ? query : query.limit(rowsMax)).execute();
  };
  if (after === undefined) return breaks(day === undefined ? {} : { day }, limit);
  if (day !== undefined) {
    if (day < after.day) return [];
    return breaks(day === after.day ? { day, idAfter: after.id } : { day }, limit);
  }
  const rest = await breaks({ day: after.day, idAfter: after.id }, limit);
  if (limit !== undefined && rest.length >= limit) return rest;
  return [...rest, ...(await breaks({ day: after.day, laterDays: true }, limit === undefined ? undefined : limit - rest.length))];
}

/** A break by id. */
export async function findBreak(db: Db, id: number): Promise<BreakRow | undefined> {
  return db.selectFrom('reconcile_breaks').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Every column a break is inserted with on SQLite (all but `id`), in the order
 * {@link INSERT_BREAK_SQLITE} binds them: a record, so that a column added to the table and not
 * named here fails to compile instead of being left out of the insert.
 */
const BREAK_INSERT_COLUMN_SET: Readonly<Record<Exclude<keyof ReconcileBreakTable, 'id'>, true>> = {
  entity: true, accounting_day: true, kind: true, fingerprint: true, provider_id: true, earn_account_id: true, currency: true, expected: true, actual: true, details: true,
  status: true, resolved_by: true, resolution_reason: true, resolution_transaction_id: true, report_version: true, created_at: true, resolved_at: true,
};
const BREAK_INSERT_COLUMNS = Object.keys(BREAK_INSERT_COLUMN_SET) as (keyof typeof BREAK_INSERT_COLUMN_SET)[];

const INSERT_BREAK_SQLITE = `insert into reconcile_breaks (${BREAK_INSERT_COLUMNS.join(', ')}) values (${BREAK_INSERT_COLUMNS.map(() => '?').join(', ')})`;

/**
 * Inserts breaks. On SQLite one row a statement, the statement compiled once (the driver keeps
 * it prepared): a statement that writes many rows and may fail part-way (the table's foreign key)
 * keeps a statement journal, a copy of each page it first changes, and rows that do not come in
 * their fingerprints' order (the identity as JSON, led by the kind and the provider id: the
 * diff's breaks come by Earn account, then provider id) each land on a page of their own of the
 * day's fingerprint indexes. 1M such rows of a day, measured apart on the nightly bench's books
 * with native statements: 35.0 and 40.4 s as 500-row statements, 19.0 and 20.0 s row by row
 * (README, session 43). Rows in fingerprint order (the interest comparison's breaks, by Earn
 * account) cost SQLite the same either way: a night of 1M of them spent 19.0 s in its inserts
 * as 500-row statements and 19.5 s row by row, and 7.2 s against 3.1 s in JavaScript (the query
 * builder parsing 500-row statements; profiles, README, session 44). PostgreSQL keeps no such
 * journal: one statement.
 */
export async function insertBreaks(db: Db, rows: readonly Insertable<ReconcileBreakTable>[], dialect: LedgerDialect['name']): Promise<void> {
  if (rows.length === 0) return;
  if (dialect === 'postgres') {
    await db.insertInto('reconcile_breaks').values([...rows]).execute();
    return;
  }
  for (const row of rows) await db.executeQuery(CompiledQuery.raw(INSERT_BREAK_SQLITE, BREAK_INSERT_COLUMNS.map((column) => row[column] ?? null)));
}

/** An open break's figures as a run updates them. */
export interface BreakFigures {
  readonly id: number;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly details: string;
  readonly report_version: number;
}

/**
 * Moves open breaks to a run's figures, many per statement (`update … from` a list of values,
 * which both dialects take): one statement per break cost a round trip each, 42 s for 200k
 * breaks on PostgreSQL. Raw SQL: the builder has no `update … from (values …)`. The values are
 * cast, as PostgreSQL types a bare parameter in a values list as text. The `id in (select …)`
 * says the same as the join, for SQLite's planner: without it, for 500 rows it scanned every
 * break of the books per statement (a covering index, a Bloom filter on the list): a night that
 * resolved 1M breaks and opened 1M others spent 211 s storing them.
 */
export function updateBreakFiguresQuery(rows: readonly BreakFigures[]) {
  const values = sql.join(rows.map((row) => sql`(cast(${row.id} as integer), cast(${row.expected} as text), cast(${row.actual} as text), cast(${row.details} as text), cast(${row.report_version} as integer))`));
  return sql`with figures (id, expected, actual, details, report_version) as (values ${values})
    update reconcile_breaks set expected = figures.expected, actual = figures.actual, details = figures.details, report_version = figures.report_version
    from figures where reconcile_breaks.id = figures.id and reconcile_breaks.id in (select id from figures)`;
}

/** Runs {@link updateBreakFiguresQuery}. */
export async function updateBreakFigures(db: Db, rows: readonly BreakFigures[]): Promise<void> {
  if (rows.length > 0) await updateBreakFiguresQuery(rows).execute(db);
}

/** Resolves open breaks as a run's, each with its reason, many per statement (as {@link updateBreakFiguresQuery}). */
export function resolveBreaksByRunQuery(input: { rows: readonly { id: number; reason: string }[]; now: string }) {
  const values = sql.join(input.rows.map((row) => sql`(cast(${row.id} as integer), cast(${row.reason} as text))`));
  return sql`with resolutions (id, reason) as (values ${values})
    update reconcile_breaks set status = 'resolved', resolved_by = 'run', resolution_reason = resolutions.reason, resolved_at = ${input.now}
    from resolutions where reconcile_breaks.id = resolutions.id and reconcile_breaks.id in (select id from resolutions)`;
}

/** Runs {@link resolveBreaksByRunQuery}. */
export async function resolveBreaksByRun(db: Db, input: { rows: readonly { id: number; reason: string }[]; now: string }): Promise<void> {
  if (input.rows.length > 0) await resolveBreaksByRunQuery(input).execute(db);
}

/** Updates one break. */
export async function updateBreak(db: Db, id: number, values: Updateable<ReconcileBreakTable>): Promise<void> {
  await db.updateTable('reconcile_breaks').set(values).where('id', '=', id).execute();
}

/** Resolves one open break; false if it was not open any more. */
export async function resolveOpenBreak(db: Db, id: number, values: { resolved_by: 'run' | 'person'; resolution_reason: string; resolution_transaction_id: number | null; resolved_at: string }): Promise<boolean> {
  const result = await db.updateTable('reconcile_breaks').set({ status: 'resolved', ...values }).where('id', '=', id).where('status', '=', 'open').executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The instruction of an (entity, currency, day), if any. `forUpdate` (PostgreSQL: the dialect's
 * `supportsRowLocks`) locks the row until the transaction ends: a day's run that changes the
 * instruction reads it so, and so waits for a `markSent` or `confirm` of another connection
 * that is writing it and then sees what that wrote, instead of updating a status it no longer has.
 */
export async function findInstructionOfDay(db: Db, input: { entity: string; currency: string; day: string; forUpdate?: boolean }): Promise<InstructionRow | undefined> {
  const query = db.selectFrom('settlement_instructions').selectAll().where('entity', '=', input.entity).where('currency', '=', input.currency).where('accounting_day', '=', input.day);
  return (input.forUpdate === true ? query.forUpdate() : query).executeTakeFirst();
}

/** An instruction by id. */
export async function findInstruction(db: Db, id: number): Promise<InstructionRow | undefined> {
  return db.selectFrom('settlement_instructions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Instructions of an entity, optionally of one day or status, by id. */
export async function selectInstructions(db: Db, input: { entity: string; day?: string; status?: InstructionRow['status']; afterId?: number; limit?: number }): Promise<InstructionRow[]> {
  let query = db.selectFrom('settlement_instructions').selectAll().where('entity', '=', input.entity).orderBy('id');
  if (input.day !== undefined) query = query.where('accounting_day', '=', input.day);
  if (input.status !== undefined) query = query.where('status', '=', input.status);
  if (input.afterId !== undefined && input.afterId > 0) query = query.where('id', '>', input.afterId);
  if (input.limit !== undefined) query = query.limit(input.limit);
  return query.execute();
}

/** Inserts an instruction. */
export async function insertInstruction(db: Db, row: Insertable<SettlementInstructionTable>): Promise<void> {
  await db.insertInto('settlement_instructions').values(row).execute();
}

/** Updates an instruction, only while it has the status `from`; false if it had another. */
export async function updateInstruction(db: Db, id: number, from: InstructionRow['status'], values: Updateable<SettlementInstructionTable>): Promise<boolean> {
  const result = await db.updateTable('settlement_instructions').set(values).where('id', '=', id).where('status', '=', from).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The version an entity's day was last reconciled with, if the day has a row. */
export async function findReconciledDay(db: Db, input: { entity: string; day: string }): Promise<ReconciledDayRow | undefined> {
  return db.selectFrom('reconciled_days').selectAll().where('entity', '=', input.entity).where('accounting_day', '=', input.day).executeTakeFirst();
}

/**
 * Makes the other runs of an entity's days wait for this transaction (PostgreSQL: a transaction
 * advisory lock on the entity, released at commit or rollback). Without it, two runs of one day
 * at once (a scheduler's retry beside the first run) both wrote, and the later one failed on a
 * unique index with the driver's raw error; now it runs after the first and finds the day
 * processed. SQLite needs none: its write transaction already holds the whole file.
 */
export async function lockEntityRuns(db: Kysely<LedgerDatabase>, input: { dialect: string; entity: string }): Promise<void> {
  if (input.dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtextextended(${`earnbook.reconcile ${input.entity}`}, 0))`.execute(db);
}

/** The latest day before `day` that an entity reconciled, if any. */
export async function selectLatestReconciledDayBefore(db: Db, input: { entity: string; day: string }): Promise<string | undefined> {
  const row = await db.selectFrom('reconciled_days').select('accounting_day').where('entity', '=', input.entity).where('accounting_day', '<', input.day).orderBy('accounting_day', 'desc').limit(1).executeTakeFirst();
  return row?.accounting_day;
}

/** Stores (replaces) the version an entity's day was reconciled with. */
export async function upsertReconciledDay(db: Db, row: ReconciledDayRow): Promise<void> {
  const { entity: _entity, accounting_day: _day, ...values } = row;
  await db
    .insertInto('reconciled_days')
    .values(row)
    .onConflict((conflict) => conflict.columns(['entity', 'accounting_day']).doUpdateSet(values))
    .execute();
}

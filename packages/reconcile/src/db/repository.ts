/**
 * Every SQL statement of the reconcile package, as functions over a Kysely handle.
 */
import type { Kysely, Selectable } from 'kysely';
import { nextAccountingDay, toUnits } from '@earnbook/ledger';
import type { TransactionKind } from '@earnbook/ledger';
import type { ReconcileBreakTable, ReconcileDatabase, SettlementInstructionTable, SettlementPositionTable } from './schema.js';
import type { LocalEntry } from '../diff.js';

type Db = Kysely<ReconcileDatabase>;
export type BreakRow = Selectable<ReconcileBreakTable>;
export type PositionRow = Selectable<SettlementPositionTable>;
export type InstructionRow = Selectable<SettlementInstructionTable>;

/** Rows read per query when loading a day's local entries. */
export const LOCAL_PAGE_ROWS = 10_000;
/** Provider ids per `IN` list. */
export const PROVIDER_IDS_PER_QUERY_MAX = 500;

const USER_PREFIX = 'user:';

function lineQuery(db: Db, entity: string) {
  return db
    .selectFrom('journal_transactions as t')
    .innerJoin('journal_entries as e', 'e.transaction_id', 't.id')
    .innerJoin('ledger_accounts as a', 'a.id', 'e.account_id')
    .select(['t.id', 't.kind', 't.provider_id', 't.accounting_day', 't.metadata', 'e.amount', 'e.currency', 'a.code', 'a.kind as account_kind'])
    .where('t.entity', '=', entity)
    .where('t.provider_id', 'is not', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('a.kind', '=', 'user'), eb('t.kind', 'in', ['deposit', 'withdrawal', 'interest'])]),
        eb.and([eb('a.kind', '=', 'settlement'), eb('t.kind', 'in', ['partner_margin', 'fee'])]),
      ]),
    );
}

function toLocal(row: { id: number; kind: string; provider_id: string | null; accounting_day: string; metadata: string | null; amount: string; currency: string; code: string }): LocalEntry {
  const metadata = row.metadata === null ? {} : (JSON.parse(row.metadata) as Record<string, string>);
  const signed = toUnits(row.amount);
  return {
    transactionId: row.id,
    kind: row.kind as TransactionKind,
    providerId: row.provider_id ?? '',
    accountingDay: row.accounting_day,
    interestDay: metadata['interestDay'] ?? (row.kind === 'deposit' || row.kind === 'withdrawal' ? null : row.accounting_day),
    amountUnits: signed < 0n ? -signed : signed,
    currency: row.currency,
    earnAccountId: row.code.startsWith(USER_PREFIX) ? row.code.slice(USER_PREFIX.length) : null,
  };
}

function add(index: Map<string, LocalEntry[]>, entry: LocalEntry): void {
  const list = index.get(entry.providerId);
  if (list === undefined) index.set(entry.providerId, [entry]);
  else if (!list.some((known) => known.transactionId === entry.transactionId)) list.push(entry);
}

/**
 * Local entries that can match a day's report: bookings of the day, interest, margin and fees
 * credited the next day, and any transaction carrying one of `providerIds` (wherever it is).
 */
export async function loadLocalEntries(db: Db, input: { entity: string; day: string; providerIds: Iterable<string> }): Promise<Map<string, LocalEntry[]>> {
  const index = new Map<string, LocalEntry[]>();
  const days = [input.day, nextAccountingDay(input.day)];
  let afterId = 0;
  for (;;) {
    const rows = await lineQuery(db, input.entity).where('t.accounting_day', 'in', days).where('t.id', '>', afterId).orderBy('t.id').limit(LOCAL_PAGE_ROWS).execute();
    for (const row of rows) add(index, toLocal(row));
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < LOCAL_PAGE_ROWS) break;
    afterId = last.id;
  }
  const missing = [...new Set(input.providerIds)].filter((id) => !index.has(id));
  for (let start = 0; start < missing.length; start += PROVIDER_IDS_PER_QUERY_MAX) {
    const rows = await lineQuery(db, input.entity).where('t.provider_id', 'in', missing.slice(start, start + PROVIDER_IDS_PER_QUERY_MAX)).execute();
    for (const row of rows) add(index, toLocal(row));
  }
  return index;
}

/** The settlement position of the day before, if computed. */
export async function findPosition(db: Db, key: { entity: string; currency: string; day: string }): Promise<PositionRow | undefined> {
  return db.selectFrom('settlement_positions').selectAll().where('entity', '=', key.entity).where('currency', '=', key.currency).where('accounting_day', '=', key.day).executeTakeFirst();
}

/** Stores (replaces) a settlement position. */
export async function upsertPosition(db: Db, row: PositionRow): Promise<void> {
  await db
    .insertInto('settlement_positions')
    .values(row)
    .onConflict((conflict) =>
      conflict.columns(['entity', 'currency', 'accounting_day']).doUpdateSet({
        payables: row.payables,
        receivables: row.receivables,
        net: row.net,
        carried_in: row.carried_in,
        outstanding: row.outstanding,
        settled: row.settled,
        carried_out: row.carried_out,
        reported_outstanding: row.reported_outstanding,
        computed_at: row.computed_at,
      }),
    )
    .execute();
}

/** The breaks of an entity's day. */
export async function selectBreaksOfDay(db: Db, entity: string, day: string): Promise<BreakRow[]> {
  return db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', entity).where('accounting_day', '=', day).orderBy('id').execute();
}

/**
 * The daily reconciliation of one entity's books with the provider's daily report: ingest the
 * report (idempotent per report id and content hash), sync the interest, margin and fee entries
 * into the books, diff line by line, recompute the interest, net the settlement per currency,
 * and keep breaks and settlement instructions with their lifecycles.
 */
import type { Kysely } from 'kysely';
import { LedgerError, isLedgerLogger, postingRuleEntries, formatInstant, formatUnits, parseUnits, previousAccountingDay, projectAccountingCycle, toUnits } from '@earnbook/ledger';
import type { CycleLine, EarnBooks, Ledger, LedgerDatabase, LedgerLogger, PostingInput } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import { diffDay, matchKey } from './diff.js';
import type { BreakDraft, LocalEntry, ReportEntry } from './diff.js';
import { computeSettlement } from './settlement.js';
import type { SettlementPosition } from './settlement.js';
import type { LoadedReport } from './report.js';
import { migrateReconcile } from './db/migrations.js';
import type { ReconcileDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { BreakRow, InstructionRow } from './db/repository.js';

/** Default tolerance for recomputed figures: one unit of the 18th decimal. */
export const TOLERANCE_UNITS_DEFAULT = 1n;
/** Tolerance a configuration may set at most (10^-6 of a coin). */
export const TOLERANCE_UNITS_MAX = 10n ** 12n;
/** Postings synced per database transaction. */
export const SYNC_BATCH_POSTINGS_MAX = 1_000;

/** Configuration of a {@link Reconciler}. Frozen when the reconciler is made. */
export interface ReconcilerOptions {
  readonly books: EarnBooks;
  /** Per currency: tolerance in units of the 18th decimal (an integer string), for recomputed interest, margin and outstanding balance. Booked amounts always match exactly. */
  readonly toleranceUnits?: Readonly<Record<string, string>>;
  /** Per entity, per currency: minimum settlement amount (decimal string); default 0 = always settle. */
  readonly settlementThresholds?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Per entity, per currency: the wallet address settlement transfers go to (or come from). */
  readonly wallets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Clock for stamps; default the system clock. */
  readonly now?: () => Date;
  /** Where the reconciler logs (pino-compatible); default the ledger's logger. */
  readonly logger?: LedgerLogger;
}

/** A stored break. */
export interface Break {
  readonly id: number;
  readonly entity: string;
  readonly accountingDay: string;
  readonly kind: BreakDraft['kind'];
  readonly providerId: string | null;
  readonly earnAccountId: string | null;
  readonly currency: string | null;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly status: 'open' | 'resolved';
  readonly resolutionReason: string | null;
  readonly resolutionTransactionId: number | null;
  readonly reportVersion: number;
}

/** A settlement instruction. */
export interface SettlementInstruction {
  readonly id: number;
  readonly entity: string;
  readonly currency: string;
  readonly accountingDay: string;
  readonly direction: 'to_provider' | 'from_provider';
  readonly amount: string;
  readonly wallet: string | null;
  readonly status: 'pending' | 'sent' | 'confirmed';
  readonly transactionHash: string | null;
  readonly ledgerTransactionId: number | null;
}

/** What a reconciliation of one day found and did. */
export interface ReconcileResult {
  readonly entity: string;
  readonly day: string;
  readonly reportId: string;
  readonly reportVersion: number;
  /** `created` the first time this report content was processed, `exists` after. */
  readonly reportStatus: 'created' | 'exists';
  readonly reportEntries: number;
  /** Entries the run booked into the ledger (interest, margin, fee). */
  readonly synced: { readonly interest: number; readonly partnerMargin: number; readonly fee: number };
  /** The day's open breaks, in a deterministic order. */
  readonly breaks: readonly Break[];
  /** Breaks this run closed because the report no longer shows them. */
  readonly resolvedBreaks: number;
  readonly positions: readonly SettlementPosition[];
  readonly instructions: readonly SettlementInstruction[];
  /** True when there is no open break. */
  readonly clean: boolean;
}

function rowToBreak(row: BreakRow): Break {
  return {
    id: row.id,
    entity: row.entity,
    accountingDay: row.accounting_day,
    kind: row.kind,
    providerId: row.provider_id,
    earnAccountId: row.earn_account_id,
    currency: row.currency,
    expected: row.expected,
    actual: row.actual,
    details: JSON.parse(row.details) as Record<string, unknown>,
    status: row.status,
    resolutionReason: row.resolution_reason,
    resolutionTransactionId: row.resolution_transaction_id,
    reportVersion: row.report_version,
  };
}

function rowToInstruction(row: InstructionRow): SettlementInstruction {
  return {
    id: row.id,
    entity: row.entity,
    currency: row.currency,
    accountingDay: row.accounting_day,
    direction: row.direction,
    amount: formatUnits(toUnits(row.amount)),
    wallet: row.wallet,
    status: row.status,
    transactionHash: row.transaction_hash,
    ledgerTransactionId: row.ledger_transaction_id,
  };
}

function invalid(field: string, value: unknown, reason: string): never {
  throw new ReconcileError('invalid_input', `${field} ${reason}, got ${JSON.stringify(value)}`, { field, value: String(value) });
}

/**
 * Reconciles the partner's books with the provider's daily reports.
 *
 * @example
 * const reconciler = await Reconciler.open({ books });
 * const result = await reconciler.reconcileDay({ entity: 'defi', day: '2025-03-18', report: await readReportFile('report.json') });
 * if (!result.clean) for (const b of result.breaks) console.log(b.kind, b.providerId);
 */
export class Reconciler {
  readonly books: EarnBooks;
  readonly ledger: Ledger;
  /** The logger (the option, or the ledger's). */
  readonly logger: LedgerLogger;
  readonly #db: Kysely<ReconcileDatabase>;
  readonly #tolerance: ReadonlyMap<string, bigint>;
  readonly #thresholds: ReadonlyMap<string, bigint>;
  readonly #wallets: ReadonlyMap<string, string>;
  readonly #now: () => Date;

  /**
   * The books' database with the reconciler's tables (migrated by {@link Reconciler.open}), for
   * the audit export: `exportAudit({ db: reconciler.db, … })`.
   */
  get db(): Kysely<ReconcileDatabase> {
    return this.#db;
  }

  private constructor(options: ReconcilerOptions) {
    this.books = options.books;
    this.ledger = options.books.ledger;
    if (options.logger !== undefined && !isLedgerLogger(options.logger)) invalid('logger', typeof options.logger, 'must have info, warn, error and debug methods');
    this.logger = options.logger ?? this.ledger.logger;
    this.#db = this.ledger.db as unknown as Kysely<ReconcileDatabase>;
    this.#now = options.now ?? (() => new Date());
    const tolerance = new Map<string, bigint>();
    for (const [currency, text] of Object.entries(options.toleranceUnits ?? {})) {
      if (typeof text !== 'string' || !/^\d{1,13}$/.test(text) || BigInt(text) > TOLERANCE_UNITS_MAX) invalid(`toleranceUnits.${currency}`, text, `must be an integer string from 0 to ${TOLERANCE_UNITS_MAX}`);
      tolerance.set(currency, BigInt(text));
    }
    this.#tolerance = tolerance;
    const thresholds = new Map<string, bigint>();
    for (const [entity, perCurrency] of Object.entries(options.settlementThresholds ?? {})) {
      this.ledger.entity(entity, 'settlementThresholds');
      for (const [currency, amount] of Object.entries(perCurrency)) {
        try {
          thresholds.set(`${entity} ${currency}`, parseUnits(amount, { field: `settlementThresholds.${entity}.${currency}` }));
        } catch (cause) {
          throw new ReconcileError('invalid_input', `settlementThresholds.${entity}.${currency} must be a non-negative decimal, got ${JSON.stringify(amount)}`, { field: `settlementThresholds.${entity}.${currency}`, value: String(amount), cause });
        }
      }
    }
    this.#thresholds = thresholds;
    const wallets = new Map<string, string>();
    for (const [entity, perCurrency] of Object.entries(options.wallets ?? {})) {
      this.ledger.entity(entity, 'wallets');
      for (const [currency, address] of Object.entries(perCurrency)) {
        if (typeof address !== 'string' || address.length === 0 || address.length > 200) invalid(`wallets.${entity}.${currency}`, address, 'must be a wallet address');
        wallets.set(`${entity} ${currency}`, address);
      }
    }
    this.#wallets = wallets;
  }

  /** Makes a reconciler and applies reconcile's migrations to the ledger's database. */
  static async open(options: ReconcilerOptions): Promise<Reconciler> {
    const reconciler = new Reconciler(options);
    const ledger = options.books.ledger;
    await migrateReconcile(ledger.db as Kysely<unknown>, ledger.dialect, ledger.schema === undefined ? {} : { schema: ledger.schema });
    return reconciler;
  }

  #toleranceUnits = (currency: string): bigint => this.#tolerance.get(currency) ?? TOLERANCE_UNITS_DEFAULT;

  /**
   * Reconciles one entity's accounting day with its report. The report must be for that entity
   * and day (else `wrong_entity` / `wrong_day`, nothing written). Running it again with the same
   * report changes nothing; a restated report for the day is processed as the next version.
   */
  async reconcileDay(input: { entity: string; day: string; report: LoadedReport }): Promise<ReconcileResult> {
    const entity = this.ledger.entity(input.entity).id;
    if (input.report === undefined || input.report === null) throw new ReconcileError('no_report', `no report for ${entity} ${input.day}: nothing can be reconciled`, { field: 'report' });
    const { report, contentHash } = input.report;
    const day = input.day;
    if (report.accountingDay !== day) throw new ReconcileError('wrong_day', `report ${report.id} is for ${report.accountingDay}, not ${day}`, { field: 'accountingDay', value: report.accountingDay });
    if (report.entity !== undefined && report.entity !== entity) throw new ReconcileError('wrong_entity', `report ${report.id} belongs to ${report.entity}, not ${entity}`, { field: 'entity', value: report.entity });
    const timeZone = this.ledger.entity(entity).timeZone;
    if (report.timeZone !== timeZone) throw new ReconcileError('wrong_entity', `report ${report.id} counts days in ${report.timeZone}, but ${entity} keeps its books in ${timeZone}`, { field: 'timeZone', value: report.timeZone });

    this.logger.info({ event: 'reconcile.day', entity, day, reportId: report.id, entries: report.transactions.length }, `reconciling ${entity} ${day} with report ${report.id}`);
    const processedVersions = await this.books.processedReports({ entity, accountingDay: day });
    const processed = processedVersions.find((row) => row.reportId === report.id && row.contentHash === contentHash);
    const version = processed?.version ?? processedVersions.length + 1;

    const local = await repository.loadLocalEntries(this.#db, { entity, day, providerIds: report.transactions.map(matchKey) });
    const synced = await this.#sync(entity, day, report.transactions, local);

    const projection = new Map<string, CycleLine>();
    for (const line of await projectAccountingCycle({ books: this.books, entity, day })) projection.set(line.earnAccountId, line);

    const positions = await this.#positions(entity, day, local);
    const outstanding = new Map(positions.map((position) => [position.currency, toUnits(position.outstanding)]));
    const drafts = diffDay({ day, report, version, local, projection, outstanding, toleranceUnits: this.#toleranceUnits });

    const reported = new Map(report.balances.map((balance) => [balance.currency, formatUnits(toUnits(balance.outstandingBalance))]));
    const disputed = new Set(drafts.filter((draft) => draft.kind === 'outstanding_balance_mismatch').map((draft) => draft.currency));
    const computedAt = formatInstant(this.#now());
    const { resolvedBreaks, status } = await this.ledger.dialect.writeTransaction(this.#db, async (trx) => {
      const recorded = await this.books.recordProcessedReport({ entity, reportId: report.id, contentHash, accountingDay: day }, trx as unknown as Kysely<LedgerDatabase>);
      const extra: BreakDraft[] = [];
      for (const position of positions) {
        await repository.upsertPosition(trx, {
          entity,
          currency: position.currency,
          accounting_day: day,
          payables: position.payables,
          receivables: position.receivables,
          net: position.net,
          carried_in: position.carriedIn,
          outstanding: position.outstanding,
          settled: position.settled,
          carried_out: position.carriedOut,
          reported_outstanding: reported.get(position.currency) ?? null,
          computed_at: computedAt,
        });
        // Never instruct a transfer on a disputed figure: the break must be resolved first.
        if (disputed.has(position.currency)) continue;
        const conflict = await this.#instruct(trx, entity, day, position, computedAt);
        if (conflict !== null) extra.push(conflict);
      }
      const resolved = await this.#storeBreaks(trx, entity, day, [...drafts, ...extra], recorded.value.version, computedAt);
      return { resolvedBreaks: resolved, status: recorded.status };
    });
    const breaks = (await repository.selectBreaksOfDay(this.#db, entity, day)).filter((row) => row.status === 'open').map(rowToBreak);
    const draftOrder = new Map([...drafts].map((draft, index) => [draft.fingerprint, index]));
    breaks.sort((a, b) => (draftOrder.get(fingerprintOf(a)) ?? Number.MAX_SAFE_INTEGER) - (draftOrder.get(fingerprintOf(b)) ?? Number.MAX_SAFE_INTEGER) || a.id - b.id);
    return {
      entity,
      day,
      reportId: report.id,
      reportVersion: version,
      reportStatus: status,
      reportEntries: report.transactions.length,
      synced,
      breaks,
      resolvedBreaks,
      positions,
      instructions: await this.instructions({ entity, day }),
      clean: breaks.length === 0,
    };
  }

  /** Books the report's interest, margin and fee entries that the books do not have yet. */
  async #sync(entity: string, day: string, entries: readonly ReportEntry[], local: Map<string, LocalEntry[]>) {
    const counts = { interest: 0, partnerMargin: 0, fee: 0 };
    const toBook = new Map<string, ReportEntry>();
    for (const entry of entries) {
      if (entry.type !== 'Interest' && entry.type !== 'PartnerMargin' && entry.type !== 'Fee') continue;
      if (local.has(entry.id) || toBook.has(entry.id)) continue;
      toBook.set(entry.id, entry);
    }
    if (toBook.size === 0) return counts;
    const accountIds = [...new Set([...toBook.values()].flatMap((entry) => (entry.type === 'Interest' && entry.accountId !== undefined ? [entry.accountId] : [])))];
    const accounts = new Map<string, { ledgerAccountId: number; currency: string }>();
    for (let start = 0; start < accountIds.length; start += repository.PROVIDER_IDS_PER_QUERY_MAX) {
      const rows = await this.#db
        .selectFrom('earn_accounts')
        .select(['earn_account_id', 'ledger_account_id', 'currency'])
        .where('entity', '=', entity)
        .where('earn_account_id', 'in', accountIds.slice(start, start + repository.PROVIDER_IDS_PER_QUERY_MAX))
        .execute();
      for (const row of rows) accounts.set(row.earn_account_id, { ledgerAccountId: row.ledger_account_id, currency: row.currency });
    }
    const postings: { posting: PostingInput; entry: ReportEntry }[] = [];
    const kinds = { Interest: 'interest', PartnerMargin: 'partner_margin', Fee: 'fee' } as const;
    for (const entry of toBook.values()) {
      const amount = formatUnits(toUnits(entry.amount));
      if (toUnits(amount) === 0n) continue;
      const kind = kinds[entry.type as keyof typeof kinds];
      const system = await this.ledger.systemAccountIds(entity, entry.currency);
      const account = entry.accountId === undefined ? undefined : accounts.get(entry.accountId);
      // Interest to an unknown account or in another currency cannot be booked: the diff reports it.
      if (kind === 'interest' && (account === undefined || account.currency !== entry.currency)) continue;
      postings.push({
        entry,
        posting: {
          entity,
          kind,
          idempotencyKey: `report:${entry.type}:${entry.id}`,
          occurredAt: entry.createdAt,
          providerId: entry.id,
          metadata: kind === 'interest' ? { interestDay: day, earnAccountId: entry.accountId ?? '' } : { interestDay: day },
          entries: postingRuleEntries(kind, { ...system, ...(account === undefined ? {} : { user: account.ledgerAccountId }) }, amount),
        },
      });
    }
    for (let start = 0; start < postings.length; start += SYNC_BATCH_POSTINGS_MAX) {
      const batch = postings.slice(start, start + SYNC_BATCH_POSTINGS_MAX);
      let results;
      try {
        results = await this.ledger.postMany(batch.map((item) => item.posting));
      } catch (error) {
        if (!(error instanceof LedgerError)) throw error;
        // One bad entry must not hold back the rest: book one by one, leaving the failures to the diff.
        results = [];
        for (const item of batch) {
          try {
            results.push(await this.ledger.post(item.posting));
          } catch (single) {
            if (!(single instanceof LedgerError)) throw single;
            results.push(undefined);
          }
        }
      }
      results.forEach((result, index) => {
        const item = batch[index];
        if (result === undefined || item === undefined) return;
        const transaction = result.transaction;
        if (result.status === 'created') {
          if (item.entry.type === 'Interest') counts.interest++;
          else if (item.entry.type === 'PartnerMargin') counts.partnerMargin++;
          else counts.fee++;
        }
        const entryForIndex: LocalEntry = {
          transactionId: transaction.id,
          kind: transaction.kind,
          providerId: item.entry.id,
          accountingDay: transaction.accountingDay,
          interestDay: day,
          // Both lines of these two-entry postings carry the same amount.
          amountUnits: toUnits(transaction.entries[0]?.amount ?? '0'),
          currency: item.entry.currency,
          earnAccountId: item.entry.type === 'Interest' ? (item.entry.accountId ?? null) : null,
        };
        local.set(item.entry.id, [...(local.get(item.entry.id) ?? []), entryForIndex]);
      });
    }
    return counts;
  }

  async #positions(entity: string, day: string, local: Map<string, LocalEntry[]>): Promise<SettlementPosition[]> {
    const flows = new Map<string, { depositsUnits: bigint; withdrawalsUnits: bigint; feesUnits: bigint; partnerMarginUnits: bigint }>();
    const flow = (currency: string) => {
      let value = flows.get(currency);
      if (value === undefined) {
        value = { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
        flows.set(currency, value);
      }
      return value;
    };
    for (const entries of local.values()) {
      for (const entry of entries) {
        if ((entry.kind === 'deposit' || entry.kind === 'withdrawal') && entry.accountingDay !== day) continue;
        if ((entry.kind === 'fee' || entry.kind === 'partner_margin') && entry.interestDay !== day) continue;
        if (entry.kind === 'deposit') flow(entry.currency).depositsUnits += entry.amountUnits;
        else if (entry.kind === 'withdrawal') flow(entry.currency).withdrawalsUnits += entry.amountUnits;
        else if (entry.kind === 'fee') flow(entry.currency).feesUnits += entry.amountUnits;
        else if (entry.kind === 'partner_margin') flow(entry.currency).partnerMarginUnits += entry.amountUnits;
      }
    }
    const previousDay = previousAccountingDay(day);
    const previous = await this.#db.selectFrom('settlement_positions').select(['currency', 'carried_out']).where('entity', '=', entity).where('accounting_day', '=', previousDay).execute();
    for (const row of previous) if (toUnits(row.carried_out) !== 0n) flow(row.currency);
    const carried = new Map(previous.map((row) => [row.currency, toUnits(row.carried_out)]));
    return [...flows.keys()].sort().map((currency) => {
      const value = flows.get(currency) ?? { depositsUnits: 0n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
      return computeSettlement({ currency, flows: value, carriedInUnits: carried.get(currency) ?? 0n, thresholdUnits: this.#thresholds.get(`${entity} ${currency}`) ?? 0n });
    });
  }

  /** Issues (or updates while still pending) the day's settlement instruction of a currency. */
  async #instruct(trx: Kysely<ReconcileDatabase>, entity: string, day: string, position: SettlementPosition, now: string): Promise<BreakDraft | null> {
    const settledUnits = toUnits(position.settled);
    const existing = await trx.selectFrom('settlement_instructions').selectAll().where('entity', '=', entity).where('currency', '=', position.currency).where('accounting_day', '=', day).executeTakeFirst();
    const direction = settledUnits < 0n ? 'to_provider' : 'from_provider';
    const amount = formatUnits(settledUnits < 0n ? -settledUnits : settledUnits);
    if (existing !== undefined) {
      const same = existing.direction === direction && toUnits(existing.amount) === toUnits(amount);
      if (same) return null;
      if (existing.status === 'pending') {
        if (settledUnits === 0n) return null;
        await trx.updateTable('settlement_instructions').set({ direction, amount, updated_at: now }).where('id', '=', existing.id).execute();
        return null;
      }
      return {
        kind: 'outstanding_balance_mismatch',
        fingerprint: ['outstanding_balance_mismatch', `instruction:${existing.id}`, '', position.currency].join('|'),
        providerId: `instruction:${existing.id}`,
        earnAccountId: null,
        currency: position.currency,
        expected: `${direction} ${amount}`,
        actual: `${existing.direction} ${formatUnits(toUnits(existing.amount))}`,
        details: { reason: `instruction ${existing.id} is already ${existing.status}; the restated figure needs a manual adjustment`, instructionId: existing.id },
      };
    }
    if (settledUnits === 0n) return null;
    await trx
      .insertInto('settlement_instructions')
      .values({ entity, currency: position.currency, accounting_day: day, direction, amount, wallet: this.#wallets.get(`${entity} ${position.currency}`) ?? null, status: 'pending', transaction_hash: null, ledger_transaction_id: null, created_at: now, updated_at: now })
      .execute();
    return null;
  }

  async #storeBreaks(trx: Kysely<ReconcileDatabase>, entity: string, day: string, drafts: readonly BreakDraft[], version: number, now: string): Promise<number> {
    const existing = new Map((await repository.selectBreaksOfDay(trx, entity, day)).map((row) => [row.fingerprint, row]));
    const current = new Set<string>();
    for (const draft of drafts) {
      current.add(draft.fingerprint);
      const row = existing.get(draft.fingerprint);
      const values = { expected: draft.expected, actual: draft.actual, details: JSON.stringify(draft.details), report_version: version };
      if (row === undefined) {
        await trx
          .insertInto('reconcile_breaks')
          .values({ entity, accounting_day: day, kind: draft.kind, fingerprint: draft.fingerprint, provider_id: draft.providerId, earn_account_id: draft.earnAccountId, currency: draft.currency, ...values, status: 'open', resolution_reason: null, resolution_transaction_id: null, created_at: now, resolved_at: null })
          .execute();
      } else if (row.status === 'open') {
        await trx.updateTable('reconcile_breaks').set(values).where('id', '=', row.id).execute();
      }
    }
    let resolved = 0;
    for (const row of existing.values()) {
      if (row.status !== 'open' || current.has(row.fingerprint)) continue;
      await trx.updateTable('reconcile_breaks').set({ status: 'resolved', resolution_reason: `no longer found when reconciling report version ${version}`, resolved_at: now }).where('id', '=', row.id).execute();
      resolved++;
    }
    return resolved;
  }

  /** Breaks of an entity (optionally of one day or status), by id. */
  async breaks(input: { entity: string; day?: string; status?: 'open' | 'resolved' }): Promise<Break[]> {
    const entity = this.ledger.entity(input.entity).id;
    let query = this.#db.selectFrom('reconcile_breaks').selectAll().where('entity', '=', entity).orderBy('accounting_day').orderBy('id');
    if (input.day !== undefined) query = query.where('accounting_day', '=', input.day);
    if (input.status !== undefined) query = query.where('status', '=', input.status);
    return (await query.execute()).map(rowToBreak);
  }

  async #break(id: number): Promise<BreakRow> {
    if (!Number.isSafeInteger(id) || id <= 0) invalid('breakId', id, 'must be a positive integer');
    const row = await this.#db.selectFrom('reconcile_breaks').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new ReconcileError('unknown_break', `break ${id} does not exist`, { field: 'breakId', value: String(id) });
    return row;
  }

  /** Resolves an open break with a reason, optionally linking the adjusting journal transaction. */
  async resolveBreak(input: { breakId: number; reason: string; transactionId?: number }): Promise<Break> {
    const row = await this.#break(input.breakId);
    if (typeof input.reason !== 'string' || input.reason.trim().length === 0 || input.reason.length > 1000) invalid('reason', input.reason, 'must be a non-empty text of at most 1000 characters');
    if (row.status !== 'open') throw new ReconcileError('invalid_transition', `break ${row.id} is already resolved`, { field: 'breakId', value: String(row.id) });
    if (input.transactionId !== undefined) {
      const transaction = await this.ledger.transaction(input.transactionId);
      if (transaction.entity !== row.entity) invalid('transactionId', input.transactionId, `must be a transaction of ${row.entity}`);
    }
    await this.#db
      .updateTable('reconcile_breaks')
      .set({ status: 'resolved', resolution_reason: input.reason, resolution_transaction_id: input.transactionId ?? null, resolved_at: formatInstant(this.#now()) })
      .where('id', '=', row.id)
      .where('status', '=', 'open')
      .execute();
    return rowToBreak(await this.#break(row.id));
  }

  /**
   * The one-step repair of a booking the provider made but the books lack (a crash between the
   * booking call and storing its response): books it from the report entry kept in the break,
   * then resolves the break with the new transaction.
   */
  async repairMissingBooking(input: { breakId: number }): Promise<Break> {
    const row = await this.#break(input.breakId);
    if (row.kind !== 'missing_in_ledger' || row.status !== 'open') throw new ReconcileError('invalid_transition', `break ${row.id} is not an open missing_in_ledger break`, { field: 'breakId', value: String(row.id) });
    const entry = (JSON.parse(row.details) as { entry?: ReportEntry }).entry;
    if (entry === undefined || (entry.type !== 'Deposit' && entry.type !== 'Withdrawal') || entry.accountId === undefined) {
      throw new ReconcileError('invalid_transition', `break ${row.id} is not a deposit or withdrawal with an account; resolve it by hand`, { field: 'breakId', value: String(row.id) });
    }
    const booking = {
      entity: row.entity,
      earnAccountId: entry.accountId,
      providerBookingId: entry.bookingId ?? entry.id,
      amount: entry.amount,
      occurredAt: entry.createdAt,
      idempotencyKey: entry.idempotencyKey ?? `repair:${entry.bookingId ?? entry.id}`,
      providerData: { source: 'daily report', reportVersion: row.report_version, entry },
    };
    const result = entry.type === 'Deposit' ? await this.books.recordDeposit(booking) : await this.books.recordWithdrawal(booking);
    return this.resolveBreak({ breakId: row.id, reason: `booked from the daily report (${entry.type} ${booking.providerBookingId})`, transactionId: result.transaction.id });
  }

  /** Settlement instructions of an entity (optionally of one day), by id. */
  async instructions(input: { entity: string; day?: string; status?: SettlementInstruction['status'] }): Promise<SettlementInstruction[]> {
    const entity = this.ledger.entity(input.entity).id;
    let query = this.#db.selectFrom('settlement_instructions').selectAll().where('entity', '=', entity).orderBy('id');
    if (input.day !== undefined) query = query.where('accounting_day', '=', input.day);
    if (input.status !== undefined) query = query.where('status', '=', input.status);
    return (await query.execute()).map(rowToInstruction);
  }

  async #instruction(id: number): Promise<InstructionRow> {
    if (!Number.isSafeInteger(id) || id <= 0) invalid('instructionId', id, 'must be a positive integer');
    const row = await this.#db.selectFrom('settlement_instructions').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new ReconcileError('unknown_settlement', `settlement instruction ${id} does not exist`, { field: 'instructionId', value: String(id) });
    return row;
  }

  /** Marks a partner → provider transfer as sent, with its on-chain transaction hash. */
  async markSent(input: { instructionId: number; transactionHash: string }): Promise<SettlementInstruction> {
    const row = await this.#instruction(input.instructionId);
    if (typeof input.transactionHash !== 'string' || !/^[A-Za-z0-9:_-]{8,200}$/.test(input.transactionHash)) invalid('transactionHash', input.transactionHash, 'must be 8 to 200 letters, digits, ":", "_" or "-"');
    if (row.direction !== 'to_provider' || row.status !== 'pending') {
      throw new ReconcileError('invalid_transition', `instruction ${row.id} (${row.direction}, ${row.status}) cannot be marked sent`, { field: 'instructionId', value: String(row.id) });
    }
    await this.#db.updateTable('settlement_instructions').set({ status: 'sent', transaction_hash: input.transactionHash, updated_at: formatInstant(this.#now()) }).where('id', '=', row.id).where('status', '=', 'pending').execute();
    return rowToInstruction(await this.#instruction(row.id));
  }

  /**
   * Confirms a transfer (a sent outgoing one, or an expected incoming one with its hash) and books
   * it in the ledger, which brings the currency's outstanding balance back toward zero.
   */
  async confirm(input: { instructionId: number; occurredAt: string | Date; transactionHash?: string }): Promise<SettlementInstruction> {
    const row = await this.#instruction(input.instructionId);
    const hash = row.transaction_hash ?? input.transactionHash;
    if (row.status === 'confirmed') return rowToInstruction(row);
    if (row.direction === 'to_provider' && row.status !== 'sent') throw new ReconcileError('invalid_transition', `instruction ${row.id} must be sent before it is confirmed`, { field: 'instructionId', value: String(row.id) });
    if (hash === undefined || hash === null) invalid('transactionHash', hash, 'is needed to confirm an incoming transfer');
    const result = await this.books.recordSettlement({
      entity: row.entity,
      currency: row.currency,
      direction: row.direction,
      amount: formatUnits(toUnits(row.amount)),
      occurredAt: input.occurredAt,
      idempotencyKey: `settlement:${row.entity}:${row.currency}:${row.accounting_day}`,
      reference: hash,
    });
    await this.#db
      .updateTable('settlement_instructions')
      .set({ status: 'confirmed', transaction_hash: hash, ledger_transaction_id: result.transaction.id, updated_at: formatInstant(this.#now()) })
      .where('id', '=', row.id)
      .execute();
    return rowToInstruction(await this.#instruction(row.id));
  }
}

function fingerprintOf(value: Break): string {
  return [value.kind, value.providerId ?? '', value.earnAccountId ?? '', value.currency ?? ''].join('|');
}

/**
 * The daily reconciliation of one entity's books with the provider's daily report, and the
 * follow-up a person does: resolve or repair breaks, walk settlement instructions. One day runs
 * as read → one write transaction (`day-run.ts`); breaks and instructions have their lifecycles
 * in `break-store.ts` and `instructions.ts`.
 */
import type { Kysely } from 'kysely';
import { LedgerError, accountingDayBounds, formatInstant, parseInstant, textDefect } from '@earnbook/ledger';
import type { EarnBooks, Ledger, LedgerLogger } from '@earnbook/ledger';
import { ReconcileError } from './errors.js';
import type { ReportEntry } from './report-entry.js';
import type { ReportInput } from './report-source.js';
import { migrateReconcile, reconcileMigrationState } from './db/migrations.js';
import type { ReconcileDatabase } from './db/schema.js';
import * as repository from './db/repository.js';
import type { BreakRow, InstructionRow } from './db/repository.js';
import { reconcileDay } from './day-run.js';
import type { ReconcileResult } from './day-run.js';
import type { DaySettings } from './day-workers.js';
import type { ReconcileProgressListener } from './day-progress.js';
import { linkRefusal, linkableEarnAccounts, rowToBreak } from './break-store.js';
import type { Break, LinkFacts } from './break-store.js';
import { TRANSACTION_HASH_RULE, confirmWithin, isTransactionHash, rowToInstruction, settlementKey } from './instructions.js';
import type { SettlementInstruction } from './instructions.js';
import { loggerOption, readReconcilerOptions, reconcilerSettings, refusePendingMigrations } from './reconciler-options.js';
import { invalid, readFields } from './input-guards.js';
import { BREAKS_PAGE_SIZE_MAX, INSTRUCTIONS_PAGE_SIZE_MAX, readListPage } from './list-page.js';
import type { ReconcilerOptions } from './reconciler-options.js';

/**
 * Reconciles the partner's books with the provider's daily reports. Every method reads the
 * fields of its input once, before it reads the books: an input that cannot be read (a revoked
 * proxy, a getter that throws) is `invalid_input` naming the field, and nothing is written.
 *
 * @example
 * const reconciler = await Reconciler.open({ books });
 * const result = await reconciler.reconcileDay({ entity: 'defi', day: '2025-03-18', report: await openReportFile('report.json') });
 * if (!result.clean) for (const b of result.breaks) console.log(b.kind, b.providerId);
 */
export class Reconciler {
  readonly books: EarnBooks;
  readonly ledger: Ledger;
  /** The logger (the option, or the ledger's). */
  readonly logger: LedgerLogger;
  readonly #db: Kysely<ReconcileDatabase>;
  readonly #settings: DaySettings;

  /**
   * The books' database with the reconciler's tables (migrated by {@link Reconciler.open}), for
   * the audit export: `exportAudit({ db: reconciler.db, … })`.
   */
  get db(): Kysely<ReconcileDatabase> {
    return this.#db;
  }

  /** `options` as {@link readReconcilerOptions} read them: a plain object, each field read once. */
  private constructor(options: ReconcilerOptions) {
    this.books = options.books;
    this.ledger = options.books.ledger;
    this.logger = loggerOption(options.logger) ?? this.ledger.logger;
    this.#db = repository.withReconcileTables(this.ledger.db);
    this.#settings = Object.freeze({ ...reconcilerSettings(options), ledger: this.ledger, books: this.books, logger: this.logger });
  }

  /**
   * Makes a reconciler and applies reconcile's migrations to the ledger's database; with
   * `migrate: false`, refuses books that lack one (`migration_required`, naming them) and writes
   * nothing.
   */
  static async open(options: ReconcilerOptions): Promise<Reconciler> {
    const given = readReconcilerOptions(options);
    const reconciler = new Reconciler(given);
    const ledger = given.books.ledger;
    const schema = ledger.schema === undefined ? {} : { schema: ledger.schema };
    if (given.migrate !== false) await migrateReconcile(ledger.db as Kysely<unknown>, ledger.dialect, schema);
    else refusePendingMigrations((await reconcileMigrationState(ledger.db as Kysely<unknown>, ledger.dialect, schema)).pending);
    return reconciler;
  }

  /**
   * Reconciles one entity's accounting day with its report (in memory, or a file streamed in
   * bounded memory). The report must be for that entity and day (else `wrong_entity` /
   * `wrong_day`). Everything is validated before the first write, and the whole day — sync,
   * diff, breaks, instructions, report record — is one transaction: a rejection writes nothing.
   * Running it again with the day's newest report changes nothing; a restated report is the next
   * version; an older processed version is refused (`invalid_transition`, field `reportId`).
   * `onProgress` is told the phase and the rows handled so far, at batch boundaries.
   */
  async reconcileDay(given: { entity: string; day: string; report: ReportInput; onProgress?: ReconcileProgressListener }): Promise<ReconcileResult> {
    const input = readFields(given, ['entity', 'day', 'report', 'onProgress']);
    this.logger.info({ event: 'reconcile.day', entity: input.entity, day: input.day }, `reconciling ${input.entity} ${input.day}`);
    const result = await reconcileDay(this.#settings, input);
    this.logger.info(
      { event: 'reconcile.day.done', entity: result.entity, day: result.day, reportId: result.reportId, version: result.reportVersion, entries: result.reportEntries, breaks: result.openBreaks },
      `reconciled ${result.entity} ${result.day} with report ${result.reportId} (version ${result.reportVersion}): ${result.openBreaks} open break(s)`,
    );
    return result;
  }

  /** Breaks of an entity (optionally of one day or status), by day then id. */
  async breaks(given: { entity: string; day?: string; status?: 'open' | 'resolved'; afterId?: number; limit?: number }): Promise<Break[]> {
    const input = readFields(given, ['entity', 'day', 'status', 'afterId', 'limit']);
    const entity = this.ledger.entity(input.entity).id;
    const page = readListPage(input, BREAKS_PAGE_SIZE_MAX);
    let after: { day: string; id: number } | undefined;
    if (page.afterId > 0) {
      // The page goes on after that break in (day, id) order: its day is read, never trusted from the caller.
      const previous = await repository.findBreak(this.#db, page.afterId);
      if (previous === undefined || previous.entity !== entity) throw new ReconcileError('unknown_break', `afterId ${page.afterId} is not a break of ${entity}`, { field: 'afterId', value: String(page.afterId) });
      after = { day: previous.accounting_day, id: previous.id };
    }
    const { afterId: _afterId, limit: _limit, ...filter } = input;
    const rows = await repository.selectBreaks(this.#db, { ...filter, entity, ...(after === undefined ? {} : { after }), ...(page.limit === undefined ? {} : { limit: page.limit }) });
    return rows.map(rowToBreak);
  }

  async #break(id: number): Promise<BreakRow> {
    if (!Number.isSafeInteger(id) || id <= 0) invalid('breakId', id, 'must be a positive integer');
    const row = await repository.findBreak(this.#db, id);
    if (row === undefined) throw new ReconcileError('unknown_break', `break ${id} does not exist`, { field: 'breakId', value: String(id) });
    return row;
  }

  /** The accounts {@link linkRefusal} compares a linked transaction's entries with (reads only). */
  async #linkFacts(row: BreakRow): Promise<LinkFacts> {
    const earnLedgerAccountIds = new Map<string, number>();
    for (const earnAccountId of linkableEarnAccounts(row)) {
      // An Earn account the books do not hold (interest reported on an unknown account) has no
      // ledger account, so no transaction can touch it: the break is refused any link.
      const account = await this.books.earnAccount({ entity: row.entity, earnAccountId }).catch((error: unknown) => {
        if (error instanceof LedgerError && error.code === 'unknown_account') return undefined;
        throw error;
      });
      if (account !== undefined) earnLedgerAccountIds.set(earnAccountId, account.ledgerAccountId);
    }
    const settlement = row.currency === null ? undefined : await this.ledger.findAccount({ entity: row.entity, currency: row.currency, code: 'settlement' });
    return { earnLedgerAccountIds, settlementAccountId: settlement?.id ?? null };
  }

  /**
   * Resolves an open break with a reason, optionally linking the adjusting journal transaction.
   * A linked transaction must be one that can correct the break ({@link linkRefusal}: its entity,
   * currency, Earn account or settlement account, entry kind, not dated before its day, not the
   * transaction the break is about); another is refused as `invalid_input` (field
   * `transactionId`, the message naming the property that differs) and nothing is written.
   * Of two people resolving the same break at once, one wins; the other gets `invalid_transition`
   * (field `breakId`) and its reason is not stored.
   */
  async resolveBreak(given: { breakId: number; reason: string; transactionId?: number }): Promise<Break> {
    const input = readFields(given, ['breakId', 'reason', 'transactionId']);
    const row = await this.#break(input.breakId);
    if (typeof input.reason !== 'string' || input.reason.trim().length === 0 || input.reason.length > 1000 || textDefect(input.reason) !== undefined) {
      invalid('reason', input.reason, 'must be a non-empty well-formed text (no lone surrogate, no NUL) of at most 1000 characters');
    }
    if (row.status !== 'open') throw new ReconcileError('invalid_transition', `break ${row.id} is already resolved`, { field: 'breakId', value: String(row.id) });
    if (input.transactionId !== undefined) {
      const transaction = await this.ledger.transaction(input.transactionId);
      const refusal = linkRefusal(row, transaction, await this.#linkFacts(row));
      if (refusal !== undefined) throw new ReconcileError('invalid_input', `transactionId ${input.transactionId} ${refusal}; nothing was written`, { field: 'transactionId', value: String(input.transactionId) });
    }
    const resolved = await repository.resolveOpenBreak(this.#db, row.id, { resolved_by: 'person', resolution_reason: input.reason, resolution_transaction_id: input.transactionId ?? null, resolved_at: formatInstant(this.#settings.now()) });
    if (!resolved) throw new ReconcileError('invalid_transition', `break ${row.id} was resolved by another caller meanwhile; this reason was not stored`, { field: 'breakId', value: String(row.id) });
    return rowToBreak(await this.#break(row.id));
  }

  /**
   * The one-step repair of a booking the provider made but the books lack (a crash between the
   * booking call and storing its response): books it from the report entry kept in the break and
   * resolves the break with the new transaction, in one database transaction — a crash leaves
   * both or neither. The booking is idempotent on the entry's key, so a retry after a crash that
   * happened before this call (the booking recorded by another path) finds it and resolves. An
   * entry in another currency than its Earn account's is refused (`invalid_transition`, field
   * `currency`), writing nothing: the books cannot hold it as reported; resolve it by hand. Any
   * refused repair writes nothing, also the first booking of a currency the entity never booked:
   * its system accounts are opened with the booking, in the repair's transaction.
   */
  async repairMissingBooking(given: { breakId: number }): Promise<Break> {
    const input = readFields(given, ['breakId']);
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
    const account = await this.books.earnAccount({ entity: row.entity, earnAccountId: entry.accountId });
    if (entry.currency !== account.currency) {
      throw new ReconcileError('invalid_transition', `break ${row.id}: the report's ${entry.type} ${booking.providerBookingId} is in currency ${entry.currency}, but Earn account ${account.earnAccountId} holds ${account.currency}; it cannot be booked as reported, resolve it by hand`, {
        field: 'currency',
        value: entry.currency,
      });
    }
    // The currency's system accounts are not opened here: the booking opens them in this
    // transaction (after a savepoint), so a refused repair of a currency never booked leaves none.
    const reason = `booked from the daily report (${entry.type} ${booking.providerBookingId})`;
    await this.ledger.transact(async (scope) => {
      const result = entry.type === 'Deposit' ? await this.books.recordDeposit(booking, scope) : await this.books.recordWithdrawal(booking, scope);
      const resolved = await repository.resolveOpenBreak(repository.withReconcileTables(scope.db), row.id, { resolved_by: 'person', resolution_reason: reason, resolution_transaction_id: result.transaction.id, resolved_at: formatInstant(this.#settings.now()) });
      if (!resolved) throw new ReconcileError('invalid_transition', `break ${row.id} was resolved by another caller meanwhile`, { field: 'breakId', value: String(row.id) });
    });
    return rowToBreak(await this.#break(row.id));
  }

  /** Settlement instructions of an entity (optionally of one day or status), by id. */
  async instructions(given: { entity: string; day?: string; status?: SettlementInstruction['status']; afterId?: number; limit?: number }): Promise<SettlementInstruction[]> {
    const input = readFields(given, ['entity', 'day', 'status', 'afterId', 'limit']);
    const entity = this.ledger.entity(input.entity).id;
    const page = readListPage(input, INSTRUCTIONS_PAGE_SIZE_MAX);
    const { afterId: _afterId, limit: _limit, ...filter } = input;
    return (await repository.selectInstructions(this.#db, { ...filter, entity, ...page })).map(rowToInstruction);
  }

  async #instruction(id: number): Promise<InstructionRow> {
    if (!Number.isSafeInteger(id) || id <= 0) invalid('instructionId', id, 'must be a positive integer');
    const row = await repository.findInstruction(this.#db, id);
    if (row === undefined) throw new ReconcileError('unknown_settlement', `settlement instruction ${id} does not exist`, { field: 'instructionId', value: String(id) });
    return row;
  }

  /**
   * Marks a partner → provider transfer as sent, with its on-chain transaction hash. A retry with
   * the same hash (an answer lost) answers the sent instruction unchanged; another hash for an
   * instruction already sent is refused (`invalid_transition`, field `transactionHash`), writing
   * nothing.
   */
  async markSent(given: { instructionId: number; transactionHash: string }): Promise<SettlementInstruction> {
    const input = readFields(given, ['instructionId', 'transactionHash']);
    const row = await this.#instruction(input.instructionId);
    if (!isTransactionHash(input.transactionHash)) invalid('transactionHash', input.transactionHash, TRANSACTION_HASH_RULE);
    if (row.direction === 'to_provider' && row.status === 'sent') return this.#sentAgain(row, input.transactionHash);
    if (row.direction !== 'to_provider' || row.status !== 'pending') {
      throw new ReconcileError('invalid_transition', `instruction ${row.id} (${row.direction}, ${row.status}) cannot be marked sent${statusReasonText(row)}`, { field: 'instructionId', value: String(row.id) });
    }
    // Only while still pending: a run may have held or cancelled it since it was read.
    const sent = await repository.updateInstruction(this.#db, row.id, 'pending', { status: 'sent', transaction_hash: input.transactionHash, updated_at: formatInstant(this.#settings.now()) });
    if (!sent) {
      // Another caller may have marked it sent meanwhile: the same hash is the same step.
      const current = await this.#instruction(row.id);
      if (current.status === 'sent') return this.#sentAgain(current, input.transactionHash);
      throw new ReconcileError('invalid_transition', `instruction ${row.id} is no longer pending and cannot be marked sent`, { field: 'instructionId', value: String(row.id) });
    }
    return rowToInstruction(await this.#instruction(row.id));
  }

  /** A retry of markSent (its answer lost): the same hash answers the instruction unchanged, another is refused. */
  #sentAgain(row: InstructionRow, transactionHash: string): SettlementInstruction {
    if (row.transaction_hash !== transactionHash) {
      throw new ReconcileError('invalid_transition', `instruction ${row.id} was already marked sent with transaction ${row.transaction_hash ?? 'none'}, not ${transactionHash}`, { field: 'transactionHash', value: transactionHash });
    }
    return rowToInstruction(row);
  }

  /**
   * Confirms a transfer (a sent outgoing one, or an expected incoming one with its hash): books it
   * in the ledger and marks the instruction confirmed in one transaction. A retry after a crash
   * between the two (the booking exists, the status does not) finishes the step whatever
   * `occurredAt` it gives — if that booking is this transfer: a booking under the instruction's
   * settlement key of another kind, direction, currency, amount or provider id (hash) is refused
   * (`idempotency_conflict`, field the differing one, value the booking's), writing nothing.
   * With nothing booked, `occurredAt` must not be before the end of the instruction's accounting
   * day in the entity's zone (`invalid_input`, field `occurredAt`, nothing written): the transfer
   * settles that day's closing position, and an earlier one would rewrite a day already
   * reconciled.
   */
  async confirm(given: { instructionId: number; occurredAt: string | Date; transactionHash?: string }): Promise<SettlementInstruction> {
    const input = readFields(given, ['instructionId', 'occurredAt', 'transactionHash']);
    const row = await this.#instruction(input.instructionId);
    if (row.transaction_hash !== null && input.transactionHash !== undefined && input.transactionHash !== row.transaction_hash) {
      // A different transfer than the one the instruction was marked sent (or confirmed) with: never silently ignored.
      invalid('transactionHash', input.transactionHash, `differs from ${row.transaction_hash}, the transfer instruction ${row.id} holds`);
    }
    if (row.status === 'confirmed') return rowToInstruction(row);
    const hash = row.transaction_hash ?? input.transactionHash;
    if (row.direction === 'to_provider' && row.status !== 'sent') throw new ReconcileError('invalid_transition', `instruction ${row.id} must be sent before it is confirmed${statusReasonText(row)}`, { field: 'instructionId', value: String(row.id) });
    if (row.direction === 'from_provider' && row.status !== 'pending') throw new ReconcileError('invalid_transition', `instruction ${row.id} is ${row.status} and cannot be confirmed${statusReasonText(row)}`, { field: 'instructionId', value: String(row.id) });
    if (hash === undefined || hash === null) invalid('transactionHash', hash, 'is needed to confirm an incoming transfer');
    if (!isTransactionHash(hash)) invalid('transactionHash', hash, TRANSACTION_HASH_RULE);
    const booked = await this.ledger.transactionByKey(row.entity, settlementKey(row));
    if (booked === undefined) this.#assertAfterDay(row, input.occurredAt);
    await confirmWithin(this.ledger, { row, occurredAt: input.occurredAt, hash, booked, now: formatInstant(this.#settings.now()) });
    return rowToInstruction(await this.#instruction(row.id));
  }

  /** Refuses a transfer dated before the end of the accounting day its instruction settles. */
  #assertAfterDay(row: InstructionRow, occurredAt: string | Date): void {
    const instant = parseInstant(occurredAt, 'occurredAt');
    const { timeZone } = this.ledger.entity(row.entity);
    const dayEnd = accountingDayBounds(row.accounting_day, timeZone).end;
    if (instant.getTime() < dayEnd.getTime()) {
      invalid('occurredAt', formatInstant(instant), `must not be before ${formatInstant(dayEnd)}, the end of accounting day ${row.accounting_day} (${timeZone}) that instruction ${row.id} settles`);
    }
  }
}

/** The reason of a held or cancelled instruction, for an error message. */
function statusReasonText(row: InstructionRow): string {
  return row.status_reason === null ? '' : ` (${row.status}: ${row.status_reason})`;
}

/**
 * Hostile input at reconcile's public entry points: a revoked proxy (it answers no question:
 * `Array.isArray`, a field read, even its class throw a TypeError) as the whole argument or as a
 * nested options object or list, and an argument whose every getter throws. Each call is refused
 * with `ReconcileError` `invalid_input` naming the field (the getter's error as `cause`), and
 * nothing is written to the reconcile tables nor the ledger's journal; they threw raw TypeErrors
 * (or the getter's own error) before.
 *
 * Not here: `ExternalSorter`, a building block whose options are the reconciler's own.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import {
  ReconcileError,
  Reconciler,
  bookThenRecord,
  checkReportEntry,
  checkReportHeader,
  computeSettlement,
  diffDay,
  exportAudit,
  exportBalancesCsv,
  exportBreaksCsv,
  exportHledgerJournal,
  exportJournalCsv,
  exportSettlementsCsv,
  findDayReports,
  loadReportObject,
  openReportFile,
  parseReport,
  planDayReports,
  productTermsOf,
  readReportEntries,
  readReportFile,
  syncProducts,
  validateReport,
} from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';
import type { ReportJson } from './report-builder.js';

const DAY = '2025-03-18';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy as never;
}

/** The error a hostile getter throws: the refusal must carry it as its cause. */
class HostileGetterError extends Error {}

/** An object whose every read throws: its `get` trap, and those that list or look up its keys. */
function throwing(): never {
  const hostile = (what: string) => {
    throw new HostileGetterError(`hostile ${what}`);
  };
  return new Proxy(
    {},
    {
      get: (_target, key) => hostile(`getter ${String(key)}`),
      has: (_target, key) => hostile(`has ${String(key)}`),
      ownKeys: () => hostile('ownKeys'),
      getOwnPropertyDescriptor: (_target, key) => hostile(`descriptor ${String(key)}`),
    },
  ) as never;
}

/** A list whose reads throw, but that a promise can resolve to (its `then` is undefined). */
function hostileList(): never {
  return new Proxy([], {
    get(_target, key) {
      if (key === 'then') return undefined;
      throw new HostileGetterError(`hostile getter ${String(key)}`);
    },
  }) as never;
}

/** A list whose first element's read throws (its length reads). */
function listWithHostileFirst(): never {
  return new Proxy(['journal_csv'], {
    get(target, key, receiver) {
      if (key === '0') throw new HostileGetterError('hostile getter 0');
      return Reflect.get(target, key, receiver) as unknown;
    },
  }) as never;
}

/** `fields` with one more field, `key`, whose getter throws. */
function withThrowingGetter(fields: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.defineProperty({ ...fields }, key, {
    enumerable: true,
    get: () => {
      throw new HostileGetterError(`hostile getter ${key}`);
    },
  });
}

/** An audit export's folder that no refused call may create. */
const AUDIT_DIRECTORY = join(tmpdir(), `earnbook-revoked-proxy-${process.pid}-never-made`);
const auditDirectory = (): string => AUDIT_DIRECTORY;

/** A call, the field its refusal must name, and whether it refuses by type alone (no cause). */
interface Call {
  readonly name: string;
  readonly field: string;
  readonly call: () => unknown;
  readonly typeOnly?: boolean;
}

/** What is wrong with a call's outcome (undefined: refused as it should be); `cause`: the error the refusal must carry. */
async function faultOf({ name, field, call, typeOnly }: Call, cause?: typeof HostileGetterError): Promise<string | undefined> {
  let error: unknown;
  try {
    await call();
    return `${name}: no error`;
  } catch (caught) {
    error = caught;
  }
  if (!(error instanceof ReconcileError)) return `${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  if (error.code !== 'invalid_input' || error.field !== field) return `${name}: ReconcileError ${error.code} field ${String(error.field)}, expected invalid_input field ${field}`;
  if (cause !== undefined && typeOnly !== true && !(error.cause instanceof cause)) return `${name}: cause is ${String(error.cause)}, not the getter's error`;
  return undefined;
}

describe.each(DIALECTS)('hostile input at reconcile\'s entry points, on %s', (dialect) => {
  let ledger: Ledger;
  let books: EarnBooks;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  let report: ReportJson;
  const snapshot = () => snapshotDatabase(ledger.db as never);
  const output = () => new PassThrough();
  const range = { fromDay: DAY, toDay: DAY };
  const provider = { deposit: async () => expect.fail('the provider must not be called'), withdraw: async () => expect.fail('the provider must not be called') } as never;
  const source = { listProducts: async () => [] };

  beforeAll(async () => {
    ({ ledger, close } = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] }));
    books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC fixed', effectiveDay: '2025-01-01', terms } as never);
    await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'defi', earnUserId: 'eu-1' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'acc-1', providerBookingId: 'b1', amount: '1', occurredAt: '2025-03-18T10:00:00Z', idempotencyKey: 'k-b1', providerData: {} });
    report = await buildReport(books, 'defi', DAY);
  });
  afterAll(async () => close());

  /**
   * Calls whose whole object argument is `hostile()`, and the field each must name: a revoked
   * proxy is refused as the argument itself; an object whose getters throw at the first field the
   * call reads (`revoked` and `throwing` give the fields when they differ). `typeOnly`: the call
   * refuses any object by its type without reading it, so the refusal has no cause.
   */
  function wholeArgumentCalls(hostile: () => never): Call[] {
    const loaded = () => loadReportObject(report);
    const named = (revokedField: string, throwingField: string) => (hostile === revoked ? revokedField : throwingField);
    return [
      { name: 'Reconciler.open', field: named('options', 'books'), call: () => Reconciler.open(hostile()) },
      { name: 'reconcileDay', field: named('input', 'entity'), call: () => reconciler.reconcileDay(hostile()) },
      { name: 'breaks', field: named('input', 'entity'), call: () => reconciler.breaks(hostile()) },
      { name: 'instructions', field: named('input', 'entity'), call: () => reconciler.instructions(hostile()) },
      { name: 'resolveBreak', field: named('input', 'breakId'), call: () => reconciler.resolveBreak(hostile()) },
      { name: 'repairMissingBooking', field: named('input', 'breakId'), call: () => reconciler.repairMissingBooking(hostile()) },
      { name: 'markSent', field: named('input', 'instructionId'), call: () => reconciler.markSent(hostile()) },
      { name: 'confirm', field: named('input', 'instructionId'), call: () => reconciler.confirm(hostile()) },
      { name: 'reconcileDay report', field: named('report', 'report.kind'), call: () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: hostile() }) },
      { name: 'loadReportObject', field: 'report', call: () => loadReportObject(hostile()) },
      { name: 'validateReport', field: 'report', call: () => validateReport(hostile(), 'memory') },
      { name: 'parseReport', field: 'bytes', call: () => parseReport(hostile(), 'memory'), typeOnly: true },
      { name: 'readReportFile', field: 'reportFile', call: () => readReportFile(hostile()), typeOnly: true },
      { name: 'openReportFile', field: 'reportFile', call: () => openReportFile(hostile()), typeOnly: true },
      { name: 'openReportFile options', field: named('options', 'format'), call: () => openReportFile('report.json', hostile()) },
      { name: 'readReportEntries', field: named('report', 'report.kind'), call: () => readReportEntries(hostile(), () => {}) },
      { name: 'readReportEntries sink', field: 'sink', call: () => readReportEntries(loaded(), hostile()), typeOnly: true },
      { name: 'checkReportEntry', field: 'transactions[3]', call: () => checkReportEntry(hostile(), 3, 'memory') },
      { name: 'checkReportHeader', field: 'report', call: () => checkReportHeader(hostile(), 'memory') },
      { name: 'planDayReports', field: named('input', 'summaries'), call: () => planDayReports(hostile()) },
      { name: 'findDayReports', field: named('options', 'summaries'), call: () => findDayReports(hostile()) },
      { name: 'computeSettlement', field: named('input', 'currency'), call: () => computeSettlement(hostile()) },
      { name: 'diffDay', field: named('input', 'day'), call: () => diffDay(hostile()) },
      { name: 'syncProducts', field: named('input', 'source'), call: () => syncProducts(hostile()) },
      { name: 'bookThenRecord', field: named('input', 'provider'), call: () => bookThenRecord(hostile()) },
      { name: 'exportJournalCsv', field: named('options', 'entity'), call: () => exportJournalCsv(hostile()) },
      { name: 'exportBalancesCsv', field: named('options', 'entity'), call: () => exportBalancesCsv(hostile()) },
      { name: 'exportBreaksCsv', field: named('options', 'entity'), call: () => exportBreaksCsv(hostile()) },
      { name: 'exportSettlementsCsv', field: named('options', 'entity'), call: () => exportSettlementsCsv(hostile()) },
      { name: 'exportHledgerJournal', field: named('options', 'entity'), call: () => exportHledgerJournal(hostile()) },
      { name: 'exportAudit', field: named('options', 'entity'), call: () => exportAudit(hostile()) },
    ];
  }

  /** Calls with a revoked proxy as one nested options object or list, and the field each must name. */
  function nestedCalls(): Call[] {
    const loaded = (change: (json: Record<string, unknown>) => void) => {
      const json: Record<string, unknown> = structuredClone(report) as never;
      change(json);
      return { report: json, contentHash: 'a'.repeat(64), source: 'memory' } as never;
    };
    const day = (extra: Record<string, unknown>) => ({ entity: 'defi', day: DAY, ...extra }) as never;
    const flows = { depositsUnits: 1n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n };
    const product = { id: 'btc', currency: 'BTC', name: 'BTC Earn', interest: { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] }, partnerMargin: null };
    const diffInput = { day: DAY, timeZone: 'UTC', report: report as never, version: 1, local: [], projection: [], outstanding: new Map<string, bigint>(), toleranceUnits: () => 0n };
    const booking = { provider, books, kind: 'deposit', entity: 'defi', earnAccountId: 'acc-1', amount: '1', idempotencyKey: 'k-new' } as const;
    const open = (extra: Record<string, unknown>) => Reconciler.open({ books, ...extra } as never);
    return [
      { name: 'open books', field: 'books', call: () => Reconciler.open({ books: revoked() }) },
      { name: 'open books.ledger', field: 'books.ledger', call: () => Reconciler.open({ books: { ledger: revoked() } as never }) },
      { name: 'open toleranceUnits', field: 'toleranceUnits', call: () => open({ toleranceUnits: revoked() }) },
      { name: 'open settlementThresholds', field: 'settlementThresholds', call: () => open({ settlementThresholds: revoked() }) },
      { name: 'open settlementThresholds.defi', field: 'settlementThresholds.defi', call: () => open({ settlementThresholds: { defi: revoked() } }) },
      { name: 'open feeApprovalLimits', field: 'feeApprovalLimits', call: () => open({ feeApprovalLimits: revoked() }) },
      { name: 'open feeApprovalLimits.defi', field: 'feeApprovalLimits.defi', call: () => open({ feeApprovalLimits: { defi: revoked() } }) },
      { name: 'open wallets', field: 'wallets', call: () => open({ wallets: revoked() }) },
      { name: 'open wallets.defi', field: 'wallets.defi', call: () => open({ wallets: { defi: revoked() } }) },
      { name: 'open logger', field: 'logger', call: () => open({ logger: revoked() }) },
      { name: 'open now', field: 'now', call: () => open({ now: revoked() }) },
      { name: 'open sortDirectory', field: 'sortDirectory', call: () => open({ sortDirectory: revoked() }) },
      { name: 'open workerThreads', field: 'workerThreads', call: () => open({ workerThreads: revoked() }) },
      { name: 'open workerWaitMs', field: 'workerWaitMs', call: () => open({ workerWaitMs: revoked() }) },
      { name: 'reconcileDay report.report', field: 'report.report', call: () => reconciler.reconcileDay(day({ report: { report: revoked(), contentHash: 'a'.repeat(64), source: 'memory' } })) },
      { name: 'reconcileDay transactions', field: 'report.report.transactions', call: () => reconciler.reconcileDay(day({ report: loaded((json) => (json['transactions'] = revoked())) })) },
      { name: 'reconcileDay transactions[0]', field: 'report.report.transactions[0]', call: () => reconciler.reconcileDay(day({ report: loaded((json) => (json['transactions'] = [revoked()])) })) },
      { name: 'reconcileDay transactions[0].amount', field: 'report.report.transactions[0].amount', call: () => reconciler.reconcileDay(day({ report: loaded((json) => ((json['transactions'] as Record<string, unknown>[])[0] = { ...report.transactions[0], amount: revoked() })) })) },
      { name: 'reconcileDay balances', field: 'report.report.balances', call: () => reconciler.reconcileDay(day({ report: loaded((json) => (json['balances'] = revoked())) })) },
      { name: 'reconcileDay onProgress', field: 'onProgress', call: () => reconciler.reconcileDay(day({ report: loadReportObject(report), onProgress: revoked() })) },
      { name: 'resolveBreak breakId', field: 'breakId', call: () => reconciler.resolveBreak({ breakId: revoked(), reason: 'r' }) },
      { name: 'markSent instructionId', field: 'instructionId', call: () => reconciler.markSent({ instructionId: revoked(), transactionHash: 'x' }) },
      { name: 'loadReportObject transactions', field: 'report.transactions', call: () => loadReportObject({ ...report, transactions: revoked() }) },
      { name: 'loadReportObject transactions[0]', field: 'report.transactions[0]', call: () => loadReportObject({ ...report, transactions: [revoked()] }) },
      { name: 'loadReportObject balances', field: 'report.balances', call: () => loadReportObject({ ...report, balances: revoked() }) },
      { name: 'validateReport balances[0]', field: 'report.balances[0]', call: () => validateReport({ ...report, balances: [revoked()] }, 'memory') },
      { name: 'readReportEntries report.report', field: 'report.report', call: () => readReportEntries({ report: revoked(), contentHash: 'a'.repeat(64), source: 'memory' }, () => {}) },
      { name: 'checkReportHeader balances', field: 'report.balances', call: () => checkReportHeader({ ...report, balances: revoked() }, 'memory') },
      { name: 'planDayReports summaries', field: 'summaries', call: () => planDayReports({ summaries: revoked(), day: DAY }) },
      { name: 'planDayReports summaries[0]', field: 'summaries[0]', call: () => planDayReports({ summaries: [revoked()], day: DAY }) },
      { name: 'planDayReports processedReportIds', field: 'processedReportIds', call: () => planDayReports({ summaries: [], day: DAY, processedReportIds: revoked() }) },
      { name: 'findDayReports summaries', field: 'summaries', call: () => findDayReports({ summaries: revoked(), day: DAY, source: 'defi' }) },
      { name: 'findDayReports summaries[0]', field: 'summaries[0]', call: () => findDayReports({ summaries: [revoked()], day: DAY, source: 'defi' }) },
      { name: 'findDayReports processedReportIds', field: 'processedReportIds', call: () => findDayReports({ summaries: [], day: DAY, source: 'defi', processedReportIds: revoked() }) },
      { name: 'computeSettlement flows', field: 'flows', call: () => computeSettlement({ currency: 'BTC', flows: revoked(), carriedInUnits: 0n, thresholdUnits: 0n }) },
      { name: 'computeSettlement flows.depositsUnits', field: 'flows.depositsUnits', call: () => computeSettlement({ currency: 'BTC', flows: { ...flows, depositsUnits: revoked() }, carriedInUnits: 0n, thresholdUnits: 0n }) },
      { name: 'diffDay report', field: 'report', call: () => diffDay({ ...diffInput, report: revoked() }) },
      { name: 'diffDay local', field: 'local', call: () => diffDay({ ...diffInput, local: revoked() }) },
      { name: 'diffDay projection', field: 'projection', call: () => diffDay({ ...diffInput, projection: revoked() }) },
      { name: 'syncProducts source', field: 'source', call: () => syncProducts({ source: revoked(), books, effectiveDay: DAY }) },
      { name: 'syncProducts books', field: 'books', call: () => syncProducts({ source, books: revoked(), effectiveDay: DAY }) },
      // A promise cannot resolve to a revoked proxy (it reads its `then`): a list whose reads throw stands for it.
      { name: 'syncProducts products', field: 'products', call: () => syncProducts({ source: { listProducts: async () => hostileList() }, books, effectiveDay: DAY }) },
      { name: 'syncProducts products[0]', field: 'products[0]', call: () => syncProducts({ source: { listProducts: async () => [revoked()] }, books, effectiveDay: DAY }) },
      { name: 'syncProducts products[0].product', field: 'products[0].product', call: () => syncProducts({ source: { listProducts: async () => [{ entityId: 'defi', product: revoked() }] }, books, effectiveDay: DAY }) },
      { name: 'bookThenRecord provider', field: 'provider', call: () => bookThenRecord({ ...booking, provider: revoked() }) },
      { name: 'bookThenRecord books', field: 'books', call: () => bookThenRecord({ ...booking, books: revoked() }) },
      { name: 'exportJournalCsv output', field: 'output', call: () => exportJournalCsv({ db: ledger.db, entity: 'defi', ...range, output: revoked() }) },
      { name: 'exportJournalCsv db', field: 'db', call: () => exportJournalCsv({ db: revoked(), entity: 'defi', ...range, output: output() }) },
      { name: 'exportBalancesCsv output', field: 'output', call: () => exportBalancesCsv({ db: ledger.db, entity: 'defi', day: DAY, output: revoked() }) },
      { name: 'exportBreaksCsv output', field: 'output', call: () => exportBreaksCsv({ db: ledger.db as never, entity: 'defi', ...range, output: revoked() }) },
      { name: 'exportSettlementsCsv output', field: 'output', call: () => exportSettlementsCsv({ db: ledger.db as never, entity: 'defi', ...range, output: revoked() }) },
      { name: 'exportHledgerJournal output', field: 'output', call: () => exportHledgerJournal({ db: ledger.db, entity: 'defi', ...range, output: revoked() }) },
      { name: 'exportHledgerJournal db', field: 'db', call: () => exportHledgerJournal({ db: revoked(), entity: 'defi', ...range, output: output() }) },
      { name: 'productTermsOf', field: 'product', call: async () => productTermsOf(revoked()) },
      { name: 'productTermsOf interest', field: 'product.interest', call: async () => productTermsOf({ ...product, interest: revoked() } as never) },
      { name: 'productTermsOf tiers[0]', field: 'product.interest.tiers[0]', call: async () => productTermsOf({ ...product, interest: { ...product.interest, tiers: [revoked()] } } as never) },
      { name: 'exportAudit db', field: 'db', call: () => exportAudit({ db: revoked(), entity: 'defi', ...range, directory: auditDirectory() }) },
      { name: 'exportAudit formats', field: 'formats', call: () => exportAudit({ db: ledger.db as never, entity: 'defi', ...range, directory: auditDirectory(), formats: revoked() }) },
      { name: 'exportAudit formats[0]', field: 'formats[0]', call: () => exportAudit({ db: ledger.db as never, entity: 'defi', ...range, directory: auditDirectory(), formats: listWithHostileFirst() }) },
      { name: 'exportAudit onProgress', field: 'onProgress', call: () => exportAudit({ db: ledger.db as never, entity: 'defi', ...range, directory: auditDirectory(), onProgress: revoked() }) },
      { name: 'exportAudit now', field: 'now', call: () => exportAudit({ db: ledger.db as never, entity: 'defi', ...range, directory: auditDirectory(), now: revoked() }) },
      { name: 'exportAudit directory getter', field: 'directory', call: () => exportAudit(withThrowingGetter({ db: ledger.db as never, entity: 'defi', ...range }, 'directory') as never) },
      { name: 'exportAudit pageSize getter', field: 'pageSize', call: () => exportAudit(withThrowingGetter({ db: ledger.db as never, entity: 'defi', ...range, directory: auditDirectory() }, 'pageSize') as never) },
    ];
  }

  it('a revoked proxy as the whole argument is invalid_input naming it, and nothing is written', async () => {
    const before = await snapshot();
    const faults: string[] = [];
    for (const call of wholeArgumentCalls(revoked)) {
      const fault = await faultOf(call);
      if (fault !== undefined) faults.push(fault);
    }
    expect(faults).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('a revoked proxy as a nested options object or list is invalid_input naming it, and nothing is written', async () => {
    const before = await snapshot();
    const faults: string[] = [];
    for (const call of nestedCalls()) {
      const fault = await faultOf(call);
      if (fault !== undefined) faults.push(fault);
    }
    expect(faults).toEqual([]);
    expect(await snapshot()).toBe(before);
    expect(existsSync(AUDIT_DIRECTORY)).toBe(false);
  });

  it('an argument whose getters throw is invalid_input naming it with the getter\'s error as cause, and nothing is written', async () => {
    const before = await snapshot();
    const faults: string[] = [];
    for (const call of wholeArgumentCalls(throwing)) {
      const fault = await faultOf(call, HostileGetterError);
      if (fault !== undefined) faults.push(fault);
    }
    expect(faults).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('a field whose getter throws is invalid_input naming that field, and nothing is written', async () => {
    const hostileField = <T extends object>(value: T, key: string): T =>
      Object.defineProperty({ ...value }, key, {
        enumerable: true,
        get() {
          throw new HostileGetterError(`hostile getter ${key}`);
        },
      });
    const loaded = loadReportObject(report);
    const calls: Call[] = [
      { name: 'reconcileDay report', field: 'report', call: () => reconciler.reconcileDay(hostileField({ entity: 'defi', day: DAY, report: loaded }, 'report')) },
      { name: 'reconcileDay report.report', field: 'report.report', call: () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: hostileField(loaded, 'report') }) },
      { name: 'reconcileDay transactions[0].amount', field: 'report.report.transactions[0].amount', call: () => reconciler.reconcileDay({ entity: 'defi', day: DAY, report: { ...loaded, report: { ...loaded.report, transactions: [hostileField(loaded.report.transactions[0] as object, 'amount')] } } as never }) },
      { name: 'resolveBreak reason', field: 'reason', call: () => reconciler.resolveBreak(hostileField({ breakId: 1, reason: 'r' }, 'reason')) },
      { name: 'breaks limit', field: 'limit', call: () => reconciler.breaks(hostileField({ entity: 'defi', limit: 1 }, 'limit')) },
      { name: 'confirm occurredAt', field: 'occurredAt', call: () => reconciler.confirm(hostileField({ instructionId: 1, occurredAt: '2025-03-19T00:00:00Z' }, 'occurredAt')) },
      { name: 'Reconciler.open wallets', field: 'wallets', call: () => Reconciler.open(hostileField({ books }, 'wallets')) },
      { name: 'loadReportObject transactions[0].amount', field: 'report.transactions[0].amount', call: () => loadReportObject({ ...report, transactions: [hostileField(report.transactions[0] as object, 'amount')] }) },
      { name: 'planDayReports summaries[0].type', field: 'summaries[0].type', call: () => planDayReports({ summaries: [hostileField({ id: 'r', accountingDay: DAY, createdAt: '2025-03-19T00:00:00Z' }, 'type')] as never, day: DAY }) },
      { name: 'computeSettlement thresholdUnits', field: 'thresholdUnits', call: () => computeSettlement(hostileField({ currency: 'BTC', flows: { depositsUnits: 1n, withdrawalsUnits: 0n, feesUnits: 0n, partnerMarginUnits: 0n }, carriedInUnits: 0n, thresholdUnits: 0n }, 'thresholdUnits')) },
      { name: 'bookThenRecord amount', field: 'amount', call: () => bookThenRecord(hostileField({ provider, books, kind: 'deposit', entity: 'defi', earnAccountId: 'acc-1', amount: '1', idempotencyKey: 'k-new' } as const, 'amount')) },
      { name: 'exportJournalCsv toDay', field: 'toDay', call: () => exportJournalCsv(hostileField({ db: ledger.db, entity: 'defi', ...range, output: output() }, 'toDay')) },
    ];
    const before = await snapshot();
    const faults: string[] = [];
    for (const call of calls) {
      const fault = await faultOf(call, HostileGetterError);
      if (fault !== undefined) faults.push(fault);
    }
    expect(faults).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('still reconciles the day after every refusal', async () => {
    const result = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: loadReportObject(report) });
    expect(result).toMatchObject({ entity: 'defi', day: DAY, reportStatus: 'created' });
  });
});

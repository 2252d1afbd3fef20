/**
 * The main job (`pnpm demo`): the whole daily life of an Earn integration in one run, on the
 * partner's own books (embedded SQLite by default) against the local sandbox started in-process
 * on loopback. See {@link runDemo}.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildReconcileSummary, renderSummaryHtml } from '@earnbook/cli';
import { EarnFacade } from '@earnbook/earn-client';
import type { EntityConfigInput } from '@earnbook/earn-client';
import { seededRandom, startSandbox } from '@earnbook/earn-sandbox';
import type { Sandbox } from '@earnbook/earn-sandbox';
import { accountingDaysBetween, formatInstant, nextAccountingDay, startOfAccountingDay } from '@earnbook/ledger';
import type { VerifyReport } from '@earnbook/ledger';
import type { Break } from '@earnbook/reconcile';
import { checkWithHledger } from '../../audit-export/src/audit-export.js';
import type { HledgerCheck } from '../../audit-export/src/audit-export.js';
import { EXIT_ERROR, runNightlyReconciliation } from '../../nightly-reconciliation/src/nightly.js';
import type { NightlyResult } from '../../nightly-reconciliation/src/nightly.js';
import { exportAudit } from '@earnbook/reconcile';
import type { AuditManifest } from '@earnbook/reconcile';
import { KeyedQueue } from '../lib/keyed-queue.js';
import { openPartnerBooks } from '../lib/partner-books.js';
import type { PartnerBooks } from '../lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { countersOf, makeUsers, planDay, queueOnboarding, queueOperation } from './activity.js';
import type { ActivityContext, ActivityCounters } from './activity.js';
import { EXPECTED_BREAK_KIND, countingFetch, injectFaults, newFaultRecords, publishScheduledRestatement } from './faults.js';
import type { FaultKind, FaultRecord, WireCounters } from './faults.js';
import { readDailySeries, readFigures } from './figures.js';
import type { CurrencyFigures, DailySeries } from './figures.js';
import type { DemoOptions } from './options.js';
import { demoProgress } from './progress.js';
import { renderDemoHtml } from './render.js';
import { DEMO_ENTITIES, DEMO_PRODUCTS, DEMO_SETTLEMENT_THRESHOLDS, DEMO_WALLETS } from './world.js';

/**
 * Deposits and withdrawals per end user per day: 0.2, about six bookings per user in a month,
 * a busy but plausible Earn customer base. With 1,000 users that is ~6,000 bookings a month.
 */
export const OPERATIONS_PER_USER_DAY = 0.2;
/** Times of day at which the day's operations are booked (the sandbox clock moves between them). */
export const SLOTS_PER_DAY = 6;
/** Provider calls in flight at once. */
export const CONCURRENCY_MAX = 8;
/** The client's retry settings in the demo: fast, because the sandbox is on loopback. */
export const DEMO_CLIENT_RETRIES: Partial<EntityConfigInput> = Object.freeze({ timeoutMs: 10_000, attemptsMax: 8, retryTotalMsMax: 30_000, retryDelayMsInitial: 2, retryDelayMsMax: 20 });

/** Files the demo writes into the output folder (earlier ones are replaced). */
export const DEMO_OUTPUT_NAMES = Object.freeze({ audit: 'audit', nights: 'nights', summaryHtml: 'summary.html', summaryJson: 'summary.json' });

/** Where the demo's output goes, and how it reports as it runs. */
export interface DemoIo {
  /** One line of output. */
  readonly log: (line: string) => void;
  /** Draw a progress bar (on stderr) instead of plain progress lines. */
  readonly progressBar: boolean;
}

/** What happened on one night, per entity. */
export interface NightRecord {
  readonly day: string;
  readonly entity: string;
  /** Versions of the day's report processed by the end of the night (2 after a restatement). */
  readonly reportVersions: number;
  readonly breaks: readonly { readonly id: number; readonly kind: Break['kind']; readonly resolution: string }[];
  readonly instructions: readonly { readonly currency: string; readonly direction: string; readonly amount: string; readonly transactionHash: string | null }[];
  /** The night's page, relative to the output folder. */
  readonly page: string;
}

/** The outcome of a run. */
export interface DemoResult {
  readonly options: DemoOptions;
  readonly days: readonly string[];
  readonly databaseDescription: string;
  readonly wallTimeMs: number;
  /** Wall time per phase (onboarding, bookings, provider cycle, nightly reconciliation, settlement, verify, audit export). */
  readonly phaseMs: Readonly<Record<string, number>>;
  readonly users: number;
  readonly counters: ReadonlyMap<string, ActivityCounters>;
  readonly figures: readonly CurrencyFigures[];
  /** The days of the charts: the run's days and the one after (the last night's credits). */
  readonly chartDays: readonly string[];
  /** Per (entity, currency): interest credited and the outstanding balance per day. */
  readonly daily: readonly DailySeries[];
  readonly nights: readonly NightRecord[];
  /** Per fault kind (only with `--faults`): what was injected and how it was caught. */
  readonly faults: readonly FaultRecord[];
  /** Breaks no injected fault explains (0 on a clean run). */
  readonly unexplainedBreaks: number;
  readonly wire: WireCounters;
  readonly verify: VerifyReport;
  /** Bookings per entity on the provider and in the partner's books (equal after the repairs). */
  readonly bookings: ReadonlyMap<string, { readonly provider: number; readonly partner: number }>;
  readonly manifest: AuditManifest;
  /** hledger's balances of the exported journal against the ledger's (or why not checked). */
  readonly hledger: HledgerCheck;
  readonly outputs: { readonly directory: string; readonly audit: string; readonly summaryHtml: string; readonly summaryJson: string; readonly nights: string };
}

/** A fake on-chain hash for a transfer of the demo's treasury (deterministic). */
function fakeTransactionHash(parts: readonly string[]): string {
  return `0x${createHash('sha256').update(parts.join('|')).digest('hex')}`;
}

const RESOLUTION_REASONS: Readonly<Partial<Record<Break['kind'], string>>> = Object.freeze({
  duplicate_in_report: 'the provider listed the same entry twice; our books hold it once, which is right',
  interest_mismatch: 'the provider credited interest that differs from our recomputation; raised with the provider',
  restated_entry: 'the provider restated an entry after we booked it; raised with the provider, our figure kept',
  amount_mismatch: 'amount differs from our booking; raised with the provider',
});

function prepareOutput(options: DemoOptions): void {
  mkdirSync(options.outDirectory, { recursive: true });
  for (const name of Object.values(DEMO_OUTPUT_NAMES)) rmSync(join(options.outDirectory, name), { recursive: true, force: true });
  const defaultDatabase = join(options.outDirectory, 'earnbook.sqlite');
  if (resolve(options.database) === defaultDatabase) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${defaultDatabase}${suffix}`, { force: true });
  } else if (!/^postgres(ql)?:\/\//i.test(options.database) && options.database !== ':memory:' && existsSync(options.database)) {
    // Never delete a file the demo did not make: the demo needs empty books.
    throw new Error(`--database ${options.database} already exists; the demo needs new books (remove it or name another file)`);
  }
}

/**
 * Runs the demo: starts the sandbox, opens the partner's books, syncs the products, onboards the
 * users, then for each day books the users' deposits and withdrawals, moves the provider's clock
 * past midnight (its cycle books interest and margin, settles and publishes the report) and runs
 * the partner's nightly job (fetch reports, reconcile, act on breaks, settle); at the end checks
 * the books, exports the audit files and writes the summaries.
 */
export async function runDemo(options: DemoOptions, io: DemoIo): Promise<DemoResult> {
  const started = performance.now();
  const days = accountingDaysBetween(options.startDay, options.startDay, { daysMax: 1 });
  for (let index = 1; index < options.days; index++) days.push(nextAccountingDay(days[days.length - 1] ?? options.startDay));
  const lastDay = days[days.length - 1] ?? options.startDay;
  prepareOutput(options);

  const random = seededRandom(options.seed);
  const sandbox: Sandbox = await startSandbox({
    timeZone: options.zone,
    products: DEMO_PRODUCTS.map(({ id, entity, name, currency, terms }) => ({ id, entity, name, currency, terms })),
    settlementThresholds: DEMO_SETTLEMENT_THRESHOLDS,
    seed: options.seed,
    startAt: new Date(startOfAccountingDay(options.startDay, options.zone).getTime() + 30 * 60_000),
  });
  let partner: PartnerBooks | undefined;
  const progress = demoProgress({ total: days.length + 2, bar: io.progressBar, log: io.log });
  const phases = new Map<string, number>();
  let phaseStarted = performance.now();
  /** Adds the time since the last call to `phase`. */
  const lap = (phase: string) => {
    const now = performance.now();
    phases.set(phase, (phases.get(phase) ?? 0) + (now - phaseStarted));
    phaseStarted = now;
  };
  try {
    partner = await openPartnerBooks({
      database: options.database,
      // The demo starts new books on every run, in a fresh schema when a PostgreSQL URL names none.
      ifMissing: 'create',
      unnamedSchema: 'fresh',
      entities: DEMO_ENTITIES.map((id) => ({ id, timeZone: options.zone })),
      reconcile: { settlementThresholds: DEMO_SETTLEMENT_THRESHOLDS, wallets: DEMO_WALLETS },
    });
    const { ledger, books, reconciler } = partner;
    progress.note(`earnbook demo: ${options.users} users, ${days.length} days ${options.startDay} → ${lastDay} in ${options.zone}, seed ${options.seed}${options.faults ? ', faults on' : ''}`);
    progress.note(`  provider: sandbox on ${sandbox.baseUrl} (in-process); partner books: ${partner.description}`);

    const wire: WireCounters = { requests: 0, serverErrors: 0, rateLimited: 0, unauthorized: 0, networkErrors: 0 };
    const clientOptions = { ...DEMO_CLIENT_RETRIES, fetch: countingFetch(wire) };
    const earn = new EarnFacade({ entities: Object.fromEntries(DEMO_ENTITIES.map((entity) => [entity, sandbox.clientConfig(entity, clientOptions)])) });
    const clients = Object.fromEntries(DEMO_ENTITIES.map((entity) => [entity, earn.entity(entity)]));

    // The partner's copy of the product list, and the end users.
    progress.update(0, 'products and onboarding');
    const products = await syncProducts({ source: earn, books, effectiveDay: options.startDay });
    const currencies = new Map(DEMO_ENTITIES.map((entity) => [entity, products.filter((product) => product.entity === entity).map((product) => product.currency).sort()]));
    const users = makeUsers({ count: options.users, products: DEMO_PRODUCTS, random });
    const context: ActivityContext = { earn, books, queue: new KeyedQueue({ concurrencyMax: CONCURRENCY_MAX }), inDoubt: new Set(), counters: new Map(), lostBookings: [] };
    for (const product of DEMO_PRODUCTS) countersOf(context.counters, product.entity, product.currency);
    queueOnboarding(context, users);
    await context.queue.drain();
    lap('onboarding');
    progress.note(`  onboarded ${users.length} end users: ${users.length * DEMO_ENTITIES.length} Earn users (one per entity), ${products.length} products synced`);

    const faultRecords = newFaultRecords();
    const nights: NightRecord[] = [];
    let unexplainedBreaks = 0;
    const caught = (kind: FaultKind, text: string) => {
      const record = faultRecords.get(kind);
      if (record !== undefined && record.caughtBy === null) record.caughtBy = text;
    };
    const explains = new Map(Object.entries(EXPECTED_BREAK_KIND).map(([fault, kind]) => [kind, fault as FaultKind]));
    mkdirSync(join(options.outDirectory, DEMO_OUTPUT_NAMES.nights), { recursive: true });

    for (const [dayIndex, day] of days.entries()) {
      progress.update(dayIndex + 1, `${day} bookings`);
      if (options.faults) injectFaults({ sandbox, records: faultRecords, dayIndex, day, phase: 'day', attemptsMax: DEMO_CLIENT_RETRIES.attemptsMax ?? 5 });
      const dayStartMs = startOfAccountingDay(day, options.zone).getTime();
      const dayEndMs = startOfAccountingDay(nextAccountingDay(day), options.zone).getTime();
      const operations = planDay({ day, count: Math.round(options.users * OPERATIONS_PER_USER_DAY), users, random });
      const slots = operations.map(() => Math.floor(random() * SLOTS_PER_DAY));
      for (let slot = 0; slot < SLOTS_PER_DAY; slot++) {
        const slotMs = dayStartMs + Math.floor(((dayEndMs - dayStartMs) * (slot + 0.5)) / SLOTS_PER_DAY);
        if (slotMs > sandbox.clock.now().getTime()) await sandbox.clock.advanceTo(new Date(slotMs));
        operations.forEach((operation, index) => {
          if (slots[index] === slot) queueOperation(context, day, operation);
        });
        await context.queue.drain();
      }

      lap('bookings');
      // Midnight: the provider's cycle (interest, margin, settlement, the day's report).
      progress.update(dayIndex + 1, `${day} provider cycle`);
      if (options.faults) injectFaults({ sandbox, records: faultRecords, dayIndex, day, phase: 'night', attemptsMax: DEMO_CLIENT_RETRIES.attemptsMax ?? 5 });
      const settledAt = new Date(dayEndMs);
      await sandbox.clock.advanceTo(new Date(dayEndMs + 5 * 60_000));

      lap('provider cycle');
      // The partner's nightly job.
      progress.update(dayIndex + 1, `${day} reconcile`);
      let night: NightlyResult = await runNightlyReconciliation({ books, reconciler, clients, day });
      if (night.exitCode === EXIT_ERROR) {
        const failed = night.entities.find((entity) => entity.error !== undefined);
        throw new Error(`the nightly job failed for ${failed?.entity ?? '?'} ${day}: ${failed?.error?.code ?? ''} ${failed?.error?.message ?? ''}`);
      }
      // An operator acts on the breaks. First a booking the provider made and our books lack is
      // booked from the report; the same job again (idempotent) then recomputes the day, which
      // closes the breaks that followed from it (its interest, margin, settlement figure), and
      // takes a restatement the provider published since the first run as the next version.
      // What remains needs the provider, not our books, to change: it is resolved with a reason.
      const firstNight = night;
      const resolutions = new Map<number, string>();
      let repaired = false;
      for (const entityNight of night.entities) {
        for (const found of entityNight.latest?.breaks ?? []) {
          if (found.kind !== 'missing_in_ledger') continue;
          await reconciler.repairMissingBooking({ breakId: found.id });
          if (found.earnAccountId !== null) context.inDoubt.delete(found.earnAccountId);
          resolutions.set(found.id, 'repaired: booked from the report (repairMissingBooking)');
          repaired = true;
          if (!options.faults) unexplainedBreaks++;
          caught('lost_response_gave_up', `missing_in_ledger break on ${day} (${entityNight.entity}) → ${resolutions.get(found.id) ?? ''}`);
        }
      }
      const restated = options.faults && (await publishScheduledRestatement({ sandbox, records: faultRecords, dayIndex, day }));
      if (repaired || restated) night = await runNightlyReconciliation({ books, reconciler, clients, day });
      for (const entityNight of night.entities) {
        if ((entityNight.latest?.reportVersion ?? 1) > 1) caught('restated_report', `report version ${entityNight.latest?.reportVersion ?? 2} of ${day} (${entityNight.entity}) processed as a restatement`);
        for (const found of entityNight.latest?.breaks ?? []) {
          const fault = explains.get(found.kind);
          if (!options.faults || fault === undefined) unexplainedBreaks++;
          const reason = RESOLUTION_REASONS[found.kind] ?? `resolved by the operator (${found.kind})`;
          await reconciler.resolveBreak({ breakId: found.id, reason });
          resolutions.set(found.id, `resolved: ${reason}`);
          if (fault !== undefined) caught(fault, `${found.kind} break on ${day} (${entityNight.entity}) → resolved with a reason`);
        }
      }
      for (const entityNight of firstNight.entities) {
        for (const found of entityNight.latest?.breaks ?? []) if (!resolutions.has(found.id)) resolutions.set(found.id, repaired ? 'closed by the re-run after the repair' : 'closed by the re-run (the restated report)');
      }

      lap('nightly reconciliation');
      // Treasury: pay what the partner owes, confirm what the provider sent.
      progress.update(dayIndex + 1, `${day} settle`);
      for (const entityNight of night.entities) {
        const instructions: NightRecord['instructions'][number][] = [];
        for (const instruction of await reconciler.instructions({ entity: entityNight.entity, day, status: 'pending' })) {
          const transactionHash = fakeTransactionHash([entityNight.entity, day, instruction.currency, instruction.direction, instruction.amount]);
          if (instruction.direction === 'to_provider') {
            await reconciler.markSent({ instructionId: instruction.id, transactionHash });
            await reconciler.confirm({ instructionId: instruction.id, occurredAt: settledAt });
          } else {
            await reconciler.confirm({ instructionId: instruction.id, occurredAt: settledAt, transactionHash });
          }
          instructions.push({ currency: instruction.currency, direction: instruction.direction, amount: instruction.amount, transactionHash });
        }
        // The night's page shows the first run, or the re-run when it took a restatement.
        const first = firstNight.entities.find((candidate) => candidate.entity === entityNight.entity) ?? entityNight;
        const shown = entityNight !== first && entityNight.latest?.reportStatus === 'created' ? entityNight : first;
        const result = shown.latest;
        const laterBreaks = shown === first ? [] : (result?.breaks ?? []);
        const nightBreaks = [...(first.latest?.breaks ?? []).filter((found) => !laterBreaks.some((later) => later.id === found.id)), ...laterBreaks];
        const page = join(DEMO_OUTPUT_NAMES.nights, `${day}-${entityNight.entity}.html`);
        if (result !== undefined) {
          writeFileSync(join(options.outDirectory, page), renderSummaryHtml(buildReconcileSummary({ result, generatedAt: formatInstant(new Date()) })));
        }
        nights.push({
          day,
          entity: entityNight.entity,
          reportVersions: result?.reportVersion ?? 0,
          breaks: nightBreaks.map((found) => ({ id: found.id, kind: found.kind, resolution: resolutions.get(found.id) ?? 'open' })),
          instructions,
          page,
        });
        if (nightBreaks.length > 0) progress.note(`  ${day} ${entityNight.entity}: ${nightBreaks.map((found) => `${found.kind} (${resolutions.get(found.id) ?? 'open'})`).join('; ')}`);
      }
      lap('settlement');
      if (!io.progressBar) {
        const booked = [...context.counters.values()].reduce((sum, counter) => sum + counter.bookings, 0);
        io.log(`  ${day}: ${operations.length} operations, ${booked} bookings so far; nightly job ${firstNight.exitCode === 0 ? 'clean' : 'found breaks'}`);
      }
    }

    // The end of the month: check everything and write the outputs.
    progress.update(days.length + 1, 'verify and export');
    lap('settlement');
    const verify = await ledger.verify({ allEntities: true });
    await sandbox.books.verify();
    if (sandbox.contractViolations.length > 0 || sandbox.internalErrors.length > 0) {
      throw new Error(`the sandbox answered outside the contract: ${sandbox.contractViolations.length} violations, ${sandbox.internalErrors.length} internal errors`);
    }
    const providerOutstanding = new Map<string, string>();
    const bookings = new Map<string, { provider: number; partner: number }>();
    for (const entity of DEMO_ENTITIES) {
      for (const balance of (await earn.entity(entity).getOutstandingBalances()).balances) providerOutstanding.set(`${entity} ${balance.currency}`, balance.outstandingBalance);
      const partnerCount = await ledger.db.selectFrom('earn_bookings').select((eb) => eb.fn.countAll<number>().as('n')).where('entity', '=', entity).executeTakeFirstOrThrow();
      bookings.set(entity, { provider: (await sandbox.books.bookings({ entity })).length, partner: Number(partnerCount.n) });
    }
    const figures = await readFigures({ ledger, books, reconciler, entities: DEMO_ENTITIES, currencies, providerOutstanding });
    // The charts run through the day after the last: the last night's interest is credited then.
    const chartDays = [...days, nextAccountingDay(lastDay)];
    const daily = await readDailySeries({ ledger, entities: DEMO_ENTITIES, currencies, days: chartDays });

    lap('verify');
    const counters = sandbox.faults.counters;
    if (options.faults) {
      const gaveUp = faultRecords.get('lost_response_gave_up');
      const record = (kind: FaultKind, injected: number, text: string | null) => {
        const value = faultRecords.get(kind);
        if (value === undefined) return;
        value.injected = injected;
        if (text !== null && injected > 0) caught(kind, text);
      };
      record('server_errors', counters.errors, wire.serverErrors > 0 ? `the client retried each 5xx answer (${wire.serverErrors} seen, lost-answer 502s included) with backoff and jitter; no call failed for it` : null);
      record('rate_limits', counters.rateLimited, wire.rateLimited > 0 ? `the client saw ${wire.rateLimited} 429 answers and retried after Retry-After` : null);
      const lostGaveUp = gaveUp?.day === null ? 0 : (DEMO_CLIENT_RETRIES.attemptsMax ?? 5);
      const recovered = Math.max(0, counters.lostResponses - lostGaveUp);
      const equal = [...bookings.values()].every((count) => count.provider === count.partner);
      record('lost_response_recovered', recovered, equal ? `the client retried with the same Idempotency-Key and the provider replayed the booking: ${[...bookings.values()].reduce((sum, count) => sum + count.partner, 0)} bookings on both sides, none twice` : null);
      record('lost_response_gave_up', context.lostBookings.length, null);
      record('early_token_expiry', counters.tokensRefused, wire.unauthorized > 0 ? `${wire.unauthorized} calls answered 401; the client dropped the token, fetched a new one and retried once` : null);
      for (const kind of ['duplicate_report_entry', 'interest_off_by_units', 'restated_report'] as const) {
        const value = faultRecords.get(kind);
        if (value !== undefined && value.day !== null) value.injected = 1;
      }
    }

    const outputs = {
      directory: options.outDirectory,
      audit: join(options.outDirectory, DEMO_OUTPUT_NAMES.audit),
      summaryHtml: join(options.outDirectory, DEMO_OUTPUT_NAMES.summaryHtml),
      summaryJson: join(options.outDirectory, DEMO_OUTPUT_NAMES.summaryJson),
      nights: join(options.outDirectory, DEMO_OUTPUT_NAMES.nights),
    };
    // The last night books its interest, margin and settlement on the next accounting day: the
    // export runs through that day so that it holds everything the run booked.
    const { manifest } = await exportAudit({ db: partner.db, allEntities: true, fromDay: options.startDay, toDay: nextAccountingDay(lastDay), directory: outputs.audit });
    // An independent check of the plain-text journal, when hledger is installed.
    const hledger = await checkWithHledger({ db: partner.db, directory: outputs.audit, fromDay: options.startDay, toDay: nextAccountingDay(lastDay) });
    lap('audit export');
    const result: DemoResult = {
      options,
      days,
      databaseDescription: partner.description,
      wallTimeMs: Math.round(performance.now() - started),
      phaseMs: Object.fromEntries([...phases].map(([phase, ms]) => [phase, Math.round(ms)])),
      users: users.length,
      counters: context.counters,
      figures,
      chartDays,
      daily,
      nights,
      faults: options.faults ? [...faultRecords.values()] : [],
      unexplainedBreaks,
      wire,
      verify,
      bookings,
      manifest,
      hledger,
      outputs,
    };
    writeFileSync(outputs.summaryJson, `${JSON.stringify(summaryJson(result), null, 2)}\n`);
    writeFileSync(outputs.summaryHtml, renderDemoHtml(result));
    progress.update(days.length + 2, 'done');
    return result;
  } finally {
    progress.stop();
    await partner?.close();
    await sandbox.close();
  }
}

/** The machine-readable summary (`summary.json`): exact amounts, every count. */
export function summaryJson(result: DemoResult): unknown {
  return {
    kind: 'earnbook_demo_summary',
    version: 1,
    options: { ...result.options },
    days: { from: result.days[0], to: result.days[result.days.length - 1], count: result.days.length },
    database: result.databaseDescription,
    wallTimeMs: result.wallTimeMs,
    phaseMs: result.phaseMs,
    users: result.users,
    activity: Object.fromEntries(result.counters),
    figures: result.figures,
    bookings: Object.fromEntries(result.bookings),
    faults: result.faults,
    unexplainedBreaks: result.unexplainedBreaks,
    wire: result.wire,
    verify: result.verify,
    nights: result.nights,
    hledger: result.hledger,
    audit: { directory: result.outputs.audit, files: result.manifest.files.map((file) => ({ name: file.name, rows: file.rows, bytes: file.bytes, sha256: file.sha256 })) },
  };
}

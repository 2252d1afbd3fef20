/**
 * Storing a day's breaks in bounded memory (`break-day-store.ts`): the drafts and the stored rows
 * merged group by group through sorters write exactly what the one in-memory plan over all of
 * them writes (`planBreakGroup` given every row and every draft, as the run did before), on both
 * dialects: same rows, same resolutions, same open breaks listed in the same order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { BREAK_KINDS, Reconciler, breakDraft, compareBreaks } from '../src/index.js';
import type { BreakDraft } from '../src/index.js';
import { planBreakGroup } from '../src/break-store.js';
import { storeDayBreaks } from '../src/break-day-store.js';
import { breakDraftKey, breakDraftSorter, breakGroupKey, mergeSortedBatches } from '../src/break-order.js';
import { compareKeys } from '../src/keys.js';
import { EarlierAmounts, earlierAmountsOf, withEarlierAmounts } from '../src/earlier-amounts.js';
import type { EarlierAmountTuple } from '../src/earlier-amounts.js';
import { breakFingerprint, entryKindOfDetails } from '../src/diff.js';
import type { ReportEntry } from '../src/report-entry.js';
import { ExternalSorter } from '../src/external-sort.js';
import * as repository from '../src/db/repository.js';
import type { BreakRow } from '../src/db/repository.js';
import type { BreakKind, ReconcileDatabase } from '../src/db/schema.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import type { DialectName } from '../../ledger/test/dialects.js';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';

const NOW = '2025-03-19T06:00:00.000Z';
const KINDS: readonly BreakKind[] = ['amount_mismatch', 'interest_mismatch', 'missing_in_report', 'approval_required', 'outstanding_balance_mismatch'];
const ENTRY_KINDS = [null, 'deposit', 'interest'] as const;

/** An identity and a figure, as the generator draws them (values small, so that identities meet). */
interface Drawn {
  readonly kind: BreakKind;
  readonly providerId: string | null;
  readonly earnAccountId: string | null;
  readonly currency: string | null;
  readonly entryKind: (typeof ENTRY_KINDS)[number];
  readonly figure: number;
  readonly transactionId: number;
}

const drawn = fc.record({
  kind: fc.constantFrom(...KINDS),
  providerId: fc.constantFrom(null, 'p1', 'p2', 'p\u0001x', 'p'),
  earnAccountId: fc.constantFrom(null, 'a1', 'a2'),
  currency: fc.constantFrom(null, 'BTC', 'ETH'),
  entryKind: fc.constantFrom(...ENTRY_KINDS),
  figure: fc.integer({ min: 1, max: 3 }),
  transactionId: fc.integer({ min: 1, max: 2 }),
});

/** A stored row as drawn: its status, who resolved it, and whether it keeps a fingerprint from before the entry kind was part of the identity. */
const storedRow = fc.record({ break: drawn, status: fc.constantFrom('open', 'resolved'), resolvedBy: fc.constantFrom('person', 'run'), legacy: fc.boolean() });

function draftOf(value: Drawn): BreakDraft {
  return breakDraft(value.kind, { providerId: value.providerId, earnAccountId: value.earnAccountId, currency: value.currency, entryKind: value.entryKind, expected: String(value.figure), actual: String(value.figure + 1), details: { transactionId: value.transactionId, ...(value.entryKind === null ? {} : { kind: value.entryKind }) } });
}

/** Rows to store, at most one open per fingerprint (the partial unique index). */
interface DrawnRow {
  readonly break: Drawn;
  readonly status: string;
  readonly resolvedBy: string;
  readonly legacy: boolean;
}

function rowsOf(entity: string, day: string, drawnRows: readonly DrawnRow[]) {
  const open = new Set<string>();
  return drawnRows.flatMap((row) => {
    const draft = draftOf(row.break);
    const legacy = row.legacy && draft.entryKind !== null;
    const fingerprint = legacy ? breakFingerprint({ ...draft, entryKind: null }) : draft.fingerprint;
    const details = legacy ? { transactionId: row.break.transactionId } : draft.details;
    if (row.status === 'open' && open.has(fingerprint)) return [];
    if (row.status === 'open') open.add(fingerprint);
    const resolved = row.status === 'resolved';
    return [
      {
        entity,
        accounting_day: day,
        kind: draft.kind,
        fingerprint,
        provider_id: draft.providerId,
        earn_account_id: draft.earnAccountId,
        currency: draft.currency,
        expected: draft.expected,
        actual: draft.actual,
        details: JSON.stringify(details),
        report_version: 1,
        status: resolved ? ('resolved' as const) : ('open' as const),
        resolved_by: resolved ? (row.resolvedBy as 'person' | 'run') : null,
        resolution_reason: resolved ? 'drawn' : null,
        resolution_transaction_id: null,
        created_at: NOW,
        resolved_at: resolved ? NOW : null,
      },
    ];
  });
}

/** The day's rows without their ids and day, in one order: what two days written alike share. */
async function dayState(db: Kysely<ReconcileDatabase>, entity: string, day: string): Promise<unknown[]> {
  const rows = await repository.selectBreaksOfDay(db, entity, day);
  return rows.map(({ id: _id, accounting_day: _day, ...rest }) => rest).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The reference: the one plan over every stored row and every draft (the drafts sorted as the run sorted them), written. */
async function storeInMemory(db: Kysely<ReconcileDatabase>, dialect: DialectName, input: { entity: string; day: string; sources: readonly BreakDraft[][] }): Promise<{ resolved: number; open: string[] }> {
  const rows: BreakRow[] = await repository.selectBreaksOfDay(db, input.entity, input.day);
  const drafts = input.sources.flat().sort(compareBreaks);
  const plan = planBreakGroup(rows, drafts, { entity: input.entity, day: input.day, version: 2, now: NOW });
  for (const { id, fingerprint } of plan.fingerprints) await repository.updateBreak(db, id, { fingerprint });
  for (const { id, ...values } of plan.updates) await repository.updateBreak(db, id, values);
  for (let start = 0; start < plan.inserts.length; start += 500) await repository.insertBreaks(db, plan.inserts.slice(start, start + 500), dialect);
  for (const { id, reason } of plan.resolutions) await repository.updateBreak(db, id, { status: 'resolved', resolved_by: 'run', resolution_reason: reason, resolved_at: NOW });
  return { resolved: plan.resolutions.length, open: plan.open.map((draft) => draft.fingerprint) };
}

async function sortersOf(sources: readonly BreakDraft[][], runSize?: number): Promise<ExternalSorter<BreakDraft>[]> {
  const sorters: ExternalSorter<BreakDraft>[] = [];
  for (const source of sources) {
    const sorter = runSize === undefined ? breakDraftSorter(undefined) : new ExternalSorter<BreakDraft>({ key: breakDraftKey, runSize });
    await sorter.addAll(source);
    sorters.push(sorter);
  }
  return sorters;
}

describe.each(DIALECTS)('storing a day of breaks through sorters, on %s', (dialect) => {
  let db: Kysely<ReconcileDatabase>;
  let close: () => Promise<void>;
  let days = 0;
  const nextDay = () => `2025-${String(1 + Math.floor(days / 28)).padStart(2, '0')}-${String(1 + (days++ % 28)).padStart(2, '0')}`;

  beforeAll(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    close = opened.close;
    await Reconciler.open({ books: new EarnBooks(opened.ledger) });
    db = repository.withReconcileTables(opened.ledger.db);
  });
  afterAll(async () => close());

  /** Stores the same rows on two days, the drafts by the sorters on one and in memory on the other; both must end alike. */
  async function compareBoth(input: { stored: readonly DrawnRow[]; sources: BreakDraft[][]; listMax: number; runSize?: number; pageRows?: number }) {
    const streamed = nextDay();
    const reference = nextDay();
    for (const day of [streamed, reference]) {
      const rows = rowsOf('defi', day, input.stored);
      for (let start = 0; start < rows.length; start += 500) await repository.insertBreaks(db, rows.slice(start, start + 500), dialect);
    }
    const expected = await storeInMemory(db, dialect, { entity: 'defi', day: reference, sources: input.sources });
    const sorters = await sortersOf(input.sources, input.runSize);
    try {
      const found = await storeDayBreaks(db, { entity: 'defi', day: streamed, drafts: sorters, version: 2, now: NOW, dialect, listMax: input.listMax, sortDirectory: undefined, ...(input.runSize === undefined ? {} : { runSize: input.runSize }), ...(input.pageRows === undefined ? {} : { pageRows: input.pageRows }) });
      expect(await dayState(db, 'defi', streamed)).toEqual(await dayState(db, 'defi', reference));
      expect(found.resolved).toBe(expected.resolved);
      expect(Object.values(found.counts).reduce((sum, count) => sum + count, 0)).toBe(expected.open.length);
      const open = (await repository.selectBreaksOfDay(db, 'defi', streamed)).filter((row) => row.status === 'open');
      const fingerprints = new Map(open.map((row) => [row.id, row.fingerprint]));
      expect(found.listed.map((listed) => fingerprints.get(listed.id))).toEqual(expected.open.slice(0, input.listMax));
      expect(found.listed.every((listed) => listed.status === 'open' && listed.accountingDay === streamed)).toBe(true);
      expect(Object.entries(found.counts).filter(([, count]) => count > 0)).toEqual(BREAK_KINDS.flatMap((kind) => (open.some((row) => row.kind === kind) ? [[kind, open.filter((row) => row.kind === kind).length]] : [])));
      expect(found.disputedCurrencies).toEqual([...new Set(open.filter((row) => row.kind === 'outstanding_balance_mismatch' && row.currency !== null).map((row) => row.currency))].sort());
    } finally {
      for (const sorter of sorters) await sorter.close();
    }
  }

  it('writes what the one in-memory plan writes, for any stored rows (open, resolved by a run or a person, from before the entry kind) and drafts from several sources', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storedRow, { maxLength: 12 }), fc.array(fc.array(drawn, { maxLength: 10 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 8 }), async (stored, sources, listMax) => {
        await compareBoth({ stored, sources: sources.map((source) => source.map(draftOf)), listMax });
      }),
      { numRuns: dialect === 'postgres' ? 40 : 100 },
    );
  });

  it('across sorter runs, stored-row pages and batches: 3,000 drafts in three sources over 2,400 stored rows, sorted in runs of 97 and read in pages of 250', async () => {
    const accounts = Array.from({ length: 1_200 }, (_, index) => `acct-${String(index).padStart(5, '0')}`);
    // Stored: every account's interest break open (half of them figures a person resolved), and a resolved one of another figure.
    const stored = accounts.flatMap((account, index) => [
      { break: { kind: 'interest_mismatch' as const, providerId: null, earnAccountId: account, currency: 'BTC', entryKind: null, figure: 1, transactionId: 1 }, status: index % 2 === 0 ? 'open' : 'resolved', resolvedBy: 'person', legacy: false },
      { break: { kind: 'interest_mismatch' as const, providerId: null, earnAccountId: account, currency: 'BTC', entryKind: null, figure: 2, transactionId: 1 }, status: 'resolved', resolvedBy: 'run', legacy: false },
    ]);
    // The run: two thirds of the accounts differ again (a third with a person's figure), and deposits missing.
    const interest = accounts.filter((_, index) => index % 3 !== 0).map((account, index) => draftOf({ kind: 'interest_mismatch', providerId: null, earnAccountId: account, currency: 'BTC', entryKind: null, figure: index % 3 === 0 ? 1 : 3, transactionId: 1 }));
    const deposits = Array.from({ length: 2_200 }, (_, index) => draftOf({ kind: 'missing_in_report', providerId: `dep-${index}`, earnAccountId: accounts[index % accounts.length] ?? null, currency: 'BTC', entryKind: 'deposit', figure: 1, transactionId: index }));
    const checks = [draftOf({ kind: 'outstanding_balance_mismatch', providerId: null, earnAccountId: null, currency: 'BTC', entryKind: null, figure: 5, transactionId: 0 })];
    await compareBoth({ stored, sources: [interest, deposits.reverse(), checks], listMax: 1_500, runSize: 97, pageRows: 250 });
  });
});

describe('mergeSortedBatches', () => {
  it('merges sorted streams into one sorted stream, an earlier stream first on equal keys, across batch edges', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.string({ maxLength: 3 }), { maxLength: 40 }), { maxLength: 4 }), fc.integer({ min: 1, max: 7 }), async (lists, batchSize) => {
        const streams = lists.map((list, stream) => {
          const sorted = [...list].sort().map((key, index) => ({ key, stream, index }));
          return (async function* () {
            for (let start = 0; start < sorted.length; start += 3) yield sorted.slice(start, start + 3);
          })();
        });
        const merged: { key: string; stream: number; index: number }[] = [];
        for await (const batch of mergeSortedBatches(streams, (item) => item.key, batchSize)) {
          expect(batch.length).toBeLessThanOrEqual(batchSize);
          merged.push(...batch);
        }
        const expected = lists.flatMap((list, stream) => [...list].sort().map((key, index) => ({ key, stream, index }))).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.stream - b.stream || a.index - b.index));
        expect(merged).toEqual(expected);
      }),
    );
  });
});

describe('breakDraftKey', () => {
  it('orders drafts as compareBreaks does, and a group key is a prefix of its drafts\' keys (fields with NUL, prefixes of each other, null)', () => {
    const text = fc.option(fc.string({ unit: fc.constantFrom('\u0000', '\u0001', 'a', 'b'), maxLength: 4 }));
    const identity = fc.record({ kind: fc.constantFrom(...BREAK_KINDS), providerId: text, earnAccountId: text, currency: text, entryKind: fc.constantFrom(...ENTRY_KINDS) });
    fc.assert(
      fc.property(identity, identity, (a, b) => {
        const x = breakDraft(a.kind, a);
        const y = breakDraft(b.kind, b);
        const order = compareBreaks(x, y);
        if (order !== 0) expect(Math.sign(compareKeys(breakDraftKey(x), breakDraftKey(y)))).toBe(Math.sign(order));
        expect(breakDraftKey(x).startsWith(breakGroupKey(x))).toBe(true);
        if (breakGroupKey(x) !== breakGroupKey(y)) expect(Math.sign(compareKeys(breakDraftKey(x), breakDraftKey(y)))).toBe(Math.sign(compareKeys(breakGroupKey(x), breakGroupKey(y))));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('the break store\'s statements on SQLite', () => {
  it('probes the day index per fingerprint (no status in the statement), and the primary key for batched updates and resolutions', async () => {
    const { db, dialect, native } = openSqliteDatabase({ filename: ':memory:' });
    const ledger = await Ledger.open({ storage: { db, dialect }, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      await Reconciler.open({ books: new EarnBooks(ledger) });
      const compiled = repository.breaksOfFingerprintsQuery(repository.withReconcileTables(db), { entity: 'defi', day: '2025-03-18', fingerprints: ['a', 'b'] }).compile();
      const plan = (native.prepare(`explain query plan ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as { detail: string }[]).map((row) => row.detail).join('\n');
      expect(plan).toMatch(/USING INDEX reconcile_breaks_day \(entity=\? AND accounting_day=\? AND fingerprint=\?\)/);
      // The batched figure updates and resolutions of 500 breaks probe the primary key (and not scan every break).
      const rows = Array.from({ length: 500 }, (_, index) => ({ id: index + 1, expected: '1', actual: '2', details: '{}', report_version: 2 }));
      for (const query of [repository.updateBreakFiguresQuery(rows), repository.resolveBreaksByRunQuery({ rows: rows.map(({ id }) => ({ id, reason: 'r' })), now: NOW })]) {
        const statement = query.compile(db);
        const steps = (native.prepare(`explain query plan ${statement.sql}`).all(...(statement.parameters as unknown[])) as { detail: string }[]).map((row) => row.detail);
        expect(steps).toContain('SEARCH reconcile_breaks USING INTEGER PRIMARY KEY (rowid=?)');
        expect(steps.filter((step) => step.startsWith('SCAN reconcile_breaks'))).toEqual([]);
      }
      // With `status = ?` added, SQLite walked `reconcile_breaks_status` over every open break of the day on the
      // nightly bench's books (225 ms against 3.4 ms for 500 fingerprints among 1M), though not on an empty one.
    } finally {
      await ledger.close();
    }
  });
});

describe.each(DIALECTS)('earlier versions\' amounts read in step with the report, on %s', (dialect) => {
  it('gives each report key the amounts the whole-day map gave it, across pages and sorter batches (6,200 stored breaks, keys absent from either side)', async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      await Reconciler.open({ books: new EarnBooks(opened.ledger) });
      const db = repository.withReconcileTables(opened.ledger.db);
      const day = '2025-03-18';
      const kinds = ['amount_mismatch', 'restated_entry', 'interest_mismatch'] as const;
      const rows = Array.from({ length: 6_200 }, (_, index) => {
        const providerId = `p-${String(index % 2_500).padStart(5, '0')}`;
        const kind = kinds[index % 3] ?? 'amount_mismatch';
        const entryKind = index % 4 === 0 ? null : 'interest';
        return {
          entity: 'defi', accounting_day: day, kind, fingerprint: `f-${index}`, provider_id: index % 97 === 0 ? null : providerId, earn_account_id: null, currency: 'BTC',
          expected: '1', actual: index % 89 === 0 ? null : `0.${index % 7}`, details: JSON.stringify(entryKind === null ? {} : { kind: entryKind }), report_version: 1 + (index % 4),
          status: 'resolved' as const, resolved_by: 'run' as const, resolution_reason: 'x', resolution_transaction_id: null, created_at: NOW, resolved_at: NOW,
        };
      });
      for (let start = 0; start < rows.length; start += 500) await repository.insertBreaks(db, rows.slice(start, start + 500), dialect);
      const version = 3;
      // The reference: the whole day's rows as one map, as the run built it before.
      const stored = await repository.selectBreaksOfDay(db, 'defi', day);
      const tuples: EarlierAmountTuple[] = stored.flatMap((row) => (row.kind === 'interest_mismatch' || row.report_version > version || row.provider_id === null || row.actual === null ? [] : [[row.provider_id, entryKindOfDetails(JSON.parse(row.details) as Record<string, unknown>), row.actual, row.kind as 'amount_mismatch', row.report_version, row.id] as EarlierAmountTuple]));
      const whole = earlierAmountsOf(tuples);
      // The report: every other key of the stored ones, some twice, and keys with no stored break, sorted by match key.
      const keys = [...Array.from({ length: 1_250 }, (_, index) => `p-${String(index * 2).padStart(5, '0')}`), 'a-first', 'p-99999', 'z-last'].sort();
      const entries = keys.flatMap((key, index) => Array.from({ length: 1 + (index % 2) }, () => ({ id: key, type: 'Interest' }) as unknown as ReportEntry));
      const earlier = await EarlierAmounts.read(db, { entity: 'defi', day, version, sortDirectory: undefined });
      const pending = new Map<string, Map<string, Map<string, 'amount_mismatch' | 'restated_entry'>>>();
      try {
        const batches = (async function* () {
          for (let start = 0; start < entries.length; start += 333) yield entries.slice(start, start + 333);
        })();
        let passed = 0;
        for await (const batch of withEarlierAmounts(batches, earlier, pending)) passed += batch.length;
        expect(passed).toBe(entries.length);
      } finally {
        await earlier.close();
      }
      for (const key of keys) {
        const expected = new Map([...whole].filter(([mapKey]) => (JSON.parse(mapKey) as unknown[])[0] === key));
        expect(pending.get(key) ?? new Map()).toEqual(expected);
      }
      expect(pending.size).toBeGreaterThan(1_000);
    } finally {
      await opened.close();
    }
  });
});

/**
 * The sync's Earn account lookups on a worker thread (`earn-lookups.ts`, SQLite file): the
 * worker finds what the write transaction finds; what it does not find is looked up again when
 * the entry is booked, so an Earn account it cannot see (opened in the transaction, or a worker
 * that finds nothing) still gets its interest booked, and an unknown one or one of another
 * currency still gets none; a worker that cannot start, fails or does not answer leaves the
 * lookups to this thread, says so once, and changes no outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import type { LedgerLogger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { lookupsInThisThread, lookupsInWorker } from '../src/earn-lookups.js';
import type { EarnLookups } from '../src/earn-lookups.js';
import type { LookupWorkerInput } from '../src/lookup-worker.js';
import { SyncQueue } from '../src/sync.js';
import type { SyncCounts, SyncEntry } from '../src/sync.js';

const ZONE = 'UTC';
const DAY = '2025-03-18';
const CREDITED_AT = '2025-03-19T00:00:00Z';
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: null };

function recordingLogger(): LedgerLogger & { warnings: Record<string, unknown>[]; counts: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const counts: Record<string, unknown>[] = [];
  return {
    warnings,
    counts,
    info() {},
    debug: (object: Record<string, unknown>) => void (object['event'] === 'reconcile.sync_lookups' && counts.push(object)),
    error() {},
    warn: (object: Record<string, unknown>) => void warnings.push(object),
  };
}

/** A stand-in worker (plain JavaScript, evaluated): ready, then it answers each request with `reply` (source of a function of the request). */
function stubStart(reply: string): (input: LookupWorkerInput) => Worker {
  const source = `
    const { workerData } = require('node:worker_threads');
    const port = workerData.port;
    const reply = ${reply};
    port.on('message', (request) => { const answer = reply(request); if (answer !== undefined) port.postMessage(answer); });
    port.postMessage({ ready: true });`;
  return (input) => new Worker(source, { eval: true, workerData: input, transferList: [input.port] });
}

/** Finds nothing, whatever it is asked. */
const FINDS_NOTHING = `(request) => ({ answer: { seq: request.seq, ledgerAccountIds: new Float64Array(request.ids.length).fill(NaN), currencyAt: new Uint16Array(request.ids.length), currencies: [] } })`;

describe('Earn account lookups on a worker thread (SQLite file)', () => {
  let directory: string;
  let booksFile: string;
  let ledger: Ledger;
  let books: EarnBooks;
  let logger: ReturnType<typeof recordingLogger>;
  const opened: EarnLookups[] = [];

  const openAccount = (i: number, currency = 'BTC') => books.openEarnAccount({ entity: 'defi', earnAccountId: `a${i}`, earnUserId: `u${i}`, providerProductId: currency.toLowerCase(), currency });

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-lookups-test-'));
    booksFile = join(directory, 'books.sqlite');
    logger = recordingLogger();
    ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: booksFile }), entities: [{ id: 'defi', timeZone: ZONE }], logger });
    books = new EarnBooks(ledger);
    for (const currency of ['BTC', 'ETH']) await books.recordProduct({ entity: 'defi', providerProductId: currency.toLowerCase(), currency, name: currency, effectiveDay: '2025-01-01', terms });
    for (let i = 0; i < 6; i++) {
      await books.registerUser({ partnerUserId: `p${i}`, earnUsers: [{ entity: 'defi', earnUserId: `u${i}` }] });
      if (i < 5) await openAccount(i, i === 4 ? 'ETH' : 'BTC');
    }
  });
  afterEach(async () => {
    for (const lookups of opened.splice(0)) await lookups.close();
    await ledger.close();
    rmSync(directory, { recursive: true, force: true });
  });

  function inWorker(start?: (input: LookupWorkerInput) => Worker, waitMs?: number, db: Ledger['db'] = ledger.db, databaseFile = booksFile) {
    const lookups = lookupsInWorker(ledger, { entity: 'defi', timeZone: ZONE, databaseFile, db, logger, ...(waitMs === undefined ? {} : { waitMs }) }, start);
    opened.push(lookups);
    return lookups;
  }

  const answers = async (lookups: EarnLookups, ids: readonly string[]) => {
    const answer = await lookups.lookup(ids);
    return { final: answer.final, accounts: ids.map((_, index) => answer.accountAt(index) ?? null) };
  };

  it('finds what the transaction finds, repeats and other currencies included; a miss is not final', async () => {
    const ids = ['a3', 'a0', 'nope', 'a4', 'a0', 'a1', '', 'a2'];
    const here = await answers(lookupsInThisThread(ledger, { entity: 'defi', db: ledger.db }), ids);
    expect(here.final).toBe(true);
    expect(here.accounts.filter((account) => account !== null)).toHaveLength(6);
    expect(here.accounts[3]?.currency).toBe('ETH');
    const lookups = inWorker();
    expect(await lookups.ready).toBe(true);
    const worker = await answers(lookups, ids);
    expect(worker).toEqual({ final: false, accounts: here.accounts });
    // Several in flight at once are answered each with its own.
    const [first, second] = await Promise.all([answers(lookups, ['a1', 'a2']), answers(lookups, ['a4'])]);
    expect(first.accounts).toEqual([here.accounts[5], here.accounts[7]]);
    expect(second.accounts).toEqual([here.accounts[3]]);
    expect(logger.warnings).toEqual([]);
  });

  /** Interest entries of the day: one per Earn account id, each of `currency`. */
  const interest = (accounts: readonly string[], currency = 'BTC'): SyncEntry[] =>
    accounts.map((accountId, i) => ({ entry: { id: `i-${accountId}-${i}`, type: 'Interest', currency, amount: '0.00000100', createdAt: CREDITED_AT, accountId }, alone: false }));

  /**
   * Syncs the entries through a sync queue in one write transaction, its lookups on a worker
   * (`start`, over `databaseFile`), which is waited for (ready, or failed) after the first
   * `readyAfter` entries are gathered; returns the counts booked and whether the worker was ready.
   */
  async function syncInTransaction(
    entries: readonly SyncEntry[],
    worker: { start?: (input: LookupWorkerInput) => Worker; waitMs?: number; databaseFile?: string } = {},
    options: { readyAfter: number; batchSize: number } = { readyAfter: 0, batchSize: 2 },
  ): Promise<{ counts: SyncCounts; ready: boolean }> {
    return ledger.transact(async (scope) => {
      const lookups = inWorker(worker.start, worker.waitMs, scope.db, worker.databaseFile);
      const queue = new SyncQueue(ledger, { entity: 'defi', scope, lookups });
      try {
        await queue.addAll(entries.slice(0, options.readyAfter));
        const ready = await lookups.ready;
        await queue.addAll(entries.slice(options.readyAfter));
        return { counts: await queue.book({ day: DAY, batchSize: options.batchSize }), ready };
      } finally {
        await queue.close();
      }
    });
  }

  /** {@link syncInTransaction} with the worker waited for first; returns the interest booked, and on which Earn accounts. */
  async function book(entries: readonly SyncEntry[], worker: Parameters<typeof syncInTransaction>[1] = {}): Promise<{ interest: number; accounts: string[] }> {
    const { counts } = await syncInTransaction(entries, worker);
    const rows = await ledger.db
      .selectFrom('journal_entries as e')
      .innerJoin('earn_accounts as ea', 'ea.ledger_account_id', 'e.account_id')
      .select('ea.earn_account_id')
      .where('e.provider_id', 'like', 'i-%')
      .orderBy('ea.earn_account_id')
      .execute();
    return { interest: counts.interest, accounts: rows.map((row) => row.earn_account_id) };
  }

  // a4 is an ETH account: BTC interest on it cannot be booked; a9 is unknown.
  const ENTRIES = interest(['a0', 'a1', 'a2', 'a3', 'a4', 'a9']);
  const EXPECTED = { interest: 4, accounts: ['a0', 'a1', 'a2', 'a3'] };

  it('books what it would book with the lookups in this thread', async () => {
    expect(await book(ENTRIES)).toEqual(EXPECTED);
    expect(logger.warnings).toEqual([]);
    // One lookup (six entries), answered by the worker; said once, when the queue closes the lookups.
    expect(logger.counts).toEqual([{ event: 'reconcile.sync_lookups', entity: 'defi', worker: 1, here: 0 }]);
  });

  it('books on the accounts a worker that finds nothing missed: they are looked up again in the transaction', async () => {
    expect(await book(ENTRIES, { start: stubStart(FINDS_NOTHING) })).toEqual(EXPECTED);
    expect(logger.warnings).toEqual([]);
  });

  it('books on an Earn account the books the worker reads lack (opened since)', async () => {
    const older = join(directory, 'older.sqlite');
    await sql`vacuum into ${older}`.execute(ledger.db);
    await openAccount(5);
    const worker = inWorker(undefined, undefined, ledger.db, older);
    expect(await worker.ready).toBe(true);
    expect(await answers(worker, ['a5', 'a0'])).toMatchObject({ final: false, accounts: [null, { currency: 'BTC' }] });
    expect(await book(interest(['a5', 'a0']), { databaseFile: older })).toEqual({ interest: 2, accounts: ['a0', 'a5'] });
    expect(logger.warnings).toEqual([]);
  });

  const failing: [string, (input: LookupWorkerInput) => Worker, number | undefined][] = [
    [
      'cannot start',
      () => {
        throw new Error('no threads today');
      },
      undefined,
    ],
    ['fails', stubStart(`(request) => ({ failed: 'disk on fire ' + request.seq })`), undefined],
    ['answers out of turn', stubStart(`(request) => ({ answer: { seq: request.seq + 7, ledgerAccountIds: new Float64Array(0), currencyAt: new Uint16Array(0), currencies: [] } })`), undefined],
    ['answers fewer accounts than it was asked for', stubStart(`(request) => ({ answer: { seq: request.seq, ledgerAccountIds: new Float64Array(0), currencyAt: new Uint16Array(0), currencies: [] } })`), undefined],
    ['does not answer', stubStart('() => undefined'), 200],
  ];

  it.each(failing)('looks up in this thread when the worker %s, says so once, and books the same', async (_, start, waitMs) => {
    const lookups = inWorker(start, waitMs);
    await lookups.ready;
    const first = await answers(lookups, ['a0', 'a9', 'a4']);
    expect(first.final).toBe(true);
    expect(first.accounts.map((account) => account?.currency ?? null)).toEqual(['BTC', null, 'ETH']);
    // Later lookups go straight to this thread.
    expect((await answers(lookups, ['a1'])).final).toBe(true);
    await lookups.close();
    expect(logger.counts).toEqual([{ event: 'reconcile.sync_lookups', entity: 'defi', worker: 0, here: 2 }]);
    expect(logger.warnings.map((warning) => warning['event'])).toEqual(['reconcile.lookup_worker_failed']);
    // In a transaction: its lookups in this thread read it.
    expect(await book(ENTRIES, { start, ...(waitMs === undefined ? {} : { waitMs }) })).toEqual(EXPECTED);
    expect(logger.warnings.map((warning) => warning['event'])).toEqual(['reconcile.lookup_worker_failed', 'reconcile.lookup_worker_failed']);
  });

  it('books the same over several batches when the worker comes in mid-gather, with margin and interest without an Earn account among them', async () => {
    // 2,400 interest entries over a0-a4 (a4: ETH) and the unknown a9, every seventh without an
    // Earn account, and a margin entry every 500: three lookup batches, the first in this thread
    // (the worker not yet ready), the next two answered by the worker.
    const entries: SyncEntry[] = [];
    for (let i = 0; i < 2_400; i++) {
      const accountId = ['a0', 'a1', 'a2', 'a3', 'a4', 'a9'][i % 6] as string;
      const entry = { id: `i-${i}`, type: 'Interest', currency: 'BTC', amount: '0.00000100', createdAt: CREDITED_AT };
      entries.push({ entry: i % 7 === 3 ? entry : { ...entry, accountId }, alone: false });
      if (i % 500 === 0) entries.push({ entry: { id: `m-${i}`, type: 'PartnerMargin', currency: 'BTC', amount: '0.00000001', createdAt: CREDITED_AT }, alone: false });
    }
    const bookable = entries.filter(({ entry }) => entry.type === 'Interest' && ['a0', 'a1', 'a2', 'a3'].includes(entry.accountId ?? ''));
    const { counts, ready } = await syncInTransaction(entries, {}, { readyAfter: 1_000, batchSize: 300 });
    expect(ready).toBe(true);
    expect(counts).toEqual({ interest: bookable.length, partnerMargin: 5, fee: 0 });
    const booked = await ledger.db.selectFrom('journal_entries').select('provider_id').where('provider_id', 'like', 'i-%').execute();
    expect(booked.map((row) => row.provider_id).sort()).toEqual(bookable.map(({ entry }) => entry.id).sort());
    expect(logger.counts).toEqual([{ event: 'reconcile.sync_lookups', entity: 'defi', worker: 2, here: 1 }]);
    expect(logger.warnings).toEqual([]);
  });

  it('starts no worker when closed before `after` settles', async () => {
    let started = 0;
    let release: () => void = () => undefined;
    const after = new Promise<void>((resolve) => (release = resolve));
    const lookups = lookupsInWorker(ledger, { entity: 'defi', timeZone: ZONE, databaseFile: booksFile, db: ledger.db, logger, after }, (input) => {
      started++;
      return stubStart(FINDS_NOTHING)(input);
    });
    // Before it starts, lookups are made in this thread.
    expect((await answers(lookups, ['a0'])).final).toBe(true);
    await lookups.close();
    release();
    expect(await lookups.ready).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toBe(0);
    expect(logger.warnings).toEqual([]);
  });

  it('starts the worker once `after` settles, and answers there from then on', async () => {
    let release: () => void = () => undefined;
    const after = new Promise<void>((resolve) => (release = resolve));
    const lookups = lookupsInWorker(ledger, { entity: 'defi', timeZone: ZONE, databaseFile: booksFile, db: ledger.db, logger, after }, stubStart(FINDS_NOTHING));
    opened.push(lookups);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await answers(lookups, ['a0'])).final).toBe(true);
    release();
    expect(await lookups.ready).toBe(true);
    expect(await answers(lookups, ['a0'])).toEqual({ final: false, accounts: [null] });
  });
});

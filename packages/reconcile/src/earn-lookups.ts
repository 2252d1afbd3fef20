/**
 * The sync's Earn account lookups (`sync.ts`): which ledger account and currency each interest
 * entry's Earn account has. In this thread they are queries in the day's write transaction; on a
 * SQLite file, when the run uses worker threads, a worker answers them on its own connection
 * while this thread goes on gathering. better-sqlite3 is synchronous, so in this thread the
 * night's 1M lookups held it ~3.5 s while the other core sat idle (profile, 1M accounts).
 *
 * What the worker answers holds for the transaction too. An Earn account it finds is one the
 * transaction sees, unchanged: Earn account rows are never updated or deleted (triggers,
 * migration 0012), and the worker reads commits only, which the write transaction sees (it holds
 * SQLite's write lock, or it could not write). An Earn account it does not find may have been
 * opened since (or in the transaction): such an answer is not final, and the entry is queued
 * without its account, for the booking's own lookup in the transaction (`decideBookings`).
 *
 * The worker is only a faster way to the same answers: before it is ready, and once it has
 * failed or not answered within `waitMs`, the lookups are made in this thread (a failure is
 * logged once).
 */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { earnAccountsByIds } from '@earnbook/ledger';
import type { Ledger, LedgerDatabase, LedgerLogger } from '@earnbook/ledger';
import type { LookupWorkerAnswer, LookupWorkerInput, LookupWorkerOutput, LookupWorkerRequest } from './lookup-worker.js';
import { WORKER_WAIT_MS_DEFAULT, answerWithin, failureMessage, startWorkerModule } from './worker-start.js';

/** An Earn account as the sync books on it. */
export interface EarnAccountRef {
  readonly ledgerAccountId: number;
  readonly currency: string;
}

/**
 * The answer to one lookup: the Earn account of each id asked for (by position), or undefined.
 * `final`: whether an id without an account has none in the transaction either.
 */
export interface EarnLookupAnswer {
  readonly accountAt: (index: number) => EarnAccountRef | undefined;
  readonly final: boolean;
}

/** Where the sync looks its Earn accounts up; {@link close} once done. */
export interface EarnLookups {
  /** Starts a lookup of `ids` (repeats allowed, at most `PROVIDER_LOOKUP_IDS_MAX`); its answer never rejects before it is awaited. */
  lookup(ids: readonly string[]): Promise<EarnLookupAnswer>;
  close(): Promise<void>;
}

/** Lookups in this thread, in `db` (the write transaction): every answer is final. */
export function lookupsInThisThread(ledger: Ledger, input: { entity: string; db: Kysely<LedgerDatabase> }): EarnLookups {
  return {
    lookup: (ids) => lookupHere(ledger, input, ids),
    close: async () => undefined,
  };
}

async function lookupHere(ledger: Ledger, input: { entity: string; db: Kysely<LedgerDatabase> }, ids: readonly string[]): Promise<EarnLookupAnswer> {
  const found = await earnAccountsByIds(ledger, { entity: input.entity, earnAccountIds: ids }, input.db);
  return { accountAt: (index) => found.get(ids[index] as string), final: true };
}

function fromWorker(answer: LookupWorkerAnswer): EarnLookupAnswer {
  const { ledgerAccountIds, currencyAt, currencies } = answer;
  return {
    accountAt: (index) => {
      const ledgerAccountId = ledgerAccountIds[index] as number;
      return Number.isNaN(ledgerAccountId) ? undefined : { ledgerAccountId, currency: currencies[currencyAt[index] as number] as string };
    },
    final: false,
  };
}

function startLookupWorker(input: LookupWorkerInput): Worker {
  return startWorkerModule('lookup-worker', input, undefined, [input.port]);
}

/** A lookup asked of the worker and not yet answered. */
interface Asked {
  readonly seq: number;
  readonly answer: (reply: LookupWorkerAnswer | { readonly failed: string }) => void;
}

/** What {@link lookupsInWorker} is given. */
export interface WorkerLookupsInput {
  readonly entity: string;
  readonly timeZone: string;
  readonly databaseFile: string;
  /** The write transaction: where this thread looks up what the worker does not answer. */
  readonly db: Kysely<LedgerDatabase>;
  readonly logger: LedgerLogger;
  /** How long an answer is waited for once needed; default {@link WORKER_WAIT_MS_DEFAULT}. Past it the worker is stopped (logged). */
  readonly waitMs?: number;
  /** When the worker starts (a promise that never rejects): until it is ready, lookups are made in this thread. Default: at once. */
  readonly after?: Promise<void>;
}

/** The worker and its port: requests answered in order, a failure answering what is still awaited. */
class WorkerLookups implements EarnLookups {
  /** Whether the worker came to answer lookups (false once it failed, or was closed, first). */
  readonly ready: Promise<boolean>;
  readonly #here: EarnLookups;
  readonly #input: WorkerLookupsInput;
  readonly #port: MessagePort;
  readonly #asked: Asked[] = [];
  #settleReady: (ready: boolean) => void = () => undefined;
  #isReady = false;
  #failure: string | undefined;
  #closed = false;
  #seq = 0;
  #worker: Worker | undefined;
  /** Lookups the worker answered, and those made in this thread (logged at debug on close). */
  #answered = { worker: 0, here: 0 };

  constructor(ledger: Ledger, input: WorkerLookupsInput, start: (input: LookupWorkerInput) => Worker) {
    this.#input = input;
    this.#here = lookupsInThisThread(ledger, input);
    this.ready = new Promise((resolve) => (this.#settleReady = resolve));
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#port.on('message', (message: LookupWorkerOutput) => this.#handle(message));
    // `after` should not reject (see the input); if it does, the lookups stay in this thread.
    void (input.after ?? Promise.resolve()).then(() => {
      if (this.#closed) return;
      try {
        const worker = start({ databaseFile: input.databaseFile, entity: input.entity, timeZone: input.timeZone, port: channel.port2 });
        this.#worker = worker;
        worker.once('error', (error: unknown) => this.#fail(failureMessage(error)));
        worker.once('exit', (code) => this.#fail(`the worker exited with code ${code}`));
      } catch (error) {
        this.#fail(failureMessage(error));
      }
    }, () => this.#settleReady(false));
  }

  #handle(message: LookupWorkerOutput): void {
    if ('ready' in message) {
      this.#isReady = true;
      this.#settleReady(true);
    } else if ('failed' in message) this.#fail(message.failed);
    else if (this.#asked[0]?.seq === message.answer.seq) this.#asked.shift()?.answer(message.answer);
    else this.#fail(`the worker answered lookup ${message.answer.seq} out of turn`);
  }

  /**
   * Handles what the worker has posted, without waiting: the sync runs in microtasks (the SQLite
   * driver is synchronous), and a message event waits for the event loop.
   */
  #drain(): void {
    for (let message = receiveMessageOnPort(this.#port); message !== undefined; message = receiveMessageOnPort(this.#port)) this.#handle(message.message as LookupWorkerOutput);
  }

  /** Stops using the worker (logged once, unless closed): what it was asked is looked up here. */
  #fail(message: string): void {
    if (this.#failure !== undefined) return;
    this.#failure = message;
    this.#settleReady(false);
    this.#input.logger.warn({ event: 'reconcile.lookup_worker_failed', entity: this.#input.entity, reason: message }, `the Earn account lookups' worker thread failed (${message}); looked up in this thread`);
    for (const waiting of this.#asked.splice(0)) waiting.answer({ failed: message });
    void this.#worker?.terminate().catch(() => undefined);
  }

  lookup(ids: readonly string[]): Promise<EarnLookupAnswer> {
    this.#drain();
    if (!this.#isReady || this.#failure !== undefined) {
      this.#answered.here++;
      return this.#here.lookup(ids);
    }
    const seq = this.#seq++;
    const reply = new Promise<LookupWorkerAnswer | { readonly failed: string }>((answer) => this.#asked.push({ seq, answer }));
    this.#port.postMessage({ seq, ids } satisfies LookupWorkerRequest);
    return (async () => {
      this.#drain();
      const answer = await answerWithin(reply, this.#input.waitMs ?? WORKER_WAIT_MS_DEFAULT);
      if ('ok' in answer) this.#fail(answer.message);
      // Closed while asked (the sync is being torn down): nobody reads the answer.
      if ('failed' in answer && this.#closed) throw new Error('the Earn account lookups were closed');
      if ('seq' in answer && (answer.ledgerAccountIds.length !== ids.length || answer.currencyAt.length !== ids.length)) {
        this.#fail(`the worker answered ${answer.ledgerAccountIds.length} accounts for ${ids.length} ids`);
      } else if ('seq' in answer) {
        this.#answered.worker++;
        return fromWorker(answer);
      }
      this.#answered.here++;
      return this.#here.lookup(ids);
    })();
  }

  async close(): Promise<void> {
    const first = !this.#closed;
    this.#closed = true;
    this.#failure ??= 'closed';
    this.#settleReady(false);
    for (const waiting of this.#asked.splice(0)) waiting.answer({ failed: 'closed' });
    this.#port.close();
    await this.#worker?.terminate();
    if (first) this.#input.logger.debug({ event: 'reconcile.sync_lookups', entity: this.#input.entity, ...this.#answered }, `Earn account lookups: ${this.#answered.worker} answered by the worker thread, ${this.#answered.here} in this thread`);
  }
}

/**
 * Lookups on a worker thread over the SQLite file `databaseFile` (see the module comment), with
 * this thread's lookups in `db` as the fallback. `start`: how the worker is started (tests give
 * one that fails on purpose).
 */
export function lookupsInWorker(ledger: Ledger, input: WorkerLookupsInput, start: (input: LookupWorkerInput) => Worker = startLookupWorker): EarnLookups & { readonly ready: Promise<boolean> } {
  return new WorkerLookups(ledger, input, start);
}

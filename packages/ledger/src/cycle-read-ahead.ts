/**
 * Read-ahead for the accounting cycle on a SQLite file: a worker thread reads and computes the
 * next batch of accounts (`readCycleBatch`, on its own read-only connection) while this thread
 * books the current one. better-sqlite3 is synchronous, so without it the run's one thread did
 * both in turn: at 300k accounts the read was 1.8 s of the run's 7.8 s (profile).
 *
 * A batch read ahead is booked only if the books it was read from are the ones the run's write
 * transaction sees. Its accounts come after every account booked before it (the run goes in
 * account order), and the run itself writes only to accounts it has booked, the system accounts
 * and rows of the credited day, none of which the batch reads. So only a write by someone else
 * can make it stale, and that write must come between two of the run's transactions: during one,
 * the run holds the file's write lock and the connection. The run reads a write mark (`data_version`:
 * commits of other connections; `total_changes()`: writes through its own connection, whoever in
 * this process made them) at the end of each transaction and at the start of the next; a batch
 * read ahead for the next transaction is booked only if the two are equal, else it is read again
 * in the transaction. A worker that fails or answers a failure leaves the run reading in its own
 * thread, as without it.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { CycleBatch, CycleItem, CycleLine, CycleProduct } from './cycle-read.js';
import type { BulkAccountRow } from './db/journal-bulk.js';
import type { Amount } from './money.js';
import type { LedgerLogger } from './logger.js';

/** What the worker is started with (plain data, and the port it answers on). */
export interface ReadAheadStart {
  readonly port: MessagePort;
  readonly databaseFile: string;
  readonly entity: string;
  readonly day: string;
  readonly batchSize: number;
  readonly products: readonly CycleProduct[];
}

/**
 * A column of texts that repeat (an entity, a currency, a kind): each distinct text once, and
 * per row its index. Posting the rows as objects cost the run's thread ~4 ms per batch of 1,000
 * to receive (their keys and shapes are copied with every row); as columns, less.
 */
interface RepeatedColumn {
  readonly texts: readonly string[];
  readonly at: Uint16Array;
}

function repeatedColumn(values: readonly string[]): RepeatedColumn | readonly string[] {
  const index = new Map<string, number>();
  const at = new Uint16Array(values.length);
  for (let row = 0; row < values.length; row++) {
    const value = values[row] as string;
    let known = index.get(value);
    if (known === undefined) {
      // Too many distinct texts for the index: posted as they are.
      if (index.size === 0xffff) return values;
      known = index.size;
      index.set(value, known);
    }
    at[row] = known;
  }
  return { texts: [...index.keys()], at };
}

function columnValue(column: RepeatedColumn | readonly string[], row: number): string {
  return 'texts' in column ? (column.texts[column.at[row] as number] as string) : (column[row] as string);
}

/** A {@link CycleBatch} as columns (see {@link RepeatedColumn}): what the worker posts. */
export interface PackedCycleBatch {
  readonly lastId: number | undefined;
  readonly more: boolean;
  readonly items: {
    readonly ledgerAccountId: Float64Array;
    readonly earnAccountId: readonly string[];
    readonly providerProductId: RepeatedColumn | readonly string[];
    readonly currency: RepeatedColumn | readonly string[];
    readonly balance: readonly string[];
    readonly userInterest: readonly string[];
    readonly partnerMargin: readonly string[];
    readonly userResidue: readonly string[];
    readonly marginResidue: readonly string[];
    readonly interestUnits: readonly bigint[];
    readonly marginUnits: readonly bigint[];
    readonly hasResidues: Uint8Array;
  };
  readonly accounts: {
    readonly id: Float64Array;
    readonly entity: RepeatedColumn | readonly string[];
    readonly currency: RepeatedColumn | readonly string[];
    readonly code: readonly string[];
    readonly kind: RepeatedColumn | readonly string[];
    readonly normalSide: RepeatedColumn | readonly string[];
    readonly balance: readonly string[];
    /** The empty text for a null day (a day is never empty). */
    readonly lastDay: RepeatedColumn | readonly string[];
    readonly entryCount: Float64Array;
  };
}

/** A batch as columns; {@link unpackCycleBatch} gives it back (account rows: the ledger's columns only). */
export function packCycleBatch(batch: CycleBatch): PackedCycleBatch {
  const items = batch.items;
  const lines = items.map((item) => item.line);
  const rows = [...batch.accounts.values()];
  // A null last day (an account never posted to) is posted as the empty text: a day is never empty.
  const lastDays = rows.map((row) => row.last_day ?? '');
  return {
    lastId: batch.lastId,
    more: batch.more,
    items: {
      ledgerAccountId: Float64Array.from(lines, (line) => line.ledgerAccountId),
      earnAccountId: lines.map((line) => line.earnAccountId),
      providerProductId: repeatedColumn(lines.map((line) => line.providerProductId)),
      currency: repeatedColumn(lines.map((line) => line.currency)),
      balance: lines.map((line) => line.balance),
      userInterest: lines.map((line) => line.userInterest),
      partnerMargin: lines.map((line) => line.partnerMargin),
      userResidue: lines.map((line) => line.userResidue),
      marginResidue: lines.map((line) => line.marginResidue),
      interestUnits: items.map((item) => item.interestUnits),
      marginUnits: items.map((item) => item.marginUnits),
      hasResidues: Uint8Array.from(items, (item) => (item.hasResidues ? 1 : 0)),
    },
    accounts: {
      id: Float64Array.from(rows, (row) => row.id),
      entity: repeatedColumn(rows.map((row) => row.entity)),
      currency: repeatedColumn(rows.map((row) => row.currency)),
      code: rows.map((row) => row.code),
      kind: repeatedColumn(rows.map((row) => row.kind)),
      normalSide: repeatedColumn(rows.map((row) => row.normal_side)),
      balance: rows.map((row) => row.balance),
      lastDay: repeatedColumn(lastDays),
      entryCount: Float64Array.from(rows, (row) => row.entry_count),
    },
  };
}

/** The batch {@link packCycleBatch} packed. */
export function unpackCycleBatch(packed: PackedCycleBatch): CycleBatch {
  const { items: columns, accounts: rows } = packed;
  const items: CycleItem[] = [];
  for (let row = 0; row < columns.ledgerAccountId.length; row++) {
    const line: CycleLine = {
      earnAccountId: columns.earnAccountId[row] as string,
      ledgerAccountId: columns.ledgerAccountId[row] as number,
      providerProductId: columnValue(columns.providerProductId, row),
      currency: columnValue(columns.currency, row),
      balance: columns.balance[row] as Amount,
      userInterest: columns.userInterest[row] as Amount,
      partnerMargin: columns.partnerMargin[row] as Amount,
      userResidue: columns.userResidue[row] as string,
      marginResidue: columns.marginResidue[row] as string,
    };
    items.push({ line, interestUnits: columns.interestUnits[row] as bigint, marginUnits: columns.marginUnits[row] as bigint, hasResidues: columns.hasResidues[row] === 1 });
  }
  const accounts = new Map<number, BulkAccountRow>();
  for (let row = 0; row < rows.id.length; row++) {
    const id = rows.id[row] as number;
    const lastDay = columnValue(rows.lastDay, row);
    accounts.set(id, {
      id,
      entity: columnValue(rows.entity, row),
      currency: columnValue(rows.currency, row),
      code: rows.code[row] as string,
      kind: columnValue(rows.kind, row),
      normal_side: columnValue(rows.normalSide, row) as BulkAccountRow['normal_side'],
      balance: rows.balance[row] as string,
      last_day: lastDay === '' ? null : lastDay,
      entry_count: rows.entryCount[row] as number,
    });
  }
  return { items, accounts, lastId: packed.lastId, more: packed.more };
}

/** A request: the batch of accounts after `afterId`. */
export interface ReadAheadRequest {
  readonly afterId: number;
}

/** The worker's answer to a request. */
export type ReadAheadAnswer = { readonly afterId: number; readonly ok: true; readonly batch: PackedCycleBatch } | { readonly afterId: number; readonly ok: false; readonly message: string };

/** When a run reads ahead: `auto` once it has read `CYCLE_READ_AHEAD_AFTER_ACCOUNTS` accounts; `always` from its start (it waits for the worker); `never`. */
export type CycleReadAheadMode = 'auto' | 'always' | 'never';

export const CYCLE_READ_AHEAD_MODES: readonly CycleReadAheadMode[] = Object.freeze(['auto', 'always', 'never']);

/** Starts the worker module beside this one (from the TypeScript sources through tsx's loader, as the workspace's tests run). */
function startWorker(start: ReadAheadStart): Worker {
  const options = { workerData: start, transferList: [start.port] };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./cycle-read-ahead-worker.js', import.meta.url), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./cycle-read-ahead-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, ...options });
}

/** One request in flight, with the tag of when it was made (the run's transaction). */
interface InFlight {
  readonly afterId: number;
  readonly tag: string;
  readonly answer: Promise<ReadAheadAnswer>;
}

/** The read-ahead of one run: at most one request in flight. */
export class CycleReadAhead {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #logger: LedgerLogger;
  readonly #context: { readonly entity: string; readonly day: string };
  #inFlight: InFlight | undefined;
  #failed = false;
  #closed = false;
  /** Whether the worker has opened the books: no request is made before (the run does not wait for its start). */
  #ready = false;
  /** Answers waiting for their request's promise, in order (the worker answers in order). */
  readonly #waiting: ((answer: ReadAheadAnswer) => void)[] = [];
  /** Batches read ahead and booked, and those read again (their mark moved). */
  taken = 0;
  stale = 0;

  constructor(start: Omit<ReadAheadStart, 'port'>, logger: LedgerLogger) {
    this.#logger = logger;
    this.#context = { entity: start.entity, day: start.day };
    // Answers come on a port of their own, read without waiting (receiveMessageOnPort) as well
    // as by its event: the run books in microtasks (the SQLite driver is synchronous), and a
    // worker's message event would wait for the event loop, which the run reaches only when it
    // waits for an answer.
    this.ready = new Promise((resolve) => {
      this.#whenReady = resolve;
    });
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#port.on('message', (message: ReadAheadAnswer | 'ready') => this.#handle(message));
    this.#worker = startWorker({ ...start, port: channel.port2 });
    const fail = (message: string) => {
      this.#fail(message);
      for (const resolve of this.#waiting.splice(0)) resolve({ afterId: -1, ok: false, message });
    };
    this.#worker.on('error', (error: unknown) => fail(error instanceof Error ? error.message : String(error)));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) fail(`the read-ahead worker exited (code ${code})`);
    });
  }

  #handle(message: ReadAheadAnswer | 'ready'): void {
    if (message === 'ready') {
      this.#ready = true;
      this.#whenReady();
    } else this.#waiting.shift()?.(message);
  }

  /** Settles once the worker has opened the books, or failed. */
  readonly ready: Promise<void>;
  #whenReady: () => void = () => {};

  /** Stops using the worker for the rest of the run (logged as a warning with `reason`). */
  abandon(reason: string): void {
    this.#inFlight = undefined;
    this.#fail(reason);
  }

  /** Handles what the worker has posted so far, without waiting. */
  #drain(): void {
    for (let message = receiveMessageOnPort(this.#port); message !== undefined; message = receiveMessageOnPort(this.#port)) this.#handle(message.message as ReadAheadAnswer | 'ready');
  }

  #fail(message: string): void {
    this.#whenReady();
    if (this.#failed) return;
    this.#failed = true;
    this.#logger.warn({ event: 'cycle.read_ahead_failed', entity: this.#context.entity, day: this.#context.day, reason: message }, `the cycle's read-ahead worker failed (${message}): the run reads its batches itself`);
  }

  /** Asks for the batch after `afterId`; `tag` says when (the run's transaction), for {@link take}. */
  request(afterId: number, tag: string): void {
    this.#drain();
    if (!this.#ready || this.#failed || this.#closed || this.#inFlight !== undefined) return;
    const answer = new Promise<ReadAheadAnswer>((resolve) => this.#waiting.push(resolve));
    this.#port.postMessage({ afterId } satisfies ReadAheadRequest);
    this.#inFlight = { afterId, tag, answer };
  }

  /**
   * The batch after `afterId` if it was asked for under a tag `accept` takes, and read: else
   * undefined (then the caller reads it). A request for another batch or under another tag is
   * awaited and dropped (the worker answers in order).
   */
  async take(afterId: number, accept: (tag: string) => boolean): Promise<CycleBatch | undefined> {
    const inFlight = this.#inFlight;
    if (inFlight === undefined) return undefined;
    this.#inFlight = undefined;
    this.#drain();
    const answer = await inFlight.answer;
    if (!answer.ok) {
      this.#fail(answer.message);
      return undefined;
    }
    if (inFlight.afterId !== afterId || answer.afterId !== afterId) return undefined;
    if (!accept(inFlight.tag)) {
      this.stale++;
      return undefined;
    }
    this.taken++;
    return unpackCycleBatch(answer.batch);
  }

  /** Stops the worker (its answer in flight, if any, is dropped). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inFlight = undefined;
    this.#port.close();
    await this.#worker.terminate();
  }
}

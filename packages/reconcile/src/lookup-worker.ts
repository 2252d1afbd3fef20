/**
 * The worker thread of {@link lookupsInWorker} (`earn-lookups.ts`): opens the SQLite books on its
 * own connection (no migration, nothing written), posts that it is ready, then answers each
 * request for the Earn accounts of a list of Earn account ids, in the order asked, through the
 * ledger's read API (`earnAccountsByIds`). A failure is posted as such and ends the worker; the
 * thread that started it then looks the accounts up itself.
 */
import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { earnAccountsByIds } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { openWorkerBooks } from './worker-start.js';

/** What the worker is given: the books, and the port it answers on (its requests come there too). */
export interface LookupWorkerInput {
  readonly databaseFile: string;
  readonly entity: string;
  readonly timeZone: string;
  readonly port: MessagePort;
}

/** One request: Earn account ids (repeats allowed), at most the ledger's `PROVIDER_LOOKUP_IDS_MAX`. */
export interface LookupWorkerRequest {
  readonly seq: number;
  readonly ids: readonly string[];
}

/**
 * The answer to a request, aligned with its ids: the ledger account of the i-th id (NaN when the
 * books the worker read hold no such Earn account) and its currency, as an index into `currencies`.
 * Columns, not an object per id: posted with its buffers transferred, it costs the receiving
 * thread next to nothing.
 */
export interface LookupWorkerAnswer {
  readonly seq: number;
  readonly ledgerAccountIds: Float64Array<ArrayBuffer>;
  readonly currencyAt: Uint16Array<ArrayBuffer>;
  readonly currencies: readonly string[];
}

/** What the worker posts: ready once, then an answer per request, or a failure (its last message). */
export type LookupWorkerOutput = { readonly ready: true } | { readonly answer: LookupWorkerAnswer } | { readonly failed: string };

/** Answers one request. A text that cannot be indexed in a Uint16Array (65,536 currencies) fails it. */
async function answerLookup(ledger: Ledger, entity: string, request: LookupWorkerRequest): Promise<LookupWorkerAnswer> {
  const found = await earnAccountsByIds(ledger, { entity, earnAccountIds: request.ids });
  const ledgerAccountIds = new Float64Array(request.ids.length).fill(Number.NaN);
  const currencyAt = new Uint16Array(request.ids.length);
  const currencies: string[] = [];
  const indexOf = new Map<string, number>();
  request.ids.forEach((id, at) => {
    const account = found.get(id);
    if (account === undefined) return;
    let index = indexOf.get(account.currency);
    if (index === undefined) {
      index = currencies.push(account.currency) - 1;
      if (index > 0xffff) throw new Error('assertion: more currencies in one lookup than a Uint16Array indexes');
      indexOf.set(account.currency, index);
    }
    ledgerAccountIds[at] = account.ledgerAccountId;
    currencyAt[at] = index;
  });
  return { seq: request.seq, ledgerAccountIds, currencyAt, currencies };
}

async function run(input: LookupWorkerInput): Promise<void> {
  const { port } = input;
  const fail = (error: unknown) => port.postMessage({ failed: error instanceof Error ? error.message : String(error) } satisfies LookupWorkerOutput);
  let ledger: Ledger;
  try {
    ledger = await openWorkerBooks(input);
  } catch (error) {
    fail(error);
    return;
  }
  // One request at a time, in the order they came: better-sqlite3 answers each synchronously.
  let turn = Promise.resolve();
  let failed = false;
  port.on('message', (request: LookupWorkerRequest) => {
    turn = turn.then(async () => {
      if (failed) return;
      try {
        const answer = await answerLookup(ledger, input.entity, request);
        port.postMessage({ answer } satisfies LookupWorkerOutput, [answer.ledgerAccountIds.buffer, answer.currencyAt.buffer]);
      } catch (error) {
        failed = true;
        fail(error);
      }
    });
  });
  port.postMessage({ ready: true } satisfies LookupWorkerOutput);
}

if (workerData !== null && typeof workerData === 'object' && 'port' in workerData) void run(workerData as LookupWorkerInput);

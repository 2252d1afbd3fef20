/**
 * The accounting cycle's read-ahead worker (see `cycle-read-ahead.ts`): it opens the SQLite file
 * on a connection of its own, to read only, and answers each request with the batch of accounts
 * after the given id, read and computed as the run would (`readCycleBatch`).
 */
import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { cycleReaderOf, readCycleBatch } from './cycle-read.js';
import type { CycleReader } from './cycle-read.js';
import { openSqliteDatabase } from './db/sqlite/index.js';
import { packCycleBatch } from './cycle-read-ahead.js';
import type { ReadAheadAnswer, ReadAheadRequest, ReadAheadStart } from './cycle-read-ahead.js';

/** The worker connection's SQLite page cache, in KiB (the run's own connection keeps the large one). */
const WORKER_PAGE_CACHE_KIB = 8 * 1024;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

async function serve(start: ReadAheadStart): Promise<void> {
  const port: MessagePort = start.port;
  let storage: ReturnType<typeof openSqliteDatabase> | undefined;
  let reader: CycleReader | undefined;
  let failure: string | undefined;
  try {
    storage = openSqliteDatabase({ filename: start.databaseFile });
    storage.native.pragma(`cache_size = -${WORKER_PAGE_CACHE_KIB}`);
    reader = cycleReaderOf(start);
  } catch (error) {
    failure = messageOf(error);
  }
  // Ready: the run posts requests only from now on (it reads the batches itself until then).
  port.postMessage('ready');
  // Requests are answered one at a time, in order: the run has at most one in flight.
  let queue = Promise.resolve();
  port.on('message', (request: ReadAheadRequest) => {
    queue = queue.then(async () => {
      let answer: ReadAheadAnswer;
      if (failure !== undefined || storage === undefined || reader === undefined) answer = { afterId: request.afterId, ok: false, message: failure ?? 'not started' };
      else {
        try {
          answer = { afterId: request.afterId, ok: true, batch: packCycleBatch(await readCycleBatch(storage.db, reader, request.afterId, 'book')) };
        } catch (error) {
          answer = { afterId: request.afterId, ok: false, message: messageOf(error) };
        }
      }
      port.postMessage(answer);
    });
  });
}

void serve(workerData as ReadAheadStart);

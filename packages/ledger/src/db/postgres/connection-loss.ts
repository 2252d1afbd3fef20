/**
 * A PostgreSQL connection the server ends (a restart, `pg_terminate_backend`, a network cut) must
 * neither crash the process nor reach the caller as an untyped driver error.
 *
 * `pg` emits an `'error'` event on a client whose connection ends while no query of it runs, and
 * the pool re-emits it for an idle client: an `'error'` event without a listener is thrown by
 * Node as an uncaught exception, which ends the process. The pool's listener logs it (the pool
 * has already dropped the client and opens a new one when needed), and each client's listener
 * keeps the error: a client checked out by a transaction learns of it only at its next
 * statement, which `pg` fails with "Client has encountered a connection error and is not
 * queryable", the server's own reason lost. The statements of the pool's clients are run here so
 * that such a failure carries that reason, and so that one that ends a unit of work (a statement
 * outside a transaction, or the transaction's `COMMIT` or `ROLLBACK`, whose error is the one
 * Kysely rethrows) is a `LedgerError` `connection_lost` a caller may retry.
 *
 * A failure of a statement *inside* a transaction stays an untyped error (carrying the reason):
 * the ledger reads a `LedgerError` there as a refusal decided before anything was written, and the
 * transaction must not be taken as able to go on.
 */
import type { Pool, PoolClient } from 'pg';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import { redactConnectionString } from '../../connection-string.js';
import { LedgerError } from '../../errors.js';
import { SILENT_LEDGER_LOGGER } from '../../logger.js';
import type { LedgerLogger } from '../../logger.js';

/**
 * SQLSTATEs of a connection the server ended or refused: class 08 (connection exception),
 * `57P01` admin shutdown (`pg_terminate_backend`, a fast shutdown), `57P02` crash shutdown,
 * `57P03` cannot connect now (starting up or shutting down).
 */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
/** Node's codes of a socket that went away under the driver. */
const SOCKET_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** What `pg` says of a connection that ended without a server message, or of a client already broken. */
const DRIVER_CONNECTION_MESSAGES = [/^Connection terminated/, /^Client has encountered a connection error and is not queryable/, /^Client was closed and is not queryable/];

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Whether an error of the driver says the connection is gone (not that a statement failed). */
export function isConnectionFailure(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && (CONNECTION_SQLSTATES.has(code) || code.startsWith('08') || SOCKET_ERROR_CODES.has(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return DRIVER_CONNECTION_MESSAGES.some((pattern) => pattern.test(message));
}

/** The driver's error as a log field: its code and message only (a pool's error carries its client, whose settings hold the password). */
function loggedError(error: unknown): Record<string, unknown> {
  return { code: codeOf(error), message: redactConnectionString(error instanceof Error ? error.message : String(error)) };
}

/** The typed error a caller gets for a unit of work whose connection was lost; `cause` the server's (or the socket's) reason. */
export function connectionLostError(reason: unknown): LedgerError {
  const said = redactConnectionString(reason instanceof Error ? reason.message : String(reason));
  return new LedgerError(
    'connection_lost',
    `the connection to PostgreSQL was lost (${said}): the statement or transaction did not complete and is rolled back by the server (unless the connection broke during its COMMIT, when it may have committed); the pool opens a new connection, so the operation may be retried (postings are idempotent by key)`,
    { field: 'storage', value: 'postgres', cause: reason },
  );
}

/** The error of a statement inside a transaction whose connection was lost: not a `LedgerError` (see the module's comment), with the reason as `cause`. */
export class ConnectionLostInTransaction extends Error {
  override readonly name = 'ConnectionLostInTransaction';

  constructor(reason: unknown) {
    super(`the connection to PostgreSQL was lost in a transaction (${redactConnectionString(reason instanceof Error ? reason.message : String(reason))})`, { cause: reason });
  }
}

/** The longest transaction control statement Kysely sends (`start transaction isolation level repeatable read, read only`, with room). */
const TRANSACTION_STEP_LENGTH_MAX = 128;

/** The statement starts a transaction, ends it, or neither (savepoints are inside one). */
function transactionStep(text: string): 'begin' | 'end' | undefined {
  // Transaction control is a short statement: a long one (every insert and select) is neither.
  if (text.length > TRANSACTION_STEP_LENGTH_MAX) return undefined;
  const head = text.trimStart().slice(0, 24).toLowerCase();
  if (head.startsWith('begin') || head.startsWith('start transaction')) return 'begin';
  if (head === 'commit' || head === 'rollback' || head.startsWith('commit ') || (head.startsWith('rollback') && !head.startsWith('rollback to'))) return 'end';
  return undefined;
}

/**
 * Watches the pool: logs connection errors of idle clients (never throws), keeps the error of any
 * client whose connection ended, and returns the pool Kysely is given, whose clients' statements
 * report a lost connection as described in this module's comment.
 */
export function watchConnections(pool: Pool): { readonly pool: PostgresPool; readonly logTo: (logger: LedgerLogger) => void } {
  let logger: LedgerLogger = SILENT_LEDGER_LOGGER;
  const lost = new WeakMap<PoolClient, unknown>();
  pool.on('error', (error) => {
    try {
      logger.warn(
        { event: 'ledger.postgres.connection_lost', err: loggedError(error) },
        `an idle PostgreSQL connection of the pool was ended (${loggedError(error)['message'] as string}); the pool opens a new one when one is needed`,
      );
    } catch {
      // A logger that throws has nowhere left to report to; the process must go on.
    }
  });
  pool.on('connect', (client) => {
    // Keeps the first reason (the server's message comes before the socket's end).
    client.on('error', (error) => {
      if (!lost.has(client)) lost.set(client, error);
    });
  });
  const wrapped = new WeakMap<PoolClient, PostgresPoolClient>();
  const wrap = (client: PoolClient): PostgresPoolClient => {
    let inTransaction = false;
    const failed = (step: 'begin' | 'end' | undefined, error: unknown): never => {
      const unitEnds = !inTransaction || step === 'end';
      if (step === 'end') inTransaction = false;
      if (!isConnectionFailure(error) && !lost.has(client)) throw error;
      // The statement's own error when it names the cause; else the reason the client kept.
      const reason = codeOf(error) !== undefined || !lost.has(client) ? error : lost.get(client);
      if (!lost.has(client)) lost.set(client, reason);
      throw unitEnds ? connectionLostError(reason) : new ConnectionLostInTransaction(reason);
    };
    // No async frame and no copy of the parameters per statement (Kysely passes a fresh array):
    // the wrapper with both cost 5-10 % of `ledger_post_concurrent_postgres`.
    const query = (text: string, parameters: unknown[]) => {
      const step = transactionStep(text);
      return client.query(text, parameters).then(
        (result) => {
          if (step !== undefined) inTransaction = step === 'begin';
          return result;
        },
        (error: unknown) => failed(step, error),
      );
    };
    return {
      query: query as unknown as PostgresPoolClient['query'],
      release: () => {
        inTransaction = false;
        client.release();
      },
    };
  };
  return {
    pool: {
      connect: async () => {
        const client = await pool.connect();
        let kept = wrapped.get(client);
        if (kept === undefined) {
          kept = wrap(client);
          wrapped.set(client, kept);
        }
        return kept;
      },
      end: () => pool.end(),
    },
    logTo: (next: LedgerLogger) => {
      logger = next;
    },
  };
}

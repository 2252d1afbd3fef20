/**
 * A PostgreSQL connection the server ends (a restart, `pg_terminate_backend`): the process goes
 * on (no unhandled `'error'` event), the pool opens a new connection for the next call, the
 * ledger's logger is told, and a unit of work that lost its connection fails with a typed
 * `connection_lost` (the server's reason as `cause`, no connection string), having written nothing.
 *
 * Only this test's own connections are ended: its pool runs under an `application_name` of its
 * own, and the backends are found by it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError } from '../src/index.js';
import type { LedgerAccount, LedgerLogger, PostingInput } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL, dropSchema } from './dialects.js';
import { snapshotDatabase } from './support/snapshot.js';

/** A logger that keeps what is warned. */
function recordingLogger(): LedgerLogger & { warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return { warnings, info() {}, debug() {}, error() {}, warn: (fields: Record<string, unknown>) => void warnings.push(fields) };
}

/** `url` with an application_name of its own (added to its query string). */
function withApplicationName(url: string, name: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${name}`;
}

/** Ends every backend of this test's pool (and only those); answers how many. */
async function terminateOwnBackends(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const result = await client.query<{ ended: string }>('select count(pg_terminate_backend(pid)) as ended from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()', [applicationName]);
    return Number(result.rows[0]?.ended ?? 0);
  } finally {
    await client.end();
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(DIALECTS.includes('postgres'))('a PostgreSQL connection ended by the server', () => {
  const applicationName = `earnbook_drop_${randomBytes(5).toString('hex')}`;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const connectionString = withApplicationName(PG_URL, applicationName);
  let ledger: Ledger;
  let logger: ReturnType<typeof recordingLogger>;
  let funds: LedgerAccount;
  let user: LedgerAccount;
  const deposit = (amount: string, key: string): PostingInput => ({
    entity: 'defi',
    kind: 'deposit',
    idempotencyKey: key,
    occurredAt: '2025-03-18T10:00:00Z',
    entries: [
      { accountId: funds.id, side: 'debit', amount },
      { accountId: user.id, side: 'credit', amount },
    ],
  });

  beforeEach(async () => {
    logger = recordingLogger();
    const storage = await openPostgresDatabase({ connectionString, schema, poolSizeMax: 3 });
    ledger = await Ledger.open({ storage: { db: storage.db, dialect: storage.dialect, schema: storage.schema }, entities: [{ id: 'defi', timeZone: 'UTC' }], logger });
    funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    user = await ledger.openAccount({ entity: 'defi', currency: 'BTC', code: 'user:a', kind: 'user' });
    await ledger.post(deposit('1.5', 'first'));
  });
  afterEach(async () => {
    await ledger.close();
    await dropSchema(schema);
  });

  it('while idle in the pool: the process goes on, the logger is told, the next call opens a new connection', async () => {
    expect(await terminateOwnBackends(applicationName)).toBeGreaterThan(0);
    await eventually(() => logger.warnings.length > 0, 'the pool to report the ended connection');
    expect(logger.warnings[0]).toMatchObject({ event: 'ledger.postgres.connection_lost', err: { code: '57P01' } });
    // The log names no connection string (nor the pool's client, whose settings hold it).
    expect(JSON.stringify(logger.warnings)).not.toContain('postgres://');
    expect(await ledger.balance(user.id)).toBe('1.500000000000000000');
    await ledger.post(deposit('2', 'second'));
    expect(await ledger.balance(user.id)).toBe('3.500000000000000000');
  });

  it('between two statements of a write transaction: connection_lost with the server’s reason, nothing written, the next write works', async () => {
    const before = await snapshotDatabase(ledger.db as never);
    const failure = await ledger
      .transact(async (scope) => {
        await scope.post(deposit('2', 'in-flight-1'));
        // The transaction's connection is idle (checked out, no statement running) when it ends.
        expect(await terminateOwnBackends(applicationName)).toBeGreaterThan(0);
        await new Promise((resolve) => setTimeout(resolve, 100));
        await scope.post(deposit('3', 'in-flight-2'));
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(LedgerError);
    expect(failure).toMatchObject({ code: 'connection_lost', field: 'storage' });
    expect(String(failure)).toMatch(/terminating connection/);
    expect((failure as Error).cause).toMatchObject({ code: '57P01' });
    expect(String(failure)).not.toContain('postgres://');
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    // The pool opens a new connection: the retried posting is booked once.
    expect((await ledger.post(deposit('2', 'in-flight-1'))).status).toBe('created');
    expect(await ledger.balance(user.id)).toBe('3.500000000000000000');
  });

  it('during a statement outside a transaction: connection_lost, and the next statement works', async () => {
    const running = sql`select pg_sleep(5)`.execute(ledger.db).then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await terminateOwnBackends(applicationName)).toBeGreaterThan(0);
    const failure = await running;
    expect(failure).toBeInstanceOf(LedgerError);
    expect(failure).toMatchObject({ code: 'connection_lost', field: 'storage' });
    expect(String(failure)).toMatch(/terminating connection/);
    // The pool's idle connections were ended too: once it has dropped them, the next call opens a new one.
    await eventually(() => logger.warnings.length > 0, 'the pool to report its ended idle connections');
    expect(await ledger.balance(user.id)).toBe('1.500000000000000000');
  });
});

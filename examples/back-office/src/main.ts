/**
 * Runs the back-office service against an in-process sandbox, on loopback:
 *
 *   pnpm --filter @earnbook/examples back-office [-- --port 3000 --database back-office.sqlite]
 *
 * Books `--database` already holds are reopened in the zones they keep, with the sandbox in those
 * zones; new books are started in the sandbox's zone (UTC).
 * It prints curl commands to try. Stop it with Ctrl-C. Against the real Earn API, build the
 * `EarnFacade` from your two credential sets instead of `sandbox.clientConfig(...)`.
 *
 * Exit codes: 0 when stopped (SIGINT, SIGTERM); 1 when it cannot start (the `--port` is in use,
 * the database cannot be opened); 2 for bad input (a `--port` that is not a whole number from 0
 * to 65535, an unknown flag, a `--database` that is no path or URL). Flags and the port are
 * checked before the database is opened, so a refused start creates and writes nothing. A typed
 * failure is one line on stderr, `earnbook back office: <code>: <message>`, without a stack trace
 * and without a PostgreSQL password.
 */
import { createServer } from 'node:net';
import { CliError } from '@earnbook/cli';
import { EarnFacade } from '@earnbook/earn-client';
import { resolveSandboxOptions, startSandbox } from '@earnbook/earn-sandbox';
import { accountingDayOf } from '@earnbook/ledger';
import { openOrStartBooks } from '../../src/lib/partner-books.js';
import { parseScriptFlags, reportScriptFailure } from '../../src/lib/script-cli.js';
import { syncProducts } from '@earnbook/reconcile';
import { buildBackOffice } from './back-office.js';

/** Typed codes that mean the input is at fault (exit 2); every other code is exit 1. */
const BAD_INPUT_CODES: ReadonlySet<string> = new Set(['invalid_flag', 'invalid_config', 'invalid_input', 'unknown_time_zone', 'unknown_entity']);
/** The service listens on loopback only. */
const HOST = '127.0.0.1';
const PORT_MAX = 65_535;

/** The `--port` cannot be bound; the one startup failure no package has a typed error for. */
class PortUnavailableError extends Error {
  override readonly name = 'PortUnavailableError';
  readonly code = 'port_unavailable';
  readonly field = '--port';
  readonly value: string;

  constructor(port: number, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? `is in use on ${HOST}: stop what listens there or give another --port`
        : code === 'EACCES'
          ? `on ${HOST} needs privileges this process does not have: give a port from 1024`
          : `cannot be bound on ${HOST}: ${cause instanceof Error ? cause.message : String(cause)}`;
    super(`--port ${port} ${reason}`, { cause });
    this.value = String(port);
  }
}

interface Flags {
  readonly port: number;
  readonly database: string;
}

/** Refuses a `--port` that is not a whole number from 0 (any free port) to 65535. */
function checkPort(port: string): number {
  // Number() would take ' 80', '0x50', '1e3' and '1.5' (which listen refuses with a stack trace).
  const value = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (!(value <= PORT_MAX)) throw new CliError('invalid_flag', `--port must be a whole number from 0 to ${PORT_MAX}, got ${JSON.stringify(port)}`, { field: '--port', value: port });
  return value;
}

/**
 * Parses the flags (`src/lib/script-cli.ts`): an unknown flag, a stray argument, a flag without
 * its value or one given twice is `invalid_flag` on one line; `--port -1` is a bad port, named
 * with its value.
 */
function parseFlags(argv: readonly string[]): Flags {
  const values = parseScriptFlags({ argv, options: { port: { type: 'string', default: '3000' }, database: { type: 'string', default: ':memory:' } }, dashValueChecks: { '--port': checkPort } });
  return { port: checkPort(values.port ?? '3000'), database: values.database ?? ':memory:' };
}

/**
 * Binds `port` on loopback before the database is opened, so that a port in use is refused
 * before anything is written; `release()` frees it right before the service listens there. Port
 * 0 (any free port) is never in use. Another process could still take the port in the moment
 * between the two: that is refused the same way, after startup (the books then already opened).
 */
async function holdPort(port: number): Promise<{ release: () => Promise<void> }> {
  if (port === 0) return { release: async () => {} };
  const server = createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: HOST, port, exclusive: true }, () => resolve());
    });
  } catch (cause) {
    throw new PortUnavailableError(port, cause);
  }
  let released: Promise<void> | undefined;
  return { release: () => (released ??= new Promise<void>((resolve) => server.close(() => resolve()))) };
}

/** The entities new books start with: the sandbox's own, in its zone (UTC). */
const NEW_ENTITIES = resolveSandboxOptions({}).entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone }));

/** Starts the books, the sandbox and the service; on a failure, closes what it had started. */
async function start(flags: Flags): Promise<void> {
  const { database } = flags;
  const held = await holdPort(flags.port);
  const closers: (() => Promise<void>)[] = [];
  try {
    // The books are opened once: those the database keeps with their entities, in the zones they
    // keep (the demo's keep Europe/Berlin), new ones with the sandbox's entities. The sandbox
    // stands in for the provider, whose accounting day is the one agreed with the partner, so it
    // keeps the books' zones: opening kept books in its default (UTC) would be the ledger's
    // entity_configuration_changed.
    const partner = await openOrStartBooks({ database, entitiesIfNew: NEW_ENTITIES });
    closers.push(() => partner.close());
    const entities = [...partner.ledger.entities.values()].map((entity) => ({ id: entity.id, timeZone: entity.timeZone }));
    const sandbox = await startSandbox({ startAt: new Date(), entities });
    closers.push(() => sandbox.close());
    const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
    // The products take effect on today's accounting day; where the entities keep different
    // zones, on the earliest of their days, so that every entity has its products in force today.
    const now = new Date();
    const today = sandbox.config.entities.map((entity) => accountingDayOf(now, entity.timeZone)).sort()[0] ?? accountingDayOf(now, sandbox.config.timeZone);
    await syncProducts({ source: earn, books: partner.books, effectiveDay: today });
    const app = buildBackOffice({ earn, books: partner.books, logger: false });
    closers.push(() => app.close());
    await held.release();
    let url: string;
    try {
      url = await app.listen({ host: HOST, port: flags.port });
    } catch (cause) {
      throw new PortUnavailableError(flags.port, cause);
    }
    const stop = async () => {
      await app.close();
      await partner.close();
      await sandbox.close();
      process.exit(0);
    };
    // Before the line that says it listens: a stop sent as soon as that line is read is a stop.
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    printTryIt(url, sandbox.baseUrl, partner.description);
  } catch (error) {
    await held.release();
    // The startup failure is what is reported; a failure to close after it would only hide it.
    for (const close of closers.reverse()) await close().catch(() => {});
    throw error;
  }
}

function printTryIt(url: string, sandboxUrl: string, books: string): void {
  console.log(`back office listening on ${url} (Earn sandbox on ${sandboxUrl}; books ${books})

  curl -s ${url}/products
  curl -s -X POST ${url}/users -H 'content-type: application/json' -d '{"partnerUserId":"customer-42"}'
  curl -s -X POST ${url}/accounts -H 'content-type: application/json' -d '{"partnerUserId":"customer-42","productId":"btc-flex"}'
  curl -s -X POST ${url}/deposits -H 'content-type: application/json' -H 'idempotency-key: dep-1' -d '{"earnAccountId":"<earnAccountId>","amount":"0.5"}'
  curl -s -X POST ${url}/withdrawals -H 'content-type: application/json' -H 'idempotency-key: wd-1' -d '{"earnAccountId":"<earnAccountId>","amount":"0.2"}'
  curl -s ${url}/balances/<earnAccountId>
  curl -s '${url}/history/<earnAccountId>?limit=2'
`);
}

try {
  await start(parseFlags(process.argv.slice(2)));
} catch (error) {
  // Typed failures of every package are expected (a typo in a flag, a port in use, an unreachable
  // server): one line with their code, no stack. Anything else is a bug, reported with its stack.
  const description = error instanceof PortUnavailableError ? { kind: error.name, code: error.code, message: error.message } : undefined;
  process.exitCode = reportScriptFailure({ script: 'earnbook back office', error, badInputCodes: BAD_INPUT_CODES, ...(description === undefined ? {} : { description }) });
}

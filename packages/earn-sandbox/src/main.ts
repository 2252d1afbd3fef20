/**
 * Starts a sandbox for local development and prints where it listens and its credentials:
 *
 *   pnpm --filter @earnbook/earn-sandbox start -- --port 8787
 *
 * Options: --port, --host, --db (SQLite file; default in memory), --time-zone, --start (the
 * clock's first instant), --seed, --token-lifetime-ms, --report-url-lifetime-ms, and
 * --clock manual|wall (manual: moved with POST /_sandbox/clock; wall: follows the real time).
 * Client secrets come from EARN_SANDBOX_DEFI_SECRET / EARN_SANDBOX_LENDING_SECRET when set.
 */
import { parseArgs } from 'node:util';
import { SandboxError } from './errors.js';
import { startSandbox } from './sandbox.js';
import type { SandboxOptions } from './options.js';

/** How often the wall clock mode moves the sandbox clock. */
const WALL_CLOCK_TICK_MS = 1000;

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) throw new SandboxError('invalid_option', `--${name} must be a non-negative integer, got ${JSON.stringify(value)}`, { field: name });
  return Number(value);
}

async function main(argv: readonly string[]): Promise<void> {
  // pnpm passes a literal "--" through to the script.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: 'string', default: '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      db: { type: 'string' },
      'time-zone': { type: 'string' },
      start: { type: 'string' },
      seed: { type: 'string' },
      'token-lifetime-ms': { type: 'string' },
      'report-url-lifetime-ms': { type: 'string' },
      clock: { type: 'string', default: 'manual' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: earn-sandbox [--port 8787] [--host 127.0.0.1] [--db file.db] [--time-zone UTC] [--start instant] [--seed n] [--clock manual|wall]\n');
    return;
  }
  if (values.clock !== 'manual' && values.clock !== 'wall') throw new SandboxError('invalid_option', `--clock must be manual or wall, got ${JSON.stringify(values.clock)}`, { field: 'clock' });
  const wallClock = values.clock === 'wall';
  const secret = (entity: string): { clientSecret: string } | Record<string, never> => {
    const value = process.env[`EARN_SANDBOX_${entity.toUpperCase()}_SECRET`];
    return value === undefined || value === '' ? {} : { clientSecret: value };
  };
  const port = integer(values.port, 'port');
  const seed = integer(values.seed, 'seed');
  const tokenLifetimeMs = integer(values['token-lifetime-ms'], 'token-lifetime-ms');
  const reportUrlLifetimeMs = integer(values['report-url-lifetime-ms'], 'report-url-lifetime-ms');
  const start = values.start ?? (wallClock ? new Date().toISOString() : undefined);
  const options: SandboxOptions = {
    entities: [
      { id: 'defi', ...secret('defi') },
      { id: 'lending', ...secret('lending') },
    ],
    host: values.host,
    ...(port === undefined ? {} : { port }),
    ...(values.db === undefined ? {} : { databaseFilename: values.db }),
    ...(values['time-zone'] === undefined ? {} : { timeZone: values['time-zone'] }),
    ...(start === undefined ? {} : { startAt: start }),
    ...(seed === undefined ? {} : { seed }),
    ...(tokenLifetimeMs === undefined ? {} : { tokenLifetimeMs }),
    ...(reportUrlLifetimeMs === undefined ? {} : { reportUrlLifetimeMs }),
  };
  const sandbox = await startSandbox(options);
  let timer: NodeJS.Timeout | undefined;
  if (wallClock) {
    timer = setInterval(() => {
      const now = new Date();
      if (now.getTime() > sandbox.clock.now().getTime()) sandbox.clock.advanceTo(now).catch((error: unknown) => process.stderr.write(`clock: ${String(error)}\n`));
    }, WALL_CLOCK_TICK_MS);
  }
  const lines = [
    `earn-sandbox listening on ${sandbox.baseUrl}`,
    `  token URL:   ${sandbox.tokenUrl}`,
    `  clock:       ${sandbox.clock.nowText()} (${values.clock}; move it with POST ${sandbox.baseUrl}/_sandbox/clock {"days":1})`,
    `  books:       ${sandbox.config.databaseFilename}`,
    ...Object.entries(sandbox.credentials).map(([entity, credential]) => `  ${entity.padEnd(8)} client_id=${credential.clientId} client_secret=${credential.clientSecret}`),
    `  products:    ${sandbox.config.products.map((product) => `${product.entity}/${product.id} (${product.currency})`).join(', ')}`,
    '  faults:      PUT /_sandbox/faults {"errorRate":0.2}, DELETE /_sandbox/faults',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`earn-sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

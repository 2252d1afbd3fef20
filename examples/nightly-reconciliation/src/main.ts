/**
 * The nightly reconciliation as a script a scheduler (cron, systemd timer, Kubernetes CronJob)
 * runs after the provider's midnight cycle:
 *
 *   pnpm --filter @earnbook/examples nightly -- --database books.sqlite [--day 2025-03-18] [--zone Europe/Berlin] [--report-folder reports]
 *
 * with the Earn API from the environment: EARN_BASE_URL, EARN_TOKEN_URL, EARN_DEFI_CLIENT_ID,
 * EARN_DEFI_CLIENT_SECRET, EARN_LENDING_CLIENT_ID, EARN_LENDING_CLIENT_SECRET. `--day` defaults
 * to yesterday in the zone. `--zone` (default `UTC`) must be the zone the books keep their
 * accounting days in: another one is refused before anything is written (`invalid_flag` naming
 * `--zone`, exit 2). Or, self-contained against an in-process sandbox:
 *
 *   pnpm --filter @earnbook/examples nightly -- --sandbox
 *
 * which reconciles the sandbox's own day in memory: `--day`, `--database`, `--zone` and
 * `--report-folder` do not apply to it and are refused with it (`invalid_flag`, exit 2).
 *
 * The job reconciles the partner's existing books: a `--database` (default `earnbook.sqlite`) that
 * holds none is `books_not_found`, exit 2, and nothing is created; a PostgreSQL URL uses its
 * `?schema=` or else the connection's default schema (`public`), never a new one.
 *
 * Exit codes: 0 clean, 1 open breaks, 2 could not run (no report yet, API or database failure,
 * no books at `--database`, a `--day` that is not a real `YYYY-MM-DD` date, a `--zone` that is not
 * an IANA zone or not the zone the books keep, an unknown flag or one without its value, a flag
 * that does not apply with `--sandbox`: all `invalid_flag` but the first three). Flags, `--day`
 * and `--zone` are checked before any database is opened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, describeError, singleLine } from '@earnbook/cli';
import { EarnClient, EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { accountingDayOf, parseAccountingDay, previousAccountingDay } from '@earnbook/ledger';
import { checkZoneFlag, openBooksInZone } from '../../src/lib/books-in-zone.js';
import { openPartnerBooks } from '../../src/lib/partner-books.js';
import { parseScriptFlags } from '../../src/lib/script-cli.js';
import { syncProducts } from '@earnbook/reconcile';
import { bookSampleActivity } from '../../src/lib/sandbox-activity.js';
import { EXIT_ERROR, removeDownloadsInProgress, runNightlyReconciliation } from './nightly.js';
import type { NightlyExitCode } from './nightly.js';

const ENTITIES = ['defi', 'lending'] as const;

/**
 * Refuses a `--day` that is not a real `YYYY-MM-DD` date (`CliError` `invalid_flag` naming `--day`
 * and the value); checked before any database is opened, where the reconciler would refuse it
 * per entity only after opening the books.
 */
function checkDay(day: string): string {
  try {
    return parseAccountingDay(day, '--day');
  } catch (cause) {
    throw new CliError('invalid_flag', cause instanceof Error ? cause.message : String(cause), { field: '--day', value: day, cause });
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.length === 0) throw new Error(`environment variable ${name} is not set`);
  return value;
}

async function againstTheApi(values: { database?: string | undefined; day?: string | undefined; 'report-folder'?: string | undefined }, zone: string): Promise<NightlyExitCode> {
  const day = values.day ?? previousAccountingDay(accountingDayOf(new Date(), zone));
  // The books are opened with the entities and zones they keep (writing nothing); a --zone that
  // is not theirs is refused naming --zone, where opening them in it would be the ledger's
  // entity_configuration_changed, which names no flag.
  const partner = await openBooksInZone({ database: values.database ?? 'earnbook.sqlite', zone });
  try {
    const clients = Object.fromEntries(
      ENTITIES.map((entity) => [
        entity,
        new EarnClient({ entityId: entity, baseUrl: required('EARN_BASE_URL'), tokenUrl: required('EARN_TOKEN_URL'), clientId: required(`EARN_${entity.toUpperCase()}_CLIENT_ID`), clientSecret: required(`EARN_${entity.toUpperCase()}_CLIENT_SECRET`) }),
      ]),
    );
    // The downloads go to --report-folder, or to a temporary folder made here, so that a scheduler
    // stopping the job (SIGTERM) or a Ctrl-C removes it too: a day of 1M accounts is hundreds of MiB.
    const kept = values['report-folder'];
    const reportFolder = kept ?? mkdtempSync(join(tmpdir(), 'earnbook-nightly-'));
    const removeFolder = () => {
      if (kept === undefined) rmSync(reportFolder, { recursive: true, force: true });
    };
    const onSignal = (signal: NodeJS.Signals, number: number) => () => {
      // A kept --report-folder keeps the reports downloaded whole, never a partial one.
      removeDownloadsInProgress();
      removeFolder();
      console.error(`ALERT nightly reconciliation interrupted by ${signal}: nothing it had not committed is kept`);
      process.exit(128 + number);
    };
    const stops = [['SIGINT', onSignal('SIGINT', 2)], ['SIGTERM', onSignal('SIGTERM', 15)]] as const;
    for (const [signal, handler] of stops) process.once(signal, handler);
    try {
      const result = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day, log: (line) => console.log(line), reportFolder });
      return result.exitCode;
    } finally {
      for (const [signal, handler] of stops) process.off(signal, handler);
      removeFolder();
    }
  } finally {
    await partner.close();
  }
}

async function againstTheSandbox(): Promise<NightlyExitCode> {
  const sandbox = await startSandbox({ timeZone: 'Europe/Berlin' });
  const partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
    const day = sandbox.clock.accountingDay();
    await syncProducts({ source: earn, books: partner.books, effectiveDay: day });
    const { bookings } = await bookSampleActivity({ earn, books: partner.books, users: 3, bookingPrefix: day });
    console.log(`sandbox: ${bookings} bookings on ${day}; the provider's clock moves past midnight (its cycle runs)`);
    await sandbox.clock.advanceDays(1);
    const clients = Object.fromEntries(ENTITIES.map((entity) => [entity, earn.entity(entity)]));
    const first = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day, log: (line) => console.log(line) });
    console.log(`first run: exit ${first.exitCode}; the same job again (a scheduler retry) changes nothing:`);
    const second = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day, log: (line) => console.log(line) });
    console.log(`second run: exit ${second.exitCode}`);
    return second.exitCode;
  } finally {
    await partner.close();
    await sandbox.close();
  }
}

interface Flags {
  readonly database?: string | undefined;
  readonly day?: string | undefined;
  readonly zone?: string | undefined;
  readonly 'report-folder'?: string | undefined;
  readonly sandbox?: boolean | undefined;
}

/** The flags the sandbox run does not use: it reconciles its own day, in memory. */
const NOT_WITH_SANDBOX = ['day', 'database', 'zone', 'report-folder'] as const;

/**
 * Parses the flags (`src/lib/script-cli.ts`): an unknown flag, a flag without its value or one
 * given twice is `invalid_flag` on one line, as in the other examples and the CLI.
 */
function parseFlags(argv: readonly string[]): Flags {
  // parseArgs takes `--day -1` for a flag without its value: it is a bad day, named with its value.
  const values: Flags = parseScriptFlags({ argv, options: { database: { type: 'string' }, day: { type: 'string' }, zone: { type: 'string' }, 'report-folder': { type: 'string' }, sandbox: { type: 'boolean', default: false } }, dashValueChecks: { '--day': checkDay } });
  // --day is checked first (also with --sandbox), before any database is opened.
  if (values.day !== undefined) checkDay(values.day);
  if (values.sandbox === true) {
    const ignored = NOT_WITH_SANDBOX.find((name) => values[name] !== undefined);
    if (ignored !== undefined) {
      throw new CliError('invalid_flag', `--${ignored} does not apply with --sandbox, which reconciles the sandbox's own day in memory: give one or the other`, { field: `--${ignored}`, value: values[ignored] ?? '' });
    }
  }
  return values;
}

try {
  const values = parseFlags(process.argv.slice(2));
  // --zone (default UTC) is checked before any database is opened, then against the books' zones.
  const zone = checkZoneFlag(values.zone ?? 'UTC');
  process.exitCode = values.sandbox === true ? await againstTheSandbox() : await againstTheApi(values, zone);
} catch (error) {
  // Typed failures (books_not_found for a --database that holds no books, invalid_flag for a
  // malformed --day or a --zone that is not the books', database_unavailable) carry their code
  // for the alert; their messages never hold a PostgreSQL password.
  const description = describeError(error);
  const code = description.kind === 'internal' ? '' : `${description.code}: `;
  console.error(`ALERT nightly reconciliation could not run: ${code}${singleLine(description.message)}`);
  process.exitCode = EXIT_ERROR;
}

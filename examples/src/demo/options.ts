/**
 * The demo's command line: `pnpm demo [--users N] [--days N] [--seed N] [--zone IANA]
 * [--start YYYY-MM-DD] [--out DIR] [--database FILE|postgres://…] [--faults] [--help]`.
 */
import { join, resolve } from 'node:path';
import { CliError } from '@earnbook/cli';
import { assertTimeZone, parseAccountingDay } from '@earnbook/ledger';
import { parseScriptFlags } from '../lib/script-cli.js';

/** End users the demo may onboard. */
export const DEMO_USERS_MAX = 100_000;
/** Days the demo may run. */
export const DEMO_DAYS_MAX = 366;

/** The demo's options, every one resolved. */
export interface DemoOptions {
  /** End users onboarded (each gets one Earn user per entity). */
  readonly users: number;
  /** Accounting days simulated. */
  readonly days: number;
  /** Seed of the deterministic activity. */
  readonly seed: number;
  /** The partner's agreed zone of the accounting day. */
  readonly zone: string;
  /** The first accounting day. */
  readonly startDay: string;
  /** Output folder. */
  readonly outDirectory: string;
  /** A SQLite file or a `postgres://` URL. */
  readonly database: string;
  /** Turn on the sandbox's faults and show each being caught. */
  readonly faults: boolean;
}

/** The default run: 1,000 users for a month around Berlin's switch to summer time (2025-03-30, a 23-hour day). */
export const DEMO_DEFAULTS = Object.freeze({ users: 1_000, days: 31, seed: 7, zone: 'Europe/Berlin', startDay: '2025-03-10', outDirectory: '.earnbook/demo' });

/** The `--help` text. */
export const DEMO_USAGE = `pnpm demo [options]

The whole daily life of an Earn integration on embedded SQLite, against the local sandbox:
both entities, products in four currencies, end users onboarded, a month of deposits and
withdrawals, the provider's cycle each midnight, and each night the partner's job (fetch
reports, sync interest, reconcile, settle), then the audit export.

  --users N         end users (default ${DEMO_DEFAULTS.users})
  --days N          accounting days (default ${DEMO_DEFAULTS.days})
  --seed N          seed of the activity (default ${DEMO_DEFAULTS.seed})
  --zone IANA       the partner's zone (default ${DEMO_DEFAULTS.zone})
  --start DAY       first accounting day (default ${DEMO_DEFAULTS.startDay})
  --out DIR         output folder (default ${DEMO_DEFAULTS.outDirectory}); its earlier demo outputs are replaced
  --database DB     SQLite file (default <out>/earnbook.sqlite) or postgres://… URL
                    (schema from ?schema=name, else a fresh earnbook_<time>_<random>)
  --faults          turn on the sandbox's faults and show how each one is caught
  --help            this text
`;

/** A bad flag, with the flag's name. */
export class DemoUsageError extends Error {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message);
    this.name = 'DemoUsageError';
    this.flag = flag;
  }
}

function integer(value: string | undefined, flag: string, fallback: number, maximum: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > maximum) throw new DemoUsageError(flag, `--${flag} must be an integer from 1 to ${maximum}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * Parses the command line. Answers `'help'` for `--help`; throws {@link DemoUsageError} naming
 * the flag for a bad one.
 */
export function parseDemoArgs(argv: readonly string[], cwd: string = process.cwd()): DemoOptions | 'help' {
  // A flag given twice is refused as the other examples refuse it (`src/lib/script-cli.ts`).
  let values;
  try {
    values = parseScriptFlags({
      argv,
      options: {
        users: { type: 'string' },
        days: { type: 'string' },
        seed: { type: 'string' },
        zone: { type: 'string' },
        start: { type: 'string' },
        out: { type: 'string' },
        database: { type: 'string' },
        faults: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    // A refusal of parseArgs keeps its own words; a flag given twice is named.
    if (error instanceof CliError && error.field !== undefined) throw new DemoUsageError(error.field.replace(/^--/, ''), error.message);
    throw new DemoUsageError('args', ((error as Error).cause as Error).message);
  }
  if (values.help === true) return 'help';
  const zone = values.zone ?? DEMO_DEFAULTS.zone;
  try {
    assertTimeZone(zone, '--zone');
  } catch {
    throw new DemoUsageError('zone', `--zone must be an IANA time zone, got ${JSON.stringify(zone)}`);
  }
  const startDay = values.start ?? DEMO_DEFAULTS.startDay;
  try {
    parseAccountingDay(startDay, '--start');
  } catch {
    throw new DemoUsageError('start', `--start must be a day YYYY-MM-DD, got ${JSON.stringify(startDay)}`);
  }
  const outDirectory = resolve(cwd, values.out ?? DEMO_DEFAULTS.outDirectory);
  return Object.freeze({
    users: integer(values.users, 'users', DEMO_DEFAULTS.users, DEMO_USERS_MAX),
    days: integer(values.days, 'days', DEMO_DEFAULTS.days, DEMO_DAYS_MAX),
    seed: integer(values.seed, 'seed', DEMO_DEFAULTS.seed, 2 ** 31 - 1),
    zone,
    startDay,
    outDirectory,
    database: values.database ?? join(outDirectory, 'earnbook.sqlite'),
    faults: values.faults === true,
  });
}

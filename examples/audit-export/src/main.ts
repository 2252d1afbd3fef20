/**
 * The month-end audit export:
 *
 *   pnpm --filter @earnbook/examples audit-export -- --database ../.earnbook/demo/earnbook.sqlite --zone Europe/Berlin --month 2025-03 --out audit-2025-03
 *
 * (after `pnpm demo`, whose books cover March and April 2025 in Berlin time; `--zone`, default
 * `UTC`, must be the zone the books keep), or self-contained against an
 * in-process sandbox: `pnpm --filter @earnbook/examples audit-export -- --sandbox`.
 * Exit codes: 0 when the digests match and hledger (if installed) agrees with the ledger; 1 when
 * they do not, or the export failed (a database that cannot be opened, an `--out` that already
 * holds an export); 2 for bad input (a flag, a month, a `--zone` that is not the zone the books
 * keep, default `UTC`) or a `--database` that holds no books (`books_not_found`, nothing created). A typed failure is one line on stderr,
 * `earnbook audit export: <code>: <message>`, without a stack trace.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '@earnbook/cli';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { checkZoneFlag, openBooksInZone } from '../../src/lib/books-in-zone.js';
import { openPartnerBooks } from '../../src/lib/partner-books.js';
import type { PartnerBooks } from '../../src/lib/partner-books.js';
import { parseScriptFlags, reportScriptFailure } from '../../src/lib/script-cli.js';
import { AUDIT_FILE_NAMES, AUDIT_MANIFEST_NAME, syncProducts } from '@earnbook/reconcile';
import { bookSampleActivity } from '../../src/lib/sandbox-activity.js';
import { runNightlyReconciliation } from '../../nightly-reconciliation/src/nightly.js';
import { exportMonth, monthDays } from './audit-export.js';

/** The digests or hledger disagree, or the export failed. */
const EXIT_FAILED = 1;

/**
 * Typed codes that mean the input is at fault (exit 2: a flag, a month, a `--zone` that is not the
 * books', a `--database` that holds no books); every other typed code is exit 1.
 */
const BAD_INPUT_CODES: ReadonlySet<string> = new Set(['invalid_flag', 'invalid_config', 'invalid_input', 'invalid_day', 'unknown_time_zone', 'unknown_entity', 'books_not_found']);

interface Flags {
  readonly database: string | undefined;
  readonly month: string | undefined;
  readonly out: string | undefined;
  readonly zone: string;
  readonly sandbox: boolean;
}

/** The flags the sandbox run does not use: it exports its own books, in memory. */
const NOT_WITH_SANDBOX = ['database', 'zone'] as const;

/**
 * Parses the flags (`src/lib/script-cli.ts`): an unknown flag, a flag without its value or one
 * given twice is `invalid_flag` on one line. `--sandbox` exports books it makes in memory, so a
 * `--database` or `--zone` given with it is refused, as the nightly job refuses them, rather than
 * ignored: the operator would get an export of other books than the ones named.
 */
function parseFlags(argv: readonly string[]): Flags {
  const values = parseScriptFlags({ argv, options: { database: { type: 'string' }, month: { type: 'string' }, out: { type: 'string' }, zone: { type: 'string' }, sandbox: { type: 'boolean', default: false } } });
  if (values.sandbox === true) {
    const ignored = NOT_WITH_SANDBOX.find((name) => values[name] !== undefined);
    if (ignored !== undefined) {
      throw new CliError('invalid_flag', `--${ignored} does not apply with --sandbox, which exports the sandbox's own books in memory: give one or the other`, { field: `--${ignored}`, value: values[ignored] ?? '' });
    }
  }
  return { database: values.database, month: values.month, out: values.out, zone: values.zone ?? 'UTC', sandbox: values.sandbox === true };
}

/** Refuses a month that is not `YYYY-MM` before any database is opened. */
function checkMonth(month: string): string {
  try {
    monthDays(month);
    return month;
  } catch (cause) {
    throw new CliError('invalid_flag', `--month must be YYYY-MM, got ${JSON.stringify(month)}`, { field: '--month', value: month, cause });
  }
}

/**
 * Refuses an `--out` that already holds an export before any database is opened: an export never
 * overwrites one. A failed export, not bad input (exit 1), named by the flag the person gave.
 */
function checkOut(out: string): string {
  for (const name of [...Object.values(AUDIT_FILE_NAMES), AUDIT_MANIFEST_NAME]) {
    if (existsSync(join(out, name))) throw new CliError('output_failed', `--out ${out} already holds ${name}; an audit export never overwrites one: give a new --out`, { field: '--out', value: out });
  }
  return out;
}

/** Three days of a little activity, each night reconciled, on the sandbox's March 2025. */
async function sandboxBooks(): Promise<{ partner: PartnerBooks; month: string; close: () => Promise<void> }> {
  const sandbox = await startSandbox({ timeZone: 'Europe/Berlin' });
  try {
    const partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
    const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
    try {
      await syncProducts({ source: earn, books: partner.books, effectiveDay: sandbox.clock.accountingDay() });
      for (let index = 0; index < 3; index++) {
        const day = sandbox.clock.accountingDay();
        await bookSampleActivity({ earn, books: partner.books, users: 2, bookingPrefix: day });
        await sandbox.clock.advanceDays(1);
        await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients: { defi: earn.entity('defi'), lending: earn.entity('lending') }, day });
      }
    } catch (error) {
      await partner.close();
      throw error;
    }
    return { partner, month: sandbox.clock.accountingDay().slice(0, 7), close: () => sandbox.close() };
  } catch (error) {
    await sandbox.close();
    throw error;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv);
  let partner: PartnerBooks;
  let month = flags.month === undefined ? undefined : checkMonth(flags.month);
  // --zone is checked before any database is opened, and against the books' zones once they are.
  const zone = checkZoneFlag(flags.zone);
  const out = flags.out === undefined ? undefined : checkOut(flags.out);
  let close = async () => {};
  if (flags.sandbox) {
    const opened = await sandboxBooks();
    partner = opened.partner;
    month ??= opened.month;
    close = opened.close;
  } else {
    if (flags.database === undefined || month === undefined) throw new CliError('invalid_flag', 'give --database and --month (or --sandbox)', { field: flags.database === undefined ? '--database' : '--month' });
    partner = await openBooksInZone({ database: flags.database, zone });
  }
  try {
    const directory = out ?? mkdtempSync(join(tmpdir(), `earnbook-audit-${month}-`));
    const result = await exportMonth({ db: partner.db, month, directory });
    console.log(`audit export of ${result.fromDay} → ${result.toDay}, all entities, in ${directory}:`);
    for (const file of result.manifest.files) console.log(`  ${file.name.padEnd(16)} ${String(file.rows).padStart(8)} rows  ${file.sha256}`);
    console.log(`  manifest.json: digests recomputed from disk ${result.digestsMatch ? 'match' : 'DO NOT MATCH'}`);
    if (!result.hledger.checked) console.log(`  ${result.hledger.reason}`);
    else if (result.hledger.mismatches.length === 0) console.log(`  hledger agrees with the ledger on all ${result.hledger.accounts} account balances (movement over the month, per commodity)`);
    else console.log(`  hledger DISAGREES on ${result.hledger.mismatches.length} balances:\n    ${result.hledger.mismatches.slice(0, 20).join('\n    ')}`);
    return result.digestsMatch && (!result.hledger.checked || result.hledger.mismatches.length === 0) ? 0 : EXIT_FAILED;
  } finally {
    await partner.close();
    await close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Typed failures of every package are expected (a typo in --database, an unreachable server):
  // one line with their code, no stack. Anything else is a bug, reported with its stack.
  process.exitCode = reportScriptFailure({ script: 'earnbook audit export', error, badInputCodes: BAD_INPUT_CODES });
}

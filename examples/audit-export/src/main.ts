/**
 * The month-end audit export:
 *
 *   pnpm --filter @earnbook/examples audit-export -- --database ../.earnbook/demo/earnbook.sqlite --month 2025-03 --out audit-2025-03
 *
 * (after `pnpm demo`, whose books cover March and April 2025), or self-contained against an
 * in-process sandbox: `pnpm --filter @earnbook/examples audit-export -- --sandbox`.
 * Exit code 0 when the digests match and hledger (if installed) agrees with the ledger, else 1.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { openPartnerBooks } from '../../src/lib/partner-books.js';
import type { PartnerBooks } from '../../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { bookSampleActivity } from '../../src/lib/sandbox-activity.js';
import { runNightlyReconciliation } from '../../nightly-reconciliation/src/nightly.js';
import { exportMonth } from './audit-export.js';

const args = process.argv.slice(2);
const { values } = parseArgs({ args: args[0] === '--' ? args.slice(1) : args, options: { database: { type: 'string' }, month: { type: 'string' }, out: { type: 'string' }, zone: { type: 'string', default: 'UTC' }, sandbox: { type: 'boolean', default: false } } });

let partner: PartnerBooks;
let month = values.month;
let close = async () => {};
if (values.sandbox === true) {
  // Three days of a little activity, each night reconciled, on the sandbox's March 2025.
  const sandbox = await startSandbox({ timeZone: 'Europe/Berlin' });
  partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
  await syncProducts({ source: earn, books: partner.books, effectiveDay: sandbox.clock.accountingDay() });
  for (let index = 0; index < 3; index++) {
    const day = sandbox.clock.accountingDay();
    await bookSampleActivity({ earn, books: partner.books, users: 2, bookingPrefix: day });
    await sandbox.clock.advanceDays(1);
    await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients: { defi: earn.entity('defi'), lending: earn.entity('lending') }, day });
  }
  month ??= sandbox.clock.accountingDay().slice(0, 7);
  close = () => sandbox.close();
} else {
  if (values.database === undefined || month === undefined) throw new Error('give --database and --month (or --sandbox)');
  partner = await openPartnerBooks({ database: values.database, ifMissing: 'fail', entities: [{ id: 'defi', timeZone: values.zone ?? 'UTC' }, { id: 'lending', timeZone: values.zone ?? 'UTC' }] });
}
try {
  const directory = values.out ?? mkdtempSync(join(tmpdir(), `earnbook-audit-${month ?? ''}-`));
  const result = await exportMonth({ db: partner.db, month: month ?? '', directory });
  console.log(`audit export of ${result.fromDay} → ${result.toDay}, all entities, in ${directory}:`);
  for (const file of result.manifest.files) console.log(`  ${file.name.padEnd(16)} ${String(file.rows).padStart(8)} rows  ${file.sha256}`);
  console.log(`  manifest.json: digests recomputed from disk ${result.digestsMatch ? 'match' : 'DO NOT MATCH'}`);
  if (!result.hledger.checked) console.log(`  ${result.hledger.reason}`);
  else if (result.hledger.mismatches.length === 0) console.log(`  hledger agrees with the ledger on all ${result.hledger.accounts} account balances (movement over the month, per commodity)`);
  else console.log(`  hledger DISAGREES on ${result.hledger.mismatches.length} balances:\n    ${result.hledger.mismatches.slice(0, 20).join('\n    ')}`);
  process.exitCode = result.digestsMatch && (!result.hledger.checked || result.hledger.mismatches.length === 0) ? 0 : 1;
} finally {
  await partner.close();
  await close();
}

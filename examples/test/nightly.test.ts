/** The nightly script's exit codes and idempotent re-runs. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import type { Sandbox } from '@earnbook/earn-sandbox';
import { EXIT_BREAKS, EXIT_CLEAN, EXIT_ERROR, runNightlyReconciliation } from '../nightly-reconciliation/src/nightly.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';
import type { PartnerBooks } from '../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { bookSampleActivity } from '../src/lib/sandbox-activity.js';

let open: { sandbox: Sandbox; partner: PartnerBooks } | undefined;
afterEach(async () => {
  await open?.partner.close();
  await open?.sandbox.close();
  open = undefined;
});

async function setUp() {
  const sandbox = await startSandbox({ timeZone: 'America/Santiago' });
  const partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  open = { sandbox, partner };
  const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id, { retryDelayMsInitial: 1, retryDelayMsMax: 5 })])) });
  const day = sandbox.clock.accountingDay();
  await syncProducts({ source: earn, books: partner.books, effectiveDay: day });
  await bookSampleActivity({ earn, books: partner.books, users: 2, bookingPrefix: day });
  const clients = { defi: earn.entity('defi'), lending: earn.entity('lending') };
  const run = (forDay: string) => runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day: forDay });
  return { sandbox, partner, day, run, clients };
}

describe('nightly reconciliation', () => {
  it('exits 0 on a clean day, and a re-run books nothing more', async () => {
    const { sandbox, partner, day, run } = await setUp();
    await sandbox.clock.advanceDays(1);
    const first = await run(day);
    expect(first.exitCode).toBe(EXIT_CLEAN);
    expect(first.entities).toHaveLength(2);
    expect(first.entities.every((night) => night.latest?.reportStatus === 'created' && night.latest.synced.interest > 0)).toBe(true);
    const transactions = (await partner.ledger.verify({ allEntities: true })).transactions;
    const second = await run(day);
    expect(second.exitCode).toBe(EXIT_CLEAN);
    expect(second.entities).toHaveLength(2);
    expect(second.entities.every((night) => night.latest?.reportStatus === 'exists' && night.latest.synced.interest === 0)).toBe(true);
    expect((await partner.ledger.verify({ allEntities: true })).transactions).toBe(transactions);
  });

  it('downloads each report to a file: kept in reportFolder, byte for byte what was hashed; otherwise nothing stays behind', async () => {
    const { sandbox, partner, day, clients } = await setUp();
    await sandbox.clock.advanceDays(1);
    const leftovers = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('earnbook-nightly-'));
    const before = await leftovers();
    const folder = await mkdtemp(join(tmpdir(), 'kept-reports-'));
    try {
      const kept = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day, reportFolder: folder });
      expect(kept.exitCode).toBe(EXIT_CLEAN);
      for (const night of kept.entities) {
        const file = night.reports[0];
        expect(file?.path.startsWith(join(folder, `${night.entity}-${day}-`))).toBe(true);
        expect(file?.source).toBe(`${night.entity} report ${night.latest?.reportId ?? ''}`);
        expect(createHash('sha256').update(await readFile(file?.path ?? '')).digest('hex')).toBe(night.latest?.report.contentHash);
      }
      expect((await readdir(folder)).filter((name) => !name.endsWith('.json'))).toEqual([]);
      const again = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients, day });
      expect(again.entities.every((night) => night.latest?.reportStatus === 'exists')).toBe(true);
      expect(await leftovers()).toEqual(before);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('exits 1 when the report differs from the books (a duplicated entry), again on a re-run', async () => {
    const { sandbox, day, run } = await setUp();
    sandbox.faults.duplicateReportEntry({ entity: 'lending' });
    await sandbox.clock.advanceDays(1);
    const first = await run(day);
    expect(first.exitCode).toBe(EXIT_BREAKS);
    expect(first.entities.find((night) => night.entity === 'lending')?.latest?.breaks.map((found) => found.kind)).toEqual(['duplicate_in_report']);
    expect((await run(day)).exitCode).toBe(EXIT_BREAKS);
  });

  it('exits 2 when the provider has no report for the day yet', async () => {
    const { day, run } = await setUp();
    const result = await run(day);
    expect(result.exitCode).toBe(EXIT_ERROR);
    expect(result.entities.map((night) => night.error?.code)).toEqual(['no_report', 'no_report']);
  });

  it('takes the newest of two versions published at once, then a restatement published after the run as version 2', async () => {
    const { sandbox, day, run } = await setUp();
    sandbox.faults.restateReport({ entity: 'lending', deltaUnits: 1_000n });
    await sandbox.clock.advanceDays(1);
    const first = await run(day);
    const lending = () => first.entities.find((night) => night.entity === 'lending');
    expect(lending()?.results.map((result) => [result.reportVersion, result.reportStatus])).toEqual([[1, 'created']]);
    expect(lending()?.superseded).toHaveLength(1);
    expect(lending()?.latest?.reportId).not.toBe(lending()?.superseded[0]);

    await sandbox.clock.advanceBy(60_000);
    const restatement = await sandbox.publishRestatement({ entity: 'lending', accountingDay: day, deltaUnits: 1_000n });
    const second = await run(day);
    const night = second.entities.find((entity) => entity.entity === 'lending');
    expect(night?.latest).toMatchObject({ reportId: restatement.reportId, reportVersion: 2, reportStatus: 'created' });
    expect(night?.superseded).toEqual(lending()?.superseded);
    expect(night?.latest?.breaks.map((found) => found.kind)).toContain('restated_entry');
    expect(second.exitCode).toBe(EXIT_BREAKS);
    // Nothing new: the newest again, already processed.
    const third = await run(day);
    expect(third.entities.find((entity) => entity.entity === 'lending')?.latest).toMatchObject({ reportId: restatement.reportId, reportVersion: 2, reportStatus: 'exists' });
  });
});

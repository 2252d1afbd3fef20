import { spawnSync } from 'node:child_process';
/** The month-end audit export: files, manifest digests, and the hledger check when installed. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import { checkWithHledger, exportMonth, monthDays, parseCsv } from '../audit-export/src/audit-export.js';
import { runNightlyReconciliation } from '../nightly-reconciliation/src/nightly.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';
import { syncProducts } from '@earnbook/reconcile';
import { bookSampleActivity } from '../src/lib/sandbox-activity.js';

const directory = mkdtempSync(join(tmpdir(), 'earnbook-audit-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('audit export', () => {
  it('knows the days of a month', () => {
    expect(monthDays('2024-02')).toEqual({ fromDay: '2024-02-01', toDay: '2024-02-29' });
    expect(() => monthDays('2024-2')).toThrow(/YYYY-MM/);
    expect(parseCsv('a,"b ""c""",d\n1,,"x,y"\n')).toEqual([['a', 'b "c"', 'd'], ['1', '', 'x,y']]);
  });

  it('writes the month, the manifest digests match the files, and hledger agrees when installed', async () => {
    // The books start in late March and go on into April, so that April has opening balances.
    const sandbox = await startSandbox({ timeZone: 'Europe/Berlin', startAt: '2025-03-30T08:00:00Z' });
    const partner = await openPartnerBooks({ database: ':memory:', ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
    try {
      const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
      await syncProducts({ source: earn, books: partner.books, effectiveDay: '2025-03-30' });
      for (let index = 0; index < 4; index++) {
        const day = sandbox.clock.accountingDay();
        await bookSampleActivity({ earn, books: partner.books, users: 2, bookingPrefix: day });
        await sandbox.clock.advanceDays(1);
        const night = await runNightlyReconciliation({ books: partner.books, reconciler: partner.reconciler, clients: { defi: earn.entity('defi'), lending: earn.entity('lending') }, day });
        expect(night.exitCode).toBe(0);
      }
      const april = join(directory, '2025-04');
      const result = await exportMonth({ db: partner.db, month: '2025-04', directory: april });
      expect(result.manifest.files.map((file) => file.name)).toEqual(['journal.csv', 'balances.csv', 'breaks.csv', 'settlements.csv', 'journal.hledger']);
      expect(result.digestsMatch).toBe(true);
      for (const file of result.manifest.files) {
        expect(createHash('sha256').update(readFileSync(join(april, file.name))).digest('hex')).toBe(file.sha256);
      }
      const journal = parseCsv(readFileSync(join(april, 'journal.csv'), 'utf8'));
      expect(result.manifest.files[0]?.rows).toBeGreaterThan(0);
      expect(journal.length - 1).toBe(result.manifest.files[0]?.rows);
      expect(journal.slice(1).every((row) => (row[1] ?? '').startsWith('2025-04'))).toBe(true);
      expect(result.hledger.checked).toBe(spawnSync('hledger', ['--version']).status === 0);
      if (result.hledger.checked) expect(result.hledger.mismatches).toEqual([]);
      else expect(result.hledger.reason).toMatch(/not installed/);
      // A missing hledger is said, not hidden.
      expect(await checkWithHledger({ db: partner.db, directory: april, ...monthDays('2025-04'), hledger: 'hledger-that-does-not-exist' })).toMatchObject({ checked: false });
      // An export never overwrites an earlier one.
      await expect(exportMonth({ db: partner.db, month: '2025-04', directory: april })).rejects.toThrow(/already holds/);
    } finally {
      await partner.close();
      await sandbox.close();
    }
  });
});

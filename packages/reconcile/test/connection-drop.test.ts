/**
 * A day's run whose PostgreSQL connection is ended by the server in its write transaction: the
 * process goes on, the run fails with the ledger's typed `connection_lost` (the server's reason as
 * `cause`), the books are as they were and no file is left; the day can be run again.
 *
 * Only this test's own connections are ended: its pool runs under an `application_name` of its own.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EarnBooks, Ledger, LedgerError } from '@earnbook/ledger';
import { openPostgresDatabase } from '@earnbook/ledger/postgres';
import { Reconciler, openReportFile } from '../src/index.js';
import type { ReconcileProgress } from '../src/index.js';
import { buildReport } from './report-builder.js';
import { seedOneAccount } from './one-account-day.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { DIALECTS, PG_URL, dropSchema } from '../../ledger/test/dialects.js';

const DAY = '2025-03-18';
const NOW = new Date('2025-03-19T06:00:00Z');

describe.runIf(DIALECTS.includes('postgres'))('a day run whose database connection drops in its write transaction (PostgreSQL)', () => {
  it('fails with connection_lost, the process goes on, the books unchanged, no file left; the day runs again', async () => {
    const applicationName = `earnbook_drop_${randomBytes(5).toString('hex')}`;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-day-drop-'));
    const storage = await openPostgresDatabase({ connectionString: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}application_name=${applicationName}`, schema });
    const ledger = await Ledger.open({ storage: { db: storage.db, dialect: storage.dialect, schema }, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    try {
      const books = new EarnBooks(ledger);
      await seedOneAccount(books);
      const reportFile = join(directory, 'report.json');
      writeFileSync(reportFile, JSON.stringify(await buildReport(books, 'defi', DAY)));
      const reconciler = await Reconciler.open({ books, now: () => NOW, sortDirectory: directory });
      const before = await snapshotDatabase(ledger.db as never);
      const onProgress = (progress: ReconcileProgress) => {
        // Synchronously, so that the transaction's next statement meets the ended connection.
        if (progress.phase === 'sync') {
          execFileSync('psql', [PG_URL, '-qAtc', `select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = '${applicationName}'`]);
        }
      };
      const failure = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile), onProgress }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(LedgerError);
      expect(failure).toMatchObject({ code: 'connection_lost', field: 'storage' });
      expect(String(failure)).toMatch(/terminat/i);
      expect(await snapshotDatabase(ledger.db as never)).toBe(before);
      expect(readdirSync(directory)).toEqual(['report.json']);
      const again = await reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(reportFile) });
      expect(again.reportStatus).toBe('created');
      await ledger.verify({ entity: 'defi' });
    } finally {
      await ledger.close();
      await dropSchema(schema);
      rmSync(directory, { recursive: true, force: true });
    }
  }, 60_000);
});

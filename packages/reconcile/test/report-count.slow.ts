/**
 * Issue 13, class 7: the entry count of a streamed report is checked at the contract's real
 * limit. A report file of 2,000,001 entries is refused as `invalid_report` (field
 * `transactions`) once the 2,000,001st arrives, before the sink has seen more than 2,000,000.
 * Nothing is written: reading ends before the day's transaction begins (see
 * `report-limits.test.ts` for the write-nothing checks on both dialects). About 15 s, so it runs
 * with the large report (`pnpm test:slow`), beside `pnpm test` in CI.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { ReconcileError, openReportFile, readReportEntries } from '../src/index.js';

const DAY = '2025-03-18';
const settlementEntry = { id: '00000000-0000-4000-8000-0000000000ff', type: 'Settlement', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T12:00:00Z' };

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the entry count of a streamed report (issue 13, class 7)', () => {
  it('counts the entries of a streamed file up to the contract maximum, and refuses one more', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-limits-'));
    try {
      // NDJSON: the same count check as the JSON reader, at a fraction of its parse time.
      const path = join(directory, 'many.ndjson');
      const header = JSON.stringify({ id: 'r1', type: 'Report', entity: 'defi', accountingDay: DAY, timeZone: 'UTC', generatedAt: '2025-03-19T00:00:00Z', balances: [] });
      const line = `${JSON.stringify(settlementEntry)}\n`;
      const block = line.repeat(100_000);
      writeFileSync(path, `${header}\n`);
      for (let written = 0; written < CONTRACT_REPORT_TRANSACTIONS_MAX; written += 100_000) appendFileSync(path, block);
      appendFileSync(path, line);
      let handed = 0;
      const error = await caught(async () => readReportEntries(await openReportFile(path), (batch) => void (handed += batch.length)));
      expect(error).toBeInstanceOf(ReconcileError);
      expect(error).toMatchObject({ code: 'invalid_report', field: 'transactions' });
      expect(handed).toBeLessThanOrEqual(CONTRACT_REPORT_TRANSACTIONS_MAX);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});

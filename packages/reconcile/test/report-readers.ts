/** Reading one report file through both readers, for the tests that compare them. */
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReconcileError, openReportFile, readReportFile } from '../src/index.js';
import { readReportEntries } from '../src/report-stream.js';

export const HEADER = { id: 'r-1', type: 'Report', entity: 'defi', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: '2025-03-19T00:01:00.000Z' };
export const BALANCES = [{ currency: 'BTC', outstandingBalance: '-1.5' }];
export function entry(index: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`, type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T12:00:00Z', accountId: `a${index}`, ...extra };
}
export const reportText = (transactions: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ ...HEADER, transactions, balances: BALANCES, ...extra });

export type Outcome = { ok: true; entries: unknown[]; header: unknown; hash: string } | { ok: false; name: string; code?: string; field?: string | undefined; message: string };

async function outcome(run: () => Promise<{ entries: unknown[]; header: unknown; hash: string }>): Promise<Outcome> {
  try {
    return { ok: true, ...(await run()) };
  } catch (error) {
    if (error instanceof ReconcileError) return { ok: false, name: 'ReconcileError', code: error.code, field: error.field, message: error.message };
    return { ok: false, name: (error as Error).name, message: (error as Error).message };
  }
}

export async function withFile<T>(name: string, bytes: Buffer | string, use: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'review-'));
  const path = join(dir, name);
  await writeFile(path, bytes);
  try {
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The streamed path: openReportFile + readReportEntries. */
export function streamed(path: string, options: { format?: 'json' | 'ndjson' } = {}): Promise<Outcome> {
  return outcome(async () => {
    const entries: unknown[] = [];
    const read = await readReportEntries(await openReportFile(path, options), (batch) => { entries.push(...batch); });
    return { entries, header: read.header, hash: read.contentHash };
  });
}

/** The in-memory path: readReportFile + readReportEntries (what reconcileDay does with it). */
export function inMemory(path: string): Promise<Outcome> {
  return outcome(async () => {
    const entries: unknown[] = [];
    const read = await readReportEntries(await readReportFile(path), (batch) => { entries.push(...batch); });
    return { entries, header: read.header, hash: read.contentHash };
  });
}

/**
 * Issue 11's rejection at scale: a 1M-entry report file with one bad entry at position 999,999
 * (and the same file cut mid-stream) is rejected whole, naming the entry, with nothing written —
 * the check runs as the entries stream past, before the day's transaction opens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, createWriteStream, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { Reconciler, openReportFile } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';
import { buildReport } from './report-builder.js';

const ZONE = 'Europe/Berlin';
const DAY = '2025-03-18';
const ENTRIES = 1_000_000;
const BAD_AT = 999_999;
const terms = { tierMode: 'whole-balance', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.01' } };

/** Writes the report as a stream of chunks (never one string): header, then the entries. */
async function writeReport(path: string, header: Record<string, unknown>): Promise<void> {
  const out = createWriteStream(path);
  const head = JSON.stringify(header);
  out.write(`${head.slice(0, -1)},"transactions":[`);
  let chunk: string[] = [];
  for (let index = 0; index < ENTRIES; index++) {
    const id = `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
    const amount = index === BAD_AT ? '12' : '"0.001"';
    chunk.push(`${index === 0 ? '' : ','}{"id":"${id}","type":"Deposit","currency":"BTC","amount":${amount},"createdAt":"2025-03-18T10:00:00Z","accountId":"a0","bookingId":"b-${index}","idempotencyKey":"k-${index}"}`);
    if (chunk.length === 10_000) {
      if (!out.write(chunk.join(''))) await once(out, 'drain');
      chunk = [];
    }
  }
  out.write(`${chunk.join('')}]}`);
  out.end();
  await once(out, 'finish');
}

// One file for both dialects (the header's balances are the same: the same books are built on each).
const directory = mkdtempSync(join(tmpdir(), 'earnbook-rejection-1m-'));
let written: Promise<string> | undefined;
function reportFile(header: Record<string, unknown>): Promise<string> {
  written ??= (async () => {
    const path = join(directory, 'report.json');
    await writeReport(path, header);
    return path;
  })();
  return written;
}
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe.each(DIALECTS)('a 1M-entry report with one bad entry on %s', (dialect) => {
  let ledger: Ledger;
  let reconciler: Reconciler;
  let close: () => Promise<void>;
  let file: string;

  beforeAll(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: ZONE }] });
    ledger = opened.ledger;
    close = opened.close;
    const books = new EarnBooks(ledger);
    reconciler = await Reconciler.open({ books });
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC', effectiveDay: '2025-01-01', terms });
    await books.registerUser({ partnerUserId: 'p0', earnUsers: [{ entity: 'defi', earnUserId: 'u0' }] });
    await books.openEarnAccount({ entity: 'defi', earnAccountId: 'a0', earnUserId: 'u0', providerProductId: 'btc', currency: 'BTC' });
    await books.recordDeposit({ entity: 'defi', earnAccountId: 'a0', providerBookingId: 'b0', amount: '1', occurredAt: '2025-03-18T08:00:00Z', idempotencyKey: 'k0', providerData: {} });
    const { transactions: _entries, ...header } = await buildReport(books, 'defi', DAY);
    file = await reportFile(header);
  }, 300_000);
  afterAll(async () => close());

  it('rejects the report whole at entry 999,999, naming it, and writes nothing; the same file cut mid-stream too', async () => {
    const before = await snapshotDatabase(ledger.db as never);
    await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(file) })).rejects.toMatchObject({ code: 'invalid_report', path: `transactions[${BAD_AT}].amount` });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
    const cut = join(directory, `cut-${dialect}.json`);
    copyFileSync(file, cut);
    truncateSync(cut, Math.floor(statSync(cut).size * 0.6));
    await expect(reconciler.reconcileDay({ entity: 'defi', day: DAY, report: await openReportFile(cut) })).rejects.toMatchObject({ code: 'invalid_report' });
    expect(await snapshotDatabase(ledger.db as never)).toBe(before);
  }, 300_000);
});

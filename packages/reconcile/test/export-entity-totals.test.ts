/**
 * Totals of an all-entities export: DeFi and Lending are two legal entities with books of their
 * own, so every export keys its totals by entity, then currency, and never adds one entity's
 * figures to the other's (a DeFi debt of 1.25 BTC and a Lending claim of 1.25 BTC are not 0).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAudit, exportBalancesCsv, exportBreaksCsv, exportHledgerJournal, exportJournalCsv, exportSettlementsCsv } from '../src/export/index.js';
import type { AuditManifest, EntityTotals } from '../src/export/index.js';
import { DIALECTS, memoryOutput, openTestBooks, seedBooks } from './export-books.js';
import type { TestBooks } from './export-books.js';

const RANGE = { fromDay: '2025-03-17', toDay: '2025-03-20' } as const;
const ENTITIES = ['defi', 'lending'] as const;

/** Totals as plain JSON, the manifest's shape: `{ entity: { currency: figures } }`. */
function plain<T extends object>(totals: EntityTotals<T>): Record<string, Record<string, T>> {
  return Object.fromEntries([...totals].map(([entity, currencies]) => [entity, Object.fromEntries([...currencies].map(([currency, value]) => [currency, { ...value }]))]));
}

describe.each(DIALECTS)('totals of an all-entities export on %s', (dialect) => {
  let books: TestBooks;
  let directory: string;

  beforeAll(async () => {
    books = await openTestBooks(dialect);
    await seedBooks(books);
    // Lending is owed what DeFi owes: one total per currency would show 0 for both.
    await books.db
      .insertInto('settlement_positions')
      .values({
        entity: 'lending',
        currency: 'BTC',
        accounting_day: '2025-03-19',
        payables: '0',
        receivables: '1.25',
        net: '1.25',
        carried_in: '0',
        outstanding: '1.25',
        settled: '1.25',
        carried_out: '0',
        reported_outstanding: '1.25',
        computed_at: '2025-03-21T00:00:00.000Z',
      })
      .execute();
    directory = await mkdtemp(join(tmpdir(), `earnbook-entity-totals-${dialect}-`));
  });
  afterAll(async () => {
    await books.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('keys settlement totals by entity, then currency', async () => {
    const result = await exportSettlementsCsv({ db: books.db, allEntities: true, ...RANGE, output: memoryOutput().output });
    expect(plain(result.totals)).toEqual({
      defi: {
        BTC: { payables: '3.000000000000000000', receivables: '1.750000000000000000', net: '-1.250000000000000000', settled: '-1.250000000000000000' },
        ETH: { payables: '1.500000000000000000', receivables: '1.000000000000000000', net: '-0.500000000000000000', settled: '0.000000000000000000' },
      },
      lending: { BTC: { payables: '0.000000000000000000', receivables: '1.250000000000000000', net: '1.250000000000000000', settled: '1.250000000000000000' } },
    });
  });

  it('keys break counts by entity, then currency', async () => {
    const result = await exportBreaksCsv({ db: books.db, allEntities: true, ...RANGE, output: memoryOutput().output });
    expect(plain(result.totals)).toEqual({ defi: { '': { open: 0, resolved: 1 }, BTC: { open: 1, resolved: 0 } }, lending: { BTC: { open: 1, resolved: 0 } } });
  });

  it('keys journal, hledger and balances totals by entity: each equals that entity\'s own export', async () => {
    const all = {
      journal: await exportJournalCsv({ db: books.db, allEntities: true, ...RANGE, output: memoryOutput().output }),
      hledger: await exportHledgerJournal({ db: books.db, allEntities: true, ...RANGE, output: memoryOutput().output }),
      balances: await exportBalancesCsv({ db: books.db, allEntities: true, day: RANGE.toDay, output: memoryOutput().output }),
    };
    for (const result of Object.values(all)) expect([...result.totals.keys()]).toEqual([...ENTITIES]);
    for (const entity of ENTITIES) {
      const own = {
        journal: await exportJournalCsv({ db: books.db, entity, ...RANGE, output: memoryOutput().output }),
        hledger: await exportHledgerJournal({ db: books.db, entity, ...RANGE, output: memoryOutput().output }),
        balances: await exportBalancesCsv({ db: books.db, entity, day: RANGE.toDay, output: memoryOutput().output }),
      };
      for (const name of ['journal', 'hledger', 'balances'] as const) {
        expect([...own[name].totals.keys()], name).toEqual([entity]);
        expect(plain(all[name].totals)[entity], `${name} ${entity}`).toEqual(plain(own[name].totals)[entity]);
      }
    }
    // Lending's one deposit of 2 BTC (booked in two pairs of entries), alone: not added to DeFi's BTC.
    expect(all.journal.totals.get('lending')?.get('BTC')).toEqual({ debit: '4.000000000000000000', credit: '4.000000000000000000' });
    expect(all.journal.totals.get('defi')?.get('BTC')?.debit).toBe('246913578024691361.347013578024691357');
  });

  it('writes the manifest\'s totals as totals[entity][currency], version 2', async () => {
    const target = join(directory, 'audit');
    const { manifest } = await exportAudit({ db: books.db, allEntities: true, ...RANGE, directory: target, now: () => new Date('2025-03-21T06:00:00Z') });
    const stored = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as AuditManifest;
    expect(stored).toEqual(JSON.parse(JSON.stringify(manifest)));
    expect(stored.version).toBe(2);
    const totals = Object.fromEntries(stored.files.map((file) => [file.name, file.totals]));
    for (const name of ['journal.csv', 'balances.csv', 'journal.hledger']) expect(Object.keys(totals[name] ?? {}), name).toEqual([...ENTITIES]);
    expect(totals['settlements.csv']?.['defi']?.['BTC']?.['net']).toBe('-1.250000000000000000');
    expect(totals['settlements.csv']?.['lending']?.['BTC']?.['net']).toBe('1.250000000000000000');
    expect(totals['breaks.csv']).toEqual({ defi: { '': { open: 0, resolved: 1 }, BTC: { open: 1, resolved: 0 } }, lending: { BTC: { open: 1, resolved: 0 } } });
    expect(totals['journal.hledger']).toEqual(totals['journal.csv']);
  });
});

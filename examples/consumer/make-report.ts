/**
 * Writes `report.json`, the provider's daily report that matches the books `embed.ts` keeps (run
 * from the workspace: `pnpm exec tsx examples/consumer/make-report.ts`). It is committed, so the
 * consumer test needs no generator; re-run this only when the embedding example changes.
 */
import { writeFile } from 'node:fs/promises';
import { EarnBooks, Ledger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { buildReport } from '../../packages/reconcile/test/report-builder.js';

const ledger = await Ledger.open({ storage: openSqliteDatabase({ filename: ':memory:' }), entities: [{ id: 'lending', timeZone: 'Europe/Berlin' }] });
const books = new EarnBooks(ledger);
const terms = { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] };
await books.recordProduct({ entity: 'lending', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-01', terms });
await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'lending', earnUserId: 'eu-1' }] });
await books.openEarnAccount({ entity: 'lending', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc-fixed', currency: 'BTC' });
await books.recordDeposit({ entity: 'lending', earnAccountId: 'acc-1', providerBookingId: 'bk-1', amount: '1', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'dep-alice-1', providerData: { id: 'bk-1' } });
const report = await buildReport(books, 'lending', '2025-03-18');
await writeFile(new URL('report.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
await ledger.close();

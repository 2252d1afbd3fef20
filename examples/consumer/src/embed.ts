import { EarnBooks, Ledger } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { Reconciler, exportAudit, openReportFile } from '@earnbook/reconcile';

// SQLite by default; PostgreSQL when DATABASE_URL is set (its driver is loaded only then).
const url = process.env['DATABASE_URL'];
const storage = url === undefined ? openSqliteDatabase({ filename: 'books.sqlite' }) : await (await import('@earnbook/ledger/postgres')).openPostgresDatabase({ connectionString: url });
const ledger = await Ledger.open({ storage, entities: [{ id: 'lending', timeZone: 'Europe/Berlin' }] });
const books = new EarnBooks(ledger);
await books.recordProduct({ entity: 'lending', providerProductId: 'btc-fixed', currency: 'BTC', name: 'BTC fixed interest', effectiveDay: '2025-03-01', terms: { tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }] } });
await books.registerUser({ partnerUserId: 'alice', earnUsers: [{ entity: 'lending', earnUserId: 'eu-1' }] });
await books.openEarnAccount({ entity: 'lending', earnAccountId: 'acc-1', earnUserId: 'eu-1', providerProductId: 'btc-fixed', currency: 'BTC' });
await books.recordDeposit({ entity: 'lending', earnAccountId: 'acc-1', providerBookingId: 'bk-1', amount: '1', occurredAt: '2025-03-18T09:00:00Z', idempotencyKey: 'dep-alice-1', providerData: { id: 'bk-1' } });
const account = await books.earnAccount({ entity: 'lending', earnAccountId: 'acc-1' });
console.log('balance', await ledger.balance(account.ledgerAccountId));

const reconciler = await Reconciler.open({ books });
const result = await reconciler.reconcileDay({ entity: 'lending', day: '2025-03-18', report: await openReportFile('report.json') });
console.log('breaks', result.openBreaks, 'interest', result.synced.interest);
const { manifest } = await exportAudit({ db: reconciler.db, entity: 'lending', fromDay: '2025-03-18', toDay: '2025-03-19', directory: 'audit', formats: ['journal_csv', 'balances_csv'] });
console.log('exported', manifest.files.map((file) => `${file.name}:${file.rows}`).join(' '));
await ledger.close();

/**
 * The main job, end to end on the embedded SQLite default: two legal entities with their own
 * books, products in several currencies, end users onboarded with one Earn user per entity,
 * a deterministic run of days with deposits and withdrawals, and each night the netted
 * settlement per entity and currency; then the invariant check and a summary.
 *
 *   pnpm demo [--users 200] [--days 10] [--seed 7] [--zone Europe/Berlin] [--out .earnbook/demo]
 */
import { mkdirSync, rmSync } from 'node:fs';
import type { JournalTransaction } from '@earnbook/ledger';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EarnBooks, Ledger, LedgerError, accountingDayBounds, accountingDaysBetween, compareAmounts, formatInstant, negateAmount, sumAmounts } from '@earnbook/ledger';
import { openSqliteDatabase } from '@earnbook/ledger/sqlite';
import { randomAmount, seededRandom } from './random.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200' },
    days: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    zone: { type: 'string', default: 'Europe/Berlin' },
    start: { type: 'string', default: '2025-03-24' },
    out: { type: 'string', default: '.earnbook/demo' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('pnpm demo [--users N] [--days N] [--seed N] [--zone IANA] [--start YYYY-MM-DD] [--out DIR]');
  process.exit(0);
}
const users = Number(values.users);
const days = Number(values.days);
if (!Number.isInteger(users) || users < 1 || users > 100_000) throw new Error(`--users must be 1..100000, got ${values.users}`);
if (!Number.isInteger(days) || days < 1 || days > 366) throw new Error(`--days must be 1..366, got ${values.days}`);

const outDir = resolve(values.out);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const databaseFile = join(outDir, 'earnbook.sqlite');
const storage = openSqliteDatabase({ filename: databaseFile });
const entities = [
  { id: 'defi', timeZone: values.zone },
  { id: 'lending', timeZone: values.zone },
];
const ledger = await Ledger.open({ storage, entities });
const books = new EarnBooks(ledger);
const random = seededRandom(Number(values.seed));

const products = [
  { entity: 'defi', providerProductId: 'defi-eth', currency: 'ETH', name: 'ETH DeFi yield', wholeMax: 20 },
  { entity: 'defi', providerProductId: 'defi-usdc', currency: 'USDC', name: 'USDC DeFi yield', wholeMax: 5_000 },
  { entity: 'lending', providerProductId: 'lend-btc', currency: 'BTC', name: 'BTC fixed interest', wholeMax: 2 },
  { entity: 'lending', providerProductId: 'lend-usdt', currency: 'USDT', name: 'USDT lending', wholeMax: 5_000 },
];
const [firstDay] = accountingDaysBetween(values.start, values.start);
if (firstDay === undefined) throw new Error('no start day');
for (const product of products) {
  await books.recordProduct({
    entity: product.entity,
    providerProductId: product.providerProductId,
    currency: product.currency,
    name: product.name,
    effectiveDay: firstDay,
    terms: { tierMode: 'marginal', tiers: [{ fromAmount: '0', toAmount: null, apy: '0.035' }], partnerMargin: { mode: 'own-apy', apy: '0.005' } },
  });
}

console.log(`earnbook demo: ${users} users, ${days} days from ${values.start} in ${values.zone}, seed ${values.seed}`);
for (let index = 0; index < users; index++) {
  const partnerUserId = `user-${index}`;
  await books.registerUser({ partnerUserId, earnUsers: entities.map((entity) => ({ entity: entity.id, earnUserId: `${entity.id}-eu-${index}` })) });
  for (const product of products) {
    await books.openEarnAccount({
      entity: product.entity,
      earnAccountId: `${product.providerProductId}-${index}`,
      earnUserId: `${product.entity}-eu-${index}`,
      providerProductId: product.providerProductId,
      currency: product.currency,
    });
  }
}

let bookingCount = 0;
let refused = 0;
const lastDay = accountingDaysBetween(values.start, values.start, { daysMax: 1 })[0] ?? values.start;
const allDays = accountingDaysBetween(lastDay, formatDayAfter(lastDay, days - 1));
for (const day of allDays) {
  const { start, end } = accountingDayBounds(day, values.zone);
  const spanMs = end.getTime() - start.getTime();
  const operations = Math.max(1, Math.round(users * 0.6));
  for (let n = 0; n < operations; n++) {
    const userIndex = Math.floor(random() * users);
    const product = products[Math.floor(random() * products.length)];
    if (product === undefined) continue;
    const earnAccountId = `${product.providerProductId}-${userIndex}`;
    const occurredAt = formatInstant(new Date(start.getTime() + Math.floor(random() * spanMs)));
    const withdraw = random() < 0.3;
    const amount = randomAmount(random, product.wholeMax, 8);
    if (compareAmounts(amount, '0') === 0) continue;
    const providerBookingId = `${day}-${n}`;
    const booking = { entity: product.entity, earnAccountId, providerBookingId, amount, occurredAt, idempotencyKey: `idem-${providerBookingId}`, providerData: { id: providerBookingId, amount } };
    try {
      if (withdraw) await books.recordWithdrawal(booking);
      else await books.recordDeposit(booking);
      bookingCount++;
    } catch (error) {
      // A withdrawal beyond the balance is refused by the books, as the provider would refuse it.
      if (error instanceof LedgerError && error.code === 'insufficient_balance') refused++;
      else throw error;
    }
  }
  // Nightly settlement: settle each currency's outstanding balance at the next midnight.
  for (const entity of entities) {
    for (const currency of [...new Set(products.filter((p) => p.entity === entity.id).map((p) => p.currency))]) {
      const outstanding = await books.outstandingBalance({ entity: entity.id, currency, day });
      const sign = compareAmounts(outstanding, '0');
      if (sign === 0) continue;
      await books.recordSettlement({
        entity: entity.id,
        currency,
        direction: sign < 0 ? 'to_provider' : 'from_provider',
        amount: sign < 0 ? negateAmount(outstanding) : outstanding,
        occurredAt: formatInstant(end),
        idempotencyKey: `settle:${entity.id}:${currency}:${day}`,
      });
    }
  }
}

function formatDayAfter(day: string, count: number): string {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + count);
  return date.toISOString().slice(0, 10);
}

console.log(`bookings: ${bookingCount} booked, ${refused} withdrawals refused for insufficient balance`);
console.log('\nentity   currency  deposits              withdrawals           settled               user balances');
for (const entity of entities) {
  for (const currency of [...new Set(products.filter((p) => p.entity === entity.id).map((p) => p.currency))]) {
    const transactions: JournalTransaction[] = [];
    for (const day of allDays) {
      let afterId = 0;
      for (;;) {
        const page = await ledger.transactionsOfDay({ entity: entity.id, day, afterId, limit: 500 });
        transactions.push(...page);
        const last = page[page.length - 1];
        if (last === undefined || page.length < 500) break;
        afterId = last.id;
      }
    }
    const userAccounts = await books.earnAccounts({ entity: entity.id, currency });
    const balances = await Promise.all(userAccounts.map((account) => ledger.balance(account.ledgerAccountId)));
    const amountOf = (kind: string) =>
      sumAmounts(transactions.filter((t) => t.kind === kind && t.entries[0]?.currency === currency).map((t) => t.entries[0]?.amount ?? '0'));
    console.log(
      `${entity.id.padEnd(8)} ${currency.padEnd(9)} ${amountOf('deposit').padEnd(21).slice(0, 21)} ${amountOf('withdrawal').padEnd(21).slice(0, 21)} ${amountOf('settlement').padEnd(21).slice(0, 21)} ${sumAmounts(balances)}`,
    );
  }
}
for (const entity of entities) {
  const report = await ledger.verify({ entity: entity.id });
  console.log(`verified ${entity.id}: ${report.transactions} transactions, ${report.entries} entries, ${report.accounts} accounts — every invariant holds`);
}
await ledger.close();
console.log(`\nbooks kept in ${databaseFile}`);

/**
 * `interest_cycle_1m_sqlite_s`: the whole accounting cycle (end-of-day balances read, interest
 * and margin computed with tiers, every interest posted, margin posted) for N accounts on a file
 * SQLite database. Setup writes, with native prepared statements, exactly the rows the ledger
 * writes for N Earn accounts holding one deposit each (a two-entry deposit transaction), so that
 * only the cycle is timed. The baseline is the compute-only rate of the same lines in the same
 * run (no database), which shows what the storage costs.
 *
 * Run alone: `npx tsx bench/interest-cycle.ts [accounts]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarnBooks, Ledger, computeDailyInterestUnits, formatUnits, parseInterestTerms, runAccountingCycle } from '../src/index.js';
import { openSqliteDatabase } from '../src/db/sqlite/index.js';

const TERMS = {
  tierMode: 'marginal',
  tiers: [
    { fromAmount: '0', toAmount: '1', apy: '0.045' },
    { fromAmount: '1', toAmount: '10', apy: '0.03' },
    { fromAmount: '10', toAmount: null, apy: '0.01' },
  ],
  partnerMargin: { mode: 'own-apy', apy: '0.005' },
} as const;
const DAY = '2025-03-18';
const CREATED_AT = '2025-03-18T00:00:00.000Z';

function balanceUnitsOf(index: number): bigint {
  // Spread over the three bands: 0.001 … 20 BTC.
  return BigInt((index % 20_000) + 1) * 10n ** 15n;
}

/** Runs the cycle benchmark; returns the printed lines. */
export async function benchInterestCycle(options: { accounts: number }): Promise<string[]> {
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-cycle-bench-'));
  try {
    const filename = join(directory, 'cycle.sqlite');
    const storage = openSqliteDatabase({ filename });
    const ledger = await Ledger.open({ storage, entities: [{ id: 'defi', timeZone: 'UTC' }] });
    const books = new EarnBooks(ledger);
    await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC tiered', effectiveDay: '2025-01-01', terms: TERMS });
    const funds = await ledger.systemAccount('defi', 'BTC', 'customer_funds');
    await ledger.systemAccount('defi', 'BTC', 'earn_assets');
    await ledger.systemAccount('defi', 'BTC', 'settlement');
    await ledger.systemAccount('defi', 'BTC', 'partner_margin_income');

    const setupStarted = performance.now();
    const native = storage.native;
    const insertPartner = native.prepare('insert into partner_users (partner_user_id, created_at) values (?, ?)');
    const insertEarnUser = native.prepare('insert into earn_users (entity, earn_user_id, partner_user_id, created_at) values (?, ?, ?, ?)');
    const insertAccount = native.prepare(
      "insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, last_day, entry_count, created_at) values ('defi', 'BTC', ?, 'user', 'credit', ?, ?, 1, ?)",
    );
    const insertEarnAccount = native.prepare("insert into earn_accounts (entity, earn_account_id, earn_user_id, provider_product_id, currency, ledger_account_id, created_at) values ('defi', ?, ?, 'btc', 'BTC', ?, ?)");
    const insertTransaction = native.prepare(
      "insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, reverses_transaction_id, description, metadata, created_at) values ('defi', 'deposit', ?, ?, ?, ?, ?, null, null, null, ?)",
    );
    const insertEntry = native.prepare("insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day) values (?, 'defi', ?, 'BTC', ?, ?, ?)");
    const insertDay = native.prepare('insert into account_day_balances (account_id, accounting_day, balance) values (?, ?, ?)');
    let fundsUnits = 0n;
    native.transaction(() => {
      for (let index = 0; index < options.accounts; index++) {
        const units = balanceUnitsOf(index);
        const amount = formatUnits(units);
        insertPartner.run(`p${index}`, CREATED_AT);
        insertEarnUser.run('defi', `u${index}`, `p${index}`, CREATED_AT);
        const accountId = Number(insertAccount.run(`user:a${index}`, amount, DAY, CREATED_AT).lastInsertRowid);
        insertEarnAccount.run(`a${index}`, `u${index}`, accountId, CREATED_AT);
        const transactionId = Number(insertTransaction.run(`k${index}`, `h${index}`, '2025-03-18T10:00:00.000Z', DAY, `b${index}`, CREATED_AT).lastInsertRowid);
        fundsUnits -= units;
        insertEntry.run(transactionId, funds.id, amount, formatUnits(fundsUnits), DAY);
        insertEntry.run(transactionId, accountId, formatUnits(-units), amount, DAY);
        insertDay.run(accountId, DAY, amount);
      }
      native.prepare("update ledger_accounts set balance = ?, last_day = ?, entry_count = ? where id = ?").run(formatUnits(fundsUnits), DAY, options.accounts, funds.id);
      insertDay.run(funds.id, DAY, formatUnits(fundsUnits));
    })();
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    // Baseline: the same interest computations without any storage.
    const terms = parseInterestTerms(TERMS);
    const computeStarted = performance.now();
    let checksum = 0n;
    for (let index = 0; index < options.accounts; index++) checksum += computeDailyInterestUnits({ balanceUnits: balanceUnitsOf(index), terms }).userInterestUnits;
    const computeSeconds = (performance.now() - computeStarted) / 1000;

    const started = performance.now();
    const summary = await runAccountingCycle({ books, entity: 'defi', day: DAY, batchSize: 1_000 });
    const cycleSeconds = (performance.now() - started) / 1000;
    const booked = summary.totals.get('BTC')?.userInterest;
    if (summary.interestBooked !== options.accounts || booked !== formatUnits(checksum)) {
      throw new Error(`cycle booked ${summary.interestBooked} of ${options.accounts} accounts, total ${booked} vs computed ${formatUnits(checksum)}`);
    }
    await ledger.close();
    const label = options.accounts === 1_000_000 ? '1m' : `${options.accounts}`;
    return [
      `interest_cycle_${label}_sqlite_s: ${cycleSeconds.toFixed(2)} s ratio=${(cycleSeconds / computeSeconds).toFixed(1)} (compute only, no storage: ${computeSeconds.toFixed(2)} s; target ≤ 15 s for 1M) [${Math.round(options.accounts / cycleSeconds)} accounts/s; setup ${setupSeconds.toFixed(1)} s]`,
    ];
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && process.argv[1].endsWith("interest-cycle.ts")) {
  const accounts = Number(process.argv[2] ?? 1_000_000);
  for (const line of await benchInterestCycle({ accounts })) console.log(line);
}

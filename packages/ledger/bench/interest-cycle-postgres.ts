/**
 * `interest_cycle_1m_postgres_s`: the whole accounting cycle for N accounts on PostgreSQL, as
 * `interest-cycle.ts` does on SQLite. Setup writes, in server-side statements, the rows of N Earn
 * accounts holding one deposit each, in two fresh schemas: the cycle runs on one, and the raw
 * same-rows writer (one `pg.Client`, rows precomputed untimed, per batch one transaction of
 * multi-row `unnest` statements) on the other. Both schemas are dropped at the end.
 *
 * Run alone: `npx tsx bench/interest-cycle-postgres.ts [accounts]`.
 */
import pg from 'pg';
import { CYCLE_COMMIT_LINES_DEFAULT, EarnBooks, computeDailyInterestUnits, cycleInterestEntryId, formatUnits, parseInterestTerms, runAccountingCycle, toUnits } from '../src/index.js';
import { BATCH_SIZE, CREATED_AT, CREDITED_DAY, DAY, TERMS, balanceUnitsOf } from './cycle-scenario.js';
import { openPostgresLedger, withSchema } from './ledger-bookings.js';

const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Migrates a schema through the ledger, then writes N accounts with one deposit each, server side. */
async function setUpSchema(connectionString: string, schema: string, accounts: number): Promise<{ earnAssetsId: number }> {
  const ledger = await openPostgresLedger(connectionString, schema, { migrate: true });
  const books = new EarnBooks(ledger);
  await books.recordProduct({ entity: 'defi', providerProductId: 'btc', currency: 'BTC', name: 'BTC tiered', effectiveDay: '2025-01-01', terms: TERMS });
  const ids = await ledger.systemAccountIds('defi', 'BTC');
  await ledger.close();
  const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const n = accounts - 1;
    await client.query('begin');
    await client.query(`insert into partner_users select 'p' || g, $1 from generate_series(0, ${n}) g`, [CREATED_AT]);
    await client.query(`insert into earn_users select 'defi', 'u' || g, 'p' || g, $1 from generate_series(0, ${n}) g`, [CREATED_AT]);
    await client.query(
      `insert into ledger_accounts (entity, currency, code, kind, normal_side, balance, last_day, entry_count, created_at)
       select 'defi', 'BTC', 'user:a' || g, 'user', 'credit', ((g % 20000) + 1) * 0.001, $1, 1, $2 from generate_series(0, ${n}) g order by g`,
      [DAY, CREATED_AT],
    );
    // Fresh statistics, or the planner joins a million rows by nested loop over a scan.
    await client.query('analyze ledger_accounts');
    await client.query(
      `insert into earn_accounts select 'defi', 'a' || g, 'u' || g, 'btc', 'BTC', a.id, $1 from generate_series(0, ${n}) g
       join ledger_accounts a on a.entity = 'defi' and a.currency = 'BTC' and a.code = 'user:a' || g order by a.id`,
      [CREATED_AT],
    );
    await client.query(
      `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, provider_id, created_at)
       select 'defi', 'deposit', 'k' || g, 'h' || g, '2025-03-18T10:00:00.000Z', $1, 'b' || g, $2 from generate_series(0, ${n}) g order by g`,
      [DAY, CREATED_AT],
    );
    await client.query('analyze journal_transactions');
    await client.query(
      `with d as (
         select t.id as tid, a.id as aid, a.balance as b, -sum(a.balance) over (order by t.id) as funds_after
         from journal_transactions t join ledger_accounts a on a.entity = 'defi' and a.currency = 'BTC' and a.code = 'user:a' || substr(t.idempotency_key, 2)
         where t.kind = 'deposit')
       insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day)
       select d.tid, 'defi', x.account_id, 'BTC', x.amount, x.balance_after, $1
       from d cross join lateral (values (1, $2::bigint, d.b, d.funds_after), (2, d.aid, -d.b, d.b)) as x(n, account_id, amount, balance_after)
       order by d.tid, x.n`,
      [DAY, ids.customer_funds],
    );
    await client.query(`insert into account_day_balances select id, last_day, balance from ledger_accounts where kind = 'user'`);
    await client.query(
      `with total as (select sum(balance) as s from ledger_accounts where kind = 'user')
       update ledger_accounts set balance = -(select s from total), last_day = $1, entry_count = $2 where id = $3`,
      [DAY, accounts, ids.customer_funds],
    );
    await client.query(`insert into account_day_balances select id, last_day, balance from ledger_accounts where id = $1`, [ids.customer_funds]);
    await client.query('commit');
    await client.query('analyze');
  } finally {
    await client.end();
  }
  return { earnAssetsId: ids.earn_assets };
}

/** The raw same-rows writer: precomputed rows, per batch unnest statements, one transaction per commit of the ledger's (CYCLE_COMMIT_LINES_DEFAULT lines). */
async function writeRawCycle(connectionString: string, schema: string, accounts: number, earnAssetsId: number): Promise<number> {
  const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const terms = parseInterestTerms(TERMS);
    const rows = (await client.query<{ id: string; earn_account_id: string }>("select ledger_account_id as id, earn_account_id from earn_accounts where entity = 'defi' order by ledger_account_id")).rows;
    const lines = rows.map((row, index) => {
      const units = balanceUnitsOf(index);
      const interest = computeDailyInterestUnits({ balanceUnits: units, terms }).userInterestUnits;
      return { id: Number(row.id), providerId: cycleInterestEntryId(DAY, Number(row.id)), amount: formatUnits(-interest), after: formatUnits(units + interest) };
    });
    if (lines.length !== accounts) throw new Error('raw baseline: account count differs');
    let earnAssets = 0n;
    const started = performance.now();
    for (let start = 0; start < lines.length; start += BATCH_SIZE) {
      const batch = lines.slice(start, start + BATCH_SIZE);
      const total = batch.reduce((sum, line) => sum - toUnits(line.amount), 0n);
      earnAssets += total;
      if (start % CYCLE_COMMIT_LINES_DEFAULT === 0) await client.query('begin');
      const inserted = await client.query<{ id: string }>(
        `insert into journal_transactions (entity, kind, idempotency_key, request_hash, occurred_at, accounting_day, metadata, created_at)
         values ('defi', 'interest', $1, $2, $3, $4, $5, $6) returning id`,
        [`lines:interest:${batch[0]?.providerId}`, 'h'.repeat(64), `${CREDITED_DAY}T00:00:00.000Z`, CREDITED_DAY, `{"interestDay":"${DAY}"}`, CREATED_AT],
      );
      const ids = [earnAssetsId, ...batch.map((line) => line.id)];
      const afters = [formatUnits(earnAssets), ...batch.map((line) => line.after)];
      await client.query(
        `insert into journal_entries (transaction_id, entity, account_id, currency, amount, balance_after, accounting_day, provider_id)
         select $1, 'defi', u.a, 'BTC', u.m, u.b, $2, u.p from unnest($3::bigint[], $4::numeric[], $5::numeric[], $6::text[]) with ordinality as u(a, m, b, p, n) order by u.n`,
        [inserted.rows[0]?.id, CREDITED_DAY, ids, [formatUnits(total), ...batch.map((line) => line.amount)], afters, [null, ...batch.map((line) => line.providerId)]],
      );
      await client.query(
        `update ledger_accounts as a set balance = u.b, last_day = $1, entry_count = a.entry_count + 1 from unnest($2::bigint[], $3::numeric[]) as u(id, b) where a.id = u.id`,
        [CREDITED_DAY, ids, afters],
      );
      // The users' rows of the day are new (inserted, as the ledger inserts rows its account rows
      // say are new); earn_assets' is set by every batch after the first (upserted).
      await client.query(
        `with f as (insert into account_day_balances (account_id, accounting_day, balance) select u.id, $1, u.b from unnest($2::bigint[], $3::numeric[]) as u(id, b))
         insert into account_day_balances (account_id, accounting_day, balance) values ($4, $1, $5)
         on conflict (account_id, accounting_day) do update set balance = excluded.balance`,
        [CREDITED_DAY, ids.slice(1), afters.slice(1), earnAssetsId, afters[0]],
      );
      if ((start + BATCH_SIZE) % CYCLE_COMMIT_LINES_DEFAULT === 0 || start + BATCH_SIZE >= lines.length) await client.query('commit');
    }
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

/** Runs the PostgreSQL cycle benchmark; returns the printed line. */
export async function benchInterestCyclePostgres(options: { accounts: number; connectionString: string }): Promise<string[]> {
  const { accounts, connectionString } = options;
  const rawSeconds = await withSchema(connectionString, async (schema) => {
    const { earnAssetsId } = await setUpSchema(connectionString, schema, accounts);
    return writeRawCycle(connectionString, schema, accounts, earnAssetsId);
  });
  const { cycleSeconds, setupSeconds, verifySeconds, verified } = await withSchema(connectionString, async (schema) => {
    const setupStarted = performance.now();
    await setUpSchema(connectionString, schema, accounts);
    const setup = (performance.now() - setupStarted) / 1000;
    const ledger = await openPostgresLedger(connectionString, schema, { migrate: false });
    try {
      const started = performance.now();
      const summary = await runAccountingCycle({ books: new EarnBooks(ledger), entity: 'defi', day: DAY, batchSize: BATCH_SIZE });
      const seconds = (performance.now() - started) / 1000;
      if (summary.interestBooked !== accounts) throw new Error(`cycle booked ${summary.interestBooked} of ${accounts} accounts`);
      // verify() of the books the cycle left (what `earnbook verify` runs); no baseline.
      const verifyStarted = performance.now();
      const verified = await ledger.verify({ entity: 'defi' });
      return { cycleSeconds: seconds, setupSeconds: setup, verifySeconds: (performance.now() - verifyStarted) / 1000, verified };
    } finally {
      await ledger.close();
    }
  });
  const label = accounts === 1_000_000 ? '1m' : `${accounts}`;
  return [
    `ledger_verify_${label}_postgres_s: ${verifySeconds.toFixed(2)} s ratio=n/a (verify() of the cycle's books: ${verified.accounts} accounts, ${verified.transactions} transactions, ${verified.entries} entries; no baseline, no target)`,
    `interest_cycle_${label}_postgres_s: ${cycleSeconds.toFixed(2)} s ratio=${(cycleSeconds / rawSeconds).toFixed(2)} (raw same-rows writer, one pg client, rows precomputed, per ${BATCH_SIZE} one transaction of unnest statements: ${rawSeconds.toFixed(2)} s; target ≤ 30 s for 1M and ratio ≤ 2) [${Math.round(accounts / cycleSeconds)} accounts/s; setup ${setupSeconds.toFixed(1)} s]`,
  ];
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('interest-cycle-postgres.ts')) {
  const accounts = Number(process.argv[2] ?? 1_000_000);
  for (const line of await benchInterestCyclePostgres({ accounts, connectionString: PG_URL })) console.log(line);
}

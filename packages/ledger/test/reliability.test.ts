/**
 * Crash safety: a writer process is killed with SIGKILL at random points while it books a
 * deterministic sequence. After each kill the books are reopened and checked: every transaction
 * is whole, the invariants hold, exactly a prefix of the sequence is booked (everything the writer
 * reported as committed, plus at most the one in flight), and balances equal that prefix. At the
 * end the whole sequence is replayed: every earlier key answers `exists` with the same content and
 * nothing is booked twice.
 *
 * The kill points come from a seeded random generator; the seed is printed and can be fixed with
 * `EARNBOOK_SEED=<n>` to reproduce a failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalTransaction, Ledger } from '../src/index.js';
import { formatUnits } from '../src/index.js';
import { DIALECTS } from './dialects.js';
import { ENTITY, ENTRIES_PER_BOOKING, bookingPosting, openBookAccounts, sequencePlan, userBalancesOf } from './fixtures/scenario.js';
import { seededRandom } from './fixtures/random.js';
import type { Booking } from './fixtures/scenario.js';
import { killRunningWriters, spawnWriter } from './fixtures/spawn-writer.js';
import { createSharedLedger, entriesPerTransaction } from './fixtures/storage.js';
import type { SharedLedger } from './fixtures/storage.js';

const SEED = Number(process.env['EARNBOOK_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/** Per dialect: bookings in the sequence, kill rounds, and the longest wait before a kill. */
const PLAN = {
  sqlite: { count: 150, rounds: 5, stepsPerRoundMax: 35 },
  postgres: { count: 100, rounds: 3, stepsPerRoundMax: 35 },
} as const;
/** Each round starts a Node process, which is slow on a busy two-core machine. */
const CRASH_TIMEOUT_MS = 180_000;
/** A kill during start-up comes within this long of the spawn. */
const startKillDelayMsMax = 1_500;
/** A kill after a committed step comes within this long of it (about one posting). */
const stepKillDelayMsMax = 12;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Checks the reopened books after a kill and answers how many bookings are committed.
 * `reportedMax` is the highest step the writer printed as committed (−1 for none).
 */
async function checkAfterKill(ledger: Ledger, plan: readonly Booking[], reportedMax: number, context: string): Promise<number> {
  const report = await ledger.verify({ entity: ENTITY });
  const transactions = await entriesPerTransaction(ledger);
  const committed = transactions.length;
  // A prefix of the sequence, in order, each with all of its entries and the planned kind.
  expect(
    transactions.map((t) => [t.key, t.kind, t.entries]),
    context,
  ).toEqual(plan.slice(0, committed).map((step) => [step.key, step.kind, ENTRIES_PER_BOOKING]));
  // Everything the writer saw committed survived; at most the one in flight is extra.
  expect(committed, `${context}: writer reported step ${reportedMax} as committed`).toBeGreaterThanOrEqual(reportedMax + 1);
  expect(committed, `${context}: writer reported step ${reportedMax} as committed`).toBeLessThanOrEqual(reportedMax + 2);
  expect(report, context).toEqual({ accounts: 6, transactions: committed, entries: committed * ENTRIES_PER_BOOKING });
  const accounts = await openBookAccounts(ledger);
  const expected = userBalancesOf(plan.slice(0, committed));
  const total = expected.reduce((sum, units) => sum + units, 0n);
  const balances = await Promise.all(accounts.users.map((user) => ledger.balance(user.id)));
  expect(balances, context).toEqual(expected.map((units) => formatUnits(units)));
  expect(await ledger.balance(accounts.customerFunds.id), context).toBe(formatUnits(-total));
  expect(await ledger.balance(accounts.earnAssets.id), context).toBe(formatUnits(total));
  expect(await ledger.balance(accounts.settlement.id), context).toBe(formatUnits(-total));
  return committed;
}

describe.each(DIALECTS)('a writer killed with SIGKILL on %s', (dialect) => {
  let shared: SharedLedger | undefined;
  afterEach(async () => {
    await killRunningWriters();
    await shared?.remove();
    shared = undefined;
  });

  it('leaves whole transactions, keeps the invariants, and a replay of the same keys adds nothing', { timeout: CRASH_TIMEOUT_MS }, async () => {
    const { count, rounds, stepsPerRoundMax } = PLAN[dialect];
    const seed = SEED + (dialect === 'sqlite' ? 0 : 1);
    console.info(`reliability (${dialect}): EARNBOOK_SEED=${SEED}`);
    const random = seededRandom(seed);
    const plan = sequencePlan(count);
    shared = await createSharedLedger(dialect);
    // The six accounts exist before any writer starts. Opening them is idempotent, and a kill in
    // the middle of it legitimately leaves fewer; what this test kills is the booking, so every
    // round's check can count the same six accounts.
    const setup = await shared.open();
    try {
      await openBookAccounts(setup);
    } finally {
      await setup.close();
    }
    let committed = 0;
    let kills = 0;
    for (let round = 0; round < rounds && committed < count; round++) {
      // Start a little before the end of the books, so that some replays are also interrupted.
      const from = Math.max(0, committed - 2);
      const writer = spawnWriter(shared.writerOptions, { mode: 'sequence', from, count });
      // Kill after a random number of committed steps plus a random part of the next one, so
      // that the kill lands anywhere in a write; now and then while the writer is still starting.
      let point: string;
      if (random() < 0.15) {
        // At the latest when the first booking is reported: on a fast machine the whole sequence
        // could otherwise be written before the delay ends, and the round would kill nothing.
        const delayMs = Math.floor(random() * startKillDelayMsMax);
        const first = await Promise.race([
          sleep(delayMs).then(() => undefined),
          writer.waitForLine(/^booked /).catch(() => undefined),
        ]);
        point = first === undefined ? `${delayMs} ms after the start` : `at the first booking (before ${delayMs} ms)`;
      } else {
        const target = Math.min(count - 1, from + Math.floor(random() * stepsPerRoundMax));
        const delayMs = Math.floor(random() * stepKillDelayMsMax);
        await writer.waitForLine(new RegExp(`^booked ${target} `)).catch(() => undefined);
        await sleep(delayMs);
        point = `${delayMs} ms after step ${target}`;
      }
      writer.child.kill('SIGKILL');
      const exit = await writer.exited;
      const context = `seed ${SEED}, ${dialect}, round ${round} (from ${from}, kill ${point})`;
      if (exit.signal !== 'SIGKILL') expect(exit.code, `${context}: ${exit.stderr}`).toBe(0);
      else kills++;
      expect(writer.lines.filter((line) => line.startsWith('error')), context).toEqual([]);
      const reported = writer.lines.map((line) => /^booked (\d+) (created|exists)$/.exec(line)).filter((match) => match !== null);
      // Steps the previous writer committed answer `exists` when the new one replays them.
      for (const match of reported) expect(match[2], `${context}: step ${match[1]}`).toBe(Number(match[1]) < committed ? 'exists' : 'created');
      const reportedMax = reported.length === 0 ? committed - 1 : Math.max(committed - 1, ...reported.map((match) => Number(match[1])));
      const ledger = await shared.open();
      try {
        committed = await checkAfterKill(ledger, plan, reportedMax, context);
      } finally {
        await ledger.close();
      }
    }
    expect(kills, `seed ${SEED}: at least one writer must die by the signal`).toBeGreaterThan(0);

    // Replay the whole sequence: earlier keys answer `exists` with identical content.
    const ledger = await shared.open();
    try {
      const accounts = await openBookAccounts(ledger);
      const before = new Map<string, JournalTransaction>();
      for (const step of plan.slice(0, committed)) {
        const stored = await ledger.transactionByKey(ENTITY, step.key);
        expect(stored, step.key).toBeDefined();
        if (stored !== undefined) before.set(step.key, stored);
      }
      for (const [n, step] of plan.entries()) {
        const result = await ledger.post(bookingPosting(accounts, step));
        if (n < committed) {
          expect(result.status, step.key).toBe('exists');
          expect(result.transaction, step.key).toEqual(before.get(step.key));
        } else {
          expect(result.status, step.key).toBe('created');
        }
      }
      const statuses = await Promise.all(plan.map(async (step) => (await ledger.post(bookingPosting(accounts, step))).status));
      expect(new Set(statuses)).toEqual(new Set(['exists']));
      expect(await checkAfterKill(ledger, plan, count - 1, `seed ${SEED}, ${dialect}, after the replay`)).toBe(count);
    } finally {
      await ledger.close();
    }
  });
});

describe.each(DIALECTS)('a writer killed with SIGKILL while a group commits on %s', (dialect) => {
  let shared: SharedLedger | undefined;
  afterEach(async () => {
    await killRunningWriters();
    await shared?.remove();
    shared = undefined;
  });

  it('leaves whole groups of whole transactions: every wave reported is there, the rest is all or nothing per group', { timeout: CRASH_TIMEOUT_MS }, async () => {
    const callers = 32;
    const random = seededRandom(SEED + (dialect === 'sqlite' ? 10 : 11));
    shared = await createSharedLedger(dialect);
    const setup = await shared.open();
    await openBookAccounts(setup);
    await setup.close();
    const writer = spawnWriter(shared.writerOptions, { mode: 'group', waves: 1_000, callers });
    await writer.waitForLine(/^wave 1$/);
    // Kill inside the next commits: a few milliseconds after a wave, while the next group is in flight.
    await sleep(random() * stepKillDelayMsMax);
    writer.child.kill('SIGKILL');
    await writer.exited;
    const reported = writer.lines.filter((line) => line.startsWith('wave ')).length;
    const ledger = await shared.open();
    try {
      const report = await ledger.verify({ entity: ENTITY });
      const transactions = await entriesPerTransaction(ledger);
      expect(transactions.every((t) => t.entries === ENTRIES_PER_BOOKING)).toBe(true);
      expect(report.entries).toBe(transactions.length * ENTRIES_PER_BOOKING);
      // Every wave the writer saw committed survived whole.
      const keys = new Set(transactions.map((t) => t.key));
      for (let wave = 0; wave < reported; wave++) {
        for (let caller = 0; caller < callers; caller++) expect(keys.has(`g${wave}-${caller}`), `g${wave}-${caller}`).toBe(true);
      }
      // A wave is submitted in one turn of the event loop, so it is one group and one database
      // transaction: each wave is there whole or not at all, and the waves there are a prefix.
      const perWave = new Map<number, number>();
      for (const t of transactions) {
        const wave = Number(/^g(\d+)-/.exec(t.key)?.[1]);
        perWave.set(wave, (perWave.get(wave) ?? 0) + 1);
      }
      const waves = [...perWave.keys()].sort((a, b) => a - b);
      expect(waves).toEqual(Array.from({ length: waves.length }, (_, i) => i));
      expect(waves.every((wave) => perWave.get(wave) === callers)).toBe(true);
      expect(waves.length).toBeGreaterThanOrEqual(reported);
    } finally {
      await ledger.close();
    }
  });
});

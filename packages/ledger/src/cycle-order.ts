/**
 * The accounting cycle's days run in order. A day's interest is computed on its end-of-day
 * balance, which holds the interest of the day before only once that day's cycle has run (it is
 * credited at the start of the day). A day run before the day before it, or after a later day,
 * would compute on balances that lack interest they will hold, and nothing would say so later: the
 * run is refused before it writes anything. What the cycle records of the days it ran is the
 * `accounting_cycles` row each completed run leaves.
 */
import { LedgerError } from './errors.js';
import { formatUnits } from './money.js';
import { nextAccountingDay, previousAccountingDay } from './calendar.js';
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './db/schema.js';
import { earnBalanceOrResidueHeld, selectCycleDays } from './db/repository.js';

/**
 * Refuses to run the cycle of `day` out of order, with `cycle_out_of_order` naming `day`, its
 * value, and the next day to run (`context.nextDay`, the day after the latest run,
 * `context.latestDay`). Allowed: the first day ever run for the entity (any day); a day that has
 * run already (runs again, booking what is missing: a resumed run); the day after the latest run;
 * a later day when no Earn account of the entity held a balance at the end of any day skipped and
 * none carries a residue from the latest run (the skipped days would have booked nothing).
 * Refused: any other later day, and a day before the latest run that never ran (its interest
 * would be credited after later days were computed without it).
 */
export async function assertCycleDayInOrder(db: Kysely<LedgerDatabase>, input: { readonly entity: string; readonly day: string }): Promise<void> {
  const { entity, day } = input;
  const { ran, latest } = await selectCycleDays(db, input);
  if (ran || latest === undefined) return;
  const nextDay = nextAccountingDay(latest);
  if (day === nextDay) return;
  const context = { nextDay, latestDay: latest };
  if (day < latest) {
    throw new LedgerError('cycle_out_of_order', `day ${day} cannot run: the cycle of ${entity} has run up to ${latest}, whose figures lack the interest ${day} would credit; the next day to run is ${nextDay}`, { field: 'day', value: day, context });
  }
  const skipped = { entity, from: nextDay, to: previousAccountingDay(day), residueDay: latest, zero: formatUnits(0n) };
  if (!(await earnBalanceOrResidueHeld(db, skipped))) return;
  throw new LedgerError('cycle_out_of_order', `day ${day} cannot run before ${nextDay}: the cycle of ${entity} has run up to ${latest}, and an Earn account held a balance (or a residue) on the days between, whose interest ${day} must include; run ${nextDay} first`, { field: 'day', value: day, context });
}

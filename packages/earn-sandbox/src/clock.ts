/**
 * The sandbox clock: it stands still until a test (or the local developer) moves it, and every
 * move runs the accounting cycle of every local midnight crossed.
 */
import { accountingDayOf, formatInstant, nextAccountingDay, parseInstant, startOfAccountingDay } from '@earnbook/ledger';
import { LedgerError } from '@earnbook/ledger';
import { SandboxError, invalidOption } from './errors.js';

/**
 * Days one move of the clock may cover, however it is asked for ({@link SandboxClock.advanceTo},
 * {@link SandboxClock.advanceBy} or {@link SandboxClock.advanceDays}): every day crossed runs a
 * cycle, so an unbounded move (`{"to":"9999-12-31T00:00:00Z"}`, `{"ms":1e15}`) would never end.
 */
export const ADVANCE_DAYS_MAX = 3660;

const MS_PER_DAY = 86_400_000;

/** What the clock needs from the provider. */
export interface ClockTarget {
  now(): Date;
  advanceTo(target: Date): Promise<void>;
}

/**
 * The controllable clock of a sandbox. Bookings are stamped with {@link SandboxClock.now};
 * OAuth2 tokens, however, live on the wall clock, because the client counts `expires_in` there.
 *
 * @example
 * await sandbox.clock.advanceDays(1);             // closes today for every entity
 * await sandbox.clock.advanceTo('2025-03-20T00:00:00Z');
 * await sandbox.clock.advanceBy(60_000);          // one minute later, same day
 */
export class SandboxClock {
  readonly #target: ClockTarget;
  readonly #timeZone: string;

  constructor(options: { readonly target: ClockTarget; readonly timeZone: string }) {
    this.#target = options.target;
    this.#timeZone = options.timeZone;
  }

  /** The current sandbox instant. */
  now(): Date {
    return this.#target.now();
  }

  /** The current sandbox instant as a canonical UTC string. */
  nowText(): string {
    return formatInstant(this.now());
  }

  /** The current accounting day in the partner's zone. */
  accountingDay(): string {
    return accountingDayOf(this.now(), this.#timeZone);
  }

  /**
   * Moves the clock to `instant` (not before now), closing every day that ends on the way.
   * Resolves when every cycle, settlement and report is done.
   */
  async advanceTo(instant: string | Date): Promise<void> {
    let target: Date;
    try {
      target = parseInstant(instant, 'instant');
    } catch (error) {
      if (error instanceof LedgerError) throw new SandboxError('invalid_option', error.message, { field: 'instant', cause: error });
      throw error;
    }
    if (target.getTime() - this.now().getTime() > ADVANCE_DAYS_MAX * MS_PER_DAY) {
      invalidOption('instant', formatInstant(target), `must be at most ${ADVANCE_DAYS_MAX} days after the sandbox clock (${this.nowText()})`);
    }
    await this.#target.advanceTo(target);
  }

  /** Moves the clock by `ms` milliseconds, at most {@link ADVANCE_DAYS_MAX} days. */
  async advanceBy(ms: number): Promise<void> {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > ADVANCE_DAYS_MAX * MS_PER_DAY) invalidOption('ms', ms, `must be an integer from 0 to ${ADVANCE_DAYS_MAX * MS_PER_DAY} (${ADVANCE_DAYS_MAX} days)`);
    await this.#target.advanceTo(new Date(this.now().getTime() + ms));
  }

  /**
   * Moves the clock `days` accounting days ahead in the partner's zone, keeping the time elapsed
   * since local midnight (so from 09:00 on day 1 to 09:00 on day 1 + `days`, also across DST).
   */
  async advanceDays(days: number): Promise<void> {
    if (!Number.isSafeInteger(days) || days < 0 || days > ADVANCE_DAYS_MAX) invalidOption('days', days, `must be an integer from 0 to ${ADVANCE_DAYS_MAX}`);
    const now = this.now();
    let day = accountingDayOf(now, this.#timeZone);
    const sinceMidnightMs = now.getTime() - startOfAccountingDay(day, this.#timeZone).getTime();
    for (let index = 0; index < days; index += 1) day = nextAccountingDay(day);
    await this.#target.advanceTo(new Date(startOfAccountingDay(day, this.#timeZone).getTime() + sinceMidnightMs));
  }
}

/**
 * The accounting calendar's time zones (split from `calendar.ts`, the only module that uses them):
 * zone names checked and cached with their formatters, and the first instant of a day in a zone,
 * found through `Intl.DateTimeFormat` and UTC fields only (see `calendar.ts` for why).
 */
import { LedgerError, LedgerInvariantError, describeValue } from './errors.js';

/** Longest time zone name accepted; the longest IANA name has 32 characters. */
export const TIME_ZONE_NAME_LENGTH_MAX = 64;
/** Time zone names whose validation result (valid or not) is remembered. */
export const TIME_ZONE_CACHE_SIZE_MAX = 1024;
/** (zone, day) pairs whose start instant is remembered. */
export const DAY_START_CACHE_SIZE_MAX = 8192;

export const MS_PER_SECOND = 1000;
export const MS_PER_DAY = 86_400_000;
/** 400 Gregorian years are exactly 146 097 days; used to dodge `Date.UTC`'s 2-digit-year rule. */
export const MS_PER_400_YEARS = 146_097 * MS_PER_DAY;
/** No zone has been 15 hours or more ahead of UTC since 1970, so local midnight is later than this. */
const OFFSET_SEARCH_MS = 15 * 3_600_000;
/** Offset changes a day-start search may cross; real zones change at most twice in a day and a half. */
const TRANSITIONS_PER_SEARCH_MAX = 6;

/** IANA names: segments of letters, digits, `_`, `-`, `+` separated by `/` (e.g. `Etc/GMT+5`). */
const TIME_ZONE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/** Everything the calendar keeps per valid zone: its formatters and the last day it saw. */
export interface ZoneState {
  /** The name as accepted: the runtime's spelling of it (`Europe/Berlin` for `europe/berlin`). */
  readonly zone: string;
  /** The runtime's identifier of the zone's rules: one for every spelling and alias of a zone. */
  readonly identity: string;
  /** Formats the date and the hour only: the cheapest way to get the day of an instant. */
  readonly dayFormat: Intl.DateTimeFormat;
  /** Formats every field down to seconds, for the offset from UTC. */
  readonly wallFormat: Intl.DateTimeFormat;
  /** The most recently resolved day, so that time-ordered postings skip Intl entirely. */
  recentDay: string | undefined;
  recentStartMs: number;
  recentEndMs: number;
  /** The day of the last instant that missed the recent day. */
  lastMissDay: string | undefined;
}

/** Zone name → its state, or `null` when the name was rejected. Bounded, oldest out first. */
const zoneCache = new Map<string, ZoneState | null>();
/** `epochDay|zone` → start of that day in ms. Bounded, oldest out first. */
const dayStartCache = new Map<string, number>();

function rememberBounded<K, V>(cache: Map<K, V>, key: K, value: V, sizeMax: number): void {
  if (cache.size >= sizeMax) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, value);
}

function unknownTimeZone(zone: unknown, field: string, reason: string, cause?: unknown): never {
  throw new LedgerError('unknown_time_zone', `${field} ${reason}, got ${describeValue(zone)}`, {
    field,
    value: describeValue(zone),
    ...(cause === undefined ? {} : { cause }),
  });
}

function createZoneState(zone: string): ZoneState | null {
  try {
    const dayFormat = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      calendar: 'gregory',
      numberingSystem: 'latn',
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: 'numeric',
    });
    const wallFormat = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      calendar: 'gregory',
      numberingSystem: 'latn',
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    // Intl matches names case-insensitively and resolves aliases to one identifier (on Node 20
    // `Asia/Kolkata` and `asia/kolkata` both to `Asia/Calcutta`). The accepted name takes the
    // runtime's case; an alias stays the alias the caller chose, since which identifier a runtime
    // calls primary changes between versions: comparisons go through `identity` instead.
    const identity = dayFormat.resolvedOptions().timeZone;
    const spelling = identity.toLowerCase() === zone.toLowerCase() ? identity : zone;
    return { zone: spelling, identity, dayFormat, wallFormat, recentDay: undefined, recentStartMs: 0, recentEndMs: 0, lastMissDay: undefined };
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

export function zoneStateOf(zone: unknown, field: string): ZoneState {
  if (typeof zone === 'string') {
    const cached = zoneCache.get(zone);
    if (cached !== undefined) {
      if (cached === null) unknownTimeZone(zone, field, 'is not a known IANA time zone');
      return cached;
    }
  }
  if (typeof zone !== 'string') return unknownTimeZone(zone, field, 'must be an IANA time zone name');
  // Offsets such as "+02:00" are valid Intl zones in newer runtimes, but an accounting zone must
  // follow its country's DST rules, so only names are accepted.
  const state =
    zone.length > 0 && zone.length <= TIME_ZONE_NAME_LENGTH_MAX && TIME_ZONE_NAME_PATTERN.test(zone) ? createZoneState(zone) : null;
  rememberBounded(zoneCache, zone, state, TIME_ZONE_CACHE_SIZE_MAX);
  if (state === null) return unknownTimeZone(zone, field, 'is not a known IANA time zone');
  return state;
}

/**
 * Checks that `zone` is an IANA time zone name the runtime knows (`UTC` included) and returns
 * it in its canonical spelling: names are matched without regard to case, as `Intl` does, and
 * answered in the runtime's case (`europe/berlin` → `Europe/Berlin`). An alias (`Asia/Kolkata`,
 * `US/Pacific`) is answered as the alias, in the runtime's case when it differs from the primary
 * name by case only. Empty strings, unknown names and UTC offsets such as `+02:00` are rejected.
 * Results, good and bad, are cached.
 *
 * @throws LedgerError `unknown_time_zone`, naming `field` and the value.
 * @example assertTimeZone('europe/berlin', 'entity.timeZone') // 'Europe/Berlin'
 */
export function assertTimeZone(zone: unknown, field = 'timeZone'): string {
  return zoneStateOf(zone, field).zone;
}

/**
 * Whether two zone names name the same rules for this runtime: the same name in any case, or
 * two aliases `Intl` resolves to one zone (`Asia/Kolkata` and `Asia/Calcutta`). A name the
 * runtime does not know equals only itself, character for character.
 *
 * @example sameTimeZone('europe/berlin', 'Europe/Berlin') // true
 */
export function sameTimeZone(a: string, b: string): boolean {
  if (a === b) return true;
  const known = (zone: string): ZoneState | undefined => {
    try {
      return zoneStateOf(zone, 'timeZone');
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'unknown_time_zone') return undefined;
      throw error;
    }
  };
  const first = known(a);
  const second = known(b);
  return first !== undefined && second !== undefined && first.identity === second.identity;
}

/** Milliseconds of a UTC calendar time; correct for years 0..99, unlike bare `Date.UTC`. */
export function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return Date.UTC(year + 400, month - 1, day, hour, minute, second, ms) - MS_PER_400_YEARS;
}

export function partValue(parts: readonly Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): string {
  for (const part of parts) if (part.type === type) return part.value;
  throw new Error(`Intl.DateTimeFormat returned no ${type} part`);
}

/** Local wall-clock time at the whole second `secondMs`, expressed as if it were UTC ms. */
function wallMs(state: ZoneState, secondMs: number): number {
  const parts = state.wallFormat.formatToParts(secondMs);
  // Some runtimes print midnight as hour 24 even with h23; 24 is hour 0 of the same date there.
  const hour = Number(partValue(parts, 'hour')) % 24;
  return utcMs(
    Number(partValue(parts, 'year')),
    Number(partValue(parts, 'month')),
    Number(partValue(parts, 'day')),
    hour,
    Number(partValue(parts, 'minute')),
    Number(partValue(parts, 'second')),
  );
}

/**
 * Local wall-clock time of an instant as UTC-like ms. Offsets change only on whole seconds,
 * so the offset at the start of the instant's second is the offset of the instant.
 */
function localMs(state: ZoneState, ms: number): number {
  const secondMs = Math.floor(ms / MS_PER_SECOND) * MS_PER_SECOND;
  return wallMs(state, secondMs) + (ms - secondMs);
}

function offsetMs(state: ZoneState, ms: number): number {
  return localMs(state, ms) - ms;
}

/** The first whole second after `fromMs` whose offset differs from `offset`, at or before `toMs`. */
function transitionMs(state: ZoneState, fromMs: number, toMs: number, offset: number): number {
  let lowSecond = fromMs / MS_PER_SECOND;
  let highSecond = toMs / MS_PER_SECOND;
  while (highSecond - lowSecond > 1) {
    const middleSecond = Math.floor((lowSecond + highSecond) / 2);
    if (offsetMs(state, middleSecond * MS_PER_SECOND) === offset) lowSecond = middleSecond;
    else highSecond = middleSecond;
  }
  return highSecond * MS_PER_SECOND;
}

/**
 * The first instant whose local time reaches local midnight of `epochDay`.
 *
 * Local time is `t + offset(t)`, piecewise linear with jumps at offset transitions (on whole
 * seconds). The walk starts where local time is surely before midnight and, under the offset in
 * force, solves for midnight; if the offset at the solution differs, a transition lies between,
 * so it bisects to the transition and either stops there (local time jumped past midnight: DST
 * at 00:00, the day starts at 01:00) or walks on from it. This finds the first crossing even when
 * midnight happens twice (clocks falling back to or across midnight), where offset arithmetic
 * alone, like date-fns-tz's `fromZonedTime`, can be an hour off.
 */
function computeDayStartMs(state: ZoneState, epochDay: number): number {
  const midnightMs = epochDay * MS_PER_DAY;
  let fromMs = midnightMs - OFFSET_SEARCH_MS;
  for (let step = 0; step < TRANSITIONS_PER_SEARCH_MAX; step += 1) {
    const offset = offsetMs(state, fromMs);
    const solutionMs = midnightMs - offset;
    if (offsetMs(state, solutionMs) === offset) return solutionMs;
    const changeMs = transitionMs(state, fromMs, solutionMs, offset);
    if (localMs(state, changeMs) >= midnightMs) return changeMs;
    fromMs = changeMs;
  }
  throw new LedgerInvariantError(`${state.zone} changes its UTC offset more than ${TRANSITIONS_PER_SEARCH_MAX} times around day ${epochDay}`);
}

/** Start of an epoch day (which may be one past the last supported day, for its end). */
export function dayStartMs(state: ZoneState, epochDay: number): number {
  const key = `${epochDay}|${state.identity}`;
  const cached = dayStartCache.get(key);
  if (cached !== undefined) return cached;
  const startMs = computeDayStartMs(state, epochDay);
  rememberBounded(dayStartCache, key, startMs, DAY_START_CACHE_SIZE_MAX);
  return startMs;
}

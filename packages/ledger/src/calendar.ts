/**
 * The accounting calendar (this module, and `calendar-zones.ts` for its time zones): the only
 * code that converts between UTC instants and accounting days. An instant is a UTC `Date`; an
 * accounting day is a `YYYY-MM-DD` string in the partner's IANA time zone, and it covers the
 * half-open interval of instants [start, end).
 *
 * Days are not always 24 hours long: daylight saving time makes 23- and 25-hour days, and in
 * zones whose change happens at midnight (America/Santiago, Asia/Beirut, America/Havana) local
 * midnight does not exist on the day the clocks go forward, so the day starts at 01:00. A day
 * that a zone skipped entirely (Pacific/Apia on 2011-12-30) is an empty interval.
 *
 * Local fields of a `Date` (`getHours` and friends) depend on the process `TZ` and are never
 * read here; all zone arithmetic goes through `Intl.DateTimeFormat` and UTC fields, so results
 * are the same whatever `TZ` the process runs under.
 */
import { LedgerError, describeValue, isInstanceInput } from './errors.js';
import { optionalWholeNumber } from './whole-number.js';
import { MS_PER_400_YEARS, MS_PER_DAY, dayStartMs, partValue, utcMs, zoneStateOf } from './calendar-zones.js';
export { assertTimeZone, sameTimeZone } from './calendar-zones.js';

/** A `YYYY-MM-DD` accounting day string. */
export type AccountingDay = string;

/** The shape of an accounting day; {@link parseAccountingDay} also checks it is a real date. */
export const ACCOUNTING_DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** The first accounting day the calendar accepts. */
export const ACCOUNTING_DAY_MIN: AccountingDay = '1970-01-01';
/** The last accounting day the calendar accepts. */
export const ACCOUNTING_DAY_MAX: AccountingDay = '9999-12-31';
/** Default bound on the number of days {@link accountingDaysBetween} lists (about ten years). */
export const ACCOUNTING_DAYS_MAX_DEFAULT = 3660;
/** Longest instant string accepted before it is parsed. */
export const INSTANT_TEXT_LENGTH_MAX = 40;

/**
 * Local time of day from which an instant may already belong to the next day. Clocks that go
 * back across midnight (America/St_Johns at 00:01 until 2011; Antarctica/Casey from 02:00 to
 * 23:00 in 2010) show the previous date again after the next day has begun; none has gone back
 * more than a few hours, so only instants shown at 20:00 or later need the check.
 */
const NEXT_DAY_CHECK_FROM_MS = 20 * 3_600_000;
/**
 * Instants that can be formatted and given an accounting day: years 0000 to 9999 UTC,
 * [0000-01-01T00:00:00Z, 10000-01-01T00:00:00Z). Outside them `toISOString` writes six-digit
 * years (`+010000-…`) that no instant parser here or in the earn-client contract reads back. The
 * last accounting day, 9999-12-31, therefore ends at 10000-01-01T00:00:00Z for postings in zones
 * west of UTC. {@link parseInstant}, {@link formatInstant} and {@link accountingDayOf} all refuse
 * instants outside it, so `9999-12-31T23:00:00-08:00` is refused where it is read, naming the
 * caller's field, and never reaches a posting.
 */
const INSTANT_MS_MIN = Date.UTC(2000, 0, 1) - 5 * MS_PER_400_YEARS;
const INSTANT_MS_END = Date.UTC(10_000, 0, 1);
/** The first instant past the range, as text (`toISOString` cannot write it in four digits). */
const INSTANT_END_TEXT = '10000-01-01T00:00:00.000Z';
const EPOCH_DAY_MIN = 0;
const EPOCH_DAY_MAX = Date.UTC(9999, 11, 31) / MS_PER_DAY;
/** Instants this far outside the supported days cannot fall in one; Intl is not asked. */
const DAY_GUARD_MS_MIN = (EPOCH_DAY_MIN - 2) * MS_PER_DAY;
const DAY_GUARD_MS_MAX = (EPOCH_DAY_MAX + 3) * MS_PER_DAY;

const DAY_PARTS_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
/**
 * The one instant rule, shared word for word with the earn-client contract's `date-time` format
 * (`packages/earn-client/src/contract/instant.ts`; a property test in reconcile proves they agree):
 * RFC 3339 §5.6 `date-time` with its note's allowances (`t`/`z` in any case, a space instead of
 * `T`), plus the ISO 8601 forms either side accepted before (seconds left out; offsets `±hhmm`
 * and `±hh`). Fractions have at most 9 digits; leap seconds (`:60`) are refused on both sides,
 * since a `Date` cannot hold them (none has occurred since 2016).
 */
const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

function invalidDay(input: unknown, field: string, reason: string): never {
  throw new LedgerError('invalid_day', `${field} ${reason}, got ${describeValue(input)}`, {
    field,
    value: describeValue(input),
  });
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a day string, or `undefined` when it is not a supported real date. */
function epochDayOf(input: string): number | undefined {
  const match = DAY_PARTS_PATTERN.exec(input);
  if (match === null) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const epochDay = Date.UTC(year, month - 1, day) / MS_PER_DAY;
  return epochDay >= EPOCH_DAY_MIN && epochDay <= EPOCH_DAY_MAX ? epochDay : undefined;
}

/** Days since 1970-01-01 of an accounting day (validated as {@link parseAccountingDay} does; `invalid_day` naming `field`). */
export function parseEpochDay(input: unknown, field: string): number {
  if (typeof input !== 'string') return invalidDay(input, field, 'must be a YYYY-MM-DD string');
  const epochDay = epochDayOf(input);
  if (epochDay === undefined) {
    return invalidDay(input, field, `must be a real YYYY-MM-DD date from ${ACCOUNTING_DAY_MIN} to ${ACCOUNTING_DAY_MAX}`);
  }
  return epochDay;
}

/** The day string of an epoch day in the supported range (UTC fields only). */
function dayOfEpochDay(epochDay: number): AccountingDay {
  return new Date(epochDay * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * Validates an accounting day: a `YYYY-MM-DD` string naming a real calendar date from
 * 1970-01-01 to 9999-12-31.
 *
 * @throws LedgerError `invalid_day`, naming `field` and the value.
 * @example parseAccountingDay('2024-02-29') // '2024-02-29'; '2023-02-29' throws
 */
export function parseAccountingDay(input: unknown, field = 'day'): AccountingDay {
  parseEpochDay(input, field);
  return input as AccountingDay;
}

/** Length of the canonical instant text, `2025-03-19T00:01:55.703Z`. */
const CANONICAL_INSTANT_LENGTH = 24;

/** The digit at `at` of `text` (0–9), or -1 when it is not a digit. */
function digitAt(text: string, at: number): number {
  const value = text.charCodeAt(at) - 0x30;
  return value >= 0 && value <= 9 ? value : -1;
}

/** Two digits at `at` as a number, or -1. */
function twoDigitsAt(text: string, at: number): number {
  const high = digitAt(text, at);
  const low = digitAt(text, at + 1);
  return high < 0 || low < 0 ? -1 : high * 10 + low;
}

/**
 * The milliseconds of an instant in the canonical form the ledger and the provider write
 * (`YYYY-MM-DDTHH:MM:SS.sssZ`), or `undefined` for any other text (the pattern then decides, with
 * the same rules).
 */
function canonicalInstantMs(input: string): number | undefined {
  if (input.length !== CANONICAL_INSTANT_LENGTH || input.charCodeAt(4) !== 0x2d || input.charCodeAt(7) !== 0x2d || input.charCodeAt(10) !== 0x54) return undefined;
  if (input.charCodeAt(13) !== 0x3a || input.charCodeAt(16) !== 0x3a || input.charCodeAt(19) !== 0x2e || input.charCodeAt(23) !== 0x5a) return undefined;
  const century = twoDigitsAt(input, 0);
  const yearOfCentury = twoDigitsAt(input, 2);
  const month = twoDigitsAt(input, 5);
  const day = twoDigitsAt(input, 8);
  const hour = twoDigitsAt(input, 11);
  const minute = twoDigitsAt(input, 14);
  const second = twoDigitsAt(input, 17);
  const msHigh = twoDigitsAt(input, 20);
  const msLow = digitAt(input, 22);
  if (century < 0 || yearOfCentury < 0 || hour < 0 || minute < 0 || second < 0 || msHigh < 0 || msLow < 0) return undefined;
  const year = century * 100 + yearOfCentury;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = utcMs(year, month, day, hour, minute, second, msHigh * 10 + msLow);
  return Number.isNaN(ms) ? undefined : ms;
}

function invalidInstant(input: unknown, field: string, reason: string): never {
  throw new LedgerError('invalid_instant', `${field} ${reason}, got ${describeValue(input)}`, {
    field,
    value: describeValue(input),
  });
}

/**
 * The time of a Date read from its own slot (`Date.prototype.getTime`), NaN for an invalid Date,
 * undefined for anything that has no slot: a proxy of a Date, or an object made from
 * Date.prototype, passes `instanceof` but `getTime` on it threw a raw TypeError (a review,
 * session 44). Shared by {@link parseInstant} and the ledger's clock check.
 */
export function dateMs(value: unknown): number | undefined {
  try {
    return Date.prototype.getTime.call(value as Date);
  } catch {
    return undefined;
  }
}

/**
 * Parses an instant: an RFC 3339 string with a zone designator (`Z`, `±HH:MM`, `±HHMM` or `±HH`;
 * `t`, `z` and a space separator accepted as RFC 3339 §5.6 allows), such as
 * `2025-03-19T00:01:55.703Z` or `2025-03-19 02:01:55+02:00`, or a valid `Date` (copied). The
 * earn-client contract's `date-time` format reads text by the same rule.
 * Strings without a designator are rejected, because their meaning would depend on the process
 * `TZ`; so are impossible dates and times (`02-30`, `24:00`, leap seconds), and instants outside
 * years 0000 to 9999 UTC, which the ledger can neither format nor store
 * (`9999-12-31T23:00:00-08:00` is 10000-01-01T07:00:00Z). Fractions finer than a millisecond are
 * truncated, never rounded, so an instant never moves into the next day.
 *
 * @throws LedgerError `invalid_instant`, naming `field` and the value.
 */
export function parseInstant(input: unknown, field = 'instant'): Date {
  if (isInstanceInput(input, Date, field)) {
    const ms = dateMs(input);
    if (ms === undefined) return invalidInstant('(not a Date)', field, 'must be an ISO-8601 string or a Date');
    if (Number.isNaN(ms)) return invalidInstant(input, field, 'must be a valid date');
    return new Date(checkInstantRange(ms, input, field));
  }
  if (typeof input !== 'string') return invalidInstant(input, field, 'must be an ISO-8601 string or a Date');
  // Four-digit years in UTC: the canonical form (offset Z) cannot leave the range.
  const canonical = canonicalInstantMs(input);
  if (canonical !== undefined) return new Date(canonical);
  const match = input.length <= INSTANT_TEXT_LENGTH_MAX ? INSTANT_PATTERN.exec(input) : null;
  if (match === null) {
    return invalidInstant(input, field, 'must be an ISO-8601 instant with a zone designator, like "2025-03-19T00:01:55.703Z"');
  }
  const [, yearText, monthText, dayText, hourText, minuteText, secondText, fractionText, zulu, sign, offsetHourText, offsetMinuteText] = match;
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText ?? '0');
  const ms = Number((fractionText ?? '').padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return invalidInstant(input, field, 'is not a real date');
  if (hour > 23 || minute > 59 || second > 59) return invalidInstant(input, field, 'is not a real time of day');
  let offsetMs = 0;
  if (zulu === undefined) {
    const offsetHour = Number(offsetHourText);
    const offsetMinute = Number(offsetMinuteText ?? '0');
    if (offsetHour > 23 || offsetMinute > 59) return invalidInstant(input, field, 'has an impossible UTC offset');
    offsetMs = (sign === '-' ? -1 : 1) * (offsetHour * 60 + offsetMinute) * 60_000;
  }
  // An offset can carry a four-digit local year past the range (`9999-12-31T23:00:00-08:00` is
  // 10000-01-01T07:00:00Z): refused here, naming the caller's field, as nothing could store it.
  return new Date(checkInstantRange(utcMs(year, month, day, hour, minute, second, ms) - offsetMs, input, field));
}

/** `ms` when it is an instant of years 0000 to 9999 UTC; `invalid_instant` naming `field` otherwise. */
function checkInstantRange(ms: number, input: unknown, field: string): number {
  if (!(ms >= INSTANT_MS_MIN && ms < INSTANT_MS_END)) {
    return invalidInstant(input, field, `must be from 0000-01-01T00:00:00.000Z to before ${INSTANT_END_TEXT}`);
  }
  return ms;
}

/**
 * Formats an instant as a canonical UTC ISO string with milliseconds, always one that
 * {@link parseInstant} reads back: the instant must be in years 0000 to 9999 UTC.
 *
 * @throws LedgerError `invalid_instant` for an invalid `Date`, or one before
 * 0000-01-01T00:00:00.000Z or at or after 10000-01-01T00:00:00.000Z (`+010000-…` would be written).
 * @example formatInstant(new Date(Date.UTC(2025, 2, 19, 0, 1, 55, 703))) // '2025-03-19T00:01:55.703Z'
 */
export function formatInstant(instant: Date): string {
  const ms = instant instanceof Date ? instant.getTime() : Number.NaN;
  if (Number.isNaN(ms)) return invalidInstant(instant, 'instant', 'must be a valid Date');
  return new Date(checkInstantRange(ms, instant, 'instant')).toISOString();
}

/**
 * The accounting day in `zone` that contains `instant`: its local calendar date, and always the
 * day whose {@link accountingDayBounds} contain it. The two differ only where clocks went back
 * across midnight (America/St_Johns on 1990-10-28 read 00:00 at 02:30Z, then 23:01 of the 27th
 * at 02:31Z): once a day has begun, the instants shown on the previous date belong to it.
 *
 * Cheap enough to call per posting: formatters are cached per zone, and once two instants in a
 * row land on the same day its bounds are remembered, so further instants of that day are
 * answered by two comparisons.
 *
 * @throws LedgerError `invalid_instant` for an invalid `Date`, one whose day falls outside
 * 1970-01-01..9999-12-31, or one at or after 10000-01-01T00:00:00.000Z (the last hours of
 * 9999-12-31 in zones west of UTC, which no stored instant could hold); `unknown_time_zone` for a
 * bad zone.
 * @example accountingDayOf(new Date('2024-03-30T22:30:00Z'), 'Europe/Berlin') // '2024-03-30'
 */
export function accountingDayOf(instant: Date, zone: string): AccountingDay {
  const ms = instant instanceof Date ? instant.getTime() : Number.NaN;
  if (Number.isNaN(ms)) return invalidInstant(instant, 'instant', 'must be a valid Date');
  // Before the recent-day shortcut: the last day's end, in zones west of UTC, is past the range.
  checkInstantRange(ms, instant, 'instant');
  const state = zoneStateOf(zone, 'timeZone');
  if (state.recentDay !== undefined && ms >= state.recentStartMs && ms < state.recentEndMs) return state.recentDay;
  if (ms < DAY_GUARD_MS_MIN || ms >= DAY_GUARD_MS_MAX) {
    return invalidInstant(instant, 'instant', `must fall on an accounting day from ${ACCOUNTING_DAY_MIN} to ${ACCOUNTING_DAY_MAX}`);
  }
  const parts = state.dayFormat.formatToParts(ms);
  let day = `${partValue(parts, 'year').padStart(4, '0')}-${partValue(parts, 'month')}-${partValue(parts, 'day')}`;
  let epochDay = epochDayOf(day);
  if (epochDay === undefined) {
    return invalidInstant(instant, 'instant', `must fall on an accounting day from ${ACCOUNTING_DAY_MIN} to ${ACCOUNTING_DAY_MAX}`);
  }
  // Late in the local day the clocks may have gone back across midnight after the next day
  // began; the instant then belongs to the next day, as the day bounds say.
  if ((Number(partValue(parts, 'hour')) % 24) * 3_600_000 >= NEXT_DAY_CHECK_FROM_MS && epochDay < EPOCH_DAY_MAX && ms >= dayStartMs(state, epochDay + 1)) {
    epochDay += 1;
    day = dayOfEpochDay(epochDay);
  }
  if (state.lastMissDay === day) {
    state.recentDay = day;
    state.recentStartMs = dayStartMs(state, epochDay);
    state.recentEndMs = dayStartMs(state, epochDay + 1);
  }
  state.lastMissDay = day;
  return day;
}

/**
 * The first instant of `day` in `zone`: local midnight, or, where midnight does not exist
 * because DST jumps forward at 00:00, the first instant that exists on that day (01:00 local
 * on 2024-09-08 in America/Santiago). Where midnight happens twice (clocks falling back to it)
 * the first one counts. A day the zone skipped entirely starts where the next one starts.
 * Results are cached per (zone, day).
 *
 * @throws LedgerError `invalid_day` or `unknown_time_zone`.
 * @example startOfAccountingDay('2024-09-08', 'America/Santiago') // 2024-09-08T04:00:00.000Z
 */
export function startOfAccountingDay(day: AccountingDay, zone: string): Date {
  const epochDay = parseEpochDay(day, 'day');
  return new Date(dayStartMs(zoneStateOf(zone, 'timeZone'), epochDay));
}

/**
 * The half-open interval [start, end) of instants on `day` in `zone`; `end` is the start of the
 * next day, so consecutive days tile time. 23 hours long when DST starts, 25 when it ends, 0 for
 * a day the zone skipped, and in rare historical cases otherwise (Antarctica/Casey, 2010-03-05:
 * 27 hours).
 *
 * @throws LedgerError `invalid_day` or `unknown_time_zone`.
 * @example accountingDayBounds('2024-03-31', 'Europe/Berlin')
 * // { start: 2024-03-30T23:00:00.000Z, end: 2024-03-31T22:00:00.000Z }
 */
export function accountingDayBounds(day: AccountingDay, zone: string): { readonly start: Date; readonly end: Date } {
  const epochDay = parseEpochDay(day, 'day');
  const state = zoneStateOf(zone, 'timeZone');
  return Object.freeze({ start: new Date(dayStartMs(state, epochDay)), end: new Date(dayStartMs(state, epochDay + 1)) });
}

/**
 * The calendar day after `day`.
 *
 * @throws LedgerError `invalid_day` for a bad day or for 9999-12-31, which has no successor.
 * @example nextAccountingDay('2024-02-28') // '2024-02-29'
 */
export function nextAccountingDay(day: AccountingDay): AccountingDay {
  const epochDay = parseEpochDay(day, 'day');
  if (epochDay >= EPOCH_DAY_MAX) return invalidDay(day, 'day', `has no next day before ${ACCOUNTING_DAY_MAX}`);
  return dayOfEpochDay(epochDay + 1);
}

/**
 * The calendar day before `day`.
 *
 * @throws LedgerError `invalid_day` for a bad day or for 1970-01-01, which has no predecessor.
 * @example previousAccountingDay('2024-03-01') // '2024-02-29'
 */
export function previousAccountingDay(day: AccountingDay): AccountingDay {
  const epochDay = parseEpochDay(day, 'day');
  if (epochDay <= EPOCH_DAY_MIN) return invalidDay(day, 'day', `has no previous day after ${ACCOUNTING_DAY_MIN}`);
  return dayOfEpochDay(epochDay - 1);
}

/** Options for {@link accountingDaysBetween}. */
export interface AccountingDaysBetweenOptions {
  /** Most days the list may hold. Default {@link ACCOUNTING_DAYS_MAX_DEFAULT}. */
  readonly daysMax?: number;
}

/**
 * Every day from `from` to `to`, both included, in order.
 *
 * @throws LedgerError `invalid_day` for a bad day, `invalid_input` when `to` is before `from` or
 * `daysMax` is not a positive integer, `limit_exceeded` when the list would hold more than
 * `daysMax` days (checked before anything is built).
 * @example accountingDaysBetween('2024-02-28', '2024-03-01') // ['2024-02-28', '2024-02-29', '2024-03-01']
 */
export function accountingDaysBetween(from: AccountingDay, to: AccountingDay, options: AccountingDaysBetweenOptions = {}): AccountingDay[] {
  const fromEpochDay = parseEpochDay(from, 'from');
  const toEpochDay = parseEpochDay(to, 'to');
  const daysMax = optionalWholeNumber(options.daysMax, ACCOUNTING_DAYS_MAX_DEFAULT, { field: 'daysMax', min: 1, max: Number.MAX_SAFE_INTEGER });
  if (toEpochDay < fromEpochDay) {
    throw new LedgerError('invalid_input', `to must not be before from (${from}), got ${describeValue(to)}`, {
      field: 'to',
      value: describeValue(to),
      context: { from },
    });
  }
  const dayCount = toEpochDay - fromEpochDay + 1;
  if (dayCount > daysMax) {
    throw new LedgerError('limit_exceeded', `from ${from} to ${to} spans ${dayCount} days, more than daysMax ${daysMax}`, {
      field: 'to',
      value: describeValue(to),
      context: { from, dayCount: String(dayCount), daysMax: String(daysMax) },
    });
  }
  const days: AccountingDay[] = [];
  for (let epochDay = fromEpochDay; epochDay <= toEpochDay; epochDay += 1) days.push(dayOfEpochDay(epochDay));
  return days;
}

/**
 * Whole calendar days from `a` to `b` (b − a); negative when `b` is before `a`.
 *
 * @throws LedgerError `invalid_day`, naming `a` or `b`.
 * @example daysBetween('2024-02-28', '2024-03-01') // 2
 */
export function daysBetween(a: AccountingDay, b: AccountingDay): number {
  return parseEpochDay(b, 'b') - parseEpochDay(a, 'a');
}

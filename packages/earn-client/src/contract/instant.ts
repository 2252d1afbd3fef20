/**
 * The contract's `date-time` format: the one instant rule shared word for word with the ledger's
 * `parseInstant` (`packages/ledger/src/calendar.ts`; a property test in reconcile proves that
 * both accept exactly the same strings). RFC 3339 §5.6 `date-time` with its note's allowances
 * (`t`/`z` in any case, a space instead of `T`), plus the ISO 8601 forms either side accepted
 * before (seconds left out; offsets `±hhmm` and `±hh`). At most 9 fraction digits and 40
 * characters; leap seconds (`:60`) are refused, since a `Date` cannot hold them. The instant must
 * lie in years 0000 to 9999 UTC, [0000-01-01T00:00:00Z, 10000-01-01T00:00:00Z), as the ledger
 * requires: an offset can carry a four-digit local time outside them
 * (`9999-12-31T23:00:00-08:00` is year 10000 UTC, `0000-01-01T00:00:00+01:00` year -1).
 */

/** Longest instant string accepted (the same bound as the ledger's). */
export const INSTANT_TEXT_LENGTH_MAX = 40;

const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const MS_PER_DAY = 86_400_000;
/** 400 Gregorian years are exactly 146 097 days; used to dodge `Date.UTC`'s 2-digit-year rule. */
const MS_PER_400_YEARS = 146_097 * MS_PER_DAY;
/** The first instant the ledger accepts, 0000-01-01T00:00:00Z (as its `parseInstant`). */
const INSTANT_MS_MIN = Date.UTC(2000, 0, 1) - 5 * MS_PER_400_YEARS;
/** The first instant past the ones the ledger accepts, 10000-01-01T00:00:00Z. */
const INSTANT_MS_END = Date.UTC(10_000, 0, 1);

/** Milliseconds since the epoch of UTC fields; years 0-99 are not read as 1900-1999, as `Date.UTC` would. */
function utcMsOf(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  return Date.UTC(year + 400, month - 1, day, hour, minute, second) - MS_PER_400_YEARS;
}

/** Length of the canonical form `YYYY-MM-DDTHH:MM:SS.sssZ` (what the provider writes). */
const CANONICAL_INSTANT_LENGTH = 24;

/** The digit at `at` as a number, or -1. */
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
 * The verdict on a text of the canonical form, read by character code (a report holds one or two
 * instants per entry, a 1M-entry report millions: the pattern cost ~0.5 s of its validation), or
 * `undefined` for any other text, which the pattern then decides by the same rule.
 */
function canonicalVerdict(text: string): boolean | undefined {
  if (text.length !== CANONICAL_INSTANT_LENGTH || text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(10) !== 0x54) return undefined;
  if (text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a || text.charCodeAt(19) !== 0x2e || text.charCodeAt(23) !== 0x5a) return undefined;
  const century = twoDigitsAt(text, 0);
  const yearOfCentury = twoDigitsAt(text, 2);
  const month = twoDigitsAt(text, 5);
  const day = twoDigitsAt(text, 8);
  const hour = twoDigitsAt(text, 11);
  const minute = twoDigitsAt(text, 14);
  const second = twoDigitsAt(text, 17);
  if (century < 0 || yearOfCentury < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || twoDigitsAt(text, 20) < 0 || digitAt(text, 22) < 0) return undefined;
  const year = century * 100 + yearOfCentury;
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59;
}

/** Whether `text` is an instant by the shared rule: a real date and time with a zone designator, in years 0000-9999 UTC. */
export function isInstantText(text: string): boolean {
  // The canonical form has offset Z and a four-digit year, so it cannot leave the range.
  const canonical = canonicalVerdict(text);
  if (canonical !== undefined) return canonical;
  const match = text.length <= INSTANT_TEXT_LENGTH_MAX ? INSTANT_PATTERN.exec(text) : null;
  if (match === null) return false;
  const [, yearText, monthText, dayText, hourText, minuteText, secondText, , zulu, sign, offsetHourText, offsetMinuteText] = match;
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText ?? '0');
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  // In UTC, every four-digit year is in the range.
  if (zulu !== undefined) return true;
  const offsetHour = Number(offsetHourText);
  const offsetMinute = Number(offsetMinuteText ?? '0');
  if (offsetHour > 23 || offsetMinute > 59) return false;
  // Offsets are whole minutes and both ends whole seconds, so the fraction cannot move an instant
  // across either end and is left out (the ledger truncates it to milliseconds).
  const offsetMs = (sign === '-' ? -1 : 1) * (offsetHour * 60 + offsetMinute) * 60_000;
  const ms = utcMsOf(year, month, day, hour, minute, second) - offsetMs;
  return ms >= INSTANT_MS_MIN && ms < INSTANT_MS_END;
}

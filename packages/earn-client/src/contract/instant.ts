/**
 * The contract's `date-time` format: the one instant rule shared word for word with the ledger's
 * `parseInstant` (`packages/ledger/src/calendar.ts`; a property test in reconcile proves that
 * both accept exactly the same strings). RFC 3339 §5.6 `date-time` with its note's allowances
 * (`t`/`z` in any case, a space instead of `T`), plus the ISO 8601 forms either side accepted
 * before (seconds left out; offsets `±hhmm` and `±hh`). At most 9 fraction digits and 40
 * characters; leap seconds (`:60`) are refused, since a `Date` cannot hold them.
 */

/** Longest instant string accepted (the same bound as the ledger's). */
export const INSTANT_TEXT_LENGTH_MAX = 40;

const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Whether `text` is an instant by the shared rule: a real date and time with a zone designator. */
export function isInstantText(text: string): boolean {
  const match = text.length <= INSTANT_TEXT_LENGTH_MAX ? INSTANT_PATTERN.exec(text) : null;
  if (match === null) return false;
  const [, year, month, day, hour, minute, second, , zulu, , offsetHour, offsetMinute] = match;
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth(Number(year), Number(month))) return false;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? '0') > 59) return false;
  return zulu !== undefined || (Number(offsetHour) <= 23 && Number(offsetMinute ?? '0') <= 59);
}

import { describe, expect, it } from 'vitest';
import {
  ACCOUNTING_DAY_PATTERN,
  accountingDayBounds,
  accountingDayOf,
  accountingDaysBetween,
  assertTimeZone,
  daysBetween,
  formatInstant,
  nextAccountingDay,
  parseAccountingDay,
  parseInstant,
  previousAccountingDay,
  sameTimeZone,
  startOfAccountingDay,
} from '../src/calendar.js';
import { LedgerError } from '../src/errors.js';
import type { LedgerErrorCode } from '../src/errors.js';

// Every expectation is written as a UTC instant string, and nothing here reads local `Date`
// fields, so the suite gives the same answers under any process `TZ`.

const HOUR_MS = 3_600_000;

function instant(iso: string): Date {
  return new Date(iso);
}

function boundsIso(day: string, zone: string): { start: string; end: string; hours: number } {
  const { start, end } = accountingDayBounds(day, zone);
  return { start: start.toISOString(), end: end.toISOString(), hours: (end.getTime() - start.getTime()) / HOUR_MS };
}

function expectLedgerError(action: () => unknown, code: LedgerErrorCode, field: string, value: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(LedgerError);
  const error = caught as LedgerError;
  expect(error.code).toBe(code);
  expect(error.field).toBe(field);
  expect(error.value).toBe(value);
  expect(error.message).toContain(field);
}

/** The day of `end − 1 ms` and of `end`, to check both sides of a boundary at once. */
function sidesOfEnd(day: string, zone: string): [string, string] {
  const { end } = accountingDayBounds(day, zone);
  return [accountingDayOf(new Date(end.getTime() - 1), zone), accountingDayOf(end, zone)];
}

describe('accounting day bounds', () => {
  it('UTC days are midnight to midnight', () => {
    expect(boundsIso('2024-01-15', 'UTC')).toEqual({ start: '2024-01-15T00:00:00.000Z', end: '2024-01-16T00:00:00.000Z', hours: 24 });
    expect(accountingDayOf(instant('2024-01-15T23:59:59.999Z'), 'UTC')).toBe('2024-01-15');
    expect(accountingDayOf(instant('2024-01-16T00:00:00.000Z'), 'UTC')).toBe('2024-01-16');
    expect(boundsIso('2024-02-29', 'UTC').hours).toBe(24);
  });

  it('Europe/Berlin has a 23-hour day when DST starts and a 25-hour day when it ends', () => {
    expect(boundsIso('2024-03-31', 'Europe/Berlin')).toEqual({ start: '2024-03-30T23:00:00.000Z', end: '2024-03-31T22:00:00.000Z', hours: 23 });
    expect(boundsIso('2024-10-27', 'Europe/Berlin')).toEqual({ start: '2024-10-26T22:00:00.000Z', end: '2024-10-27T23:00:00.000Z', hours: 25 });
    expect(boundsIso('2024-07-01', 'Europe/Berlin')).toEqual({ start: '2024-06-30T22:00:00.000Z', end: '2024-07-01T22:00:00.000Z', hours: 24 });
    // Both 02:30 local times of the 25-hour day belong to it.
    expect(accountingDayOf(instant('2024-10-27T00:30:00.000Z'), 'Europe/Berlin')).toBe('2024-10-27');
    expect(accountingDayOf(instant('2024-10-27T01:30:00.000Z'), 'Europe/Berlin')).toBe('2024-10-27');
  });

  it('America/New_York has 23- and 25-hour days', () => {
    expect(boundsIso('2024-03-10', 'America/New_York')).toEqual({ start: '2024-03-10T05:00:00.000Z', end: '2024-03-11T04:00:00.000Z', hours: 23 });
    expect(boundsIso('2024-11-03', 'America/New_York')).toEqual({ start: '2024-11-03T04:00:00.000Z', end: '2024-11-04T05:00:00.000Z', hours: 25 });
    expect(accountingDayOf(instant('2024-03-10T04:59:59.999Z'), 'America/New_York')).toBe('2024-03-09');
    expect(accountingDayOf(instant('2024-03-10T05:00:00.000Z'), 'America/New_York')).toBe('2024-03-10');
  });

  it('America/Santiago: when DST starts at midnight the day starts at 01:00 local', () => {
    // At 2024-09-08T04:00Z clocks jump from 2024-09-07 24:00 −04 to 2024-09-08 01:00 −03.
    expect(boundsIso('2024-09-07', 'America/Santiago')).toEqual({ start: '2024-09-07T04:00:00.000Z', end: '2024-09-08T04:00:00.000Z', hours: 24 });
    expect(boundsIso('2024-09-08', 'America/Santiago')).toEqual({ start: '2024-09-08T04:00:00.000Z', end: '2024-09-09T03:00:00.000Z', hours: 23 });
    expect(startOfAccountingDay('2024-09-08', 'America/Santiago').toISOString()).toBe('2024-09-08T04:00:00.000Z');
    expect(sidesOfEnd('2024-09-07', 'America/Santiago')).toEqual(['2024-09-07', '2024-09-08']);
  });

  it('America/Santiago: when DST ends at midnight the previous day gets 25 hours', () => {
    // At 2024-04-07T03:00Z clocks go back from 2024-04-07 00:00 −03 to 2024-04-06 23:00 −04.
    expect(boundsIso('2024-04-06', 'America/Santiago')).toEqual({ start: '2024-04-06T03:00:00.000Z', end: '2024-04-07T04:00:00.000Z', hours: 25 });
    expect(boundsIso('2024-04-07', 'America/Santiago')).toEqual({ start: '2024-04-07T04:00:00.000Z', end: '2024-04-08T04:00:00.000Z', hours: 24 });
    expect(accountingDayOf(instant('2024-04-07T02:59:59.999Z'), 'America/Santiago')).toBe('2024-04-06');
    expect(accountingDayOf(instant('2024-04-07T03:00:00.000Z'), 'America/Santiago')).toBe('2024-04-06');
    expect(accountingDayOf(instant('2024-04-07T03:59:59.999Z'), 'America/Santiago')).toBe('2024-04-06');
    expect(accountingDayOf(instant('2024-04-07T04:00:00.000Z'), 'America/Santiago')).toBe('2024-04-07');
  });

  it('Asia/Beirut: DST starts and ends at midnight', () => {
    // 2024-03-31 00:00 +02 does not exist: the clocks read 01:00 +03 at 2024-03-30T22:00Z.
    expect(boundsIso('2024-03-30', 'Asia/Beirut')).toEqual({ start: '2024-03-29T22:00:00.000Z', end: '2024-03-30T22:00:00.000Z', hours: 24 });
    expect(boundsIso('2024-03-31', 'Asia/Beirut')).toEqual({ start: '2024-03-30T22:00:00.000Z', end: '2024-03-31T21:00:00.000Z', hours: 23 });
    // 2024-10-27 00:00 +03 becomes 2024-10-26 23:00 +02.
    expect(boundsIso('2024-10-26', 'Asia/Beirut')).toEqual({ start: '2024-10-25T21:00:00.000Z', end: '2024-10-26T22:00:00.000Z', hours: 25 });
    expect(sidesOfEnd('2024-03-30', 'Asia/Beirut')).toEqual(['2024-03-30', '2024-03-31']);
  });

  it('America/Havana: DST starts at midnight and ends by falling back to midnight', () => {
    // 2024-03-10 00:00 −05 does not exist: the clocks read 01:00 −04 at 05:00Z.
    expect(boundsIso('2024-03-10', 'America/Havana')).toEqual({ start: '2024-03-10T05:00:00.000Z', end: '2024-03-11T04:00:00.000Z', hours: 23 });
    expect(accountingDayOf(instant('2024-03-10T04:59:59.999Z'), 'America/Havana')).toBe('2024-03-09');
    // 2024-11-03 01:00 −04 becomes 00:00 −05, so local midnight happens twice; the first one counts.
    expect(boundsIso('2024-11-03', 'America/Havana')).toEqual({ start: '2024-11-03T04:00:00.000Z', end: '2024-11-04T05:00:00.000Z', hours: 25 });
    expect(accountingDayOf(instant('2024-11-03T03:59:59.999Z'), 'America/Havana')).toBe('2024-11-02');
    expect(accountingDayOf(instant('2024-11-03T05:00:00.000Z'), 'America/Havana')).toBe('2024-11-03');
  });

  it('Asia/Kolkata days start at 18:30Z the day before', () => {
    expect(boundsIso('2024-06-01', 'Asia/Kolkata')).toEqual({ start: '2024-05-31T18:30:00.000Z', end: '2024-06-01T18:30:00.000Z', hours: 24 });
    expect(accountingDayOf(instant('2024-05-31T18:29:59.999Z'), 'Asia/Kolkata')).toBe('2024-05-31');
    expect(accountingDayOf(instant('2024-05-31T18:30:00.000Z'), 'Asia/Kolkata')).toBe('2024-06-01');
  });

  it('Australia/Lord_Howe has half-hour DST changes', () => {
    expect(boundsIso('2024-04-07', 'Australia/Lord_Howe')).toEqual({ start: '2024-04-06T13:00:00.000Z', end: '2024-04-07T13:30:00.000Z', hours: 24.5 });
    expect(boundsIso('2024-10-06', 'Australia/Lord_Howe')).toEqual({ start: '2024-10-05T13:30:00.000Z', end: '2024-10-06T13:00:00.000Z', hours: 23.5 });
  });

  it('a day a zone skipped is empty and the neighbours still tile', () => {
    // Samoa moved west of the date line: 2011-12-29 23:59:59 −10 was followed by 2011-12-31 00:00 +14.
    expect(boundsIso('2011-12-29', 'Pacific/Apia')).toEqual({ start: '2011-12-29T10:00:00.000Z', end: '2011-12-30T10:00:00.000Z', hours: 24 });
    expect(boundsIso('2011-12-30', 'Pacific/Apia')).toEqual({ start: '2011-12-30T10:00:00.000Z', end: '2011-12-30T10:00:00.000Z', hours: 0 });
    expect(accountingDayOf(instant('2011-12-30T10:00:00.000Z'), 'Pacific/Apia')).toBe('2011-12-31');
  });

  it('when clocks go back across midnight, the day begins at the first midnight and keeps what follows', () => {
    // St. John's read 1990-10-28 00:00 −02:30 at 02:30Z, then 1990-10-27 23:01 −03:30 at 02:31Z.
    expect(boundsIso('1990-10-27', 'America/St_Johns')).toEqual({ start: '1990-10-27T02:30:00.000Z', end: '1990-10-28T02:30:00.000Z', hours: 24 });
    expect(boundsIso('1990-10-28', 'America/St_Johns')).toEqual({ start: '1990-10-28T02:30:00.000Z', end: '1990-10-29T03:30:00.000Z', hours: 25 });
    expect(accountingDayOf(instant('1990-10-28T02:29:59.999Z'), 'America/St_Johns')).toBe('1990-10-27');
    expect(accountingDayOf(instant('1990-10-28T03:00:00.000Z'), 'America/St_Johns')).toBe('1990-10-28');
    // Casey went from 2010-03-05 02:00 +11 back to 2010-03-04 23:00 +08 at 15:00Z.
    expect(boundsIso('2010-03-05', 'Antarctica/Casey')).toEqual({ start: '2010-03-04T13:00:00.000Z', end: '2010-03-05T16:00:00.000Z', hours: 27 });
    expect(accountingDayOf(instant('2010-03-04T15:30:00.000Z'), 'Antarctica/Casey')).toBe('2010-03-05');
  });

  it('23:59:59.999 local belongs to the day and 00:00:00.000 to the next', () => {
    for (const [zone, lastMs, firstMs] of [
      ['Europe/Berlin', '2024-05-14T21:59:59.999Z', '2024-05-14T22:00:00.000Z'],
      ['America/New_York', '2024-05-15T03:59:59.999Z', '2024-05-15T04:00:00.000Z'],
      ['Asia/Kolkata', '2024-05-14T18:29:59.999Z', '2024-05-14T18:30:00.000Z'],
    ] as const) {
      expect(accountingDayOf(instant(lastMs), zone)).toBe('2024-05-14');
      expect(accountingDayOf(instant(firstMs), zone)).toBe('2024-05-15');
      expect(accountingDayBounds('2024-05-15', zone).start.toISOString()).toBe(firstMs);
    }
  });

  it('answers the same after the recent-day cache is warm', () => {
    const zone = 'Europe/Berlin';
    for (let step = 0; step < 3; step += 1) {
      expect(accountingDayOf(instant('2024-03-31T10:00:00.000Z'), zone)).toBe('2024-03-31');
      expect(accountingDayOf(instant('2024-03-30T22:59:59.999Z'), zone)).toBe('2024-03-30');
      expect(accountingDayOf(instant('2024-03-30T23:00:00.000Z'), zone)).toBe('2024-03-31');
      expect(accountingDayOf(instant('2024-03-31T21:59:59.999Z'), zone)).toBe('2024-03-31');
      expect(accountingDayOf(instant('2024-03-31T22:00:00.000Z'), zone)).toBe('2024-04-01');
    }
  });

  it('returns fresh objects that callers may not corrupt', () => {
    const first = startOfAccountingDay('2024-01-02', 'UTC');
    first.setTime(0);
    expect(startOfAccountingDay('2024-01-02', 'UTC').toISOString()).toBe('2024-01-02T00:00:00.000Z');
    expect(Object.isFrozen(accountingDayBounds('2024-01-02', 'UTC'))).toBe(true);
  });
});

describe('time zones', () => {
  it('accepts IANA names', () => {
    for (const zone of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'Asia/Kolkata']) {
      expect(assertTimeZone(zone)).toBe(zone);
    }
  });

  it('answers the canonical spelling of a name written in another case, and keeps an alias as written', () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expect(assertTimeZone('europe/berlin')).toBe('Europe/Berlin');
      expect(assertTimeZone('AMERICA/NEW_YORK')).toBe('America/New_York');
      expect(assertTimeZone('etc/gmt+5')).toBe('Etc/GMT+5');
      expect(assertTimeZone('america/port-au-prince')).toBe('America/Port-au-Prince');
      expect(assertTimeZone('utc')).toBe('UTC');
      expect(assertTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
      expect(assertTimeZone('US/Pacific')).toBe('US/Pacific');
    }
    // Both spellings give the same days.
    expect(accountingDayOf(instant('2024-03-30T23:30:00Z'), 'europe/berlin')).toBe(accountingDayOf(instant('2024-03-30T23:30:00Z'), 'Europe/Berlin'));
  });

  it('compares zones by the rules they name, not by spelling', () => {
    expect(sameTimeZone('europe/berlin', 'Europe/Berlin')).toBe(true);
    expect(sameTimeZone('Asia/Kolkata', 'asia/kolkata')).toBe(true);
    expect(sameTimeZone('UTC', 'utc')).toBe(true);
    expect(sameTimeZone('Europe/Berlin', 'Europe/Paris')).toBe(false);
    expect(sameTimeZone('Mars/Base', 'mars/base')).toBe(false);
    expect(sameTimeZone('Mars/Base', 'Mars/Base')).toBe(true);
    expect(sameTimeZone('Europe/Berlin', '+01:00')).toBe(false);
  });

  it('rejects unknown zones, offsets and non-strings with a typed error, also when cached', () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expectLedgerError(() => assertTimeZone('Mars/Base', 'entity.timeZone'), 'unknown_time_zone', 'entity.timeZone', '"Mars/Base"');
      expectLedgerError(() => assertTimeZone(''), 'unknown_time_zone', 'timeZone', '""');
      expectLedgerError(() => assertTimeZone('+02:00'), 'unknown_time_zone', 'timeZone', '"+02:00"');
      expectLedgerError(() => assertTimeZone('-0500'), 'unknown_time_zone', 'timeZone', '"-0500"');
      expectLedgerError(() => assertTimeZone(42), 'unknown_time_zone', 'timeZone', '42');
      expectLedgerError(() => assertTimeZone(undefined), 'unknown_time_zone', 'timeZone', 'undefined');
    }
    expectLedgerError(() => accountingDayOf(instant('2024-01-01T00:00:00Z'), 'Mars/Base'), 'unknown_time_zone', 'timeZone', '"Mars/Base"');
    expectLedgerError(() => accountingDayBounds('2024-01-01', 'Nowhere/Land'), 'unknown_time_zone', 'timeZone', '"Nowhere/Land"');
    expectLedgerError(() => startOfAccountingDay('2024-01-01', 'X'.repeat(100)), 'unknown_time_zone', 'timeZone', JSON.stringify('X'.repeat(100)));
  });
});

describe('accounting days', () => {
  it('accepts real dates from 1970 to 9999', () => {
    expect(ACCOUNTING_DAY_PATTERN.test('2024-02-29')).toBe(true);
    for (const day of ['1970-01-01', '2024-02-29', '2000-02-29', '9999-12-31']) expect(parseAccountingDay(day)).toBe(day);
  });

  it('rejects malformed and impossible days naming field and value', () => {
    for (const bad of ['2023-02-29', '1900-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '2024-01-00', '1969-12-31', '2024-1-01', '2024-01-01T00:00:00Z', ' 2024-01-01', '', '٢٠٢٤-٠١-٠١']) {
      expectLedgerError(() => parseAccountingDay(bad, 'report.day'), 'invalid_day', 'report.day', JSON.stringify(bad));
    }
    expectLedgerError(() => parseAccountingDay(20240101), 'invalid_day', 'day', '20240101');
    expectLedgerError(() => parseAccountingDay(null), 'invalid_day', 'day', 'null');
    expectLedgerError(() => startOfAccountingDay('2024-02-30', 'UTC'), 'invalid_day', 'day', '"2024-02-30"');
    expectLedgerError(() => accountingDayBounds('2024/01/01', 'UTC'), 'invalid_day', 'day', '"2024/01/01"');
  });

  it('steps forward and back across months, leap days and years', () => {
    expect(nextAccountingDay('2024-02-28')).toBe('2024-02-29');
    expect(nextAccountingDay('2024-02-29')).toBe('2024-03-01');
    expect(nextAccountingDay('2023-12-31')).toBe('2024-01-01');
    expect(previousAccountingDay('2024-03-01')).toBe('2024-02-29');
    expect(previousAccountingDay('2023-03-01')).toBe('2023-02-28');
    expect(previousAccountingDay('2024-01-01')).toBe('2023-12-31');
    expectLedgerError(() => nextAccountingDay('9999-12-31'), 'invalid_day', 'day', '"9999-12-31"');
    expectLedgerError(() => previousAccountingDay('1970-01-01'), 'invalid_day', 'day', '"1970-01-01"');
  });

  it('instants in year 10000 UTC (the end of 9999-12-31 west of UTC) are refused where they would be formatted or given a day', () => {
    // The text is refused where it is read (review h4: it read as an instant four digits cannot write).
    expectLedgerError(() => parseInstant('9999-12-31T23:00:00-08:00', 'occurredAt'), 'invalid_instant', 'occurredAt', '"9999-12-31T23:00:00-08:00"');
    const late = new Date(Date.UTC(10_000, 0, 1, 7));
    expectLedgerError(() => formatInstant(late), 'invalid_instant', 'instant', '"+010000-01-01T07:00:00.000Z"');
    expectLedgerError(() => accountingDayOf(late, 'America/Los_Angeles'), 'invalid_instant', 'instant', '"+010000-01-01T07:00:00.000Z"');
    expectLedgerError(() => formatInstant(instant('+010000-01-01T00:00:00.000Z')), 'invalid_instant', 'instant', '"+010000-01-01T00:00:00.000Z"');
    expectLedgerError(() => parseInstant('0000-01-01T00:00+05:30'), 'invalid_instant', 'instant', '"0000-01-01T00:00+05:30"');
    expectLedgerError(() => formatInstant(instant('-000001-12-31T18:30:00.000Z')), 'invalid_instant', 'instant', '"-000001-12-31T18:30:00.000Z"');
    // The last instant of year 9999 is fine, and its day in Los Angeles is 9999-12-31, even after
    // the day's bounds were remembered (the shortcut must not answer past the range).
    const last = instant('9999-12-31T23:59:59.999Z');
    expect(formatInstant(last)).toBe('9999-12-31T23:59:59.999Z');
    expect(parseInstant(formatInstant(last)).getTime()).toBe(last.getTime());
    expect(accountingDayOf(instant('9999-12-31T20:00:00Z'), 'America/Los_Angeles')).toBe('9999-12-31');
    expect(accountingDayOf(last, 'America/Los_Angeles')).toBe('9999-12-31');
    expect(accountingDayOf(last, 'America/Los_Angeles')).toBe('9999-12-31');
    expectLedgerError(() => accountingDayOf(instant('+010000-01-01T00:00:00.000Z'), 'America/Los_Angeles'), 'invalid_instant', 'instant', '"+010000-01-01T00:00:00.000Z"');
    expect(formatInstant(instant('0000-01-01T00:00:00.000Z'))).toBe('0000-01-01T00:00:00.000Z');
  });

  it('the last supported day still has an end', () => {
    expect(boundsIso('9999-12-31', 'UTC')).toEqual({ start: '9999-12-31T00:00:00.000Z', end: '+010000-01-01T00:00:00.000Z', hours: 24 });
    expect(boundsIso('1970-01-01', 'Asia/Kolkata').start).toBe('1969-12-31T18:30:00.000Z');
  });

  it('counts days between two days', () => {
    expect(daysBetween('2024-02-28', '2024-03-01')).toBe(2);
    expect(daysBetween('2024-03-01', '2024-02-28')).toBe(-2);
    expect(daysBetween('2024-03-31', '2024-03-31')).toBe(0);
    expect(daysBetween('1970-01-01', '9999-12-31')).toBe(2_932_896);
    expectLedgerError(() => daysBetween('2024-01-01', 'tomorrow'), 'invalid_day', 'b', '"tomorrow"');
  });

  it('lists days inclusively, within daysMax', () => {
    expect(accountingDaysBetween('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(accountingDaysBetween('2024-03-31', '2024-03-31')).toEqual(['2024-03-31']);
    expect(accountingDaysBetween('2015-01-01', '2025-01-06')).toHaveLength(3659);
    expect(accountingDaysBetween('2024-01-01', '2024-01-03', { daysMax: 3 })).toHaveLength(3);
    expectLedgerError(() => accountingDaysBetween('2024-01-01', '2024-01-04', { daysMax: 3 }), 'limit_exceeded', 'to', '"2024-01-04"');
    expectLedgerError(() => accountingDaysBetween('2000-01-01', '2024-01-01'), 'limit_exceeded', 'to', '"2024-01-01"');
    expectLedgerError(() => accountingDaysBetween('2024-01-02', '2024-01-01'), 'invalid_input', 'to', '"2024-01-01"');
    expectLedgerError(() => accountingDaysBetween('2024-01-01', '2024-01-02', { daysMax: 0 }), 'invalid_input', 'daysMax', '0');
    expectLedgerError(() => accountingDaysBetween('2024-1-1', '2024-01-02'), 'invalid_day', 'from', '"2024-1-1"');
  });
});

describe('instants', () => {
  it('parses ISO strings with Z or an offset', () => {
    expect(parseInstant('2025-03-19T00:01:55.703Z').toISOString()).toBe('2025-03-19T00:01:55.703Z');
    expect(parseInstant('2025-03-19T02:01:55.703+02:00').toISOString()).toBe('2025-03-19T00:01:55.703Z');
    expect(parseInstant('2025-03-18T19:31:55-0430').toISOString()).toBe('2025-03-19T00:01:55.000Z');
    expect(parseInstant('2025-03-19T05:31+05:30').toISOString()).toBe('2025-03-19T00:01:00.000Z');
    expect(parseInstant('2024-02-29T23:59:59.999999999Z').toISOString()).toBe('2024-02-29T23:59:59.999Z');
    expect(parseInstant('2025-03-19T00:01:55.7Z').toISOString()).toBe('2025-03-19T00:01:55.700Z');
    // RFC 3339 §5.6: "T" and "Z" may be lowercase, and a space may separate the date and time
    // (issue 13: the contract accepted these and the ledger refused them, leaving interest unbooked).
    expect(parseInstant('2025-03-19 00:01:55Z').toISOString()).toBe('2025-03-19T00:01:55.000Z');
    expect(parseInstant('2025-03-19t00:00:00+01:00').toISOString()).toBe('2025-03-18T23:00:00.000Z');
    expect(parseInstant('2025-03-18T23:00:00.000z').toISOString()).toBe('2025-03-18T23:00:00.000Z');
    expect(parseInstant('2025-03-19T01:00:00+01').toISOString()).toBe('2025-03-19T00:00:00.000Z');
  });

  it('copies a valid Date', () => {
    const source = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    const parsed = parseInstant(source);
    expect(parsed).not.toBe(source);
    expect(parsed.getTime()).toBe(source.getTime());
  });

  it('rejects strings without a zone designator, impossible dates and non-instants', () => {
    for (const bad of [
      '2025-03-19T00:01:55.703',
      '2025-03-19',
      '2025-03-19\t00:01:55Z',
      '2025-03-19  00:01:55Z',
      '2025-02-29T00:00:00Z',
      '2025-03-19T24:00:00Z',
      '2025-03-19T23:60:00Z',
      '2016-12-31T23:59:60Z',
      '2025-03-19T00:00:00+24:00',
      '2025-03-19T00:00:00.1234567890Z',
      'yesterday',
      '',
    ]) {
      expectLedgerError(() => parseInstant(bad, 'posting.bookedAt'), 'invalid_instant', 'posting.bookedAt', JSON.stringify(bad));
    }
    expectLedgerError(() => parseInstant(new Date(Number.NaN)), 'invalid_instant', 'instant', 'null');
    expectLedgerError(() => parseInstant(1_700_000_000_000), 'invalid_instant', 'instant', '1700000000000');
    expectLedgerError(() => accountingDayOf(new Date(Number.NaN), 'UTC'), 'invalid_instant', 'instant', 'null');
    expectLedgerError(() => formatInstant(new Date(Number.NaN)), 'invalid_instant', 'instant', 'null');
  });

  it('refuses to place an instant outside the supported days', () => {
    expectLedgerError(() => accountingDayOf(instant('1969-12-31T23:59:59.999Z'), 'UTC'), 'invalid_instant', 'instant', '"1969-12-31T23:59:59.999Z"');
    expectLedgerError(() => accountingDayOf(instant('1960-01-01T00:00:00.000Z'), 'UTC'), 'invalid_instant', 'instant', '"1960-01-01T00:00:00.000Z"');
    expect(accountingDayOf(instant('1969-12-31T23:00:00.000Z'), 'Europe/Berlin')).toBe('1970-01-01');
  });

  it('formats as canonical UTC with milliseconds', () => {
    expect(formatInstant(new Date(Date.UTC(2025, 2, 19, 0, 1, 55, 703)))).toBe('2025-03-19T00:01:55.703Z');
    expect(formatInstant(new Date(Date.UTC(2025, 2, 19)))).toBe('2025-03-19T00:00:00.000Z');
  });
});

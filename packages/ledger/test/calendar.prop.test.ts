import { fromZonedTime } from 'date-fns-tz';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accountingDayBounds,
  accountingDayOf,
  accountingDaysBetween,
  daysBetween,
  formatInstant,
  nextAccountingDay,
  parseAccountingDay,
  parseInstant,
  previousAccountingDay,
  startOfAccountingDay,
} from '../src/calendar.js';
import { LedgerError } from '../src/errors.js';

// Zones chosen for their DST shapes: none, ordinary 1-hour changes in both hemispheres, changes
// at midnight (Santiago, Beirut, Havana), half-hour offsets and half-hour DST (Lord Howe),
// quarter-hour offsets (Kathmandu, Chatham) and a large positive offset (Tongatapu, +13).
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Santiago',
  'Asia/Beirut',
  'America/Havana',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Australia/Sydney',
  'Pacific/Chatham',
  'Pacific/Tongatapu',
  'America/Sao_Paulo',
  'Africa/Casablanca',
] as const;

/** Zones with no DST change at local midnight, where date-fns-tz is a trustworthy oracle. */
const ORDINARY_ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney', 'Pacific/Chatham'] as const;

const HOUR_MS = 3_600_000;
const INSTANT_MS_MIN = Date.UTC(1971, 0, 1);
const INSTANT_MS_MAX = Date.UTC(2099, 11, 31, 23, 59, 59, 999);

const zoneArbitrary = fc.constantFrom(...ZONES);
const instantArbitrary = fc.integer({ min: INSTANT_MS_MIN, max: INSTANT_MS_MAX }).map((ms) => new Date(ms));
const dayArbitrary = fc
  .integer({ min: Date.UTC(1971, 0, 1) / 86_400_000, max: Date.UTC(2099, 11, 31) / 86_400_000 })
  .map((epochDay) => new Date(epochDay * 86_400_000).toISOString().slice(0, 10));
/** Days near DST changes (March, April, September to November) are where the bugs live. */
const transitionDayArbitrary = fc
  .record({ year: fc.integer({ min: 1971, max: 2099 }), month: fc.constantFrom(3, 4, 9, 10, 11), day: fc.integer({ min: 1, max: 30 }) })
  .map(({ year, month, day }) => `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);
const anyDayArbitrary = fc.oneof(dayArbitrary, transitionDayArbitrary);

describe('calendar properties', () => {
  it('an instant falls in exactly the day accountingDayOf names', () => {
    fc.assert(
      fc.property(instantArbitrary, zoneArbitrary, (instant, zone) => {
        const day = accountingDayOf(instant, zone);
        const { start, end } = accountingDayBounds(day, zone);
        expect(start.getTime()).toBeLessThanOrEqual(instant.getTime());
        expect(instant.getTime()).toBeLessThan(end.getTime());
        expect(accountingDayBounds(previousAccountingDay(day), zone).end.getTime()).toBeLessThanOrEqual(instant.getTime());
        expect(accountingDayBounds(nextAccountingDay(day), zone).start.getTime()).toBeGreaterThan(instant.getTime());
      }),
      { numRuns: 2000 },
    );
  });

  it('consecutive days tile time and last 22 to 26 hours', () => {
    fc.assert(
      fc.property(anyDayArbitrary, zoneArbitrary, (day, zone) => {
        const bounds = accountingDayBounds(day, zone);
        const next = accountingDayBounds(nextAccountingDay(day), zone);
        expect(next.start.getTime()).toBe(bounds.end.getTime());
        const hours = (bounds.end.getTime() - bounds.start.getTime()) / HOUR_MS;
        expect(hours).toBeGreaterThanOrEqual(22);
        expect(hours).toBeLessThanOrEqual(26);
      }),
      { numRuns: 2000 },
    );
  });

  it('the start of a day maps back to the day, and the millisecond before to the previous day', () => {
    fc.assert(
      fc.property(anyDayArbitrary, zoneArbitrary, (day, zone) => {
        const start = startOfAccountingDay(day, zone);
        expect(accountingDayOf(start, zone)).toBe(day);
        expect(accountingDayOf(new Date(start.getTime() - 1), zone)).toBe(previousAccountingDay(day));
        const { end } = accountingDayBounds(day, zone);
        expect(accountingDayOf(new Date(end.getTime() - 1), zone)).toBe(day);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with date-fns-tz where no DST change happens at midnight', () => {
    fc.assert(
      fc.property(anyDayArbitrary, fc.constantFrom(...ORDINARY_ZONES), (day, zone) => {
        expect(startOfAccountingDay(day, zone).getTime()).toBe(fromZonedTime(`${day}T00:00:00`, zone).getTime());
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips days and instants through parse and format', () => {
    fc.assert(
      fc.property(anyDayArbitrary, (day) => {
        expect(parseAccountingDay(day)).toBe(day);
        expect(previousAccountingDay(nextAccountingDay(day))).toBe(day);
        expect(daysBetween(day, nextAccountingDay(day))).toBe(1);
      }),
    );
    fc.assert(
      fc.property(instantArbitrary, (instant) => {
        const text = formatInstant(instant);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(parseInstant(text).getTime()).toBe(instant.getTime());
        expect(formatInstant(parseInstant(text))).toBe(text);
      }),
    );
  });

  it('an instant written with any whole-minute offset parses to the same instant', () => {
    fc.assert(
      fc.property(instantArbitrary, fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }), (instant, offsetMinutes) => {
        const local = new Date(instant.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
        const magnitude = Math.abs(offsetMinutes);
        const offset = `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(magnitude / 60)).padStart(2, '0')}:${String(magnitude % 60).padStart(2, '0')}`;
        expect(parseInstant(`${local}${offset}`).getTime()).toBe(instant.getTime());
      }),
    );
  });

  it('day lists and day counts agree', () => {
    fc.assert(
      fc.property(dayArbitrary, fc.integer({ min: 0, max: 400 }), (from, length) => {
        let to = from;
        for (let step = 0; step < length && to < '2099-12-31'; step += 1) to = nextAccountingDay(to);
        const days = accountingDaysBetween(from, to);
        expect(days).toHaveLength(daysBetween(from, to) + 1);
        expect(days[0]).toBe(from);
        expect(days.at(-1)).toBe(to);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects arbitrary strings that are not days or instants with typed errors', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        fc.pre(!/^\d{4}-\d{2}-\d{2}/.test(text));
        expect(() => parseAccountingDay(text)).toThrow(LedgerError);
        expect(() => parseInstant(text)).toThrow(LedgerError);
      }),
    );
  });
});

describe('parseInstant: the canonical text (read by code) and the general pattern agree', () => {
  /** The same instant written with an offset of +00:00, which only the general pattern reads. */
  const withOffset = (text: string) => `${text.slice(0, -1)}+00:00`;

  it('reads every canonical instant of years 0000-9999 to the millisecond, as the pattern reads it', () => {
    fc.assert(
      fc.property(fc.integer({ min: new Date('0000-01-01T00:00:00.000Z').getTime(), max: new Date('9999-12-31T23:59:59.999Z').getTime() }), (ms) => {
        const text = new Date(ms).toISOString();
        expect(text).toHaveLength(24);
        expect(parseInstant(text, 'at').getTime()).toBe(ms);
        expect(parseInstant(withOffset(text), 'at').getTime()).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a canonical-shaped text the pattern refuses, with the same error (impossible dates and times, non-digits)', () => {
    const digit = fc.integer({ min: 0, max: 9 }).map(String);
    const pick = fc.constantFrom('0', '1', '2', '3', '5', '9', 'a', '/', ':', ' ');
    fc.assert(
      fc.property(fc.array(fc.oneof(digit, pick), { minLength: 17, maxLength: 17 }), (chars) => {
        const [y1, y2, y3, y4, mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2, f1, f2, f3] = chars;
        const text = `${y1}${y2}${y3}${y4}-${mo1}${mo2}-${d1}${d2}T${h1}${h2}:${mi1}${mi2}:${s1}${s2}.${f1}${f2}${f3}Z`;
        const outcome = (input: string) => {
          try {
            return { ms: parseInstant(input, 'at').getTime() };
          } catch (error) {
            expect(error).toBeInstanceOf(LedgerError);
            return { code: (error as LedgerError).code, message: (error as LedgerError).message.replace(input, '<text>') };
          }
        };
        expect(outcome(text)).toEqual(outcome(withOffset(text)));
      }),
      { numRuns: 3000 },
    );
  });
});

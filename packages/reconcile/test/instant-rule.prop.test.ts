import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseInstant } from '@earnbook/ledger';
import { validateDailyReport } from '@earnbook/earn-client/contract';

/**
 * Issue 13, class 6: the contract's `date-time` check and the ledger's instant parsing are one
 * rule. A report whose timestamps pass the contract must never be refused by the ledger (the
 * interest would go unbooked), and the ledger must refuse nothing the contract accepts.
 */

const two = (min: number, max: number) => fc.integer({ min, max }).map((value) => String(value).padStart(2, '0'));

const timestampLike = fc
  .record({
    year: fc.oneof(fc.constantFrom('2024', '2025', '2000', '1900', '0000', '9999'), fc.integer({ min: 0, max: 9999 }).map((y) => String(y).padStart(4, '0'))),
    month: two(0, 13),
    day: two(0, 32),
    separator: fc.constantFrom('T', 't', ' ', '\t', '\n', '_', 'TT', ''),
    hour: two(0, 25),
    minute: two(0, 61),
    second: fc.option(two(0, 61), { nil: undefined }),
    fraction: fc.option(fc.stringMatching(/^\d{0,11}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z', '', 'UTC', '+00:00', '-00:00', '+24:00', '+23:59', '+05:30', '-04:30', '+0530', '-0430', '+05', '-1', '+5:30', '+05:60', '+05:'),
      fc.tuple(fc.constantFrom('+', '-'), two(0, 25), fc.constantFrom(':', ''), two(0, 61)).map((parts) => parts.join('')),
    ),
  })
  .map((p) => `${p.year}-${p.month}-${p.day}${p.separator}${p.hour}:${p.minute}${p.second === undefined ? '' : `:${p.second}`}${p.fraction === undefined ? '' : `.${p.fraction}`}${p.zone}`);

function contractAccepts(text: string): boolean {
  const report = { id: 'r', type: 'Report', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: text, transactions: [], balances: [] };
  try {
    validateDailyReport(report);
    return true;
  } catch {
    return false;
  }
}

function ledgerInstant(text: string): Date | undefined {
  try {
    return parseInstant(text, 'createdAt');
  } catch {
    return undefined;
  }
}

/** An independent reading: rewritten to the one form `Date` parses exactly, fraction truncated. */
function expectedMs(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}).(\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)$/.exec(text);
  if (match === null) throw new Error(`unexpected accepted form ${text}`);
  const [, date, hourMinute, second = '00', fraction = '', zone = 'Z'] = match;
  const offset = /^[Zz]$/.test(zone) ? 'Z' : `${zone.slice(0, 3)}:${zone.replace(':', '').slice(3) || '00'}`;
  return Date.parse(`${date}T${hourMinute}:${second}.${fraction.padEnd(3, '0').slice(0, 3)}${offset}`);
}

describe('one instant rule: the contract and the ledger accept the same strings', () => {
  it('the forms issue 13 found refused by the ledger are accepted by both, as the same instants', () => {
    const cases: Record<string, string> = {
      '2025-03-19t00:00:00+01:00': '2025-03-18T23:00:00.000Z',
      '2025-03-18T23:00:00.000z': '2025-03-18T23:00:00.000Z',
      '2025-03-18 23:00:00Z': '2025-03-18T23:00:00.000Z',
      '2025-03-18T23:00:00.123456789Z': '2025-03-18T23:00:00.123Z',
    };
    for (const [text, iso] of Object.entries(cases)) {
      expect(contractAccepts(text), text).toBe(true);
      expect(ledgerInstant(text)?.toISOString(), text).toBe(iso);
    }
  });

  it('timestamp-like strings: accepted by both or refused by both; accepted ones mean the same instant (property)', () => {
    fc.assert(
      fc.property(timestampLike, (text) => {
        const contract = contractAccepts(text);
        const ledger = ledgerInstant(text);
        expect(ledger !== undefined, `contract ${contract ? 'accepts' : 'refuses'} ${JSON.stringify(text)}, the ledger does not agree`).toBe(contract);
        if (ledger !== undefined) expect(ledger.getTime(), text).toBe(expectedMs(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('instants an offset carries outside years 0000-9999 UTC are refused by both, the last ones inside accepted by both', () => {
    const cases: Record<string, string | undefined> = {
      '9999-12-31T23:00:00-08:00': undefined,
      '9999-12-31T16:00:00-08:00': undefined,
      '9999-12-31T15:59:59.999999999-08:00': '9999-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999-00:00': '9999-12-31T23:59:59.999Z',
      '9999-12-31T23:59-0001': undefined,
      '9999-12-31 23:59:59z': '9999-12-31T23:59:59.000Z',
      '0000-01-01T00:00:00+01:00': undefined,
      '0000-01-01T00:00:00+00:01': undefined,
      '0000-01-01T00:00:00.999+0001': undefined,
      '0000-01-01T00:01:00+00:01': '0000-01-01T00:00:00.000Z',
      '0000-01-01T00:00:00+00:00': '0000-01-01T00:00:00.000Z',
      '0000-01-01t00:00z': '0000-01-01T00:00:00.000Z',
      '0000-01-01T23:59:59.999+23:59': '0000-01-01T00:00:59.999Z',
      '0000-01-01T23:58:59.999+23:59': undefined,
    };
    for (const [text, iso] of Object.entries(cases)) {
      expect(contractAccepts(text), text).toBe(iso !== undefined);
      expect(ledgerInstant(text)?.toISOString(), text).toBe(iso);
    }
  });

  it('texts near both ends of years 0000-9999 with offsets: the same verdict on both sides, accepted ones inside the range (property)', () => {
    const startMs = Date.parse('0000-01-01T00:00:00.000Z');
    const endMs = Date.parse('9999-12-31T23:59:59.999Z') + 1;
    const nearEnds = fc
      .record({
        date: fc.constantFrom('0000-01-01', '0000-01-02', '9999-12-31', '9999-12-30'),
        separator: fc.constantFrom('T', 't', ' '),
        hour: two(0, 23),
        minute: two(0, 59),
        second: fc.option(two(0, 59), { nil: undefined }),
        fraction: fc.option(fc.stringMatching(/^\d{1,9}$/), { nil: undefined }),
        zone: fc.oneof(
          fc.constantFrom('Z', 'z', '+00:00', '-00:00', '+00', '-00'),
          fc.tuple(fc.constantFrom('+', '-'), two(0, 23), fc.constantFrom(':', ''), two(0, 59)).map((parts) => parts.join('')),
          fc.tuple(fc.constantFrom('+', '-'), two(0, 23)).map((parts) => parts.join('')),
        ),
      })
      .map((p) => `${p.date}${p.separator}${p.hour}:${p.minute}${p.second === undefined ? '' : `:${p.second}`}${p.second === undefined || p.fraction === undefined ? '' : `.${p.fraction}`}${p.zone}`);
    fc.assert(
      fc.property(nearEnds, (text) => {
        const ms = expectedMs(text);
        const inside = ms >= startMs && ms < endMs;
        expect(contractAccepts(text), `contract on ${text}`).toBe(inside);
        expect(ledgerInstant(text)?.getTime(), `ledger on ${text}`).toBe(inside ? ms : undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('arbitrary strings: the same verdict on both sides (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 45 }), (text) => {
        expect(ledgerInstant(text) !== undefined, JSON.stringify(text)).toBe(contractAccepts(text));
      }),
      { numRuns: 1000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EarnApiError, validateDailyReport } from '../src/index.js';
import { isInstantText } from '../src/contract/instant.js';
import { dailyReport } from './support/fixtures.js';

/**
 * The ledger's `parseInstant` refuses instants outside years 0000-9999 UTC (there is no four-digit
 * text for them); the contract's `date-time` is the same rule, so an offset that carries a local
 * time past either end is refused here too, where the report is read.
 */

function thrown(action: () => unknown): EarnApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EarnApiError);
    return error as EarnApiError;
  }
  throw new Error('expected an EarnApiError');
}

const START_MS = Date.parse('0000-01-01T00:00:00.000Z');
const END_MS = Date.parse('9999-12-31T23:59:59.999Z') + 1;

describe('instants outside years 0000-9999 UTC', () => {
  it.each([
    ['9999-12-31T23:00:00-08:00', false],
    ['9999-12-31T16:00-08', false],
    ['9999-12-31T23:59:59.999-00:01', false],
    ['9999-12-31T15:59:59.999999999-08:00', true],
    ['9999-12-31T23:59:59.999999999+00:00', true],
    ['9999-12-31T23:59:59.999-00:00', true],
    ['9999-12-31T23:59:59.999Z', true],
    ['0000-01-01T00:00:00+01:00', false],
    ['0000-01-01T00:59:59.999999999+0100', false],
    ['0000-01-01T00:00:00.000+00:01', false],
    ['0000-01-01T01:00:00+01', true],
    ['0000-01-01T00:00:00-23:59', true],
    ['0000-01-01T00:00:00+00:00', true],
    ['0000-01-01T00:00:00.000Z', true],
    ['0000-01-02T00:00:00+23:59', true],
  ])('%s accepted: %s', (text, accepted) => {
    expect(isInstantText(text)).toBe(accepted);
  });

  it('a report whose generatedAt is year 10000 UTC is invalid_response naming generatedAt and the value', () => {
    const error = thrown(() => validateDailyReport(dailyReport({ generatedAt: '9999-12-31T23:00:00-08:00' })));
    expect(error.code).toBe('invalid_response');
    expect(error.path).toBe('generatedAt');
    expect(error.message).toContain('9999-12-31T23:00:00-08:00');
  });

  it('a transaction createdAt of year -1 UTC is refused naming its path', () => {
    const input = dailyReport();
    (input.transactions as Record<string, unknown>[])[0]!.createdAt = '0000-01-01T00:00:00+01:00';
    expect(thrown(() => validateDailyReport(input)).path).toBe('transactions[0].createdAt');
  });

  it('an offset text is accepted exactly when the instant it names is in the range (property)', () => {
    const two = (min: number, max: number) => fc.integer({ min, max }).map((value) => String(value).padStart(2, '0'));
    const nearEnds = fc.record({
      date: fc.constantFrom('0000-01-01', '0000-01-02', '9999-12-30', '9999-12-31'),
      hour: two(0, 23),
      minute: two(0, 59),
      second: two(0, 59),
      fraction: fc.stringMatching(/^\d{1,9}$/),
      sign: fc.constantFrom('+', '-'),
      offsetHour: two(0, 23),
      offsetMinute: two(0, 59),
    });
    fc.assert(
      fc.property(nearEnds, (p) => {
        const text = `${p.date}T${p.hour}:${p.minute}:${p.second}.${p.fraction}${p.sign}${p.offsetHour}:${p.offsetMinute}`;
        const ms = Date.parse(`${p.date}T${p.hour}:${p.minute}:${p.second}.${p.fraction.padEnd(3, '0').slice(0, 3)}${p.sign}${p.offsetHour}:${p.offsetMinute}`);
        expect(isInstantText(text), text).toBe(ms >= START_MS && ms < END_MS);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * The bulk statements' array literals (`db/postgres/array-literal.ts`): any text, whatever it
 * holds, reaches PostgreSQL as the same element in the same place (checked on the server, with
 * generated strings), nulls stay nulls, and what is not a whole number or a string is refused.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integerArrayLiteral, textArrayLiteral } from '../src/db/postgres/array-literal.js';
import { DIALECTS, PG_URL } from './dialects.js';

describe('array literals', () => {
  it('quotes every text and escapes only quote and backslash', () => {
    expect(textArrayLiteral(['a', 'b,c', '{d}', 'NULL', '', 'e"f', 'g\\h', null])).toBe('{"a","b,c","{d}","NULL","","e\\"f","g\\\\h",NULL}');
    expect(integerArrayLiteral([1, null, -3, 9007199254740991])).toBe('{1,NULL,-3,9007199254740991}');
    expect(textArrayLiteral([])).toBe('{}');
    expect(integerArrayLiteral([])).toBe('{}');
  });

  it('refuses an element that is not a safe integer or a string', () => {
    expect(() => integerArrayLiteral([1, 1.5])).toThrow('array element 1 is not a safe integer: 1.5');
    expect(() => integerArrayLiteral([2 ** 53])).toThrow('array element 0 is not a safe integer');
    expect(() => integerArrayLiteral([Number.NaN])).toThrow('array element 0 is not a safe integer: NaN');
    expect(() => textArrayLiteral(['a', 3 as unknown as string])).toThrow('array element 1 is not a string: 3');
  });
});

describe.runIf(DIALECTS.includes('postgres'))('array literals on PostgreSQL', () => {
  const client = new pg.Client({ connectionString: PG_URL });
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('gives back every generated text and null, in order', async () => {
    // PostgreSQL text holds no NUL character; everything else is generated.
    const text = fc.string({ unit: 'binary', maxLength: 12 }).filter((value) => !value.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(text, { nil: null }), { maxLength: 20 }), async (values) => {
        const { rows } = await client.query<{ v: string | null }>('select v from unnest($1::text[]) with ordinality as u(v, n) order by n', [textArrayLiteral(values)]);
        expect(rows.map((row) => row.v)).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('gives back whole numbers and decimal amounts as the server parses them', async () => {
    const ids = await client.query<{ v: string | null }>('select v::text from unnest($1::bigint[]) with ordinality as u(v, n) order by n', [integerArrayLiteral([7, null, -2, 9007199254740991])]);
    expect(ids.rows.map((row) => row.v)).toEqual(['7', null, '-2', '9007199254740991']);
    const amounts = await client.query<{ v: string | null }>('select v::text from unnest($1::numeric[]) with ordinality as u(v, n) order by n', [textArrayLiteral(['-0.000000000000000001', '12.500000000000000000', null])]);
    expect(amounts.rows.map((row) => row.v)).toEqual(['-0.000000000000000001', '12.500000000000000000', null]);
  });

  it('fails the statement on an amount that is not a number, as before', async () => {
    await expect(client.query('select unnest($1::numeric[])', [textArrayLiteral(['1,2'])])).rejects.toThrow('invalid input syntax for type numeric');
  });
});

/**
 * The position of a configuration file's JSON syntax error, found without the parser's message
 * (which quotes the file's text, and with it a pasted secret). It must agree with `JSON.parse` on
 * which texts are JSON at all.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonSyntaxErrorPosition } from '../src/json-syntax-position.js';

const RUNS = Number(process.env['EARNBOOK_PROP_RUNS'] ?? 60) * 10;

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** JSON texts, whole or with a character changed, inserted or cut: most are near misses. */
const nearJson = fc
  .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '{', '[', '"', "'", ':', '\\', '\n', '\u0000', '-', '.', 'e', '0', ' ', 'tru', '\ufeff'), fc.constantFrom('insert', 'replace', 'cut', 'keep'))
  .map(([text, at, piece, how]) => {
    const index = text.length === 0 ? 0 : at % (text.length + 1);
    if (how === 'keep') return text;
    if (how === 'cut') return text.slice(0, index);
    return `${text.slice(0, index)}${piece}${text.slice(how === 'replace' ? index + 1 : index)}`;
  });

describe('jsonSyntaxErrorPosition', () => {
  it('finds an error exactly when JSON.parse refuses the text, at an offset inside it', () => {
    fc.assert(
      fc.property(fc.oneof(nearJson, fc.string(), fc.json()), (text) => {
        const position = jsonSyntaxErrorPosition(text);
        expect(position === undefined, JSON.stringify(text)).toBe(parses(text));
        if (position !== undefined) {
          expect(position.offset).toBeGreaterThanOrEqual(0);
          expect(position.offset).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('gives line and column from 1, and the offset of the first character that breaks the grammar', () => {
    expect(jsonSyntaxErrorPosition('{"a": 1}')).toBeUndefined();
    expect(jsonSyntaxErrorPosition(`{"a":\n 'b'}`)).toEqual({ offset: 7, line: 2, column: 2 });
    expect(jsonSyntaxErrorPosition('{"a": 1,}')).toEqual({ offset: 8, line: 1, column: 9 });
    expect(jsonSyntaxErrorPosition('[1, 2] x')).toEqual({ offset: 7, line: 1, column: 8 });
    expect(jsonSyntaxErrorPosition('"\\x"')).toEqual({ offset: 2, line: 1, column: 3 });
    // The end of the text: it ends too early.
    expect(jsonSyntaxErrorPosition('{ "entities": ')).toEqual({ offset: 14, line: 1, column: 15 });
    expect(jsonSyntaxErrorPosition('')).toEqual({ offset: 0, line: 1, column: 1 });
  });

  it('scans deep nesting without recursion', () => {
    const depth = 200_000;
    expect(jsonSyntaxErrorPosition(`${'['.repeat(depth)}${']'.repeat(depth)}`)).toBeUndefined();
    expect(jsonSyntaxErrorPosition(`${'['.repeat(depth)}}`)).toEqual({ offset: depth, line: 1, column: depth + 1 });
  });
});

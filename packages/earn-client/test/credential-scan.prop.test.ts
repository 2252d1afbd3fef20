import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CredentialScanner } from '../src/credential-scan.js';
import { bodyCarriesCredential } from '../src/redaction.js';

/** Cuts `bytes` at the given offsets (sorted, deduplicated) into chunks. */
function cut(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

function scan(bytes: Buffer, offsets: readonly number[], secrets: readonly string[]): boolean {
  const scanner = new CredentialScanner(secrets);
  for (const chunk of cut(bytes, offsets)) scanner.push(chunk);
  scanner.end();
  return scanner.found;
}

/** A JSON string literal of `value` with some characters written as `\uXXXX`, as a hostile body may. */
function escapedLiteral(value: string, escapeAt: readonly boolean[]): string {
  let literal = '';
  for (const [index, character] of [...value].entries()) {
    const unit = character.charCodeAt(0);
    if (escapeAt[index % Math.max(1, escapeAt.length)] === true && character.length === 1) literal += `\\u${unit.toString(16).padStart(4, '0')}`;
    else literal += JSON.stringify(character).slice(1, -1);
  }
  return `"${literal}"`;
}

describe('CredentialScanner agrees with the whole-body check, however the body is cut', () => {
  const secret = fc.string({ minLength: 8, maxLength: 24, unit: fc.constantFrom(...'abcXYZ019-_./"\\é€😀'.split(/(?=[\s\S])/u)) });

  // Exact for credentials without JSON's structural characters. One that holds `"` or `,` could
  // also be found across two strings (`"ab","cd…`), as the whole-text check of a body without
  // escapes finds it: never missed, at worst refused where the parsed check would not refuse.
  it('finds a credential exactly when bodyCarriesCredential does (never less)', () => {
    fc.assert(
      fc.property(
        secret,
        // A value is plain text, or the credential between two texts (`null` marks where).
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))), { maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(400), { maxLength: 12 }),
        (credential, values, escapeAt, offsets) => {
          const strings = values.map((value) => (typeof value === 'string' ? value : `${value[0]}${credential}${value[1]}`));
          const text = `{"id":"r-1","values":[${strings.map((value) => escapedLiteral(value, escapeAt)).join(',')}]}`;
          const expected = bodyCarriesCredential(text, JSON.parse(text), [credential]);
          const found = scan(Buffer.from(text, 'utf8'), offsets, [credential]);
          if (expected) expect(found).toBe(true);
          if (!/["',:[\]{}]/.test(credential)) expect(found).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a body without the credential is never refused, cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }), fc.array(fc.nat(300), { maxLength: 10 }), (values, offsets) => {
        const text = JSON.stringify({ values });
        expect(scan(Buffer.from(text, 'utf8'), offsets, ['never-in-this-body-42'])).toBe(false);
      }),
    );
  });

  it('credentials shorter than 8 characters are ignored, as in a parsed body', () => {
    expect(scan(Buffer.from('{"a":"short"}'), [3], ['short'])).toBe(false);
  });

  it('an escape cut at the very end of a body is searched as it stands', () => {
    expect(scan(Buffer.from('{"a":"abcdefgh\\u00'), [], ['abcdefgh'])).toBe(true);
    expect(scan(Buffer.from('"x\\'), [2], ['abcdefgh'])).toBe(false);
  });
});

/**
 * `redactConnectionString` never shows a password, whatever it holds and however it is written:
 * percent-encoded, or typed as it is with the characters that end a URL's user-info part (`#`,
 * `/`, `?`, `@`) or look like its separators (`:`, `%`). The CLI prints a database this way,
 * notably when it cannot open it, which is exactly when such a string fails to parse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactConnectionString } from '../src/index.js';

const SPECIAL = [...':@/?#&=+%;[] \\*'];

/** Passwords of any characters, specials and whole graphemes (emoji, combining marks, controls). */
const password = fc
  .string({ minLength: 1, maxLength: 30, unit: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })) })
  .map((value) => `PW${value}`);
const user = fc.constantFrom('books', 'u', 'app_user', 'postgres');
const rest = fc.constantFrom('@db.internal:5432/earn', '@db/earn?schema=s', '@[::1]:5432/earn?sslmode=require', '@h', '@10.0.0.1/earn#x', '@db/earn?application_name=a@b');
const scheme = fc.constantFrom('postgres://', 'postgresql://', 'POSTGRES://');

function renderings(secret: string): string[] {
  return [secret, encodeURIComponent(secret), encodeURI(secret), new URLSearchParams({ p: secret }).toString().slice(2)];
}

describe('redactConnectionString hides every password (property)', () => {
  it('in the user-info part, unencoded or encoded', () => {
    fc.assert(
      fc.property(scheme, user, password, rest, fc.boolean(), (prefix, name, secret, tail, encoded) => {
        const shown = redactConnectionString(`${prefix}${name}:${encoded ? encodeURIComponent(secret) : secret}${tail}`);
        expect(shown).toContain('***');
        for (const rendering of renderings(secret)) expect(shown).not.toContain(rendering);
      }),
      { numRuns: 1000 },
    );
  });

  it('inside a longer message, such as a driver error around the connection string', () => {
    fc.assert(
      fc.property(user, password, rest, (name, secret, tail) => {
        const shown = redactConnectionString(`cannot connect to postgres://${name}:${secret}${tail}: connection refused`);
        for (const rendering of renderings(secret)) expect(shown).not.toContain(rendering);
      }),
      { numRuns: 500 },
    );
  });

  it('in a password-like query parameter, unencoded or encoded', () => {
    fc.assert(
      fc.property(password.filter((secret) => !/[&;]/.test(secret)), fc.constantFrom('password', 'sslpassword', 'PassWord'), fc.boolean(), (secret, name, encoded) => {
        const value = encoded ? encodeURIComponent(secret) : secret;
        const shown = redactConnectionString(`postgres://books@db:5432/earn?${name}=${value}`);
        expect(shown).toContain('***');
        for (const rendering of renderings(secret)) expect(shown).not.toContain(rendering);
      }),
      { numRuns: 500 },
    );
  });
});

describe('redactConnectionString keeps what is not a secret (review of session 23)', () => {
  it('an e-mail address later in a message does not hide the host', () => {
    const text = 'cannot reach postgres://books@db.example:5432/earn: ask dba@example.com';
    expect(redactConnectionString(text)).toBe(text);
    expect(redactConnectionString('cannot reach postgres://books:hunter2@db.example:5432/earn: ask dba@example.com')).toBe('cannot reach postgres://books:***@db.example:5432/earn: ask dba@example.com');
  });
  it('a password holding a space is hidden, even with an @ later in the message', () => {
    for (const text of ['postgres://u:pa ss@h/db', 'postgres://u:pa ss@h/db failed: ask dba@example.com']) {
      expect(redactConnectionString(text)).not.toContain('pa ss');
      expect(redactConnectionString(text)).not.toContain('ss@h');
    }
  });
  it('an @ in a query value hides the host too: never less than the secret (documented)', () => {
    expect(redactConnectionString('postgres://db.example:5432/earn?application_name=ops@team')).toBe('postgres://db.example:***@team');
  });
});

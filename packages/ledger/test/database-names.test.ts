import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LedgerError, redactConnectionString } from '../src/index.js';
import { openPostgresDatabase } from '../src/db/postgres/index.js';
import { DIALECTS, PG_URL } from './dialects.js';

describe('redactConnectionString', () => {
  it('replaces the user-info password and password-like query parameters', () => {
    expect(redactConnectionString('postgres://books:hunter2@db:5432/earn?password=hunter2&schema=s&sslpassword=x1&application_name=a')).toBe(
      'postgres://books:***@db:5432/earn?password=***&schema=s&sslpassword=***&application_name=a',
    );
    expect(redactConnectionString('postgresql://db/earn?PassWord=p&apiToken=t&client_secret=c')).toBe('postgresql://db/earn?PassWord=***&apiToken=***&client_secret=***');
    expect(redactConnectionString('postgres://books@db/earn')).toBe('postgres://books@db/earn');
    expect(redactConnectionString('/var/books/earnbook.sqlite')).toBe('/var/books/earnbook.sqlite');
  });

  it('also redacts text that does not parse as a URL', () => {
    expect(redactConnectionString('postgres://u:se cret@[bad/earn?password=p w')).toBe('postgres://u:***@[bad/earn?password=***');
  });

  it('hides a password typed with an unencoded #, /, ? or @ (which a URL parser reads as host, port and fragment)', () => {
    expect(redactConnectionString('postgres://u:12#34@h/db')).toBe('postgres://u:***@h/db');
    expect(redactConnectionString('postgres://books:hunt#er2@db.internal:5432/earn')).toBe('postgres://books:***@db.internal:5432/earn');
    expect(redactConnectionString('postgres://books:hunt/er2@db.internal:5432/earn')).toBe('postgres://books:***@db.internal:5432/earn');
    expect(redactConnectionString('postgres://books:hunt?er2@db.internal:5432/earn?schema=s')).toBe('postgres://books:***@db.internal:5432/earn?schema=s');
    expect(redactConnectionString('postgres://books:a@b:c@db/earn')).toBe('postgres://books:***@db/earn');
    expect(redactConnectionString('postgres://books:p%40ss@db/earn')).toBe('postgres://books:***@db/earn');
    // A user name that holds what ends a user-info part: the whole user-info part is hidden.
    expect(redactConnectionString('postgres://bo/oks:s3cret@db/earn')).toBe('postgres://***@db/earn');
    expect(redactConnectionString('postgres://a@b:s3cret@db/earn')).toBe('postgres://***@db/earn');
    // An unencoded `#` in a password-like parameter does not leave its end as a fragment.
    expect(redactConnectionString('postgres://books@db/earn?password=ab#cd&schema=s')).toBe('postgres://books@db/earn?password=***&schema=s');
    // Inside a message, and with no password at all.
    expect(redactConnectionString('cannot open the database postgres://u:12#34@h/db (schema s)')).toBe('cannot open the database postgres://u:***@h/db (schema s)');
    expect(redactConnectionString('postgres://books@db:5432/earn')).toBe('postgres://books@db:5432/earn');
    expect(redactConnectionString('postgres://db:5432/earn')).toBe('postgres://db:5432/earn');
    expect(redactConnectionString('file:///var/books/a:b@c.sqlite')).toBe('file:///var/books/a:b@c.sqlite');
  });

  it('never leaves a password in the output, whatever it holds (property)', () => {
    const password = fc.string({ minLength: 1, maxLength: 40, unit: fc.oneof(fc.constantFrom(...':@/?#&=+%; '), fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' })) }).map((value) => `PW${value}`);
    fc.assert(
      fc.property(password, fc.boolean(), (secret, inQuery) => {
        const url = inQuery
          ? `postgres://books@db:5432/earn?${new URLSearchParams({ password: secret, schema: 's' }).toString()}`
          : `postgres://books:${encodeURIComponent(secret)}@db:5432/earn?schema=s`;
        const shown = redactConnectionString(url);
        const renderings = [secret, encodeURIComponent(secret), new URLSearchParams({ p: secret }).toString().slice(2)];
        return shown.includes('***') && renderings.every((rendering) => !shown.includes(rendering));
      }),
      { numRuns: 300 },
    );
  });
});

describe.runIf(DIALECTS.includes('postgres'))('PostgreSQL schema names', () => {
  async function tablesIn(schema: string): Promise<string[]> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const result = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'ledger%'", [schema]);
      return result.rows.map((row) => row.table_name);
    } finally {
      await client.end();
    }
  }

  it.each(['information_schema', 'pg_toast', 'pg_catalog', 'pg_temp', 'pg_books', 'Public', 'a-b', '', 'x'.repeat(64), 'a\u0000b'])(
    'refuses schema %j with a typed invalid_input naming the field, before connecting',
    async (schema) => {
      const error = await openPostgresDatabase({ connectionString: PG_URL, schema }).then(
        () => expect.fail('expected a refusal'),
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'invalid_input', field: 'schema' });
    },
  );

  it('leaves the system schemas untouched', async () => {
    await openPostgresDatabase({ connectionString: PG_URL, schema: 'information_schema' }).catch(() => undefined);
    expect(await tablesIn('information_schema')).toEqual([]);
  });

  it('refuses before connecting: an unreachable server still gives the typed error', async () => {
    const error = await openPostgresDatabase({ connectionString: 'postgres://u:p@127.0.0.1:1/db', schema: 'pg_toast' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'schema' });
  });
});

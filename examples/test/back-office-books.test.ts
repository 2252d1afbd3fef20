/**
 * The back-office script (`pnpm … back-office -- --database …`) against books that already
 * exist: it reopens them in the zones they keep (here Europe/Berlin, as the demo's), with the
 * sandbox standing in for the provider in those zones, instead of dying with the ledger's
 * `entity_configuration_changed` because its sandbox keeps UTC. New books are still started in
 * the sandbox's zone (UTC). On SQLite and PostgreSQL; the script runs as `pnpm` runs it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPartnerBooks } from '../src/lib/partner-books.js';

/** Storage dialects to test, as in the packages: `EARNBOOK_DIALECTS` (default `sqlite,postgres`). */
const DIALECTS = (process.env['EARNBOOK_DIALECTS'] ?? 'sqlite,postgres').split(',').map((name) => name.trim());
const PG_URL = process.env['EARNBOOK_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EXAMPLES = new URL('../', import.meta.url).pathname;
const BERLIN = [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] as const;
const directory = mkdtempSync(join(tmpdir(), 'earnbook-back-office-books-'));
const schemasToDrop: string[] = [];

afterAll(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (schemasToDrop.length === 0) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const schema of schemasToDrop) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
});

/** A running back-office script, or how it ended before it listened. */
interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string | undefined;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts the script on a free port and waits until it listens (or exits). */
function startBackOffice(database: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'back-office/src/main.ts', '--port', '0', '--database', database], { cwd: EXAMPLES });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: unknown) => {
      output += String(chunk);
      const url = /back office listening on (http:\/\/\S+) /.exec(output)?.[1];
      if (url !== undefined) resolve({ child, url, output: () => output, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.on('error', reject);
    void exited.then(() => resolve({ child, url: undefined, output: () => output, exited }));
  });
}

/** The zone of each entity the books at `database` keep. */
async function zonesAt(database: string): Promise<Record<string, string>> {
  const partner = await openPartnerBooks({ database, ifMissing: 'fail' });
  try {
    return Object.fromEntries([...partner.ledger.entities.values()].map((entity) => [entity.id, entity.timeZone]));
  } finally {
    await partner.close();
  }
}

/** Runs the script on `database`, checks it serves the products, and stops it as a scheduler would. */
async function serveAndStop(database: string): Promise<void> {
  const started = await startBackOffice(database);
  try {
    expect(started.url, started.output()).toBeDefined();
    const products = await fetch(`${started.url}/products`);
    expect(products.status).toBe(200);
    expect(((await products.json()) as { items: { productId: string }[] }).items.map((item) => item.productId)).toContain('btc-flex');
  } finally {
    started.child.kill('SIGTERM');
  }
  expect(await started.exited, started.output()).toBe(0);
}

for (const dialect of DIALECTS.filter((name) => name === 'sqlite' || name === 'postgres')) {
  describe(`the back-office script on existing books (${dialect})`, () => {
    /** A database of its own for one test: a SQLite file, or a PostgreSQL schema. */
    function databaseFor(name: string): string {
      if (dialect === 'sqlite') return join(directory, `${name}.sqlite`);
      const schema = `earnbook_back_office_${name.replace(/\W/g, '_')}_${process.pid}_${Date.now()}`;
      schemasToDrop.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('schema', schema);
      return url.toString();
    }

    it('books kept in Europe/Berlin are reopened in that zone and served, not refused as entity_configuration_changed', async () => {
      const database = databaseFor('berlin');
      const created = await openPartnerBooks({ database, ifMissing: 'create', entities: BERLIN });
      await created.close();
      await serveAndStop(database);
      expect(await zonesAt(database)).toEqual({ defi: 'Europe/Berlin', lending: 'Europe/Berlin' });
    });

    it('a database that holds no books gets new ones in the sandbox\'s zone (UTC), which the next run reopens', async () => {
      const database = databaseFor('new');
      await serveAndStop(database);
      expect(await zonesAt(database)).toEqual({ defi: 'UTC', lending: 'UTC' });
      await serveAndStop(database);
      if (dialect === 'sqlite') expect(existsSync(database)).toBe(true);
    });
  });
}

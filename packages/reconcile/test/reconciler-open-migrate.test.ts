/**
 * `Reconciler.open({ migrate: false })` opens books that have every one of reconcile's migrations
 * and refuses books behind this version (`migration_required`, naming what they lack) before
 * anything is written; `reconcileMigrationState` tells which they have.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnBooks } from '@earnbook/ledger';
import type { Ledger } from '@earnbook/ledger';
import { ReconcileError, Reconciler, reconcileMigrationState } from '../src/index.js';
import { DIALECTS, freshLedger } from '../../ledger/test/dialects.js';
import { snapshotDatabase } from '../../ledger/test/support/snapshot.js';

const LAST = { name: '0008_breaks_day_id_index', index: 'reconcile_breaks_entity_day_id' };

describe.each(DIALECTS)('opening the reconciler without migrating on %s', (dialect) => {
  let ledger: Ledger;
  let schema: string | undefined;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await freshLedger(dialect, { entities: [{ id: 'defi', timeZone: 'UTC' }] });
    ({ ledger, schema, close } = opened);
  });
  afterEach(async () => close());
  const db = () => ledger.db as Kysely<unknown>;
  const state = () => reconcileMigrationState(db(), ledger.dialect, schema === undefined ? {} : { schema });

  it('refuses books without reconcile\'s tables or behind this version, writing nothing; opens current ones', async () => {
    const none = await state();
    expect(none.applied).toEqual([]);
    expect(none.pending[0]).toBe('0001_initial');
    const empty = await snapshotDatabase(db());
    // Every pending migration in the context, as the ledger's refusal lists its own.
    await expect(Reconciler.open({ books: new EarnBooks(ledger), migrate: false })).rejects.toMatchObject({ code: 'migration_required', field: 'migrate', value: '0001_initial', context: { pendingMigrations: none.pending.join(', ') } });
    expect(await snapshotDatabase(db())).toBe(empty);

    await Reconciler.open({ books: new EarnBooks(ledger) });
    expect((await state()).pending).toEqual([]);
    await Reconciler.open({ books: new EarnBooks(ledger), migrate: false });

    await sql`drop index ${sql.ref(LAST.index)}`.execute(db());
    await sql`delete from earnbook_reconcile_migration where name = ${LAST.name}`.execute(db());
    expect((await state()).pending).toEqual([LAST.name]);
    const before = await snapshotDatabase(db());
    const refused = await Reconciler.open({ books: new EarnBooks(ledger), migrate: false }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReconcileError);
    expect(refused).toMatchObject({ context: { pendingMigrations: LAST.name } });
    expect((refused as Error).message).toContain(LAST.name);
    expect(await snapshotDatabase(db())).toBe(before);
  });

  it('refuses a migrate option that cannot be read or is no boolean, writing nothing', async () => {
    const reading = { books: new EarnBooks(ledger), get migrate(): boolean { throw new Error('no'); } };
    await expect(Reconciler.open(reading)).rejects.toMatchObject({ code: 'invalid_input', field: 'migrate' });
    const before = await snapshotDatabase(db());
    await expect(Reconciler.open({ books: new EarnBooks(ledger), migrate: 'no' as unknown as boolean })).rejects.toMatchObject({ code: 'invalid_input', field: 'migrate' });
    expect(await snapshotDatabase(db())).toBe(before);
  });
});

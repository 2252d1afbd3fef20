/**
 * What `Ledger.open` decides before the books are used: which entities to open (the caller's,
 * the stored ones, or the defaults, after the `ifMissing` rule), their validation, and recording
 * them (an entity's zone is fixed once stored).
 */
import type { Kysely } from 'kysely';
import { LedgerError, describeValue, isArrayInput, requireObject } from './errors.js';
import { readArray, readFields, readRecord } from './input-fields.js';
import { assertTimeZone, formatInstant, sameTimeZone } from './calendar.js';
import { parseKey } from './posting.js';
import { DEFAULT_ENTITIES, ENTITIES_MAX } from './ledger-types.js';
import type { LedgerEntity, LedgerOptions } from './ledger-types.js';
import type { LedgerDatabase } from './db/schema.js';
import { selectStoredEntities } from './db/stored-entities.js';
import { insertEntityReturningZone } from './db/accounts-repository.js';
import type { LedgerDialect } from './db/dialect.js';

/**
 * `Ledger.open`'s options read once into plain objects (the options, `storage`, each entity,
 * `currencyScales`, `groupCommit`): one of them that answers no read (a revoked proxy, a getter
 * or trap that throws) is `invalid_input` naming it; each was a raw TypeError.
 */
export function readOpenOptions(given: LedgerOptions): LedgerOptions {
  const options = readFields(given, ['storage', 'entities', 'ifMissing', 'currencyScales', 'migrate', 'now', 'groupCommit', 'logger'], { field: 'options' });
  const storage = readFields(options.storage, ['db', 'dialect', 'schema'], { field: 'storage', nested: true });
  let entities = options.entities;
  if (entities !== undefined && isArrayInput(entities, 'entities')) {
    const listed = readArray(entities, 'entities', ENTITIES_MAX);
    if (listed.items.length === listed.length) {
      entities = listed.items.map((config, index) => (typeof config === 'object' && config !== null ? readFields(config, ['id', 'timeZone'], { field: `entities[${index}]`, nested: true }) : config));
    }
  }
  const currencyScales = options.currencyScales === undefined ? undefined : (readRecord(options.currencyScales, 'currencyScales') as Record<string, number>);
  if (options.migrate !== undefined && typeof options.migrate !== 'boolean') {
    throw new LedgerError('invalid_input', `migrate must be true or false, got ${describeValue(options.migrate)}`, { field: 'migrate', value: describeValue(options.migrate) });
  }
  const groupCommit = options.groupCommit;
  const readCommit = typeof groupCommit === 'object' && groupCommit !== null && !isArrayInput(groupCommit, 'groupCommit') ? readFields(groupCommit, ['sizeMax', 'lingerMs', 'onGroup'], { field: 'groupCommit', nested: true }) : groupCommit;
  return {
    ...options,
    storage,
    ...(entities === undefined ? {} : { entities }),
    ...(currencyScales === undefined ? {} : { currencyScales }),
    ...(readCommit === undefined ? {} : { groupCommit: readCommit }),
  } as LedgerOptions;
}

/**
 * The entities to open after the `ifMissing` rule: the caller's, else the stored ones, else the
 * defaults for new books; `books_not_found` (before anything is written) when books must exist.
 */
export async function entitiesToOpen(options: LedgerOptions): Promise<readonly LedgerEntity[]> {
  const ifMissing = options.ifMissing ?? 'create';
  if (ifMissing !== 'create' && ifMissing !== 'fail') {
    throw new LedgerError('invalid_input', `ifMissing must be "create" or "fail", got ${describeValue(ifMissing)}`, { field: 'ifMissing', value: describeValue(ifMissing) });
  }
  if (options.entities !== undefined && ifMissing === 'create') return options.entities;
  const stored = await selectStoredEntities(options.storage.db);
  const exists = stored !== undefined && stored.length > 0;
  if (!exists && ifMissing === 'fail') {
    throw new LedgerError('books_not_found', 'the storage holds no books (no ledger tables or no entity); open with ifMissing: "create" to make new ones', { field: 'storage' });
  }
  return options.entities ?? (exists ? stored : DEFAULT_ENTITIES);
}

/** Checks the entities' ids and zones (1 to {@link ENTITIES_MAX}, no id twice); frozen by id. */
export function parseEntities(configs: readonly LedgerEntity[]): Map<string, LedgerEntity> {
  if (!isArrayInput(configs, 'entities') || configs.length === 0 || configs.length > ENTITIES_MAX) {
    throw new LedgerError('invalid_input', `entities must list 1 to ${ENTITIES_MAX} entities`, { field: 'entities', value: describeValue(configs) });
  }
  const entities = new Map<string, LedgerEntity>();
  configs.forEach((given, index) => {
    // `null` or a text in the list was a raw TypeError (a review, session 44).
    const config = requireObject(given, `entities[${index}]`);
    const id = parseKey(config.id, `entities[${index}].id`);
    const timeZone = assertTimeZone(config.timeZone, `entities[${index}].timeZone`);
    if (entities.has(id)) throw new LedgerError('invalid_input', `entities[${index}].id ${id} is listed twice`, { field: `entities[${index}].id`, value: id });
    entities.set(id, Object.freeze({ id, timeZone }));
  });
  return entities;
}

/**
 * Records the entities, all or none; one stored with another zone is
 * `entity_configuration_changed`, and then no entity is written (a new entity named before it
 * used to be). Zones compare by the rules they name, not by spelling: books recorded before names
 * were stored in their canonical case may hold `europe/berlin`, and reopen as `Europe/Berlin` (the
 * stored row is left as it is; only its spelling differs, and no day moves). Books that keep every
 * named entity are only read, so a second connection opens them while another holds the write
 * lock; the missing ones are written in one write transaction, checked again inside it.
 */
export async function recordEntities(storage: { db: Kysely<LedgerDatabase>; dialect: LedgerDialect }, entities: Iterable<LedgerEntity>, now: Date): Promise<void> {
  const named = [...entities];
  // After the migration: the table is there (undefined only for a storage without it).
  const stored = new Map((await selectStoredEntities(storage.db) ?? []).map((entity) => [entity.id, entity.timeZone]));
  for (const entity of named) assertSameZone(entity, stored.get(entity.id));
  const missing = named.filter((entity) => !stored.has(entity.id));
  if (missing.length === 0) return;
  const createdAt = formatInstant(now);
  await storage.dialect.writeTransaction(storage.db, async (trx) => {
    for (const entity of missing) {
      assertSameZone(entity, await insertEntityReturningZone(trx, { id: entity.id, time_zone: entity.timeZone, created_at: createdAt }));
    }
  });
}

function assertSameZone(entity: LedgerEntity, storedZone: string | undefined): void {
  if (storedZone === undefined || sameTimeZone(storedZone, entity.timeZone)) return;
  throw new LedgerError(
    'entity_configuration_changed',
    `entity ${entity.id} keeps its books in ${storedZone}; it cannot be reopened in ${entity.timeZone} (every accounting day would move)`,
    { field: 'entities.timeZone', value: entity.timeZone, context: { entity: entity.id, storedTimeZone: storedZone } },
  );
}

/**
 * Books opened without migrating (`migrate: false`) must have every migration of this version:
 * else `migration_required`, naming the first and listing them all, before anything is written.
 */
export function refusePendingMigrations(pending: readonly string[]): void {
  const first = pending[0];
  if (first === undefined) return;
  throw new LedgerError('migration_required', `the books need ${pending.length} migration(s) of this version of @earnbook/ledger (${pending.join(', ')}) and were opened without migrating: open them with migrate: true (the CLI's --migrate) to apply them`, {
    field: 'migrate',
    value: describeValue(first),
    context: { pendingMigrations: pending.join(', ') },
  });
}

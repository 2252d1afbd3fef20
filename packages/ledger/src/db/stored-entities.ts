/**
 * What a storage already holds, read before anything is migrated or written: whether it holds a
 * ledger at all, and its entities.
 */
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema.js';

/** An entity as stored: its id and the IANA zone of its accounting days. */
export interface StoredEntity {
  readonly id: string;
  readonly timeZone: string;
}

/** Whether an error says that the table does not exist (SQLite's message; PostgreSQL's 42P01). */
export function isMissingTable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P01' || /no such table/i.test(error instanceof Error ? error.message : '');
}

/**
 * The entities a storage keeps, by id; undefined when it holds no ledger tables yet. Any other
 * failure (a refused connection) is thrown. Reads only: a new storage stays untouched.
 */
export async function selectStoredEntities(db: Kysely<LedgerDatabase>): Promise<StoredEntity[] | undefined> {
  try {
    const rows = await db.selectFrom('ledger_entities').select(['id', 'time_zone']).orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, timeZone: row.time_zone }));
  } catch (error) {
    if (isMissingTable(error)) return undefined;
    throw error;
  }
}

import { sql } from 'kysely';
import type { Kysely } from 'kysely';

/**
 * Every row of every table, as one comparable text: the whole database before and after an
 * operation that was refused must be identical.
 */
export async function snapshotDatabase(db: Kysely<unknown>): Promise<string> {
  const tables = (await db.introspection.getTables()).map((table) => table.name).filter((name) => !name.startsWith('kysely_')).sort();
  const parts: string[] = [];
  for (const table of tables) {
    const result = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(db);
    const rows = result.rows.map((row) => JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))).sort();
    parts.push(`${table}: ${rows.length}\n${rows.join('\n')}`);
  }
  return parts.join('\n');
}

import { sql } from 'kysely';
import type { Kysely } from 'kysely';

/**
 * Every row of every table, as one comparable text: the whole database before and after an
 * operation that was refused must be identical.
 */
export async function snapshotDatabase(db: Kysely<unknown>): Promise<string> {
  const all = await db.introspection.getTables();
  // PostgreSQL lists every schema's tables: keep the connection's own (other test files make theirs meanwhile).
  const own = all.some((table) => table.schema !== undefined) ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db)).rows[0]?.schema : undefined;
  const tables = all.filter((table) => own === undefined || table.schema === own).map((table) => table.name).filter((name) => !name.startsWith('kysely_')).sort();
  const parts: string[] = [];
  for (const table of tables) {
    const result = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(db);
    const rows = result.rows.map((row) => JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))).sort();
    parts.push(`${table}: ${rows.length}\n${rows.join('\n')}`);
  }
  return parts.join('\n');
}

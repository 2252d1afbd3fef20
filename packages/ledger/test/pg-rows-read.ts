/**
 * Rows a piece of work read of some tables on PostgreSQL, counted with `pg_stat_xact_user_tables`
 * (the current transaction's own reads: sequential and through indexes), so that a test asserts
 * rows read, not time. The work must run on `trx`, the transaction that counts.
 */
import { sql } from 'kysely';
import type { QueryExecutorProvider } from 'kysely';

export async function rowsRead(trx: QueryExecutorProvider, schema: string, tables: readonly string[], work: () => Promise<unknown>): Promise<number> {
  const count = async () => {
    const result = await sql<{ rows: string }>`
      select coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::text as rows from pg_stat_xact_user_tables
      where schemaname = ${schema} and relname in (${sql.join([...tables])})`.execute(trx);
    return Number(result.rows[0]?.rows ?? 0);
  };
  const before = await count();
  await work();
  return (await count()) - before;
}

/**
 * PostgreSQL: the references of the rows written once per line and per account-day (journal
 * entries to their transaction and account; end-of-day balances and interest residues to their
 * account) checked once per statement instead of by a foreign key per row.
 *
 * A foreign key checks each inserted row with a query of its own, and takes a share lock on the
 * referenced row: measured on this project's 2-core machine, a group of 64 deposits (256 entry
 * rows) spent 9.0 ms in its entry insert with the two keys and 4.3 ms without them
 * (`scratch` of `bench/post-concurrent.ts`, 100 groups each). A statement-level trigger sees the
 * statement's rows as one transition table and checks them with one anti-join.
 *
 * What the keys also guaranteed stays guaranteed by the tables' own rules: journal rows are
 * immutable (no update or delete, `immutabilityStatements`), a ledger account is never deleted
 * and its id never changes (`ledger_accounts_keep_identity`, re-created here with `id`), and the
 * account of an end-of-day balance or residue row never changes (a trigger on that column). So a
 * row once checked keeps pointing at a row that exists. TRUNCATE of the referenced tables stays
 * refused by the keys other tables keep (`earn_accounts`, `earn_bookings`, balance shards).
 * SQLite keeps its foreign keys: they cost little there.
 */

/** The tables whose row-level keys become statement checks, and the referenced tables per column. */
const CHECKED: readonly { readonly table: string; readonly references: Readonly<Record<string, string>> }[] = [
  { table: 'journal_entries', references: { transaction_id: 'journal_transactions', account_id: 'ledger_accounts' } },
  { table: 'account_day_balances', references: { account_id: 'ledger_accounts' } },
  { table: 'interest_residues', references: { account_id: 'ledger_accounts' } },
];

/**
 * The check function of one table: the first inserted row whose reference is missing fails the
 * statement (SQLSTATE 23503, as a foreign key would). One probe of the referenced table's primary
 * key per distinct id the statement wrote (a group of 64 deposits: 64 transactions and its
 * accounts, not 256 rows); the transition table has no statistics, so hash and merge joins are
 * turned off in the function, or the planner may scan the whole journal to hash it.
 */
function checkFunction(table: string, references: Readonly<Record<string, string>>): string {
  const checks = Object.entries(references).map(
    ([column, referenced]) => `
      SELECT n.id INTO missing FROM (SELECT DISTINCT ${column} AS id FROM earnbook_inserted) n WHERE NOT EXISTS (SELECT 1 FROM ${referenced} r WHERE r.id = n.id) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert into ${table} references ${referenced} row % (${column}), which does not exist', missing.id USING ERRCODE = 'foreign_key_violation';
      END IF;`,
  );
  return `CREATE OR REPLACE FUNCTION earnbook_check_${table}_references() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT SET enable_hashjoin TO off SET enable_mergejoin TO off AS $$
    DECLARE missing record;
    BEGIN${checks.join('')}
      RETURN NULL;
    END $$`;
}

/**
 * The statements of migration 0013 on PostgreSQL, run in its transaction with the books' schema
 * first on the search path: drop the row-level keys, create the statement checks, forbid changing
 * the columns they checked.
 */
export function postgresReferenceCheckStatements(identityColumns: readonly string[]): string[] {
  const tables = CHECKED.map(({ table }) => `'${table}'`).join(', ');
  return [
    `DO $$ DECLARE c record; BEGIN
       FOR c IN SELECT con.conname, rel.relname FROM pg_constraint con
                JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = rel.relnamespace
                WHERE con.contype = 'f' AND ns.nspname = current_schema() AND rel.relname IN (${tables})
                  AND con.confrelid IN ('ledger_accounts'::regclass, 'journal_transactions'::regclass)
       LOOP EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', c.relname, c.conname); END LOOP;
     END $$`,
    ...CHECKED.flatMap(({ table, references }) => [
      checkFunction(table, references),
      `CREATE TRIGGER ${table}_references AFTER INSERT ON ${table} REFERENCING NEW TABLE AS earnbook_inserted FOR EACH STATEMENT EXECUTE FUNCTION earnbook_check_${table}_references()`,
    ]),
    // Journal entries are immutable already; the other two keep their account.
    'CREATE TRIGGER account_day_balances_keep_account BEFORE UPDATE OF account_id ON account_day_balances FOR EACH ROW EXECUTE FUNCTION earnbook_reject_account_change()',
    'CREATE TRIGGER interest_residues_keep_account BEFORE UPDATE OF account_id ON interest_residues FOR EACH ROW EXECUTE FUNCTION earnbook_reject_account_change()',
    // A ledger account's id never changes either (the keys refused it while rows referenced it).
    'DROP TRIGGER ledger_accounts_keep_identity ON ledger_accounts',
    `CREATE TRIGGER ledger_accounts_keep_identity AFTER UPDATE OF ${['id', ...identityColumns].join(', ')} OR DELETE ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION earnbook_reject_account_change()`,
  ];
}

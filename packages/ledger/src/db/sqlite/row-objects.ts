/**
 * Row objects built in JavaScript from better-sqlite3's raw arrays, for every reading statement
 * of the ledger on SQLite (Kysely's and the bulk paths' own).
 */
import type { RunResult, Statement as NativeStatement } from 'better-sqlite3';

/** What Kysely's SQLite driver uses of a prepared statement. */
export interface DriverStatement {
  readonly reader: boolean;
  readonly busy: boolean;
  all(parameters: readonly unknown[]): unknown[];
  iterate(parameters: readonly unknown[]): IterableIterator<unknown>;
  run(parameters: readonly unknown[]): RunResult;
}

/**
 * A function that makes one statement's row object from its values: an object literal of the
 * column names, compiled once per statement. One generic loop shared by every statement sees
 * dozens of row shapes and its keyed stores go megamorphic: in the accounting cycle it cost 8 %
 * of the run (profile, 300k accounts); a literal per statement costs what a hand-written one
 * does. The names come from SQLite's column metadata and enter the source as JSON string
 * literals; a later duplicate name wins, as in a literal.
 */
function rowBuilder(names: readonly string[]): (values: readonly unknown[]) => Record<string, unknown> {
  const body = `return {${names.map((name, index) => `${JSON.stringify(name)}: values[${index}]`).join(', ')}};`;
  return new Function('values', body) as (values: readonly unknown[]) => Record<string, unknown>;
}

/**
 * A reading statement whose rows are built here from better-sqlite3's raw arrays: the driver's
 * own row objects cost about three times as much (reading 290k account rows of nine columns in
 * batches of 1,000: 1.2-1.5 s as objects, 0.39-0.42 s as arrays made into objects here). Same
 * rows: keys in column order, a later column of the same name wins. A column named `__proto__`
 * keeps the driver's objects (assigning it would set the prototype).
 */
export function rowsFromArrays(statement: NativeStatement): DriverStatement {
  if (!statement.reader) return statement as unknown as DriverStatement;
  const names = statement.columns().map((column) => column.name);
  if (names.includes('__proto__')) return statement as unknown as DriverStatement;
  statement.raw(true);
  const toRow = rowBuilder(names);
  return {
    reader: true,
    get busy() {
      return statement.busy;
    },
    all: (parameters) => (statement.all(parameters) as unknown[][]).map(toRow),
    *iterate(parameters) {
      for (const values of statement.iterate(parameters) as IterableIterator<unknown[]>) yield toRow(values);
    },
    run: (parameters) => statement.run(parameters),
  };
}

/** The rows of a reading statement as objects (see {@link rowsFromArrays}). */
export function readerOf<Row>(statement: NativeStatement): (...parameters: unknown[]) => Row[] {
  const reader = rowsFromArrays(statement);
  return (...parameters) => reader.all(parameters) as Row[];
}

/**
 * Cell values of the audit CSV files: formula-injection escaping of text (OWASP "CSV
 * Injection") and amounts at the fixed storage scale, identical whichever database they came from.
 */
import { AMOUNT_SCALE_DEFAULT, formatUnits, toUnits } from '@earnbook/ledger';
import { ReconcileError } from '../errors.js';

/**
 * Characters that make a spreadsheet read a cell as a formula when the cell begins with them:
 * OWASP's list (`=`, `+`, `-`, `@`, tab, carriage return), plus the full-width forms of the first
 * four, which some East Asian spreadsheet locales also accept.
 */
export const FORMULA_TRIGGER_CHARACTERS: readonly string[] = Object.freeze(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

const TRIGGER_CODES = new Set(FORMULA_TRIGGER_CHARACTERS.map((character) => character.charCodeAt(0)));

/**
 * Escapes a text cell against formula injection: a cell that begins with one of
 * {@link FORMULA_TRIGGER_CHARACTERS} gets a leading `'`, which spreadsheets show as text and do
 * not evaluate. The CSV writers also always quote text columns, so a `,`, `;` or tab inside a
 * cell can never start a new cell that begins with a trigger (OWASP's second recommendation).
 *
 * Amount and id columns are never passed through this: they are plain decimal numbers and
 * integers produced by the books, and a leading `-` there means a negative number.
 *
 * @example escapeFormulaText('=HYPERLINK("x")') // `'=HYPERLINK("x")`
 */
export function escapeFormulaText(text: string): string {
  return text.length > 0 && TRIGGER_CODES.has(text.charCodeAt(0)) ? `'${text}` : text;
}

/** The same for a nullable text column: null becomes the empty cell. */
export function textCell(text: string | null | undefined): string {
  return text === null || text === undefined ? '' : escapeFormulaText(text);
}

const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * A cell holding either a number or free text (the `expected` / `actual` columns of breaks):
 * a plain decimal number is written as is, anything else is escaped as text.
 */
export function valueCell(text: string | null | undefined): string {
  if (text === null || text === undefined) return '';
  return PLAIN_DECIMAL.test(text) ? text : escapeFormulaText(text);
}

/**
 * An amount as the ledger stores it, canonical at 18 decimals: optional `-`, no leading zeros,
 * exactly 18 decimals. SQLite keeps exactly this text and PostgreSQL's NUMERIC(60,18) prints it,
 * so the check below passes for nearly every value and the slower exact path is the fallback.
 */
const CANONICAL_AMOUNT = /^-?(?:0|[1-9]\d{0,23})\.\d{18}$/;
const NEGATIVE_ZERO = `-0.${'0'.repeat(AMOUNT_SCALE_DEFAULT)}`;

/**
 * Normalises a stored amount to the canonical 18-decimal string through the ledger's money
 * functions, so both dialects give byte-identical files. A value that is not a decimal at all is
 * a broken invariant of the books and fails the export.
 *
 * @example canonicalAmount('1.5') // "1.500000000000000000"
 */
export function canonicalAmount(stored: unknown, field: string): string {
  if (typeof stored === 'string' && CANONICAL_AMOUNT.test(stored) && stored !== NEGATIVE_ZERO) return stored;
  try {
    // toUnits refuses anything but a decimal string: a float from a driver must fail, not round.
    return formatUnits(toUnits(stored as string));
  } catch (error) {
    throw new ReconcileError('export_failed', `${field} read from the books is not an amount: ${String(stored)}`, { field, value: String(stored), cause: error });
  }
}

/** Minor units (10^-18) of a canonical amount, for exact totals. */
export function canonicalUnits(canonical: string): bigint {
  // The canonical form has exactly one '.', so removing it gives the integer of minor units.
  return BigInt(canonical.replace('.', ''));
}

/** The magnitude of a canonical amount (drops a leading `-`). */
export function absoluteAmount(canonical: string): string {
  return canonical.charCodeAt(0) === 45 ? canonical.slice(1) : canonical;
}

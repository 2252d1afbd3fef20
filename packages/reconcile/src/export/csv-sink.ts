/**
 * The CSV writer every audit CSV goes through: a fast-csv format stream (RFC 4180: CRLF line
 * ends, `"` quoting with doubled quotes, a header line), then {@link HashingStream}, then the
 * caller's output, with backpressure all the way, so memory stays flat whatever the row count.
 */
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { format } from 'fast-csv';
import type { CsvFormatterStream } from 'fast-csv';
import { HashingStream, waitForDrain } from './hashing-stream.js';
import type { WrittenBytes } from './hashing-stream.js';
import { ReconcileError } from '../errors.js';
import { describeValue } from '@earnbook/ledger';
import { assertEntityExists, checkFlag, checkOutput, checkPageSize, ledgerView } from './export-options.js';
import { selectEntityTimeZones } from './export-queries.js';
import { readFields } from '../input-guards.js';
import type { CheckedScope, LedgerReader } from './export-options.js';

/** Where an export writes: any writable byte stream (a file, a socket, a hash). */
export interface ExportOutput {
  /** Receives the bytes. */
  readonly output: Writable;
  /**
   * Whether the export ends `output` when done (default true; pass false for a stream the caller
   * keeps writing to, e.g. `process.stdout`). On failure the output is destroyed either way.
   */
  readonly endOutput?: boolean;
}

/** Options of {@link openCsvSink}. */
export interface CsvSinkOptions extends ExportOutput {
  /** The header line, in column order. */
  readonly headers: readonly string[];
  /** Columns always quoted (the text columns). */
  readonly quotedColumns: readonly string[];
  /** Whether to begin with a UTF-8 byte order mark (some spreadsheets need it to read UTF-8). */
  readonly bom: boolean;
  /** The cell separator; default `,`. */
  readonly delimiter?: CsvDelimiter;
  /** Columns holding exact decimal amounts: written as text formulas when `amountsAsText`. */
  readonly amountColumns?: readonly string[];
  /**
   * Write every decimal amount as `="…"` so that a spreadsheet keeps it as exact text, and so
   * every text cell a spreadsheet would read as a number or a date ({@link spreadsheetTextCell}).
   */
  readonly amountsAsText?: boolean;
}

/** The cell separators a CSV export can use: `,` (RFC 4180) or `;` (spreadsheets in locales whose decimal mark is a comma). */
export const CSV_DELIMITERS = Object.freeze([',', ';'] as const);

/** One of {@link CSV_DELIMITERS}. */
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * An exact amount as a spreadsheet text formula, `="-1.500000000000000000"`: a spreadsheet keeps
 * text as it is, where it would read a number into a 64-bit float of 15–17 significant digits
 * and lose the 18 decimals. Only plain decimals are wrapped (anything else stays as it is).
 *
 * @example spreadsheetText('0.000000000000000001') // '="0.000000000000000001"'
 */
export function spreadsheetText(cell: string): string {
  return PLAIN_DECIMAL.test(cell) ? `="${cell}"` : cell;
}

/** How long a text formula's string may be: spreadsheets refuse a longer literal in a formula. */
export const SPREADSHEET_TEXT_LENGTH_MAX = 255;

/**
 * Text a spreadsheet would read as something else when it opens a CSV file: digits with the
 * characters of numbers, dates, times, fractions and percentages only (`0042`, `1e5`,
 * `12345678901234567890`, `3-18`, `1/2`, `12:30`, `5%`), or a boolean. Over-matching is harmless
 * (the text formula shows the same text).
 */
const SPREADSHEET_CONVERTS = /^(?:[\d\s.,:/+\-eE%()]*\d[\d\s.,:/+\-eE%()]*|true|false)$/i;

/**
 * Text a spreadsheet reads as something else that {@link SPREADSHEET_CONVERTS} misses (a review,
 * session 44): a date written with a month's name and a digit (`SEPT2`, `MARCH1`, `18-Mar`,
 * `1 Jan 2025`), a time with AM/PM (`12:30 PM`), an amount with a currency sign (`$1,000`,
 * `5 €`), and an error literal (`#N/A`, `#DIV/0!`).
 */
const SPREADSHEET_CONVERTS_WORDS = new RegExp(
  [
    // A month's name with a digit somewhere: SEPT2, 18-Mar, 1 Jan 2025.
    /^(?=.*\d)[\d\s.,/-]*(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)[\d\s.,/-]*$/,
    // A time with AM/PM: 12:30 PM, 9am.
    /^[\d\s.:]*\d[\d\s.:]*[ap]m?$/,
    // An amount with a currency sign before or after it: $1,000, (€5), 5 €.
    /^[-+(]?\s*[$€£¥]\s*[\d.,]*\d[\d.,]*\)?$/,
    /^[-+(]?[\d.,]*\d[\d.,]*\s*[$€£¥]\)?$/,
    // An error literal: #N/A, #DIV/0!.
    /^#(?:n\/a|null!|div\/0!|value!|ref!|name\?|num!|spill!|calc!|getting_data)$/,
  ]
    .map((pattern) => pattern.source)
    .join('|'),
  'i',
);

/**
 * A text cell as the spreadsheet profile writes it: text a spreadsheet would turn into a number
 * or a date ({@link SPREADSHEET_CONVERTS}: an id `00012345678901234567890` shown as 1.23457E+22)
 * becomes the text formula `="…"`, as the amounts do; other text stays as it is (an escaped
 * formula keeps its leading `'`, which the pattern never matches).
 *
 * @example spreadsheetTextCell('0042') // '="0042"'
 * @example spreadsheetTextCell('acc-1') // 'acc-1'
 */
export function spreadsheetTextCell(cell: string): string {
  return cell.length <= SPREADSHEET_TEXT_LENGTH_MAX && (SPREADSHEET_CONVERTS.test(cell) || SPREADSHEET_CONVERTS_WORDS.test(cell)) ? `="${cell}"` : cell;
}

/** An open CSV writer. */
export interface CsvSink {
  /** Writes one row (cells in header order); `false` means wait for {@link CsvSink.drain}. */
  write(row: readonly string[]): boolean;
  /** Resolves when the writer can take more rows; rejects if the output failed. */
  drain(): Promise<void>;
  /** Ends the file and waits until every byte reached the output. */
  finish(): Promise<WrittenBytes>;
  /** Stops on a failure: destroys the streams and waits for the pipeline to wind down. */
  abort(error: Error): Promise<void>;
}

/** Opens a CSV writer on an output. */
export function openCsvSink(options: CsvSinkOptions): CsvSink {
  const quoted = new Set(options.quotedColumns);
  const amounts = new Set(options.amountColumns ?? []);
  const amountIndexes = options.amountsAsText === true ? options.headers.flatMap((header, index) => (amounts.has(header) ? [index] : [])) : [];
  // In the spreadsheet profile, text a spreadsheet would read as a number or a date is kept as text too.
  const textIndexes = options.amountsAsText === true ? options.headers.flatMap((header, index) => (quoted.has(header) ? [index] : [])) : [];
  const formatter: CsvFormatterStream<string[], string[]> = format<string[], string[]>({
    headers: [...options.headers],
    // An array by column index: fast-csv looks it up per cell, cheaper than by header name.
    quoteColumns: options.headers.map((header) => quoted.has(header)),
    quoteHeaders: false,
    delimiter: options.delimiter ?? ',',
    // RFC 4180 ends every line, the last one included, with CRLF.
    rowDelimiter: '\r\n',
    includeEndRowDelimiter: true,
    alwaysWriteHeaders: true,
    // fast-csv writes its BOM only with the first row, so a file of headers alone would miss it:
    // the BOM goes straight into the hashed output instead.
    writeBOM: false,
  });
  const hashing = new HashingStream();
  if (options.bom) hashing.write(Buffer.from('\uFEFF', 'utf8'));
  const done = pipeline(formatter, hashing, options.output, { end: options.endOutput ?? true });
  // The failure is reported by drain(), finish() or abort(); this only keeps it from being
  // reported as unhandled in between.
  done.catch(() => undefined);
  return {
    write(row) {
      if (amountIndexes.length === 0 && textIndexes.length === 0) return formatter.write(row);
      const cells = [...row];
      for (const index of amountIndexes) cells[index] = spreadsheetText(cells[index] ?? '');
      for (const index of textIndexes) cells[index] = spreadsheetTextCell(cells[index] ?? '');
      return formatter.write(cells);
    },
    drain: () => waitForDrain(formatter),
    async finish() {
      formatter.end();
      await done;
      return hashing.written();
    },
    async abort(error) {
      formatter.destroy(error);
      await done.catch(() => undefined);
    },
  };
}

/** Options of {@link openTextSink}. */
export type TextSinkOptions = ExportOutput;

/** An open plain-text writer (the hledger journal). */
export interface TextSink {
  /** Writes text as UTF-8; `false` means wait for {@link TextSink.drain}. */
  write(text: string): boolean;
  drain(): Promise<void>;
  finish(): Promise<WrittenBytes>;
  abort(error: Error): Promise<void>;
}

/** Opens a plain-text writer that hashes what it writes. */
export function openTextSink(options: TextSinkOptions): TextSink {
  const hashing = new HashingStream();
  const done = pipeline(hashing, options.output, { end: options.endOutput ?? true });
  done.catch(() => undefined);
  return {
    write: (text) => hashing.write(Buffer.from(text, 'utf8')),
    drain: () => waitForDrain(hashing),
    async finish() {
      hashing.end();
      await done;
      return hashing.written();
    },
    async abort(error) {
      hashing.destroy(error);
      await done.catch(() => undefined);
    },
  };
}

/** Options every CSV export shares, beside its scope and days. */
export interface CsvExportCommonOptions extends ExportOutput, CsvProfileOptions {
  readonly pageSize?: number;
  /** Called after each database page with the rows written so far (for a progress display). */
  readonly onRows?: (rows: number) => void;
}

/**
 * How a CSV file is shaped for its reader. The default is RFC 4180 (`,`, no BOM, amounts as
 * plain decimals). `excel: true` is the spreadsheet profile: a UTF-8 BOM (unless `bom: false`
 * is said) and every amount as text (`="…"`), because 18 decimals exceed the 15 significant
 * digits a spreadsheet keeps of a number. `delimiter: ';'` suits locales whose decimal mark is
 * a comma, with either profile.
 */
export interface CsvProfileOptions {
  /** Begin with a UTF-8 byte order mark; default false, or true with `excel`. */
  readonly bom?: boolean;
  /** The spreadsheet profile (see above); default false. */
  readonly excel?: boolean;
  /** The cell separator, `,` or `;`; default `,`. */
  readonly delimiter?: CsvDelimiter;
}

/** A checked {@link CsvProfileOptions}. */
export interface CsvProfile {
  readonly bom: boolean;
  readonly excel: boolean;
  readonly delimiter: CsvDelimiter;
}

/** Checks a CSV profile (the caller's object is not changed). */
export function checkCsvProfile(given: CsvProfileOptions): CsvProfile {
  const options = readFields(given, ['excel', 'bom', 'delimiter'], { field: 'options' });
  const excel = checkFlag(options.excel, 'excel', false);
  const bom = checkFlag(options.bom, 'bom', excel);
  const delimiter = options.delimiter ?? ',';
  if (!(CSV_DELIMITERS as readonly unknown[]).includes(delimiter)) {
    throw new ReconcileError('invalid_input', `delimiter must be "," or ";", got ${describeValue(delimiter)}`, { field: 'delimiter', value: describeValue(delimiter) });
  }
  return Object.freeze({ bom, excel, delimiter });
}

/**
 * The common start of a CSV export, after the caller checked its scope and days: checks paging,
 * flags and output, checks the entity against the books, and opens the sink. Nothing is written
 * when a check fails.
 */
export async function startCsvExport(
  given: CsvExportCommonOptions,
  input: {
    readonly db: LedgerReader;
    readonly scope: CheckedScope;
    readonly headers: readonly string[];
    readonly quotedColumns: readonly string[];
    readonly amountColumns: readonly string[];
  },
): Promise<{ readonly pageSize: number; readonly sink: CsvSink; readonly timeZones: ReadonlyMap<string, string> }> {
  const options = readFields(given, ['pageSize', 'excel', 'bom', 'delimiter', 'endOutput', 'output'], { field: 'options' });
  const pageSize = checkPageSize(options.pageSize);
  const profile = checkCsvProfile(options);
  const endOutput = checkFlag(options.endOutput, 'endOutput', true);
  checkOutput(options.output);
  await assertEntityExists(input.db, input.scope);
  const timeZones = await selectEntityTimeZones(ledgerView(input.db));
  const sink = openCsvSink({
    output: options.output,
    endOutput,
    headers: input.headers,
    quotedColumns: input.quotedColumns,
    amountColumns: input.amountColumns,
    amountsAsText: profile.excel,
    bom: profile.bom,
    delimiter: profile.delimiter,
  });
  return { pageSize, sink, timeZones };
}

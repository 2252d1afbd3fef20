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
import { assertEntityExists, checkFlag, checkOutput, checkPageSize } from './export-options.js';
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
  const formatter: CsvFormatterStream<string[], string[]> = format<string[], string[]>({
    headers: [...options.headers],
    // An array by column index: fast-csv looks it up per cell, cheaper than by header name.
    quoteColumns: options.headers.map((header) => quoted.has(header)),
    quoteHeaders: false,
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
    write: (row) => formatter.write(row),
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
export interface CsvExportCommonOptions extends ExportOutput {
  readonly pageSize?: number;
  /** Begin with a UTF-8 byte order mark; default false. */
  readonly bom?: boolean;
}

/**
 * The common start of a CSV export, after the caller checked its scope and days: checks paging,
 * flags and output, checks the entity against the books, and opens the sink. Nothing is written
 * when a check fails.
 */
export async function startCsvExport(
  options: CsvExportCommonOptions,
  input: { readonly db: LedgerReader; readonly scope: CheckedScope; readonly headers: readonly string[]; readonly quotedColumns: readonly string[] },
): Promise<{ readonly pageSize: number; readonly sink: CsvSink }> {
  const pageSize = checkPageSize(options.pageSize);
  const bom = checkFlag(options.bom, 'bom', false);
  const endOutput = checkFlag(options.endOutput, 'endOutput', true);
  checkOutput(options.output);
  await assertEntityExists(input.db, input.scope);
  return { pageSize, sink: openCsvSink({ output: options.output, endOutput, headers: input.headers, quotedColumns: input.quotedColumns, bom }) };
}

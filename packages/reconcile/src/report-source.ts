/**
 * Where a report's entries come from when it is streamed (split from `report-stream.ts`): the
 * file named and opened, its bytes hashed and size-checked as they are read, the refusals every
 * reader shares, and the batcher that validates entries and hands them on.
 */
import { createReadStream } from 'node:fs';
import type { Hash } from 'node:crypto';
import { CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';
import { invalid, readFields, valueText } from './input-guards.js';
import { REPORT_BYTES_MAX, reportFileSize } from './report.js';
import type { LoadedReport } from './report.js';
import { checkEntry } from './report-entry.js';
import type { ReportEntry, ReportHeader } from './report-entry.js';
import { REPORT_DEPTH_MAX } from './report-scan.js';

/**
 * A report file to stream. `ndjson` is our assumption of an alternative format (the contract
 * defines only the JSON document): the first line holds the report without `transactions`, each
 * further non-empty line one entry.
 */
export interface ReportFile {
  readonly kind: 'file';
  readonly path: string;
  readonly format: 'json' | 'ndjson';
  /** The path, for messages and results. */
  readonly source: string;
  /** Bytes read at most (default and ceiling {@link REPORT_BYTES_MAX}), checked at open and while streaming. */
  readonly bytesMax?: number;
  /** The file's size when {@link openReportFile} opened it (a large day recomputes its interest on a worker thread). */
  readonly bytes?: number;
}

/** A report to reconcile: already in memory, or a file to stream. */
export type ReportInput = LoadedReport | ReportFile;

/** What reading a whole report found: its header, content hash and entry count. */
export interface ReadReport {
  readonly header: ReportHeader;
  readonly contentHash: string;
  readonly entries: number;
  readonly source: string;
}

/** Receives validated entries in order, a batch at a time; `firstIndex` is the first one's index. */
export type EntrySink = (entries: readonly ReportEntry[], firstIndex: number) => Promise<void> | void;

/**
 * Bytes one value of a streamed report may span: an entry, a header field, an NDJSON line, or
 * whatever lies between two of them. The largest legal value is `balances` (10,000 rows of about
 * 500 bytes); an entry is a few hundred bytes. The parser holds the value it is reading in memory,
 * so this bounds memory where the contract leaves a string unbounded (unknown fields,
 * `idempotencyKey`).
 */
export const REPORT_VALUE_BYTES_MAX = 16 * 1024 * 1024;

/** Levels an entry may nest, itself included (the report is level 1, its transactions level 2). */
export const ENTRY_LEVELS_MAX = REPORT_DEPTH_MAX - 2;

function bytesMaxOf(value: unknown): number {
  if (value === undefined) return REPORT_BYTES_MAX;
  if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > REPORT_BYTES_MAX) {
    throw new ReconcileError('invalid_input', `bytesMax must be a positive integer of at most ${REPORT_BYTES_MAX}, got ${valueText(value)}`, { field: 'bytesMax', value: valueText(value) });
  }
  return value as number;
}

/**
 * Names a report file to stream; a missing file is `no_report`, one over `bytesMax` (default and
 * ceiling {@link REPORT_BYTES_MAX}) is `invalid_report`, checked again while the file is read
 * (it may grow). The format follows the extension (`.ndjson` / `.jsonl`) unless given.
 */
export async function openReportFile(path: string, given: { format?: 'json' | 'ndjson'; bytesMax?: number } = {}): Promise<ReportFile> {
  if (typeof path !== 'string' || path === '') invalid('reportFile', path, 'must be a non-empty path of a report file');
  const options = readFields(given, ['format', 'bytesMax'], { field: 'options' });
  const bytesMax = bytesMaxOf(options.bytesMax);
  const size = await reportFileSize(path, bytesMax);
  const format = options.format ?? (/\.(ndjson|jsonl)$/i.test(path) ? 'ndjson' : 'json');
  return Object.freeze({ kind: 'file', path, format, source: path, bytesMax, bytes: size });
}

export function notJson(source: string, cause: unknown): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} is not JSON: ${(cause as Error).message}`, { field: 'report', value: source, cause });
}

export function tooLargeValue(source: string, at: string): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} has a value at ${at} larger than ${REPORT_VALUE_BYTES_MAX} bytes`, { field: 'report', path: at, value: source });
}

export function tooMany(source: string): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} has more than ${CONTRACT_REPORT_TRANSACTIONS_MAX} transactions`, { field: 'transactions', path: 'transactions', value: source });
}

/**
 * Bytes per read of a report file. The scanner hands the elements of each chunk to `JSON.parse`
 * as one text (`report-stream.ts`): a text longer than V8's largest ordinary object (128 KiB) is
 * allocated in the large-object space, page by page from the system, and freed only by a full
 * collection. Made from 256 KiB chunks, the texts of a 210 MiB report (1M entries) cost ~1.4 s
 * to decode and more to collect: the read took 11.5-11.7 s of a 19.9 s reconcile (two runs,
 * `bench/reconcile-report.ts`); from 64 KiB chunks 7.9-11.8 s (median ~9.2 s) of 14.8-23.8 s
 * (median 17.0 s; twelve runs on a machine that swung within the hour). Decoding 210 MiB as
 * Latin-1 alone, measured apart: ~830 ms in 256 KiB texts, 12-23 ms in 64 KiB ones. Both file
 * readers take their chunks here: the NDJSON reader decodes each chunk to one text as well (not
 * measured apart).
 */
const REPORT_READ_CHUNK_BYTES = 64 * 1024;

/** Hashes and size-checks the bytes of a file as they are read. */
export async function* hashedChunks(file: ReportFile, hash: Hash): AsyncGenerator<Buffer> {
  // A hand-made ReportFile cannot raise the ceiling.
  const bytesMax = Math.min(file.bytesMax ?? REPORT_BYTES_MAX, REPORT_BYTES_MAX);
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file.path, { highWaterMark: REPORT_READ_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > bytesMax) throw new ReconcileError('invalid_report', `report file ${file.path} has more than ${bytesMax} bytes`, { field: 'reportFile', value: file.path });
      hash.update(chunk);
      yield chunk;
    }
  } catch (cause) {
    if (cause instanceof ReconcileError) throw cause;
    throw new ReconcileError('no_report', `report file ${file.path} cannot be read: ${(cause as Error).message}`, { field: 'reportFile', value: file.path, cause });
  }
}

/** Collects validated entries and hands them to the sink in order. */
export class EntryBatcher {
  readonly #sink: EntrySink;
  readonly #source: string;
  #pending: ReportEntry[] = [];
  #count = 0;

  constructor(sink: EntrySink, source: string) {
    this.#sink = sink;
    this.#source = source;
  }

  get count(): number {
    return this.#count;
  }

  /** Validates and keeps one entry; `textsWellFormed` as `checkEntry` takes it. */
  add(value: unknown, options: { textsWellFormed: boolean } = { textsWellFormed: false }): void {
    if (this.#count >= CONTRACT_REPORT_TRANSACTIONS_MAX) throw tooMany(this.#source);
    this.#pending.push(checkEntry(value, this.#count, this.#source, options));
    this.#count++;
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    await this.#sink(batch, this.#count - batch.length);
  }
}

/**
 * Reading a daily report as a stream: the bytes are hashed as they pass, parsed incrementally
 * (@streamparser/json for a JSON file, one line at a time for NDJSON), and every entry is
 * validated as it arrives and handed on in small batches. Neither the text nor the entries are
 * ever held whole, so memory does not grow with the report. A malformed entry anywhere, or a
 * stream that ends early, rejects the whole report: the caller writes only after the end.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { JSONParser } from '@streamparser/json';
import { CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';
import { invalid, isArrayInput, readFailure, readFields, requireFunction, unreadable, valueText } from './input-guards.js';
import { REPORT_BYTES_MAX } from './report.js';
import type { LoadedReport } from './report.js';
import { checkEntry, checkHeaderOf, checkReportHeader, checkUnknownHeaderField } from './report-entry.js';
import { KeyTracker, REPORT_FIELDS_MAX, checkTextKeys, findKeyFault, keyFaultError, pairsOf } from './report-keys.js';
import { followToken } from './report-tokens.js';
import { REPORT_DEPTH_MAX, TransactionsScanner, isWhiteSpace } from './report-scan.js';
import type { ScanPiece } from './report-scan.js';
import type { ReportEntry, ReportHeader } from './report-entry.js';

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

const HEADER_FIELDS = ['id', 'type', 'entity', 'accountingDay', 'timeZone', 'generatedAt', 'balances'] as const;
const HEADER_FIELD_NAMES: ReadonlySet<string> = new Set(HEADER_FIELDS);

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
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new ReconcileError('no_report', `no report file at ${path}`, { field: 'reportFile', value: path, cause });
  }
  if (size > bytesMax) throw new ReconcileError('invalid_report', `report file ${path} has ${size} bytes, more than ${bytesMax}`, { field: 'reportFile', value: path });
  const format = options.format ?? (/\.(ndjson|jsonl)$/i.test(path) ? 'ndjson' : 'json');
  return Object.freeze({ kind: 'file', path, format, source: path, bytesMax, bytes: size });
}

function notJson(source: string, cause: unknown): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} is not JSON: ${(cause as Error).message}`, { field: 'report', value: source, cause });
}

function tooLargeValue(source: string, at: string): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} has a value at ${at} larger than ${REPORT_VALUE_BYTES_MAX} bytes`, { field: 'report', path: at, value: source });
}

function tooMany(source: string): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} has more than ${CONTRACT_REPORT_TRANSACTIONS_MAX} transactions`, { field: 'transactions', path: 'transactions', value: source });
}

/** Hashes and size-checks the bytes of a file as they are read. */
async function* hashedChunks(file: ReportFile, hash: Hash): AsyncGenerator<Buffer> {
  // A hand-made ReportFile cannot raise the ceiling.
  const bytesMax = Math.min(file.bytesMax ?? REPORT_BYTES_MAX, REPORT_BYTES_MAX);
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file.path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
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
class EntryBatcher {
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

async function readJsonFile(file: ReportFile, sink: EntrySink): Promise<ReadReport> {
  const hash = createHash('sha256');
  const read = await readJsonChunks(hashedChunks(file, hash), file.source, sink);
  return { ...read, contentHash: hash.digest('hex') };
}

/**
 * Reads a JSON report from its bytes, chunk by chunk (a chunk may end anywhere), handing every
 * validated entry to `sink` in order; the header is validated at the end. Internal: exported
 * for the tests that cut the same bytes into chunks at every position.
 */
export async function readJsonChunks(chunks: AsyncIterable<Buffer>, source: string, sink: EntrySink): Promise<Omit<ReadReport, 'contentHash'>> {
  const file = { source };
  const batcher = new EntryBatcher(sink, file.source);
  const header: Record<string, unknown> = {};
  let ended = false;
  let failure: unknown;
  // Bytes read up to the chunk in which the last value ended: the parser holds at most what follows.
  let bytesRead = 0;
  let lastValueAt = 0;
  // The streaming parser sees the document with the transactions array's content carved out by
  // the scanner (whose elements JSON.parse reads); its path for the entries still catches a
  // `transactions` that is an object.
  // `$.transactions` itself (an empty array once the scanner carved its elements out): the report
  // must have exactly one, and an array (a missing, null or object `transactions` was read as a
  // report of no entries, which `parseReport` refuses).
  let transactionsArrays = 0;
  // Every top-level value (`$.*`), not the header's fields alone: a field the contract does not
  // name is text-checked as it passes (as a report held in memory is) and dropped, and each one
  // ends a value for the size limit below.
  const parser = new JSONParser({ paths: ['$.*', '$.transactions.*'], keepStack: false });
  const scanner = new TransactionsScanner();
  // The streaming parser keeps the last of two values under one key: every key it reads (the
  // header's; the entries are carved out) is followed, and a repeated one or `__proto__` refused.
  const keys = new KeyTracker('', REPORT_DEPTH_MAX);
  parser.onToken = ({ token, value }) => {
    if (failure === undefined) failure = followToken(keys, token, value, file.source);
  };
  parser.onEnd = () => {
    ended = true;
  };
  parser.onValue = ({ value, key, stack }) => {
    lastValueAt = bytesRead;
    if (failure !== undefined) return;
    try {
      if (stack.length === 2) {
        if (typeof key !== 'number') throw notOneArray(file.source);
        batcher.add(value);
      } else if (stack.length === 1 && key === 'transactions') {
        // A second `transactions` key: JSON.parse would keep the last, this stream the first.
        if (++transactionsArrays > 1 || !Array.isArray(value)) throw notOneArray(file.source);
      } else if (stack.length === 1 && typeof key === 'string') {
        if (HEADER_FIELD_NAMES.has(key)) header[key] = value;
        else checkUnknownHeaderField(file.source, key, value);
      }
    } catch (error) {
      failure = error;
    }
  };
  // Whether any byte other than JSON white space came: an empty file is not JSON (as in memory).
  let content = false;
  for await (const chunk of chunks) {
    if (!content) content = chunk.some((byte) => !isWhiteSpace(byte));
    for (const piece of scanner.scan(chunk)) {
      if (piece.kind === 'json') {
        try {
          parser.write(piece.bytes);
        } catch (cause) {
          throw failure ?? notJson(file.source, cause);
        }
        if (failure !== undefined) throw failure;
      } else if (piece.kind === 'elements') {
        lastValueAt = bytesRead;
        addElements(batcher, piece, file.source);
      } else {
        throw notJson(file.source, new Error(piece.message));
      }
    }
    bytesRead += chunk.length;
    if (bytesRead - lastValueAt > REPORT_VALUE_BYTES_MAX) throw tooLargeValue(file.source, `transactions[${batcher.count}]`);
    await batcher.flush();
  }
  try {
    if (!ended) parser.end();
  } catch (cause) {
    throw notJson(file.source, cause);
  }
  if (!content) throw notJson(file.source, new Error('the file is empty'));
  if (!ended) throw notJson(file.source, new Error('the report ended early'));
  if (transactionsArrays === 0) throw notOneArray(file.source);
  await batcher.flush();
  return { header: checkReportHeader({ ...header, transactions: [] }, file.source), entries: batcher.count, source: file.source };
}

function notOneArray(source: string): ReconcileError {
  return new ReconcileError('invalid_report', `report from ${source} must have one transactions array`, { field: 'transactions', path: 'transactions', value: source });
}

type ElementsPiece = Extract<ScanPiece, { kind: 'elements' }>;

/**
 * Parses and validates the elements of a piece, in order. The fast path is one `JSON.parse` of
 * the whole piece as an array; when that fails (or the text may hold bytes that are not UTF-8:
 * the decoder made U+FFFD), each element is decoded and parsed alone, so the first fault in
 * byte order is the one reported, as the streaming parser did.
 */
function addElements(batcher: EntryBatcher, piece: ElementsPiece, source: string): void {
  // A second transactions array restarts at 0 (the parser would have given it keys 0, 1, …).
  if (piece.first !== batcher.count) throw notOneArray(source);
  // ASCII bytes read as Latin-1 are the same text, without UTF-8 decoding (see readRunLines in
  // external-sort.ts): ~0.5 s of 1M entries' 210 MiB.
  const ascii = isAscii(piece.bytes);
  const text = piece.bytes.toString(ascii ? 'latin1' : 'utf8');
  const decoded = ascii || !text.includes('\uFFFD');
  if (decoded) {
    let values: unknown;
    try {
      values = JSON.parse(`[${text}]`);
    } catch {
      values = undefined;
    }
    if (Array.isArray(values) && values.length === piece.ends.length) {
      // Valid UTF-8 (no U+FFFD from the decoder) with no escape and no DEL: see checkEntry.
      const textsWellFormed = !text.includes('\\') && !text.includes('\x7f');
      // The keys JSON.parse kept, against the scanner's count of them in the text: equal unless
      // a key repeats in one object (or one is `__proto__`), which is then named in byte order.
      if (pairsOf(values, ENTRY_LEVELS_MAX + 1) === piece.pairs) {
        for (const value of values) batcher.add(value, { textsWellFormed });
        return;
      }
      addFaultyElements(batcher, piece, values, { source, textsWellFormed });
      return;
    }
  }
  for (let index = 0; index < piece.ends.length; index++) {
    const bytes = piece.bytes.subarray(piece.starts[index], piece.ends[index]);
    const element = bytes.toString('utf8');
    if (element.includes('\uFFFD') && !isUtf8(bytes)) throw notJson(source, new Error(`transactions[${batcher.count}] holds bytes that are not UTF-8`));
    let value: unknown;
    try {
      value = JSON.parse(element);
    } catch (cause) {
      throw notJson(source, cause);
    }
    checkTextKeys({ text: element, value, prefix: `transactions[${batcher.count}]`, levelsMax: ENTRY_LEVELS_MAX, source });
    batcher.add(value);
  }
  if (decoded) throw new Error(`assertion: the elements of transactions[${piece.first}…] parse one by one but not together`);
}

/** Levels an entry may nest, itself included (the report is level 1, its transactions level 2). */
const ENTRY_LEVELS_MAX = REPORT_DEPTH_MAX - 2;

/**
 * The elements of a piece whose keys did not add up: each one's text is walked for the repeated
 * or `__proto__` key before it is validated, so that the first fault in byte order is named.
 */
function addFaultyElements(batcher: EntryBatcher, piece: ElementsPiece, values: readonly unknown[], options: { source: string; textsWellFormed: boolean }): void {
  for (let index = 0; index < values.length; index++) {
    const text = piece.bytes.toString('utf8', piece.starts[index], piece.ends[index]);
    const fault = findKeyFault(text, `transactions[${batcher.count}]`, ENTRY_LEVELS_MAX);
    if (fault !== undefined) throw keyFaultError(options.source, fault);
    batcher.add(values[index], { textsWellFormed: options.textsWellFormed });
  }
  throw new Error(`assertion: the elements of transactions[${piece.first}…] keep fewer keys than their text holds, but none repeats`);
}

function parseLine(source: string, line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw notJson(`${source} line ${lineNumber}`, cause);
  }
}

/** A line of JSON white space only (LF ends it; CR of a CRLF stays on it). */
const BLANK_LINE = /^[ \t\r]*$/;

/**
 * Whether text may exceed `REPORT_VALUE_BYTES_MAX` bytes of UTF-8: a UTF-16 code unit takes at most
 * three bytes, so the bytes are counted only when the length alone cannot rule it out.
 */
function overValueBytes(text: string): boolean {
  return text.length > REPORT_VALUE_BYTES_MAX / 3 && Buffer.byteLength(text, 'utf8') > REPORT_VALUE_BYTES_MAX;
}

async function readNdjsonFile(file: ReportFile, sink: EntrySink): Promise<ReadReport> {
  const hash = createHash('sha256');
  const batcher = new EntryBatcher(sink, file.source);
  let header: unknown;
  let carry = '';
  let lineNumber = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const take = (line: string): void => {
    lineNumber++;
    // Only JSON's own white space makes a blank line (trim() would also drop NBSP, U+FEFF, …).
    if (BLANK_LINE.test(line)) return;
    const value = parseLine(file.source, line, lineNumber);
    if (header === undefined) {
      checkTextKeys({ text: line, value, prefix: '', levelsMax: REPORT_DEPTH_MAX, source: file.source });
      if (typeof value === 'object' && value !== null && Object.keys(value).length > REPORT_FIELDS_MAX) throw keyFaultError(file.source, { kind: 'fields', path: '/', key: '' });
      header = value;
    } else {
      checkTextKeys({ text: line, value, prefix: `transactions[${batcher.count}]`, levelsMax: ENTRY_LEVELS_MAX, source: file.source });
      batcher.add(value);
    }
  };
  for await (const chunk of hashedChunks(file, hash)) {
    let text: string;
    try {
      text = carry + decoder.decode(chunk, { stream: true });
    } catch (cause) {
      throw notJson(file.source, cause);
    }
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    if (overValueBytes(carry)) throw tooLargeValue(file.source, `line ${lineNumber + lines.length + 1}`);
    for (const line of lines) take(line);
    await batcher.flush();
  }
  let last: string;
  try {
    // The decoder's flush throws on a character the file cut short.
    last = carry + decoder.decode();
  } catch (cause) {
    throw notJson(file.source, cause);
  }
  take(last);
  await batcher.flush();
  if (header === undefined) throw notJson(file.source, new Error('the file is empty'));
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ReconcileError('invalid_report', `report from ${file.source}: the first NDJSON line must be the report's header object, got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header}`, {
      field: 'report',
      path: 'line 1',
      value: file.source,
    });
  }
  const { transactions, ...rest } = header as Record<string, unknown>;
  if (transactions !== undefined && !(Array.isArray(transactions) && transactions.length === 0)) {
    throw new ReconcileError('invalid_report', `report from ${file.source}: an NDJSON header carries no transactions (one entry per line)`, { field: 'transactions', path: 'transactions', value: file.source });
  }
  return { header: checkReportHeader({ ...rest, transactions: [] }, file.source), contentHash: hash.digest('hex'), entries: batcher.count, source: file.source };
}

/** Batches of a report held in memory (already validated whole). */
const MEMORY_BATCH_ENTRIES = 1_000;

/**
 * The top-level fields of a report held in memory, each read once (a hand-made `LoadedReport`
 * may hold anything: a report that is not an object has no fields, and its header is refused).
 */
function loadedFields(report: unknown, field: string): Record<string, unknown> {
  if (typeof report !== 'object' || report === null) return {};
  try {
    return Object.fromEntries(Object.entries(report));
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

/** Validates entry `index` of a report held in memory; a part of it that cannot be read is `invalid_input` naming it. */
function loadedEntry(entries: readonly unknown[], index: number, source: string, field: string): ReportEntry {
  // The entry's name is made only on a refusal: this runs once per entry of the report.
  let value: unknown;
  try {
    value = entries[index];
  } catch (cause) {
    throw unreadable(`${field}[${index}]`, cause);
  }
  try {
    return checkEntry(value, index, source, { textsWellFormed: false });
  } catch (failure) {
    throw readFailure(failure, value, { field: `${field}[${index}]`, nested: true });
  }
}

/** The entry count of a report held in memory, read once. */
function loadedCount(entries: readonly unknown[], field: string): number {
  try {
    return entries.length;
  } catch (cause) {
    throw unreadable(field, cause);
  }
}

async function readLoaded(loaded: LoadedReport, sink: EntrySink, field: string): Promise<ReadReport> {
  const reportField = `${field}.report`;
  const report = loadedFields(loaded.report, reportField);
  const header = checkHeaderOf({ ...report, transactions: [] }, loaded.source, reportField);
  const entries = report['transactions'];
  const entriesField = `${reportField}.transactions`;
  // A hand-made LoadedReport skips the contract's check of the count.
  if (!isArrayInput(entries, entriesField)) throw notOneArray(loaded.source);
  const count = loadedCount(entries, entriesField);
  if (count > CONTRACT_REPORT_TRANSACTIONS_MAX) throw tooMany(loaded.source);
  for (let start = 0; start < count; start += MEMORY_BATCH_ENTRIES) {
    const batch: ReportEntry[] = [];
    for (let index = start; index < Math.min(count, start + MEMORY_BATCH_ENTRIES); index++) batch.push(loadedEntry(entries, index, loaded.source, entriesField));
    await sink(batch, start);
  }
  return { header, contentHash: loaded.contentHash, entries: count, source: loaded.source };
}

/**
 * The fields of a report to reconcile, each read once into a plain object: a report file's, or a
 * report held in memory's. A revoked proxy, or a field whose getter throws, is `invalid_input`
 * naming it (`field`, or `report.kind`, …) rather than a TypeError at its first use.
 */
export function readReportInput(input: ReportInput, field: string): ReportInput {
  const { kind } = readFields(input as { readonly kind?: unknown }, ['kind'], { field, nested: true });
  if (kind === 'file') return { ...checkReportFile(readFields(input as ReportFile, ['path', 'format', 'source', 'bytesMax', 'bytes'], { field, nested: true }), field), kind };
  return readFields(input as LoadedReport, ['report', 'contentHash', 'source'], { field, nested: true });
}

/**
 * The fields of a report file that its read uses as they are, checked (a hand-made `ReportFile`
 * may hold anything): the path, which its refusals quote, and `bytesMax`, which it compares
 * with (NaN would compare false with any size: no bound at all). A `bytesMax` above the ceiling
 * is kept to it by the read, as before.
 */
function checkReportFile<T extends Pick<ReportFile, 'path' | 'bytesMax'>>(file: T, field: string): T {
  if (typeof file.path !== 'string' || file.path === '') invalid(`${field}.path`, file.path, 'must be a non-empty path of a report file');
  const bytesMax: unknown = file.bytesMax;
  if (bytesMax !== undefined && (typeof bytesMax !== 'number' || !(bytesMax > 0))) invalid(`${field}.bytesMax`, bytesMax, 'must be a positive number of bytes');
  return file;
}

/**
 * Reads a whole report, handing every validated entry to `sink` in order, and returns the
 * validated header and the content hash (of the file's bytes, or the loaded report's).
 */
export async function readReportEntries(given: ReportInput, sink: EntrySink): Promise<ReadReport> {
  const input = readReportInput(given, 'report');
  requireFunction(sink, 'sink');
  if ('kind' in input && input.kind === 'file') return input.format === 'ndjson' ? readNdjsonFile(input, sink) : readJsonFile(input, sink);
  return readLoaded(input as LoadedReport, sink, 'report');
}

/**
 * Reading a daily report as a stream: the bytes are hashed as they pass, parsed incrementally
 * (@streamparser/json for a JSON file, one line at a time for NDJSON: `report-ndjson.ts`; the
 * file, its bytes and the entry batcher: `report-source.ts`), and every entry is
 * validated as it arrives and handed on in small batches. Neither the text nor the entries are
 * ever held whole, so memory does not grow with the report. A malformed entry anywhere, or a
 * stream that ends early, rejects the whole report: the caller writes only after the end.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { JSONParser } from '@streamparser/json';
import { CONTRACT_REPORT_TRANSACTIONS_MAX } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';
import { invalid, isArrayInput, readFailure, readFields, requireFunction, unreadable } from './input-guards.js';
import type { LoadedReport } from './report.js';
import { checkEntry, checkHeaderOf, checkReportHeader, checkUnknownHeaderField } from './report-entry.js';
import { KeyTracker, checkTextKeys, findKeyFault, keyFaultError, pairsOf } from './report-keys.js';
import { followToken } from './report-tokens.js';
import { REPORT_DEPTH_MAX, TransactionsScanner, isWhiteSpace } from './report-scan.js';
import type { ScanPiece } from './report-scan.js';
import type { ReportEntry } from './report-entry.js';
import { ENTRY_LEVELS_MAX, EntryBatcher, REPORT_VALUE_BYTES_MAX, hashedChunks, notJson, tooLargeValue, tooMany } from './report-source.js';
import type { EntrySink, ReadReport, ReportFile, ReportInput } from './report-source.js';
import { readNdjsonFile } from './report-ndjson.js';

const HEADER_FIELDS = ['id', 'type', 'entity', 'accountingDay', 'timeZone', 'generatedAt', 'balances'] as const;
const HEADER_FIELD_NAMES: ReadonlySet<string> = new Set(HEADER_FIELDS);

async function readJsonFile(file: ReportFile, sink: EntrySink): Promise<ReadReport> {
  const hash = createHash('sha256');
  const read = await readJsonChunks(hashedChunks(file, hash), file.source, sink);
  return { ...read, contentHash: hash.digest('hex') };
}

/** What {@link keepingByteOrderMarks} reaches of the parser: its tokenizer's two text builders. */
interface TextBuilders {
  readonly tokenizer?: { readonly bufferedString?: { decoder?: unknown }; readonly bufferedNumber?: { decoder?: unknown } };
}

/**
 * The parser with its text builders decoding every U+FEFF they are given. @streamparser/json
 * (0.0.26) decodes each piece of a string's bytes with its own `TextDecoder` call without
 * `ignoreBOM`, and such a call drops a U+FEFF that starts its piece: an escaped `\ufeff` always,
 * a raw one after an escape or at a piece's start. Header texts and keys then read otherwise
 * than `JSON.parse` reads them (an id `r\ufeff-1` read as `r-1`, a new report version of the same
 * bytes; `"transactions\ufeff"` taken for `transactions`). Replaced on the instance, as the
 * library offers no option; a version whose builders are not where this looks fails every
 * streamed read at once (tested), instead of reading silently otherwise.
 */
function keepingByteOrderMarks(parser: JSONParser): JSONParser {
  const builders = (parser as unknown as TextBuilders).tokenizer;
  for (const builder of [builders?.bufferedString, builders?.bufferedNumber]) {
    if (builder === undefined || !(builder.decoder instanceof TextDecoder)) throw new Error("assertion: @streamparser/json's tokenizer no longer keeps its text decoders where report-stream.ts replaces them");
    builder.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  }
  return parser;
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
  const parser = keepingByteOrderMarks(new JSONParser({ paths: ['$.*', '$.transactions.*'], keepStack: false }));
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

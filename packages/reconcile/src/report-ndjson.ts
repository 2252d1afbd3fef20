/**
 * Reading a report in NDJSON (split from `report-stream.ts`; our assumption of an alternative
 * format, see `ReportFile`): the first line the report without `transactions`, each further
 * non-empty line one entry, each line parsed whole and bounded in size.
 */
import { createHash } from 'node:crypto';
import { ReconcileError } from './errors.js';
import { checkReportHeader } from './report-entry.js';
import { REPORT_FIELDS_MAX, checkTextKeys, keyFaultError } from './report-keys.js';
import { REPORT_DEPTH_MAX } from './report-scan.js';
import { ENTRY_LEVELS_MAX, EntryBatcher, REPORT_VALUE_BYTES_MAX, hashedChunks, notJson, tooLargeValue } from './report-source.js';
import type { EntrySink, ReadReport, ReportFile } from './report-source.js';

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

export async function readNdjsonFile(file: ReportFile, sink: EntrySink): Promise<ReadReport> {
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

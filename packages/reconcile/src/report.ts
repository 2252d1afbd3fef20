/**
 * Reading a daily report: from a file or from memory, validated against the contract's schema
 * (`@earnbook/earn-client`'s `validateDailyReport`), with the content hash that makes ingestion
 * idempotent.
 */
import { constants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isUint8Array } from 'node:util/types';
import { EarnApiError, validateDailyReport } from '@earnbook/earn-client/contract';
import type { DailyReport } from '@earnbook/earn-client/contract';
import { ReconcileError } from './errors.js';
import { invalid, readFailure } from './input-guards.js';
import { REPORT_FIELDS_MAX, findKeyFault, keyFaultError, pairsInText } from './report-keys.js';
import { REPORT_DEPTH_MAX } from './report-scan.js';
import { contractFailureValue } from './report-entry.js';

/** Bytes of a report file read at most (a 1M-entry report is about 300 MB). */
export const REPORT_BYTES_MAX = 1024 * 1024 * 1024;

/**
 * Bytes of a report file {@link readReportFile} holds in memory at most: V8's longest string
 * (~512 MiB), since the whole file becomes one string. Larger legal reports (the contract allows
 * 2M entries, ~600 MB) are read with `openReportFile`, which streams them.
 */
export const REPORT_MEMORY_BYTES_MAX: number = constants.MAX_STRING_LENGTH;

/** A validated report and where it came from. */
export interface LoadedReport {
  readonly report: DailyReport;
  /** SHA-256 of the report's bytes (or of its canonical JSON when given as an object). */
  readonly contentHash: string;
  /** A file path, a URL, or `memory`. */
  readonly source: string;
}

/**
 * Walks a parsed report once and answers how many keys its objects hold, or -1 when one of them
 * is `__proto__` (see `report-keys.ts`). Refuses a value nested deeper than
 * {@link REPORT_DEPTH_MAX} levels (the top-level object is level 1), as the streamed read does,
 * and more than `REPORT_FIELDS_MAX` top-level fields. Walked with a stack of its own, so that no
 * depth overflows the call stack (a 5,000-level report given as an object threw an untyped
 * `RangeError` before).
 */
function inspectReport(json: unknown, source: string): number {
  // Containers only (a primitive cannot nest): a pair of stacks, no object per node.
  if (typeof json !== 'object' || json === null) return 0;
  if (!Array.isArray(json) && Object.keys(json).length > REPORT_FIELDS_MAX) throw keyFaultError(source, { kind: 'fields', path: '/', key: '' });
  let pairs = 0;
  let prototypeKey = false;
  const values: object[] = [json];
  const depths: number[] = [1];
  for (let value = values.pop(); value !== undefined; value = values.pop()) {
    const depth = depths.pop() ?? 1;
    if (depth > REPORT_DEPTH_MAX) {
      const path = deepestPath(json);
      throw new ReconcileError('invalid_report', `report from ${source} nests deeper than ${REPORT_DEPTH_MAX} levels under ${path}/…`, { field: 'report', value: source, path });
    }
    let children: readonly unknown[];
    if (Array.isArray(value)) {
      children = value;
    } else {
      children = Object.values(value);
      pairs += children.length;
      if (Object.hasOwn(value, PROTOTYPE_KEY)) prototypeKey = true;
    }
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return prototypeKey ? -1 : pairs;
}

const PROTOTYPE_KEY = '__proto__';

const joinPath = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/**
 * The path of the first value `found` picks in a parsed value, depth first in order (`''` for the
 * value itself), or undefined; searched again on failure only, with a stack of its own.
 */
function firstPath(json: unknown, found: (value: unknown) => boolean): string | undefined {
  if (found(json)) return '';
  const stack: { readonly value: object; readonly path: string }[] = typeof json === 'object' && json !== null ? [{ value: json, path: '' }] : [];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path } = item;
    const children: [string, unknown][] = Array.isArray(value) ? value.map((child, index) => [`${path}[${index}]`, child]) : Object.entries(value).map(([key, child]) => [joinPath(path, key), child]);
    const hit = children.find(([, child]) => found(child));
    if (hit !== undefined) return hit[0];
    // Last pushed, first searched: the children in their order.
    for (let index = children.length - 1; index >= 0; index--) {
      const [childPath, child] = children[index] as [string, unknown];
      if (typeof child === 'object' && child !== null) stack.push({ value: child, path: childPath });
    }
  }
  return undefined;
}

/** The path of the first `__proto__` key in a parsed value (searched again, on failure only). */
function prototypeKeyPath(json: unknown): string {
  const holder = firstPath(json, (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, PROTOTYPE_KEY));
  return holder === undefined ? '/' : joinPath(holder, PROTOTYPE_KEY);
}

/** The first levels of the path to a value nested deeper than the limit (found again, on failure only). */
function deepestPath(json: unknown): string {
  const keys: string[] = [];
  for (let value: unknown = json; keys.length < DEPTH_PATH_LEVELS_SHOWN && typeof value === 'object' && value !== null; ) {
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((child, index) => [String(index), child]) : Object.entries(value);
    // Level 1 is the top; a child at level keys.length + 2 is on the way when its own levels reach past the limit.
    const next = entries.find(([, child]) => keys.length + 1 + depthOf(child) > REPORT_DEPTH_MAX);
    if (next === undefined) break;
    keys.push(next[0].length > DEPTH_PATH_KEY_CHARS ? `${next[0].slice(0, DEPTH_PATH_KEY_CHARS)}…` : next[0]);
    value = next[1];
  }
  return keys.map((key) => `/${key}`).join('');
}

/** How many container levels a value holds (0 for a primitive), capped just past the limit. */
function depthOf(value: unknown): number {
  let deepest = 0;
  if (typeof value !== 'object' || value === null) return 0;
  const values: object[] = [value];
  const depths: number[] = [1];
  for (let item = values.pop(); item !== undefined; item = values.pop()) {
    const depth = depths.pop() ?? 1;
    deepest = Math.max(deepest, depth);
    if (deepest > REPORT_DEPTH_MAX) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return deepest;
}

/** Levels and characters per key of the path an over-deep report's error names. */
const DEPTH_PATH_LEVELS_SHOWN = 8;
const DEPTH_PATH_KEY_CHARS = 64;

/**
 * Validates a parsed report; a bad one is a `ReconcileError` naming the JSON path and field. A
 * `__proto__` key anywhere is refused (a report has no such field). A report given as an object
 * may hold parts that cannot be read (a revoked proxy, a getter that throws): `invalid_input`
 * naming the part (`report.transactions[3]`).
 */
export function validateReport(json: unknown, source: string): DailyReport {
  try {
    if (inspectReport(json, source) < 0) throw keyFaultError(source, { kind: 'prototype', path: prototypeKeyPath(json), key: PROTOTYPE_KEY });
    return contractReport(json, source);
  } catch (failure) {
    throw readFailure(failure, json, { field: 'report', nested: true });
  }
}

/** The contract's check of a parsed report whose depth and keys were checked. */
function contractReport(json: unknown, source: string): DailyReport {
  try {
    return validateDailyReport(json);
  } catch (cause) {
    if (cause instanceof EarnApiError) {
      const path = cause.path ?? '';
      // An entry's refused id names itself (`transactions[12].id`), as the streaming reader's does.
      const entryPath = /^transactions\[(\d+)\]\.(\w+)$/.exec(path);
      const transactions = (json as { transactions?: unknown } | null)?.transactions;
      const entry = entryPath !== null && Array.isArray(transactions) ? transactions[Number(entryPath[1])] : undefined;
      throw new ReconcileError('invalid_report', `report from ${source} does not match the contract at ${path || '/'}: ${cause.message}`, {
        ...(cause.field === undefined ? {} : { field: cause.field }),
        path,
        value: entryPath === null ? source : contractFailureValue(source, entry, cause.field, entryPath[2] ?? ''),
        cause,
      });
    }
    throw cause;
  }
}

/** Parses and validates report bytes (a string, or UTF-8 bytes in a `Buffer` or `Uint8Array`). */
export function parseReport(bytes: Buffer | string, source: string): LoadedReport {
  // Checked by the bytes' own slot, not by reading them: a proxy (revoked or not) is no bytes.
  if (typeof bytes !== 'string' && !isUint8Array(bytes)) invalid('bytes', bytes, 'must be the report\'s text or its bytes (a Buffer)');
  if (typeof bytes !== 'string' && bytes.length > REPORT_MEMORY_BYTES_MAX) throw tooLargeForMemory(source, bytes.length);
  const text = typeof bytes === 'string' ? bytes : decodeUtf8(bytes, source);
  // A leading byte order mark is ignored, as the streaming reader ignores it (RFC 8259 allows
  // either); the content hash still covers the bytes as given.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new ReconcileError('invalid_report', `report from ${source} is not JSON: ${(cause as Error).message}`, { field: 'report', value: source, cause });
  }
  // JSON.parse keeps the last of two values under one key (a second `transactions` too), which
  // the streaming reader refuses: the keys it kept are counted against the keys of the text, and
  // the text walked for the repeated one (or `__proto__`) only when they differ.
  const pairs = inspectReport(json, source);
  if (pairs < 0 || pairs !== pairsInText(body)) {
    const fault = findKeyFault(body, '', REPORT_DEPTH_MAX);
    if (fault === undefined) throw new Error(`assertion: report from ${source} kept ${pairs} keys of its text's ${pairsInText(body)}, but none repeats`);
    throw keyFaultError(source, fault);
  }
  return { report: contractReport(json, source), contentHash: createHash('sha256').update(text).digest('hex'), source };
}

/**
 * Report bytes as text, refused when they are not UTF-8 (as `openReportFile` refuses them): a
 * replacing decoder would turn two different ids into the same one. A byte order mark is kept in
 * the text (the parse skips it), so that valid UTF-8 encodes back to the same bytes and the
 * content hash of the text is the hash of the bytes.
 */
function decodeUtf8(bytes: Buffer, source: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new ReconcileError('invalid_report', `report from ${source} is not JSON: it holds bytes that are not UTF-8`, { field: 'report', value: source, cause });
  }
}

function tooLargeForMemory(source: string, bytes: number): ReconcileError {
  return new ReconcileError('invalid_report', `report ${source} has ${bytes} bytes, more than one string can hold (${REPORT_MEMORY_BYTES_MAX}): stream it with openReportFile`, { field: 'reportFile', value: source });
}

/**
 * The size of the report file at `path` (`reportFile`: a non-empty path), refused over `bytesMax`
 * (`invalid_report`); a file that cannot be found is `no_report`. Both ways to read a report
 * file, whole (`readReportFile`) and streamed (`openReportFile`), start here.
 */
export async function reportFileSize(path: string, bytesMax: number): Promise<number> {
  if (typeof path !== 'string' || path === '') invalid('reportFile', path, 'must be a non-empty path of a report file');
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new ReconcileError('no_report', `no report file at ${path}`, { field: 'reportFile', value: path, cause });
  }
  if (size > bytesMax) throw new ReconcileError('invalid_report', `report file ${path} has ${size} bytes, more than ${bytesMax}`, { field: 'reportFile', value: path });
  return size;
}

/**
 * Reads, parses and validates a whole report file in memory; a file over
 * {@link REPORT_MEMORY_BYTES_MAX} is refused (`invalid_report`): stream it with `openReportFile`.
 */
export async function readReportFile(path: string): Promise<LoadedReport> {
  const size = await reportFileSize(path, REPORT_BYTES_MAX);
  if (size > REPORT_MEMORY_BYTES_MAX) throw tooLargeForMemory(path, size);
  return parseReport(await readFile(path), path);
}

/**
 * A report already parsed (e.g. from the client's `fetchReport`): hashed on its compact JSON, so
 * it hashes like a file that holds `JSON.stringify(json)`, and validated and used as that JSON
 * reads back, so that the hash covers what is reconciled. Before, the object itself was validated
 * and used: an object whose `toJSON` (or a getter, or a value JSON drops, such as `undefined` or a
 * function) made its JSON another report kept the first report's hash with other figures, and a
 * BigInt anywhere threw a raw `TypeError`. A report downloaded with the client's
 * `fetchReportToFile` and streamed with `openReportFile` is hashed on its bytes as sent; the two
 * agree when the provider sends compact JSON.
 */
export function loadReportObject(json: unknown, source = 'memory'): LoadedReport {
  // Depth (a cycle too), `__proto__` keys and parts that cannot be read, refused first.
  try {
    inspectReport(json, source);
  } catch (failure) {
    throw readFailure(failure, json, { field: 'report', nested: true });
  }
  const text = jsonText(json, source);
  const report = validateReport(JSON.parse(text) as unknown, source);
  return { report, contentHash: createHash('sha256').update(text).digest('hex'), source };
}

/** `JSON.stringify(json)`, or the `invalid_report` naming the part it cannot write (a BigInt, a `toJSON` that throws). */
function jsonText(json: unknown, source: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(json);
  } catch (cause) {
    const path = firstPath(json, (value) => typeof value === 'bigint');
    const at = path === undefined ? 'report' : joinPath('report', path);
    throw new ReconcileError('invalid_report', `report from ${source} is not JSON data at ${at}: ${path === undefined ? (cause instanceof Error ? cause.message : String(cause)) : 'a BigInt, which JSON has no form for'}`, { field: at, value: source, cause });
  }
  if (text === undefined) throw new ReconcileError('invalid_report', `report from ${source} is not JSON data: JSON.stringify writes nothing for it`, { field: 'report', value: source });
  return text;
}

/**
 * The run files of an {@link ExternalSorter} (`external-sort.ts`, which writes them): reading them
 * back a line of items at a time, writing bytes whole, the typed failure of a file operation, and
 * the heap that merges the runs in key order.
 */
import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { compareKnownKeys, isPlainKey } from './keys.js';
import { ReconcileError } from './errors.js';
import type { ExternalSorter } from './external-sort.js';

/**
 * Bytes read from a run file at a time while merging. With the sorter's `RUN_LINE_ITEMS` this bounds what
 * each run holds while merged (a read buffer, a line, its items): a day of 1M entries is ~20 runs
 * in each of two sorters merged at once.
 */
const RUN_READ_BYTES = 64 * 1024;

/** The byte that ends a run line. */
export const NEWLINE = 0x0a;
/** Permissions of a run file: read and write by the process's user only. */
export const RUN_FILE_MODE = 0o600;

/**
 * How items are stored in run files: `encode` makes what is written (as JSON), `decode` gives the
 * item back from what was read. `decode(JSON.parse(JSON.stringify(encode(item))))` must equal the
 * item. Without one, the items themselves are written. A codec may keep state (numbered shapes):
 * the sorter calls it as a method, and runs written through a codec are read back only by the
 * same sorter ({@link ExternalSorter.adopt} takes plain runs).
 */
export interface RunCodec<T> {
  readonly encode: (item: T) => unknown;
  readonly decode: (stored: unknown) => T;
  /**
   * Optional: the text of one run line holding `items` (in place of `JSON.stringify` of their
   * `encode`d forms). It must hold no newline; `decodeLine` must give the items back from it,
   * also after a trip through UTF-8.
   */
  readonly encodeLine?: (items: readonly T[]) => string;
  /** The items of a line `encodeLine` made; required with it. */
  readonly decodeLine?: (line: string) => T[];
}

/** The folder of a sort's runs, and the caller's option that names it. */
export interface SortFolder {
  readonly directory: string;
  readonly field: string;
}

/** The errno code of a failed file operation (`ENOSPC`, `ENOENT`, …), if it has one. */
function errnoOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * Runs a file operation of the sort: a failure of the file system (a full disk, a folder that does
 * not exist or went away, no permission) is a `ReconcileError` `sort_failed` naming the option
 * that gave the folder (`sortDirectory`, or the export's `temporaryDirectory`) and the folder, the
 * errno code in its message and the driver's error as `cause`.
 */
export async function sortFileOperation<T>(folder: SortFolder, what: string, operation: () => Promise<T>): Promise<T> {
  const { directory, field } = folder;
  try {
    return await operation();
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === undefined) throw error;
    throw new ReconcileError('sort_failed', `the external sort could not ${what} in ${field} ${JSON.stringify(directory)}: ${errno} (${(error as Error).message}); nothing was written to the books`, {
      field,
      value: directory,
      cause: error,
    });
  }
}

/** Reads one run file back as items, a buffer at a time. */
export class RunReader<T> {
  readonly #lines: AsyncIterator<string>;
  readonly #key: (item: T) => string;
  #items: T[] = [];
  #at = 0;
  #done = false;
  /** The head's key, computed once per item (the merge compares it several times). */
  headKey = '';
  /** Whether the head's key {@link isPlainKey}. */
  headPlain = true;

  readonly #codec: RunCodec<T> | undefined;

  constructor(path: string, key: (item: T) => string, codec: RunCodec<T> | undefined, folder: SortFolder) {
    this.#lines = readRunLines(path, folder)[Symbol.asyncIterator]();
    this.#key = key;
    this.#codec = codec;
  }

  /** The current item, or undefined at the end (call {@link fill} first). */
  get head(): T | undefined {
    return this.#items[this.#at];
  }

  #keyHead(): void {
    const item = this.#items[this.#at];
    this.headKey = item === undefined ? '' : this.#key(item);
    this.headPlain = isPlainKey(this.headKey);
  }

  advance(): void {
    this.#at++;
    this.#keyHead();
  }

  /** Closes the run file (when the merge ends early). */
  async close(): Promise<void> {
    await this.#lines.return?.();
  }

  /** Whether {@link fill} has to read: the loaded items are used up and the run is not over. */
  get empty(): boolean {
    return this.#at >= this.#items.length && !this.#done;
  }

  /** Makes sure the head is loaded unless the run is over. */
  async fill(): Promise<void> {
    while (this.#at >= this.#items.length && !this.#done) {
      const next = await this.#lines.next();
      if (next.done === true) {
        this.#done = true;
        return;
      }
      const codec = this.#codec;
      if (codec?.decodeLine !== undefined) this.#items = codec.decodeLine(next.value);
      else {
        const stored = JSON.parse(next.value) as unknown[];
        this.#items = codec === undefined ? (stored as T[]) : stored.map((value) => codec.decode(value));
      }
      this.#at = 0;
      this.#keyHead();
    }
  }
}

/**
 * The lines of a run file, read as bytes (a line is decoded once it is whole: UTF-8 is cut at
 * line ends only, and a newline byte is never part of a multi-byte character).
 */
async function* readRunLines(path: string, folder: SortFolder): AsyncGenerator<string> {
  const handle = await sortFileOperation(folder, 'open a run file to read', () => open(path, 'r'));
  try {
    // One buffer per run for all its reads, the unfinished line moved to its start after each:
    // a new 64 KiB buffer per read (and a concatenation per line cut by a read) left its garbage
    // to the collector, ~40 MiB of array buffers at the nightly bench's peak (1M accounts). The
    // buffer grows only for a line longer than a read (to that line's size and a read).
    let buffer = Buffer.allocUnsafe(2 * RUN_READ_BYTES);
    let kept = 0;
    for (;;) {
      if (buffer.length - kept < RUN_READ_BYTES) {
        const larger = Buffer.allocUnsafe(Math.max(2 * buffer.length, kept + RUN_READ_BYTES));
        buffer.copy(larger, 0, 0, kept);
        buffer = larger;
      }
      const into = buffer;
      const { bytesRead } = await sortFileOperation(folder, 'read a run file', () => handle.read(into, kept, RUN_READ_BYTES, null));
      if (bytesRead === 0) break;
      const data = buffer.subarray(0, kept + bytesRead);
      let start = 0;
      // ASCII bytes read as Latin-1 give the same text without UTF-8 decoding: 210 MiB of the
      // report bench's JSON took 0.40 s so (the check included) against 0.96 s as UTF-8.
      const encoding = isAscii(data) ? 'latin1' : 'utf8';
      for (let end = data.indexOf(NEWLINE, start); end !== -1; end = data.indexOf(NEWLINE, start)) {
        yield data.toString(encoding, start, end);
        start = end + 1;
      }
      kept = data.length - start;
      if (kept > 0 && start > 0) buffer.copyWithin(0, start, data.length);
    }
    if (kept > 0) yield buffer.toString('utf8', 0, kept);
  } finally {
    await handle.close();
  }
}

/** Writes the first `length` bytes (all by default) at the file's position, however many calls it takes. */
export async function writeAll(handle: FileHandle, bytes: Buffer, length = bytes.length): Promise<void> {
  for (let at = 0; at < length; ) {
    const { bytesWritten } = await handle.write(bytes, at, length - at);
    if (bytesWritten <= 0) throw new Error('assertion: a write to a sort run file took no bytes');
    at += bytesWritten;
  }
}

export interface HeapNode<T> {
  readonly reader: RunReader<T>;
  readonly index: number;
}

/** A min-heap of run readers by their head's key, ties by run index (so the merge is stable). */
export class RunHeap<T> {
  readonly #nodes: HeapNode<T>[] = [];

  #less(a: HeapNode<T>, b: HeapNode<T>): boolean {
    if (a.reader.head === undefined) return false;
    if (b.reader.head === undefined) return true;
    const order = compareKnownKeys(a.reader.headKey, a.reader.headPlain, b.reader.headKey, b.reader.headPlain);
    return order < 0 || (order === 0 && a.index < b.index);
  }

  push(node: HeapNode<T>): void {
    this.#nodes.push(node);
    let at = this.#nodes.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#less(this.#nodes[at] as HeapNode<T>, this.#nodes[parent] as HeapNode<T>)) break;
      [this.#nodes[at], this.#nodes[parent]] = [this.#nodes[parent] as HeapNode<T>, this.#nodes[at] as HeapNode<T>];
      at = parent;
    }
  }

  peek(): HeapNode<T> | undefined {
    return this.#nodes[0];
  }

  /** Restores the heap after the top's head changed. */
  replaceTop(): void {
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let smallest = at;
      if (left < this.#nodes.length && this.#less(this.#nodes[left] as HeapNode<T>, this.#nodes[smallest] as HeapNode<T>)) smallest = left;
      if (right < this.#nodes.length && this.#less(this.#nodes[right] as HeapNode<T>, this.#nodes[smallest] as HeapNode<T>)) smallest = right;
      if (smallest === at) return;
      [this.#nodes[at], this.#nodes[smallest]] = [this.#nodes[smallest] as HeapNode<T>, this.#nodes[at] as HeapNode<T>];
      at = smallest;
    }
  }
}

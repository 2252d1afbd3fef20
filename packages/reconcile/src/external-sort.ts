/**
 * An external merge sort for streams larger than memory: items are buffered up to a run size,
 * each full run is sorted (stably) and written to a temporary file as lines that each hold a JSON
 * array of up to {@link RUN_LINE_ITEMS} items, and the sorted stream is a k-way merge of the runs through a binary heap. Memory is bounded by
 * the run size plus one read buffer per run; the sorted stream can be read several times.
 */
import { isAscii } from 'node:buffer';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compareKnownKeys, isPlainKey } from './keys.js';
import { ReconcileError } from './errors.js';
import { invalid, readArray, readFields, requireFunction, requireObject } from './input-guards.js';

/** Items one run holds by default before it is sorted and written out. */
export const SORT_RUN_ITEMS_DEFAULT = 25_000;
/**
 * Bytes read from a run file at a time while merging. With {@link RUN_LINE_ITEMS} this bounds what
 * each run holds while merged (a read buffer, a line, its items): a day of 1M entries is ~20 runs
 * in each of two sorters merged at once.
 */
const RUN_READ_BYTES = 64 * 1024;
/**
 * Items per line of a run file: one `JSON.stringify` and one `JSON.parse` of an array per line
 * instead of one call per item. At 1M report entries, a line per item cost 2 µs to write and
 * 5.5 µs to read back (the lines of a buffer joined into one array text) per item; an array per
 * line 0.4 µs and 2.3 µs. 250 items read as fast as 1,000 and hold a quarter of the memory.
 */
const RUN_LINE_ITEMS = 250;
/** Bytes of run lines gathered before one write (the size of each sorter's write buffer). */
const RUN_WRITE_BYTES = 1024 * 1024;
/** The byte that ends a run line. */
const NEWLINE = 0x0a;
/** Permissions of a run file: read and write by the process's user only. */
const RUN_FILE_MODE = 0o600;
/** Items per batch of {@link ExternalSorter.sortedBatches}: one await per batch, not per item. */
export const SORT_BATCH_ITEMS = 1_000;

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

/** Options of an {@link ExternalSorter}. */
export interface ExternalSorterOptions<T> {
  /** The sort key; items compare by key in code point order, ties keep their arrival order. */
  readonly key: (item: T) => string;
  readonly runSize?: number;
  /** Where run files go; default the system's temporary directory. */
  readonly directory?: string;
  /** The caller's option that names {@link directory}, as a failure names it; default `sortDirectory` (the reconciler's). */
  readonly directoryField?: string;
  readonly codec?: RunCodec<T>;
}

/** The folder of a sort's runs, and the caller's option that names it. */
interface SortFolder {
  readonly directory: string;
  readonly field: string;
}

/** The run files of a sorter that {@link ExternalSorter.release}d them: plain data (it crosses threads). */
export interface ReleasedRuns {
  /** The directory that holds the runs (removed with them); undefined when there is none. */
  readonly directory: string | undefined;
  /** The run files, in the order they were written. */
  readonly runs: readonly string[];
  /** Items in the runs. */
  readonly count: number;
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
async function sortFileOperation<T>(folder: SortFolder, what: string, operation: () => Promise<T>): Promise<T> {
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

/** Run files an adopted sorter may be given (a day of 1M items is ~40 runs of the default size; each is one open file while merging). */
const RELEASED_RUNS_MAX = 100_000;

/** An {@link ExternalSorterOptions} as checked, each option read once. */
interface CheckedSorterOptions<T> {
  readonly key: (item: T) => string;
  readonly runSize: number;
  readonly directory: string | undefined;
  readonly directoryField: string;
  readonly codec: RunCodec<T> | undefined;
}

/** Whether `text` is a usable folder path: text, not empty, without a NUL (no file system takes one). */
function isFolderPath(text: unknown): text is string {
  return typeof text === 'string' && text.length > 0 && !text.includes('\0');
}

/** See the {@link ExternalSorter} constructor. */
function checkSorterOptions<T>(options: ExternalSorterOptions<T>): CheckedSorterOptions<T> {
  const given = readFields(options, ['key', 'runSize', 'directory', 'directoryField', 'codec'], { field: 'options' });
  requireFunction(given.key, 'key');
  const runSize = given.runSize ?? SORT_RUN_ITEMS_DEFAULT;
  if (!Number.isSafeInteger(runSize) || runSize < 1) invalid('runSize', runSize, 'must be a whole number of items, at least 1');
  if (given.directory !== undefined && !isFolderPath(given.directory)) invalid('directory', given.directory, 'must be a folder path (text, not empty, without NUL)');
  const directoryField = given.directoryField ?? 'sortDirectory';
  if (typeof directoryField !== 'string' || directoryField.length === 0) invalid('directoryField', directoryField, 'must be the name of an option (text, not empty)');
  return { key: given.key, runSize, directory: given.directory, directoryField, codec: given.codec === undefined ? undefined : readCodec(given.codec) };
}

/**
 * A caller's codec with its methods read once and bound to it (a codec may keep state and is
 * called as a method): `encode` and `decode` functions, `encodeLine` and `decodeLine` both or
 * neither (a run line written one way would be read back another).
 */
function readCodec<T>(codec: RunCodec<T>): RunCodec<T> {
  const methods = readFields(requireObject(codec, 'codec'), ['encode', 'decode', 'encodeLine', 'decodeLine'], { field: 'codec', nested: true });
  requireFunction(methods.encode, 'codec.encode');
  requireFunction(methods.decode, 'codec.decode');
  const { encodeLine, decodeLine } = methods;
  if (encodeLine !== undefined) requireFunction(encodeLine, 'codec.encodeLine');
  if (decodeLine !== undefined) requireFunction(decodeLine, 'codec.decodeLine');
  if ((encodeLine === undefined) !== (decodeLine === undefined)) {
    throw new ReconcileError('invalid_input', 'codec must have both encodeLine and decodeLine, or neither: a run line written one way would be read back another', { field: 'codec' });
  }
  const bound = { encode: (item: T) => methods.encode.call(codec, item), decode: (stored: unknown) => methods.decode.call(codec, stored) };
  if (encodeLine === undefined || decodeLine === undefined) return bound;
  return { ...bound, encodeLine: (items: readonly T[]) => encodeLine.call(codec, items), decodeLine: (line: string) => decodeLine.call(codec, line) };
}

/** {@link ExternalSorter.adopt}'s `released`, checked: what {@link ExternalSorter.release} gives. */
function readReleasedRuns(released: ReleasedRuns): ReleasedRuns {
  const { directory, runs, count } = readFields(requireObject(released, 'released'), ['directory', 'runs', 'count'], { field: 'released', nested: true });
  if (directory !== undefined && !isFolderPath(directory)) invalid('released.directory', directory, 'must be a folder path or undefined');
  const list = readArray(runs, 'released.runs', RELEASED_RUNS_MAX);
  if (list.items.length !== list.length) invalid('released.runs', runs, `must be a list of at most ${RELEASED_RUNS_MAX} run file paths`);
  list.items.forEach((path, index) => {
    if (!isFolderPath(path)) invalid(`released.runs[${index}]`, path, 'must be a run file path');
  });
  if (!Number.isSafeInteger(count) || count < 0) invalid('released.count', count, 'must be a whole number of items, at least 0');
  return { directory, runs: list.items as string[], count };
}

/** Reads one run file back as items, a buffer at a time. */
class RunReader<T> {
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
async function writeAll(handle: FileHandle, bytes: Buffer, length = bytes.length): Promise<void> {
  for (let at = 0; at < length; ) {
    const { bytesWritten } = await handle.write(bytes, at, length - at);
    if (bytesWritten <= 0) throw new Error('assertion: a write to a sort run file took no bytes');
    at += bytesWritten;
  }
}

/**
 * Sorts a stream of JSON-serialisable items by a string key with bounded memory.
 *
 * @example
 * const sorter = new ExternalSorter<{ id: string }>({ key: (item) => item.id });
 * for (const item of items) await sorter.add(item);
 * for await (const item of sorter.sorted()) console.log(item.id);
 * await sorter.close();
 */
export class ExternalSorter<T> {
  readonly #key: (item: T) => string;
  readonly #runSize: number;
  readonly #directory: string;
  readonly #directoryField: string;
  readonly #codec: RunCodec<T> | undefined;
  #buffer: T[] = [];
  /** Where run lines are encoded before a write; made at the first spill, dropped on close. */
  #writeBuffer: Buffer | undefined;
  readonly #runs: string[] = [];
  #workDirectory: string | undefined;
  #count = 0;

  /**
   * Checks the options before anything is written (see {@link checkSorterOptions}): a key that is
   * no function, a `runSize` that is not a whole number of items ≥ 1 (`NaN` never spilled: the
   * whole input stayed in memory), a `directory` or `directoryField` that is no text, a codec
   * without its methods, or options that cannot be read (a revoked proxy) are `invalid_input`
   * naming the option.
   */
  constructor(options: ExternalSorterOptions<T>) {
    const checked = checkSorterOptions(options);
    this.#key = checked.key;
    this.#runSize = checked.runSize;
    this.#directory = checked.directory ?? tmpdir();
    this.#directoryField = checked.directoryField;
    this.#codec = checked.codec;
  }

  /**
   * A sorter over runs another sorter wrote and {@link release}d (a worker thread's): it reads
   * them in their order, as the writer would have, and removes their directory on {@link close}.
   * `released` must be what `release` gave (a directory path or undefined, run file paths, a
   * count); anything else is `invalid_input` naming `released` or its part.
   */
  static adopt<T>(options: { readonly key: (item: T) => string; readonly released: ReleasedRuns }): ExternalSorter<T> {
    const { key, released } = readFields(options, ['key', 'released'], { field: 'options' });
    const runs = readReleasedRuns(released);
    const sorter = new ExternalSorter<T>({ key, ...(runs.directory === undefined ? {} : { directory: dirname(runs.directory) }) });
    sorter.#workDirectory = runs.directory;
    sorter.#runs.push(...runs.runs);
    sorter.#count = runs.count;
    return sorter;
  }

  /**
   * Writes what is buffered as a run and gives up the run files: the caller (or an
   * {@link adopt}ing sorter) removes them. The sorter is empty afterwards.
   */
  async release(): Promise<ReleasedRuns> {
    if (this.#buffer.length > 0) await this.#spill();
    this.#writeBuffer = undefined;
    const released = { directory: this.#workDirectory, runs: [...this.#runs], count: this.#count };
    this.#workDirectory = undefined;
    this.#runs.length = 0;
    this.#count = 0;
    return released;
  }

  /** Items added so far. */
  get count(): number {
    return this.#count;
  }

  async add(item: T): Promise<void> {
    await this.addAll([item]);
  }

  /**
   * Adds items in turn, as {@link add} does, with one promise for them all: an awaited `add` per
   * item cost ~0.5 µs, half a second per million items, and a night adds several million.
   */
  async addAll(items: Iterable<T>): Promise<void> {
    for (const item of items) {
      this.#buffer.push(item);
      this.#count++;
      if (this.#buffer.length >= this.#runSize) await this.#spill();
    }
  }

  #sortBuffer(): void {
    const keyed = this.#buffer.map((item) => {
      const key = this.#key(item);
      return { key, plain: isPlainKey(key), item };
    });
    // Array.prototype.sort is stable: equal keys keep their arrival order.
    keyed.sort((a, b) => compareKnownKeys(a.key, a.plain, b.key, b.plain));
    this.#buffer = keyed.map((entry) => entry.item);
  }

  async #spill(): Promise<void> {
    this.#sortBuffer();
    await sortFileOperation({ directory: this.#directory, field: this.#directoryField }, 'write a run file', () => this.#writeRun());
    this.#buffer = [];
  }

  /** Writes the sorted buffer as the next run file. */
  async #writeRun(): Promise<void> {
    this.#workDirectory ??= await mkdtemp(join(this.#directory, 'earnbook-sort-'));
    const path = join(this.#workDirectory, `run-${this.#runs.length}.ndjson`);
    // The runs hold the books' and the report's figures: readable by this user alone, also when
    // released to another sorter or left by a crash (the folder is 0700 already, from mkdtemp).
    const handle = await open(path, 'w', RUN_FILE_MODE);
    try {
      // Each line is encoded into one reused buffer as it is made: a text of many lines joined
      // with += is a rope that writing must flatten first, and writing 1 MiB of it cost ~3.6 ms
      // here (1M report entries: ~1 s of the read) against ~0.4 ms for the same bytes this way.
      const bytes = (this.#writeBuffer ??= Buffer.allocUnsafe(RUN_WRITE_BYTES));
      let at = 0;
      const codec = this.#codec;
      for (let start = 0; start < this.#buffer.length; start += RUN_LINE_ITEMS) {
        const slice = this.#buffer.slice(start, start + RUN_LINE_ITEMS);
        const line = codec === undefined ? JSON.stringify(slice) : codec.encodeLine !== undefined ? codec.encodeLine(slice) : JSON.stringify(slice.map((item) => codec.encode(item)));
        // A UTF-16 code unit takes at most 3 bytes in UTF-8: room for that and the newline.
        const most = line.length * 3 + 1;
        if (at > 0 && at + most > bytes.length) {
          await writeAll(handle, bytes, at);
          at = 0;
        }
        if (most > bytes.length) {
          await writeAll(handle, Buffer.from(`${line}\n`));
          continue;
        }
        at += bytes.write(line, at, 'utf8');
        bytes[at++] = NEWLINE;
      }
      if (at > 0) await writeAll(handle, bytes, at);
    } finally {
      await handle.close();
    }
    this.#runs.push(path);
  }

  /** The items in key order. Call after the last {@link add}; may be called again. */
  async *sorted(): AsyncGenerator<T> {
    for await (const batch of this.sortedBatches()) yield* batch;
  }

  /** The items in key order, in batches of up to {@link SORT_BATCH_ITEMS}; as {@link sorted}. */
  async *sortedBatches(): AsyncGenerator<T[]> {
    if (this.#runs.length === 0) {
      this.#sortBuffer();
      for (let start = 0; start < this.#buffer.length; start += SORT_BATCH_ITEMS) yield this.#buffer.slice(start, start + SORT_BATCH_ITEMS);
      return;
    }
    if (this.#buffer.length > 0) await this.#spill();
    this.#writeBuffer = undefined;
    const readers = this.#runs.map((path) => new RunReader<T>(path, this.#key, this.#codec, { directory: this.#directory, field: this.#directoryField }));
    try {
      await Promise.all(readers.map((reader) => reader.fill()));
      const heap = new RunHeap<T>();
      readers.forEach((reader, index) => heap.push({ reader, index }));
      let batch: T[] = [];
      for (;;) {
        const top = heap.peek();
        const item = top?.reader.head;
        if (top === undefined || item === undefined) break;
        batch.push(item);
        top.reader.advance();
        if (top.reader.empty) await top.reader.fill();
        heap.replaceTop();
        if (batch.length >= SORT_BATCH_ITEMS) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      // Also when the reader stops early: each run's file is closed.
      await Promise.all(readers.map((reader) => reader.close()));
    }
  }

  /** Removes the run files. */
  async close(): Promise<void> {
    this.#buffer = [];
    this.#writeBuffer = undefined;
    if (this.#workDirectory !== undefined) await rm(this.#workDirectory, { recursive: true, force: true });
    this.#workDirectory = undefined;
    this.#runs.length = 0;
  }
}

interface HeapNode<T> {
  readonly reader: RunReader<T>;
  readonly index: number;
}

/** A min-heap of run readers by their head's key, ties by run index (so the merge is stable). */
class RunHeap<T> {
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

/**
 * An external merge sort for streams larger than memory: items are buffered up to a run size,
 * each full run is sorted (stably) and written to a temporary file as lines that each hold a JSON
 * array of up to {@link RUN_LINE_ITEMS} items, and the sorted stream is a k-way merge of the runs through a binary heap. Memory is bounded by
 * the run size plus one read buffer per run; the sorted stream can be read several times.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ReconcileError } from './errors.js';
import { isFolderPath } from './folder-path.js';
import { compareKnownKeys, isPlainKey } from './keys.js';
import { invalid, readArray, readFields, requireFunction, requireObject } from './input-guards.js';
import { NEWLINE, RUN_FILE_MODE, RunHeap, RunReader, sortFileOperation, writeAll } from './sort-runs.js';
import type { RunCodec } from './sort-runs.js';

export type { RunCodec } from './sort-runs.js';

/** Items one run holds by default before it is sorted and written out. */
export const SORT_RUN_ITEMS_DEFAULT = 25_000;
/**
 * Items per line of a run file: one `JSON.stringify` and one `JSON.parse` of an array per line
 * instead of one call per item. At 1M report entries, a line per item cost 2 µs to write and
 * 5.5 µs to read back (the lines of a buffer joined into one array text) per item; an array per
 * line 0.4 µs and 2.3 µs. 250 items read as fast as 1,000 and hold a quarter of the memory.
 * A merge holds a line of every run at once, and a day's break drafts spill every 5,000 (200
 * runs at 1M breaks): with 250 items a line, a 1M-break day restated and re-run peaked at
 * 531-538 MiB; with 100, 422 MiB (and 129 s against 139-142 s). The 1M-account nights and the
 * 1M-entry report ran within their swing either way.
 */
const RUN_LINE_ITEMS = 100;
/** Bytes of run lines gathered before one write (the size of each sorter's write buffer). */
const RUN_WRITE_BYTES = 1024 * 1024;
/** Items per batch of {@link ExternalSorter.sortedBatches}: one await per batch, not per item. */
export const SORT_BATCH_ITEMS = 1_000;

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

/** The run files of a sorter that {@link ExternalSorter.release}d them: plain data (it crosses threads). */
export interface ReleasedRuns {
  /** The directory that holds the runs (removed with them); undefined when there is none. */
  readonly directory: string | undefined;
  /** The run files, in the order they were written. */
  readonly runs: readonly string[];
  /** Items in the runs. */
  readonly count: number;
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

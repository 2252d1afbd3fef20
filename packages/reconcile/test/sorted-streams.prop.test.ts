/**
 * The sorted streams the day is merged from are read in batches (one await per batch): the
 * external sort's batches are its sorted order cut into pieces, and key groups built from
 * batches cut anywhere are the groups of the whole, in key order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExternalSorter, SORT_BATCH_ITEMS, compareKeys, matchKey } from '../src/index.js';
import type { LocalEntry, ReportEntry } from '../src/index.js';
import { keyGroups } from '../src/key-groups.js';
import { compareKnownKeys, isPlainKey } from '../src/keys.js';

// '\uFF5E' sorts after '😀' by code unit and before it by code point: the sorts' native fast path
// must not take it.
const key = fc.constantFrom('a', 'b', 'c', 'ä', 'b\u0000', 'é', '😀', 'z', '\uFF5E', 'a\uFF5E', 'a\uD83D');

/** The items cut into batches of the given sizes, in turn; a size 0 is an empty batch (which must not end the stream). */
async function* batchesOf<T>(items: readonly T[], sizes: readonly number[]): AsyncGenerator<T[]> {
  let at = 0;
  for (let index = 0; at < items.length; index++) {
    let size = sizes.length === 0 ? items.length : (sizes[index % sizes.length] ?? 1);
    if (size === 0) {
      yield [];
      size = 1;
    }
    yield items.slice(at, at + size);
    at += size;
  }
}

/** Sorts the items through run files of `runSize` and expects them back whole, in key order. */
async function expectSortedBack(items: readonly { key: string; text: string }[], runSize: number): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'earnbook-sort-'));
  const sorter = new ExternalSorter<{ key: string; text: string }>({ key: (item) => item.key, runSize, directory });
  try {
    for (const item of items) await sorter.add(item);
    const expected = [...items].sort((a, b) => compareKeys(a.key, b.key));
    const read: { key: string; text: string }[] = [];
    for await (const batch of sorter.sortedBatches()) read.push(...batch);
    expect(read).toEqual(expected);
  } finally {
    await sorter.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

describe('sorted streams read in batches', () => {
  it('the external sort hands on its stable order in batches of at most SORT_BATCH_ITEMS, with or without runs on disk, whether items come one by one or in chunks (addAll)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-sort-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(key, { maxLength: 3_000 }), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 800 }), async (keys, runSize, chunk) => {
          const sorter = new ExternalSorter<{ key: string; at: number }>({ key: (item) => item.key, runSize, directory });
          try {
            // chunk 0: one add per item; else addAll in chunks of that size (a spill may fall inside a chunk).
            const given = keys.map((value, at): { key: string; at: number } => ({ key: value, at }));
            if (chunk === 0) for (const item of given) await sorter.add(item);
            else for (let start = 0; start < given.length; start += chunk) await sorter.addAll(given.slice(start, start + chunk));
            expect(sorter.count).toBe(keys.length);
            const expected = [...given].sort((a, b) => compareKeys(a.key, b.key) || a.at - b.at);
            const batches: { key: string; at: number }[][] = [];
            for await (const batch of sorter.sortedBatches()) batches.push(batch);
            expect(batches.every((batch) => batch.length > 0 && batch.length <= SORT_BATCH_ITEMS)).toBe(true);
            expect(batches.flat()).toEqual(expected);
            const items: { key: string; at: number }[] = [];
            for await (const item of sorter.sorted()) items.push(item);
            expect(items).toEqual(expected);
          } finally {
            await sorter.close();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('run lines longer than a read, with multi-byte characters cut by the reads, come back whole', async () => {
    // Items of ~930 bytes, so that a run line (100 items, ~93 KB) spans more than one 64 KiB
    // read, and the odd lengths put read boundaries inside 2-, 3- and 4-byte characters.
    const items = Array.from({ length: 4_000 }, (_, at) => ({ key: String((at * 7919) % 4_000).padStart(4, '0'), text: 'é€😀'.repeat(100 + (at % 7)) + 'x'.repeat(at % 3) }));
    await expectSortedBack(items, 1_500);
  });

  it('run lines of any length, ending anywhere in a read or on its last byte, come back whole (one read buffer per run, grown for long lines)', async () => {
    // Lines of 100 items of 0 to ~3,300 bytes: from a few bytes to ~300 KB, so that lines end at
    // every offset of the 64 KiB reads, fill the 128 KiB buffer exactly or not, and make it grow
    // (twice and more) with a shorter line after a longer one in the same run.
    const piece = fc.constantFrom('x', 'é', '€', '😀', '\n', '"');
    const item = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'é', '😀'), text: fc.array(piece, { maxLength: 1_750, size: 'max' }).map((parts) => parts.join('')) });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 300, maxLength: 1_500, size: 'max' }), fc.integer({ min: 1, max: 600 }), async (items, runSize) => expectSortedBack(items, runSize)),
      { numRuns: 12 },
    );
  }, 120_000);

  it('refuses a codec with encodeLine and no decodeLine, or the other way round, naming codec', () => {
    const plain = { encode: (item: { key: string }) => item, decode: (stored: unknown) => stored as { key: string } };
    for (const codec of [{ ...plain, encodeLine: (items: readonly { key: string }[]) => JSON.stringify(items) }, { ...plain, decodeLine: (line: string) => JSON.parse(line) as { key: string }[] }]) {
      expect(() => new ExternalSorter<{ key: string }>({ key: (item) => item.key, codec })).toThrow(expect.objectContaining({ code: 'invalid_input', field: 'codec' }));
    }
  });

  it('run lines that may not fit the write buffer (1 MiB), among lines that do, come back whole', async () => {
    // Lines of 100 items. The first run sorts its 250 'a' items first, then the 250 large 'm'
    // items (~11,000 bytes each), 100 a line: two lines of ~1.1 MB (more than the buffer holds)
    // among lines of a few thousand bytes, so each kind of write follows the other.
    const prefix = (at: number) => (at < 250 ? 'a' : at < 500 ? 'm' : 'z');
    const items = Array.from({ length: 2_000 }, (_, at) => ({ key: `${prefix(at)}${String((at * 7919) % 2_000).padStart(4, '0')}`, text: at >= 250 && at < 500 ? 'é€😀x'.repeat(1_100) : `plain ${at}` }));
    await expectSortedBack(items, 1_000);
  });

  it('key groups from batches cut anywhere (empty ones too) are the groups of the whole, in key order', async () => {
    const sizes = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(key, { maxLength: 60 }), fc.array(key, { maxLength: 60 }), fc.array(key, { maxLength: 30 }), sizes, sizes, async (reportKeys, dayKeys, nextKeys, reportSizes, localSizes) => {
        // Interest entries match on their id; `amount` tells equal keys apart (the order must be kept).
        const report = reportKeys.map((value, at) => ({ id: value, type: 'Interest', amount: String(at) }) as unknown as ReportEntry);
        const local = (keys: readonly string[], day: string) => keys.map((value, at) => ({ providerId: value, transactionId: at, accountingDay: day }) as unknown as LocalEntry);
        const sortedReport = [...report].sort((a, b) => compareKeys(matchKey(a), matchKey(b)));
        const days = [local(dayKeys, 'd1'), local(nextKeys, 'd2')].map((entries) => [...entries].sort((a, b) => compareKeys(a.providerId, b.providerId)));
        const groups = [];
        for await (const batch of keyGroups(batchesOf(sortedReport, reportSizes), days.map((entries) => batchesOf(entries, localSizes)))) groups.push(...batch);
        const keys = [...new Set([...reportKeys, ...dayKeys, ...nextKeys])].sort(compareKeys);
        expect(groups.map((group) => group.key)).toEqual(keys);
        for (const group of groups) {
          expect(group.report).toEqual(sortedReport.filter((entry) => matchKey(entry) === group.key));
          expect(group.local).toEqual(days.flat().filter((entry) => entry.providerId === group.key));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the native comparison of plain keys agrees with code point order, and any other key takes the slow path', () => {
    // Any UTF-16 code units (lone surrogates too), mostly ASCII so that keys share prefixes.
    const unit = fc.oneof(fc.constantFrom('a', 'b', '0', '\u0000', '\u007f', '\uD7FF', '\uD800', '\uDBFF', '\uDC00', '\uE000', '\uFFFF'), fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)));
    const text = fc.array(unit, { maxLength: 8 }).map((units) => units.join(''));
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(isPlainKey(a)).toBe(![...a].some((character) => character.charCodeAt(0) >= 0xd800 || character.length > 1));
        expect(Math.sign(compareKnownKeys(a, isPlainKey(a), b, isPlainKey(b)))).toBe(Math.sign(compareKeys(a, b)));
      }),
      { numRuns: 2_000 },
    );
  });
});

/**
 * The external sort is exported: its options and an adopted sorter's runs are a caller's input,
 * checked before anything is written (a typed `invalid_input` naming the option, never a raw
 * TypeError, never a sorter that would hold its whole input in memory).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExternalSorter, ReconcileError } from '../src/index.js';
import type { ExternalSorterOptions, RunCodec } from '../src/index.js';
import { revoked, throwingGetter } from './support/hostile-inputs.js';

type Item = { readonly id: string };
const key = (item: Item): string => item.id;

function expectRefusal(make: () => unknown, field: string): void {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ReconcileError);
  expect(thrown).toMatchObject({ code: 'invalid_input', field });
}

describe('ExternalSorter options', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'earnbook-sorter-options-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  const plainCodec: RunCodec<Item> = { encode: (item) => item, decode: (stored) => stored as Item };

  it('refuses each bad option naming it, and writes nothing into the folder it was given', () => {
    const cases: [Partial<Record<keyof ExternalSorterOptions<Item>, unknown>>, string][] = [
      [{ key: 'id' }, 'key'],
      [{ key: undefined }, 'key'],
      [{ key, runSize: Number.NaN }, 'runSize'],
      [{ key, runSize: 0 }, 'runSize'],
      [{ key, runSize: -5 }, 'runSize'],
      [{ key, runSize: 2.5 }, 'runSize'],
      [{ key, runSize: Number.POSITIVE_INFINITY }, 'runSize'],
      [{ key, runSize: '100' }, 'runSize'],
      [{ key, directory: 42 }, 'directory'],
      [{ key, directory: '' }, 'directory'],
      [{ key, directory: `${directory}/a\0b` }, 'directory'],
      [{ key, directoryField: 7 }, 'directoryField'],
      [{ key, codec: 'json' }, 'codec'],
      [{ key, codec: { decode: plainCodec.decode } }, 'codec.encode'],
      [{ key, codec: { encode: plainCodec.encode } }, 'codec.decode'],
      [{ key, codec: { ...plainCodec, encodeLine: 'yes', decodeLine: () => [] } }, 'codec.encodeLine'],
      [{ key, codec: { ...plainCodec, encodeLine: (items: readonly Item[]) => JSON.stringify(items) } }, 'codec'],
      [{ key, codec: { ...plainCodec, decodeLine: (line: string) => JSON.parse(line) as Item[] } }, 'codec'],
    ];
    for (const [options, field] of cases) {
      expectRefusal(() => new ExternalSorter<Item>({ directory, ...options } as unknown as ExternalSorterOptions<Item>), field);
    }
    expect(readdirSync(directory)).toEqual([]);
  });

  it('refuses options that cannot be read, naming the part, not a raw TypeError', () => {
    expectRefusal(() => new ExternalSorter<Item>(revoked({ key, directory })), 'options');
    expectRefusal(() => new ExternalSorter<Item>(throwingGetter({ key, directory }, 'runSize')), 'runSize');
    expectRefusal(() => new ExternalSorter<Item>({ key, directory, codec: revoked(plainCodec) }), 'codec');
    expectRefusal(() => new ExternalSorter<Item>({ key, directory, codec: throwingGetter(plainCodec, 'decode') }), 'codec.decode');
    expectRefusal(() => new ExternalSorter<Item>(null as unknown as ExternalSorterOptions<Item>), 'options');
    expect(readdirSync(directory)).toEqual([]);
  });

  it('calls a codec with state as a method, through the methods it had when the sorter was made', async () => {
    class CountingCodec implements RunCodec<Item> {
      lines = 0;
      encode(item: Item): unknown {
        return item;
      }
      decode(stored: unknown): Item {
        return stored as Item;
      }
      encodeLine(items: readonly Item[]): string {
        this.lines++;
        return JSON.stringify(items);
      }
      decodeLine(line: string): Item[] {
        return JSON.parse(line) as Item[];
      }
    }
    const codec = new CountingCodec();
    const sorter = new ExternalSorter<Item>({ key, directory, runSize: 2, codec });
    try {
      await sorter.addAll([{ id: 'c' }, { id: 'a' }, { id: 'b' }]);
      const sorted: string[] = [];
      for await (const item of sorter.sorted()) sorted.push(item.id);
      expect(sorted).toEqual(['a', 'b', 'c']);
      expect(codec.lines).toBe(2);
    } finally {
      await sorter.close();
    }
  });

  it("adopt refuses runs that are not a released sorter's, naming the part", async () => {
    const writer = new ExternalSorter<Item>({ key, directory, runSize: 1 });
    await writer.addAll([{ id: 'b' }, { id: 'a' }]);
    const released = await writer.release();
    try {
      const cases: [unknown, string][] = [
        [undefined, 'released'],
        [revoked(released), 'released'],
        [{ ...released, directory: 5 }, 'released.directory'],
        [{ ...released, runs: 'run-0.ndjson' }, 'released.runs'],
        [{ ...released, runs: [...released.runs, 7] }, 'released.runs[2]'],
        [{ ...released, runs: revoked([...released.runs]) }, 'released.runs'],
        [{ ...released, count: -1 }, 'released.count'],
        [{ ...released, count: Number.NaN }, 'released.count'],
      ];
      for (const [given, field] of cases) expectRefusal(() => ExternalSorter.adopt<Item>({ key, released: given as typeof released }), field);
      expectRefusal(() => ExternalSorter.adopt<Item>({ key: 'id' as unknown as typeof key, released }), 'key');
      expectRefusal(() => ExternalSorter.adopt<Item>(revoked({ key, released })), 'options');
      // The runs are still whole: a sorter that adopts them as released reads them.
      const adopted = ExternalSorter.adopt<Item>({ key, released });
      const sorted: string[] = [];
      for await (const item of adopted.sorted()) sorted.push(item.id);
      expect(sorted).toEqual(['a', 'b']);
      await adopted.close();
    } finally {
      await writer.close();
    }
  });
});

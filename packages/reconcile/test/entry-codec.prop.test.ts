/**
 * The report entries' run-file form: what the day's sorter writes and reads back is the entry
 * itself, keys in the same order (breaks store whole entries as JSON), whatever the entry holds.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExternalSorter, compareKeys } from '../src/index.js';
import { SHAPES_MAX, SHAPE_KEYS_MAX, reportEntryCodec } from '../src/entry-codec.js';

/** Through the codec and a run file's JSON, as the sorter does. */
function roundTrip<T extends object>(codec: ReturnType<typeof reportEntryCodec<T>>, entry: T): T {
  return codec.decode(JSON.parse(JSON.stringify(codec.encode(entry))));
}

/** Keys of every kind an entry may bring: the contract's, unknown ones, integer-like ones (ordered first by JS), `__proto__`. */
const entryKey = fc.oneof(
  fc.constantFrom('id', 'type', 'currency', 'amount', 'createdAt', 'accountId', 'bookingId', 'idempotencyKey', '__proto__', 'constructor', '0', '17', 'a"b', 'x\u2028y', ''),
  fc.string({ maxLength: 6 }),
);
/**
 * Strings that a run line's separated form must not take as they are: its separators (\x1e, \x1f),
 * a newline (a line's end), a lone surrogate (UTF-8 cannot carry it), and text that is not ASCII.
 */
const awkwardString = fc.constantFrom('a\x1fb', '\x1e', 'x\ny', '\r\n', '\ud800', 'z\udfff', '😀', 'é', '\u2028', '', '0', '[', '\\', '"');
const entryValue = fc.oneof({ weight: 5, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 2, arbitrary: awkwardString }, fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }));
/** An entry as JSON.parse makes it: own keys in text order, `__proto__` as an own key. */
const entry = fc.array(fc.tuple(entryKey, entryValue), { maxLength: 10 }).map((pairs) => JSON.parse(`{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`) as Record<string, unknown>);

describe('report entries in run files', () => {
  it('an entry comes back equal, keys in the same order, a plain object, whatever its keys and values', () => {
    const codec = reportEntryCodec<Record<string, unknown>>();
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
        for (const original of entries) {
          const back = roundTrip(codec, original);
          expect(JSON.stringify(back)).toBe(JSON.stringify(original));
          expect(Object.keys(back)).toEqual(Object.keys(original));
          expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
          expect(back).toEqual(original);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('stores a usual entry as its values only, and keeps the object form for a __proto__ key, a value that is no string, shapes past SHAPES_MAX and more than SHAPE_KEYS_MAX keys', () => {
    const codec = reportEntryCodec<Record<string, unknown>>();
    const usual = { id: 'e1', type: 'Deposit', currency: 'BTC', amount: '1.5', createdAt: '2025-03-18T10:00:00.000Z', accountId: 'a1' };
    expect(codec.encode(usual)).toEqual([0, 'e1', 'Deposit', 'BTC', '1.5', '2025-03-18T10:00:00.000Z', 'a1']);
    expect(codec.encode({ ...usual, amount: 1.5 })).toEqual([-1, { ...usual, amount: 1.5 }]);
    const proto = JSON.parse('{"id":"e2","__proto__":"x"}') as Record<string, unknown>;
    expect(codec.encode(proto)).toEqual([-1, proto]);
    expect(Object.getPrototypeOf(roundTrip(codec, proto))).toBe(Object.prototype);
    for (let shape = 1; shape < SHAPES_MAX; shape++) expect((codec.encode({ [`k${shape}`]: 'v' }) as unknown[])[0]).toBe(shape);
    const beyond = { beyond: 'v' };
    expect(codec.encode(beyond)).toEqual([-1, beyond]);
    expect(roundTrip(codec, beyond)).toEqual(beyond);
    // The shapes numbered before still encode as values.
    expect((codec.encode(usual) as unknown[])[0]).toBe(0);
    // An entry of very many keys keeps the object form (no code as long as its keys), and comes back equal.
    const wide = JSON.parse(`{${Array.from({ length: 100_000 }, (_, index) => `"k${index}":"v"`).join(',')}}`) as Record<string, unknown>;
    expect((reportEntryCodec<Record<string, unknown>>().encode(wide) as unknown[])[0]).toBe(-1);
    expect(JSON.stringify(roundTrip(reportEntryCodec<Record<string, unknown>>(), wide))).toBe(JSON.stringify(wide));
    const edge = Object.fromEntries(Array.from({ length: SHAPE_KEYS_MAX }, (_, index) => [`k${index}`, 'v']));
    expect((reportEntryCodec<Record<string, unknown>>().encode(edge) as unknown[])[0]).toBe(0);
    expect((reportEntryCodec<Record<string, unknown>>().encode({ ...edge, one: 'more' }) as unknown[])[0]).toBe(-1);
  });

  it('a run line comes back as the entries it holds, equal and in order, whatever they hold', () => {
    const codec = reportEntryCodec<Record<string, unknown>>();
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
        const line = codec.encodeLine(entries);
        expect(line.includes('\n')).toBe(false);
        // Through the bytes a run file holds, as the sorter writes and reads them.
        const back = codec.decodeLine(Buffer.from(line, 'utf8').toString('utf8'));
        expect(back.map((item) => JSON.stringify(item))).toEqual(entries.map((item) => JSON.stringify(item)));
        back.forEach((item, index) => {
          expect(Object.keys(item)).toEqual(Object.keys(entries[index] ?? {}));
          expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
          expect(item).toEqual(entries[index]);
        });
      }),
      { numRuns: 500 },
    );
  });

  it("writes a line of entries of string values as their values between separators, and JSON when a value could not be so", () => {
    const codec = reportEntryCodec<Record<string, unknown>>();
    const usual = { id: 'e1', type: 'Deposit', amount: '1.5' };
    expect(codec.encodeLine([usual, { ...usual, id: 'e2' }])).toBe('0\x1fe1\x1fDeposit\x1f1.5\x1e0\x1fe2\x1fDeposit\x1f1.5');
    expect(codec.encodeLine([])).toBe('[]');
    expect(codec.decodeLine('[]')).toEqual([]);
    expect(codec.encodeLine([{}])).toBe('1');
    expect(codec.decodeLine('1')).toEqual([{}]);
    for (const awkward of ['a\x1fb', '\x1e', 'x\ny', '\ud800', 'lone \udc00 low']) {
      const line = codec.encodeLine([usual, { ...usual, id: awkward }]);
      expect(line.startsWith('[')).toBe(true);
      expect(codec.decodeLine(line)).toEqual([usual, { ...usual, id: awkward }]);
    }
    // A value that is no string, or an entry of no numbered shape, keeps the line JSON.
    expect(codec.encodeLine([usual, { ...usual, amount: 1.5 }]).startsWith('[')).toBe(true);
    // Text that is not ASCII but well formed stays in the separated form.
    expect(codec.encodeLine([{ ...usual, id: 'é😀' }])).toBe('0\x1fé😀\x1fDeposit\x1f1.5');
    // A line this codec did not write is refused, not read as something else.
    expect(() => codec.decodeLine('9\x1fa')).toThrow(/shape 9/);
    expect(() => codec.decodeLine('0\x1fa\x1fb')).toThrow(/shape 0/);
  });

  it('a sorter with the codec writes the shorter form and sorts as one without it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-codec-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(entry, { maxLength: 400 }), fc.integer({ min: 1, max: 50 }), async (entries, runSize) => {
          const key = (item: Record<string, unknown>) => String(item['id'] ?? '');
          const plain = new ExternalSorter<Record<string, unknown>>({ key, runSize, directory });
          const coded = new ExternalSorter<Record<string, unknown>>({ key, runSize, directory, codec: reportEntryCodec() });
          try {
            for (const item of entries) {
              await plain.add(item);
              await coded.add(item);
            }
            const read = async (sorter: ExternalSorter<Record<string, unknown>>) => {
              const items: string[] = [];
              for await (const item of sorter.sorted()) items.push(JSON.stringify(item));
              return items;
            };
            const expected = entries.map((item, at) => ({ item, at })).sort((a, b) => compareKeys(key(a.item), key(b.item)) || a.at - b.at).map(({ item }) => JSON.stringify(item));
            expect(await read(coded)).toEqual(expected);
            expect(await read(plain)).toEqual(expected);
          } finally {
            await plain.close();
            await coded.close();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('the run files of a report-like day are smaller with the codec', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'earnbook-codec-size-'));
    const bytesOf = (path: string) => readdirSync(path, { recursive: true, withFileTypes: true }).filter((item) => item.isFile()).reduce((sum, item) => sum + readFileSync(join(item.parentPath, item.name)).length, 0);
    try {
      const sizes: number[] = [];
      for (const codec of [undefined, reportEntryCodec<Record<string, unknown>>()]) {
        const sub = mkdtempSync(join(directory, 'sorter-'));
        const sorter = new ExternalSorter<Record<string, unknown>>({ key: (item) => String(item['id']), runSize: 100, directory: sub, ...(codec === undefined ? {} : { codec }) });
        for (let index = 0; index < 1_000; index++) {
          await sorter.add({ id: `id-${(index * 7919) % 1000}`, type: 'Deposit', currency: 'BTC', amount: `${index}.000000000000000000`, createdAt: '2025-03-18T10:00:00.000Z', accountId: `a${index}`, bookingId: `b${index}` });
        }
        const items = [];
        for await (const item of sorter.sorted()) items.push(item);
        expect(items).toHaveLength(1_000);
        sizes.push(bytesOf(sub));
        await sorter.close();
      }
      expect(sizes[1]).toBeLessThan((sizes[0] ?? 0) * 0.75);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

/**
 * `Head` walks a sorted stream read in batches: `skipBelow` moves past the keys that sort before
 * a key, `take` collects a key's items; each returns a promise only when it has to read the next
 * batch, so a walk awaits per batch, not per item.
 */
import { describe, expect, it } from 'vitest';
import { Head } from '../src/key-groups.js';

async function* batches(keys: readonly string[], size: number): AsyncGenerator<string[]> {
  for (let start = 0; start < keys.length; start += size) yield keys.slice(start, start + size);
}

describe('Head', () => {
  const keys = ['a', 'b', 'b', 'c', 'e', 'e', 'e', 'f'];

  it.each([1, 2, 3, 8])('skips below a key and takes its items across batches of %i', async (size) => {
    const head = new Head(batches(keys, size), (key: string) => key);
    await head.next();
    await head.skipBelow('b');
    const bs: string[] = [];
    await head.take('b', bs);
    expect(bs).toEqual(['b', 'b']);
    // A key the stream lacks: the head stops at the first key after it.
    await head.skipBelow('d');
    expect(head.key).toBe('e');
    const none: string[] = [];
    await head.take('d', none);
    expect(none).toEqual([]);
    // Past every key: the stream ends.
    await head.skipBelow('z');
    expect(head.key).toBeUndefined();
  });

  it('answers no promise while the batch holds the next key', async () => {
    const head = new Head(batches(keys, 8), (key: string) => key);
    await head.next();
    expect(head.skipBelow('e')).toBeUndefined();
    expect(head.key).toBe('e');
    // The last item passed: the next batch must be read.
    expect(head.skipBelow('g')).toBeInstanceOf(Promise);
  });
});

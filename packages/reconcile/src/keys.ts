/**
 * The one order in which the reconciler merges streams: code point order of the keys (the same
 * as UTF-8 byte order, which is how the ledger reads provider ids: SQLite's BINARY collation,
 * PostgreSQL's `COLLATE "C"`). JavaScript's `<` compares UTF-16 code units, which differs for
 * characters above U+FFFF against U+E000–U+FFFF.
 */

/** Maps a UTF-16 code unit so that code units compare like the code points they belong to. */
function rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Compares two keys in code point order: negative, zero or positive.
 *
 * @example compareKeys('\uFF5E', '\u{1F600}') < 0 // although '\uFF5E' > '\u{1F600}' in UTF-16
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** A code unit at or above U+D800: where code unit order and code point order may part. */
const UNIT_AT_OR_ABOVE_D800 = /[\uD800-\uFFFF]/;

/**
 * Whether a key holds only code units below U+D800. Two such keys compare in code point order by
 * JavaScript's own `<` (native, and it stops at the first difference the same way): the sorts test
 * each key once and then compare plain keys natively. Sorting 1M of the sync's keys (kind, ledger
 * account id, provider id) in runs of 25,000: 5.7-6.8 s with {@link compareKeys}, 2.6-3.5 s so.
 */
export function isPlainKey(key: string): boolean {
  return !UNIT_AT_OR_ABOVE_D800.test(key);
}

/** {@link compareKeys} for keys whose {@link isPlainKey} is known. */
export function compareKnownKeys(a: string, aPlain: boolean, b: string, bPlain: boolean): number {
  if (aPlain && bPlain) return a < b ? -1 : a > b ? 1 : 0;
  return compareKeys(a, b);
}

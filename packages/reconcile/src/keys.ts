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

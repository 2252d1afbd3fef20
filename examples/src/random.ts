/** A small seeded PRNG (mulberry32) so that every demo run with the same seed is identical. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random decimal amount string with `decimals` places between 0 and `wholeMax` (exclusive). */
export function randomAmount(random: () => number, wholeMax: number, decimals: number): string {
  const whole = Math.floor(random() * wholeMax);
  const fraction = Array.from({ length: decimals }, () => Math.floor(random() * 10)).join('');
  return decimals === 0 ? String(whole) : `${whole}.${fraction}`;
}

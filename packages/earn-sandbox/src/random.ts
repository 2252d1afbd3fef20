/**
 * A small seeded pseudo-random generator, so that a sandbox started with the same seed makes the
 * same ids and the same fault decisions for the same sequence of requests.
 */

/**
 * mulberry32, the one seeded generator of the packages above the ledger (the sandbox and the
 * examples): the same seed gives the same sequence of numbers in [0, 1). Not for secrets.
 *
 * @example
 * const next = seededRandom(7);
 * next(); // the same number for every run with seed 7
 */
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

/**
 * {@link seededRandom} with a mixed seed: 32-bit state, good enough spread for ids and fault
 * draws (not for secrets; tokens and client secrets come from `node:crypto`).
 *
 * @example
 * const random = new SeededRandom(42);
 * random.next(); // a number in [0, 1), the same for every run with seed 42
 */
export class SeededRandom {
  readonly #next: () => number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${String(seed)}`);
    // Mixing the seed once keeps small seeds (0, 1, 2) from starting in similar states.
    this.#next = seededRandom((seed ^ 0x9e3779b9) >>> 0);
  }

  /** The next number in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** Whether an event of probability `rate` (0..1) happens on this draw; 0 never draws. */
  chance(rate: number): boolean {
    if (rate <= 0) return false;
    return this.next() < rate;
  }

  /** A version-4 layout UUID from the generator. */
  uuid(): string {
    const bytes = new Uint8Array(16);
    for (let index = 0; index < 16; index += 4) {
      const word = Math.floor(this.next() * 4294967296);
      bytes[index] = word & 0xff;
      bytes[index + 1] = (word >>> 8) & 0xff;
      bytes[index + 2] = (word >>> 16) & 0xff;
      bytes[index + 3] = (word >>> 24) & 0xff;
    }
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
    const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }
}

/**
 * Bounded concurrency that keeps the order of work per key: calls of one end user run one after
 * the other (so a withdrawal sees the deposit before it, and a run is deterministic), calls of
 * different end users overlap, at most `concurrencyMax` at a time.
 */

/** Options of {@link KeyedQueue}. */
export interface KeyedQueueOptions {
  /** Tasks running at once, 1..256. */
  readonly concurrencyMax: number;
}

/** See the module comment. `drain()` waits for every task and rethrows the first failure. */
export class KeyedQueue {
  readonly #concurrencyMax: number;
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waiting: (() => void)[] = [];
  readonly #all = new Set<Promise<void>>();
  #running = 0;
  #failure: { error: unknown } | undefined;

  constructor(options: KeyedQueueOptions) {
    if (!Number.isInteger(options.concurrencyMax) || options.concurrencyMax < 1 || options.concurrencyMax > 256) {
      throw new RangeError(`concurrencyMax must be an integer from 1 to 256, got ${String(options.concurrencyMax)}`);
    }
    this.#concurrencyMax = options.concurrencyMax;
  }

  async #slot(): Promise<void> {
    if (this.#running < this.#concurrencyMax) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#running--;
    else next();
  }

  /** Queues `work` after the earlier work of `key`. */
  push(key: string, work: () => Promise<void>): void {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const task = previous.then(async () => {
      if (this.#failure !== undefined) return;
      await this.#slot();
      try {
        await work();
      } catch (error) {
        this.#failure ??= { error };
      } finally {
        this.#release();
      }
    });
    this.#tails.set(key, task);
    this.#all.add(task);
    void task.finally(() => {
      this.#all.delete(task);
      if (this.#tails.get(key) === task) this.#tails.delete(key);
    });
  }

  /** Waits until every queued task is done; throws the first error a task threw. */
  async drain(): Promise<void> {
    while (this.#all.size > 0) await Promise.all([...this.#all]);
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure.error;
  }
}

/**
 * The time limits of one kind of call, each with the name of the option that sets it, so that a
 * `timeout` names the limit that ended the attempt: API calls use `timeoutMs` and
 * `retryTotalMsMax`; report downloads use `downloadTimeoutMs`, `downloadRetryTotalMsMax` and
 * `downloadIdleTimeoutMs`.
 */
export interface TimeLimits {
  /** Time limit of one attempt, headers and whole body included. */
  readonly attemptMs: number;
  /** The option that sets {@link attemptMs}. */
  readonly attemptName: string;
  /** Time budget of the call over all its attempts and delays. */
  readonly totalMs: number;
  /** The option that sets {@link totalMs}. */
  readonly totalName: string;
  /** Time an attempt may go without receiving anything (headers or a byte of the body); none when absent. */
  readonly idleMs?: number;
  /** The option that sets {@link idleMs}. */
  readonly idleName?: string;
}

/**
 * The clock of one attempt: a signal that aborts when the caller aborts, when the attempt's time
 * limit (the smaller of the per-attempt limit and what is left of the call's budget) runs out, or
 * when nothing was received for the idle limit. {@link progress} restarts the idle limit; call
 * {@link stop} when the attempt ends.
 */
export class AttemptClock {
  /** Aborts on the caller's signal or on any limit of this attempt. */
  readonly signal: AbortSignal;
  readonly #limits: TimeLimits;
  readonly #timeoutMs: number;
  readonly #timeout: AbortSignal;
  readonly #idle: AbortController | undefined;
  readonly #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: { readonly limits: TimeLimits; readonly remainingMs: number; readonly signal: AbortSignal | undefined }) {
    const { limits } = options;
    this.#limits = limits;
    this.#timeoutMs = Math.min(limits.attemptMs, Math.max(1, options.remainingMs));
    this.#timeout = AbortSignal.timeout(this.#timeoutMs);
    const signals = [this.#timeout];
    if (limits.idleMs !== undefined) {
      const idle = new AbortController();
      const idleMs = limits.idleMs;
      this.#idle = idle;
      // Like AbortSignal.timeout, the timer alone does not keep the process alive.
      this.#idleTimer = setTimeout(() => idle.abort(new DOMException(`nothing received for ${idleMs} ms`, 'TimeoutError')), idleMs).unref();
      signals.push(idle.signal);
    }
    if (options.signal !== undefined) signals.push(options.signal);
    this.signal = signals.length === 1 ? this.#timeout : AbortSignal.any(signals);
  }

  /** Something arrived (headers or a chunk of the body): the idle limit starts again. */
  progress(): void {
    this.#idleTimer?.refresh();
  }

  /** The attempt ended; the idle limit no longer runs. */
  stop(): void {
    clearTimeout(this.#idleTimer);
  }

  /**
   * When a time limit of this attempt (not the caller) ended it, the reason naming that limit's
   * option, e.g. `no complete answer within 600000 ms (downloadTimeoutMs)`; otherwise `undefined`.
   */
  expired(): string | undefined {
    const limits = this.#limits;
    if (this.#idle?.signal.aborted === true) return `nothing received for ${limits.idleMs} ms (${limits.idleName ?? 'idle limit'})`;
    if (!this.#timeout.aborted) return undefined;
    const name = this.#timeoutMs < limits.attemptMs ? `what was left of ${limits.totalName}` : limits.attemptName;
    return `no complete answer within ${this.#timeoutMs} ms (${name})`;
  }
}

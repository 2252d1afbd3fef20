import { EarnApiError, sanitizeCause } from './errors.js';

/** The `aborted` error for a caller's signal. */
export function abortedError(signal: AbortSignal, operation: string): EarnApiError {
  return new EarnApiError('aborted', `${operation}: aborted by the caller`, { operation, cause: sanitizeCause(signal.reason, []) });
}

/**
 * Waits for `promise`, or rejects with `onAbort()` as soon as `signal` aborts (at once when it has
 * already). A later rejection of `promise` is handled, not left unhandled.
 */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, onAbortError: () => unknown): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(onAbortError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(onAbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Waits for `promise`, or rejects with `aborted` as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, operation: string): Promise<T> {
  if (signal === undefined) return promise;
  return raceSignal(promise, signal, () => abortedError(signal, operation));
}

/** Sleeps `delayMs`, or rejects with `aborted` as soon as `signal` aborts. */
export function sleep(delayMs: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(abortedError(signal, operation));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal as AbortSignal, operation));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for `promise`, or rejects with `signal.reason` as soon as `signal` aborts, for a wait
 * that must end at its time limit even when the work ignores the signal (a `fetch` that never
 * settles). A later rejection of `promise` is handled, not left unhandled.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return raceSignal(promise, signal, () => signal.reason as Error);
}

/**
 * `fetch(input, init)` that ends when `signal` aborts even if the `fetch` ignores it (a custom
 * `fetch` that never passes the signal on): rejects with `signal.reason`. An answer that arrives
 * after the abort has its body cancelled, so that its connection is not left open.
 */
export async function fetchUntilAborted(request: {
  readonly fetch: typeof globalThis.fetch;
  readonly input: URL;
  readonly init: RequestInit;
  readonly signal: AbortSignal;
}): Promise<Response> {
  const pending = request.fetch(request.input, request.init);
  try {
    return await untilAborted(pending, request.signal);
  } catch (error) {
    if (request.signal.aborted) {
      pending.then(
        (late) => void late.body?.cancel().catch(() => undefined),
        () => undefined,
      );
    }
    throw error;
  }
}

/**
 * The next chunk of a body, or `signal.reason` as soon as `signal` aborts, even when the stream
 * ignores it (the body of a `fetch` that never passed the signal on). The caller cancels the
 * reader when this rejects.
 */
export function readUntilAborted(reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal | undefined): ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> {
  const read = reader.read();
  return signal === undefined ? read : untilAborted(read, signal);
}

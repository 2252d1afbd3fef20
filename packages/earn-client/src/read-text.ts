import { readUntilAborted } from './abort.js';
import { EarnApiError, sanitizeCause } from './errors.js';

/**
 * Reads a response body as text, failing with `limit_exceeded` beyond `bytesMax`. A success body
 * must be valid UTF-8, else `invalid_response`: a lenient decoder would turn each invalid
 * sequence into U+FFFD, so two different ids could arrive as one. An error body is decoded
 * leniently: it only feeds the error's message and code, and its status must stand.
 */
export async function readText(request: {
  readonly response: Response;
  readonly bytesMax: number;
  readonly operation: string;
  readonly requestId: string | undefined;
  /** Called on every chunk received (a report download restarts its idle limit). */
  readonly onChunk?: () => void;
  /**
   * The attempt's signal: a read waiting when it aborts ends with its reason, even when the body
   * ignores it (the body of a custom `fetch` that never passed the signal on).
   */
  readonly signal?: AbortSignal;
}): Promise<string> {
  const { response, bytesMax, operation } = request;
  await refuseDeclaredLength(response, bytesMax, operation);
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder('utf-8', { fatal: response.ok });
  const notUtf8 = (cause: unknown): EarnApiError =>
    new EarnApiError('invalid_response', `${operation}: the ${response.status} body is not valid UTF-8`, {
      operation,
      status: response.status,
      path: '(root)',
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      cause: sanitizeCause(cause, []),
    });
  let text = '';
  let bytes = 0;
  for (;;) {
    let read: Awaited<ReturnType<typeof reader.read>>;
    try {
      read = await readUntilAborted(reader, request.signal);
    } catch (error) {
      void reader.cancel().catch(() => undefined);
      throw error;
    }
    const { done, value } = read;
    if (done) break;
    request.onChunk?.();
    bytes += value.byteLength;
    if (bytes > bytesMax) {
      await reader.cancel().catch(() => undefined);
      throw new EarnApiError('limit_exceeded', `${operation}: response exceeds the limit of ${bytesMax} bytes`, { operation, status: response.status });
    }
    try {
      text += decoder.decode(value, { stream: true });
    } catch (error) {
      await reader.cancel().catch(() => undefined);
      throw notUtf8(error);
    }
  }
  try {
    return text + decoder.decode();
  } catch (error) {
    // A body that ends inside a multi-byte sequence.
    throw notUtf8(error);
  }
}

/**
 * Refuses (`limit_exceeded`, the body cancelled) a response whose `content-length` says more than
 * `bytesMax`, before any of it is read; a body without one is counted as it streams.
 */
export async function refuseDeclaredLength(response: Response, bytesMax: number, operation: string): Promise<void> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > bytesMax) {
    await response.body?.cancel().catch(() => undefined);
    throw new EarnApiError('limit_exceeded', `${operation}: response of ${declared} bytes exceeds the limit of ${bytesMax}`, { operation, status: response.status });
  }
}

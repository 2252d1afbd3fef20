import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readUntilAborted } from './abort.js';
import { CredentialScanner } from './credential-scan.js';
import { JsonObjectFraming } from './download-checks.js';
import { EarnApiError, sanitizeCause } from './errors.js';
import { refuseDeclaredLength } from './read-text.js';
import { credentialInBody } from './redaction.js';

/**
 * Writes a success body to `path` as its bytes arrive, never holding it whole, within `bytesMax`.
 * The bytes go to a sibling temporary file renamed onto `path` at the end, so `path` holds a
 * whole body or what it held before; the temporary file is removed on any failure. A body that
 * carries a credential of the client (JSON escapes decoded) is refused whole, as a parsed body
 * is. Returns the number of bytes written. The bytes are not parsed here: whoever reads the file
 * validates it (reconcile's `openReportFile` checks every entry and the UTF-8 as it streams).
 */
export async function writeBodyToFile(request: {
  readonly response: Response;
  readonly path: string;
  readonly bytesMax: number;
  readonly operation: string;
  readonly requestId: string | undefined;
  readonly secrets: readonly string[];
  /** Called on every chunk received (restarts the idle limit). */
  readonly onChunk: () => void;
  /**
   * The attempt's signal: a read waiting when it aborts ends with its reason even when the body
   * ignores it, and the temporary file is closed and removed before this rejects.
   */
  readonly signal: AbortSignal;
}): Promise<number> {
  const { response, bytesMax, operation } = request;
  await refuseDeclaredLength(response, bytesMax, operation);
  const temporary = join(dirname(request.path), `${partialPrefix(request.path)}${randomUUID()}${PARTIAL_SUFFIX}`);
  let file: FileHandle;
  try {
    file = await open(temporary, 'wx', 0o600);
  } catch (cause) {
    await response.body?.cancel().catch(() => undefined);
    throw cannotWrite(request, cause);
  }
  const reader = response.body?.getReader();
  const scanner = new CredentialScanner(request.secrets);
  const framing = new JsonObjectFraming();
  let bytes = 0;
  let done = false;
  try {
    for (;;) {
      const read = reader === undefined ? { done: true as const, value: undefined } : await readUntilAborted(reader, request.signal);
      if (read.done) break;
      request.onChunk();
      bytes += read.value.byteLength;
      if (bytes > bytesMax) throw new EarnApiError('limit_exceeded', `${operation}: response exceeds the limit of ${bytesMax} bytes`, { operation, status: response.status });
      const chunk = Buffer.from(read.value.buffer, read.value.byteOffset, read.value.byteLength);
      if (!framing.push(chunk)) throw notJsonObject(request);
      scanner.push(chunk);
      await writeAll(file, chunk).catch((cause: unknown) => {
        throw cannotWrite(request, cause);
      });
    }
    scanner.end();
    if (scanner.found) throw credentialInBody(operation, response.status, request.requestId);
    if (!framing.whole()) throw notJsonObject(request);
    // A full disk may surface only here: the caller's side too, never a network error to retry.
    await file.sync().catch((cause: unknown) => {
      throw cannotWrite(request, cause);
    });
    await file.close().catch((cause: unknown) => {
      throw cannotWrite(request, cause);
    });
    await rename(temporary, request.path).catch((cause: unknown) => {
      throw cannotWrite(request, cause);
    });
    done = true;
    return bytes;
  } finally {
    if (!done) {
      // Not awaited: a body that ignores the abort may never settle its cancel, and the file must
      // be closed and removed before the failure reaches the caller.
      void reader?.cancel().catch(() => undefined);
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
    }
  }
}

const PARTIAL_SUFFIX = '.partial';

/** The start of the name of a body being written to `path` (the temporary file beside it). */
function partialPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/**
 * The temporary files of downloads to `path` still being written, or left by a process that was
 * killed while writing: for a caller that must remove them synchronously on its way out (a signal
 * handler). An unreadable folder has none.
 */
export function partialDownloadsOf(path: string): string[] {
  const prefix = partialPrefix(path);
  try {
    return readdirSync(dirname(path))
      .filter((name) => name.startsWith(prefix) && name.endsWith(PARTIAL_SUFFIX))
      .map((name) => join(dirname(path), name));
  } catch {
    return [];
  }
}

/** Writes the whole chunk (a write may take fewer bytes than given). */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let written = 0;
  while (written < chunk.length) {
    const { bytesWritten } = await file.write(chunk, written, chunk.length - written);
    if (bytesWritten <= 0) throw new Error(`wrote no byte of ${chunk.length - written}`);
    written += bytesWritten;
  }
}

/** A body that is not one JSON object (an HTML page, nothing, a cut body): what downloadReport's parse refuses. */
function notJsonObject(request: { readonly response: Response; readonly operation: string; readonly requestId: string | undefined }): EarnApiError {
  const { operation, response, requestId } = request;
  return new EarnApiError('invalid_response', `${operation}: the ${response.status} body is not a JSON object`, {
    operation,
    status: response.status,
    path: '(root)',
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** A local write failure: the caller's problem, not the provider's, so never retried. */
function cannotWrite(request: { readonly path: string; readonly operation: string }, cause: unknown): EarnApiError {
  return new EarnApiError('invalid_input', `${request.operation}: cannot write the report to ${request.path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
    operation: request.operation,
    path: 'path',
    field: 'path',
    cause: sanitizeCause(cause, []),
  });
}

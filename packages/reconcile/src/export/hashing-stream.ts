/**
 * The byte end of every export: a transform that hashes exactly the bytes that go to the output
 * (SHA-256), counts them, and gathers small writes into larger chunks so that the destination
 * (usually a file) sees a few hundred writes instead of one per row.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback, Writable } from 'node:stream';

/** Bytes gathered before a chunk is passed on. */
export const EXPORT_CHUNK_BYTES = 64 * 1024;

/** What an export wrote: its size and digest. */
export interface WrittenBytes {
  /** Bytes written, BOM included. */
  readonly bytes: number;
  /** SHA-256 of those bytes, lower-case hex. */
  readonly sha256: string;
}

/** Hashes, counts and gathers the bytes passing through. Read {@link written} after it ends. */
export class HashingStream extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #digest: string | undefined;

  constructor() {
    super({ readableHighWaterMark: EXPORT_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.#pending.push(buffer);
    this.#pendingBytes += buffer.length;
    if (this.#pendingBytes >= EXPORT_CHUNK_BYTES) this.#passOn();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pendingBytes > 0) this.#passOn();
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  #passOn(): void {
    const chunk = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    this.push(chunk);
  }

  /** Size and digest; only after the stream has flushed. */
  written(): WrittenBytes {
    if (this.#digest === undefined) throw new Error('HashingStream.written() called before the stream ended');
    return { bytes: this.#bytes, sha256: this.#digest };
  }
}

/**
 * Resolves when a writable (or the writable side of a transform) can take more, and rejects when
 * it fails or closes first. Listeners are removed either way, so waiting a million times keeps
 * no garbage.
 */
export function waitForDrain(stream: Writable): Promise<void> {
  if (stream.destroyed) return Promise.reject(stream.errored ?? new Error('the export stream was closed'));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(stream.errored ?? new Error('the export stream was closed'));
    };
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

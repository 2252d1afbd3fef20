/**
 * Reading a file the user names (`--config`) with a bound on its bytes, whatever the file is: a
 * regular file, a device (`/dev/zero`), or a FIFO (`--config <(generate-config)`).
 */
import { close, constants, fstat, open, read } from 'node:fs';
import { Socket } from 'node:net';
import { ReadStream, isatty } from 'node:tty';
import { promisify } from 'node:util';

const openFile = promisify(open);
const closeFile = promisify(close);
const statFile = promisify(fstat);
const readFile = promisify(read);

/**
 * The bytes of `file`, or `undefined` when it holds more than `bytesMax`: at most `bytesMax + 1`
 * are read. `stat` says 0 for a FIFO or a device, so the bound is kept on what is read, not only
 * on the size the file declares.
 *
 * The file is opened without blocking: a FIFO that no writer has opened yet would otherwise block
 * `open()` on one of Node's worker threads until one does, and a process cannot exit while a
 * worker thread is blocked, so a SIGTERM or Ctrl-C meanwhile could not end the run. A FIFO is
 * then read through the event loop, which waits for its writer without holding a thread. So is a
 * terminal (`--config /dev/stdin` typed at a prompt, up to Ctrl-D): opened without blocking, a
 * plain read of it answers EAGAIN at once while nothing is typed yet.
 */
export async function readFileAtMost(file: string, bytesMax: number): Promise<Buffer | undefined> {
  const fd = await openFile(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  let isFifo: boolean;
  try {
    isFifo = (await statFile(fd)).isFIFO();
  } catch (error) {
    await closeFile(fd);
    throw error;
  }
  // The socket (or the terminal's stream) owns the descriptor from here and closes it when it ends.
  if (isFifo) return readPipeAtMost(new Socket({ fd, readable: true, writable: false }), bytesMax);
  if (isatty(fd)) return readPipeAtMost(new ReadStream(fd), bytesMax);
  try {
    const buffer = Buffer.alloc(bytesMax + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await readFile(fd, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return length > bytesMax ? undefined : buffer.subarray(0, length);
  } finally {
    await closeFile(fd);
  }
}

/** The bytes a pipe (or a terminal) delivers until its writer closes it (Ctrl-D on a terminal), or `undefined` past `bytesMax` (read no further). */
function readPipeAtMost(socket: Socket | ReadStream, bytesMax: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length > bytesMax) {
        socket.destroy();
        resolve(undefined);
      }
    });
    socket.once('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks, length));
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

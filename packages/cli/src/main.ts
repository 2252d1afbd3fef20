#!/usr/bin/env node
/**
 * The process entry of `earnbook` (the package's `bin` when installed; `bin/earnbook.mjs` runs it through tsx in the workspace): runs the CLI on the
 * process's arguments and streams and sets the exit code, letting pending output drain.
 */
import { processIo } from './cli-io.js';
import { run } from './run.js';

// A reader that goes away (`earnbook … | head`) must not crash a run that may be writing the
// books: further output is dropped, the command finishes, and its exit code stands.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await run(process.argv.slice(2), processIo());

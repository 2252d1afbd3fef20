#!/usr/bin/env node
/**
 * The process entry of `earnbook` (the package's `bin` when installed; `bin/earnbook.mjs` runs it through tsx in the workspace): runs the CLI on the
 * process's arguments and streams and sets the exit code, letting pending output drain.
 *
 * Exit code 1 means "breaks found", so no failure may end the process with Node's own code 1: an
 * output stream that fails, an uncaught exception and an unhandled rejection all end with
 * {@link EXIT_ERROR}, with a line on stderr.
 */
import { processIo } from './cli-io.js';
import { EXIT_ERROR } from './exit-codes.js';
import { run } from './run.js';
import { singleLine, stackFrames } from './terminal-text.js';
import { removeTemporaryFiles } from './temporary-files.js';

/** Set once an output stream has failed (other than a reader going away). */
let outputFailed = false;

/** Writes one line on stderr if it still can; if it cannot, there is no one left to tell. */
function tell(message: string): void {
  try {
    process.stderr.write(`earnbook: ${message}\n`, () => undefined);
  } catch {
    // stderr itself is gone; the exit code still says what happened.
  }
}

/** The failure and its stack frames, control characters escaped: its message may come from anywhere. */
function describeCrash(error: unknown): string {
  if (!(error instanceof Error)) return singleLine(String(error));
  const head = singleLine(`${error.name}: ${error.message}`);
  if (error.stack === undefined) return head;
  return `${head}\n${stackFrames(error) ?? singleLine(error.stack)}`;
}

/** An uncaught failure: the run's state is unknown, so the process ends now, with the failure code. */
function crash(kind: string, error: unknown): never {
  tell(`internal error (${kind}), exiting with code ${EXIT_ERROR}: ${describeCrash(error)}`);
  process.exit(EXIT_ERROR);
}

// A reader that goes away (`earnbook … | head`) must not crash a run that may be writing the
// books: further output is dropped, the command finishes, and its exit code stands. Any other
// failure of an output stream (a full disk, `> /dev/full`) is also not allowed to crash the run
// midway, but the output is incomplete, so the run ends with EXIT_ERROR whatever its own code.
for (const [name, stream] of [
  ['stdout', process.stdout],
  ['stderr', process.stderr],
] as const) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') return;
    // Set here as well as after the run: the error may be emitted after the run has returned.
    process.exitCode = EXIT_ERROR;
    if (outputFailed) return;
    outputFailed = true;
    if (name === 'stdout') tell(`cannot write to stdout (${error.code ?? error.message}): the output is incomplete; exiting with code ${EXIT_ERROR}`);
  });
}
// Interrupted (Ctrl-C, a scheduler stopping the job): the download in progress is removed, and
// the database rolls back what it had not committed when the connection closes. Exit 128 + the
// signal's number, as shells report it.
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
] as const) {
  process.once(signal, () => {
    removeTemporaryFiles();
    tell(`interrupted by ${signal}: the run stopped; nothing it had not committed is kept`);
    process.exit(128 + number);
  });
}
process.on('uncaughtException', (error) => crash('uncaught exception', error));
process.on('unhandledRejection', (reason) => crash('unhandled rejection', reason));

let code: number;
try {
  code = await run(process.argv.slice(2), processIo());
} catch (error) {
  crash('run failed', error);
}
process.exitCode = outputFailed ? EXIT_ERROR : code;

/**
 * What a command reads from and writes to, injected so that tests run the CLI in-process: the two
 * output streams, the environment, the working directory and the clock.
 */

/** An output stream: `process.stdout` / `process.stderr`, or any writable in tests. */
export type CliOutput = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };

/** The world a command runs in. */
export interface CliIo {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  /** Environment variables (client secrets are read from here, by the name the config gives). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths are resolved against. */
  readonly cwd: string;
  /** Clock for the summaries' `generatedAt`; default the system clock. */
  readonly now?: () => Date;
}

/** The process's own streams, environment and directory. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/**
 * The demo's progress: a bar (cli-progress, on stderr) when both stdout and stderr are terminals,
 * plain lines otherwise (CI logs, pipes, tests).
 */
import cliProgress from 'cli-progress';

/** A progress display of `total` steps. */
export interface DemoProgress {
  /** Moves to step `value` with a short phase text. */
  update(value: number, phase: string): void;
  /** A line worth keeping (printed above the bar, or as a plain line). */
  note(line: string): void;
  stop(): void;
}

/** Options of {@link demoProgress}. */
export interface DemoProgressOptions {
  readonly total: number;
  /** Draw a bar (only when the output is a terminal). */
  readonly bar: boolean;
  /** Plain-line output. */
  readonly log: (line: string) => void;
}

/** A bar or plain lines, see the module comment. */
export function demoProgress(options: DemoProgressOptions): DemoProgress {
  if (!options.bar) {
    return { update: () => {}, note: (line) => options.log(line), stop: () => {} };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'earnbook demo [{bar}] {value}/{total} {phase}', barsize: 30, hideCursor: true, clearOnComplete: true, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(options.total, 0, { phase: 'starting' });
  let stopped = false;
  return {
    update: (value, phase) => bar.update(value, { phase }),
    note: (line) => {
      // Keep noted lines: clear the bar's line, print, and let the bar redraw below.
      process.stderr.write('\r\x1b[2K');
      options.log(line);
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

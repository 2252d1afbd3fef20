/**
 * A stage-level progress bar on the terminal (cli-progress), drawn on stderr so that stdout keeps
 * only the summary. The bar advances per stage (load report, open books, reconcile, write
 * outputs); within a long stage, {@link StageProgress.rows} shows the rows handled so far (the
 * reconciler's report entries read, synced and diffed; an export's rows written). It is drawn only
 * when stdout and stderr are terminals and neither `--json` nor `--quiet` was given; otherwise
 * nothing is drawn.
 */
import cliProgress from 'cli-progress';
import type { CliIo } from './cli-io.js';

/** A progress display of named stages. */
export interface StageProgress {
  /** Marks the previous stage done and shows `name` as running. */
  stage(name: string): void;
  /** Shows the rows the running stage has handled so far, e.g. `sync: 120,000 rows`. */
  rows(label: string, rows: number): void;
  /** Finishes and clears the bar (call it on success and on failure). */
  stop(): void;
}

const SILENT: StageProgress = Object.freeze({ stage() {}, rows() {}, stop() {} });

/** Whether a command draws progress. */
export function progressEnabled(io: CliIo, flags: { json?: boolean | undefined; quiet?: boolean | undefined }): boolean {
  return io.stdout.isTTY === true && io.stderr.isTTY === true && flags.json !== true && flags.quiet !== true;
}

/** A bar over `stages` stages, or a silent one when disabled. */
export function stageProgress(input: { io: CliIo; enabled: boolean; title: string; stages: number }): StageProgress {
  if (!input.enabled) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream: input.io.stderr,
      format: `${input.title} [{bar}] {value}/{total} {stage}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = -1;
  let stopped = false;
  let current = '';
  return {
    stage(name: string) {
      if (stopped) return;
      done++;
      current = name;
      if (done === 0) bar.start(input.stages, 0, { stage: name });
      else bar.update(Math.min(done, input.stages), { stage: name });
    },
    rows(label: string, rows: number) {
      if (stopped || done < 0) return;
      bar.update(Math.min(done, input.stages), { stage: `${current}: ${label} ${rows.toLocaleString('en-US')} rows` });
    },
    stop() {
      if (stopped || done < 0) return;
      stopped = true;
      bar.update(input.stages, { stage: 'done' });
      bar.stop();
    },
  };
}

/** A progress display that counts rows as they are written. */
export interface RowProgress {
  /** Shows `rows` written so far, and what is being written. */
  rows(rows: number, label: string): void;
  /** Finishes and clears the display. */
  stop(): void;
}

/**
 * A display that advances by rows (long exports): the total is not known in advance, so it shows
 * a running count with the file being written. Silent when disabled (no terminal, `--json`,
 * `--quiet`).
 */
export function rowProgress(input: { io: CliIo; enabled: boolean; title: string }): RowProgress {
  if (!input.enabled) return Object.freeze({ rows() {}, stop() {} });
  const bar = new cliProgress.SingleBar({ stream: input.io.stderr, format: `${input.title}: {rows} rows written {stage}`, hideCursor: true, clearOnComplete: true, fps: 10 }, cliProgress.Presets.shades_classic);
  let started = false;
  let stopped = false;
  return {
    rows(rows, label) {
      if (stopped) return;
      const payload = { rows: rows.toLocaleString('en-US'), stage: label };
      if (!started) {
        bar.start(1, 0, payload);
        started = true;
      } else bar.update(0, payload);
    },
    stop() {
      if (stopped || !started) return;
      stopped = true;
      bar.stop();
    },
  };
}

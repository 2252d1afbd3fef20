/**
 * `cli_help_ms`: how long `earnbook --help` takes from the built JavaScript (`dist/main.js`, what
 * an installed package runs), against `node -e 0` (Node's own start, the floor) measured in the
 * same run, alternating, median of each. Run after `pnpm build` (the root `pnpm bench` builds).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const RUNS = process.env['EARNBOOK_BENCH_SCALE'] === 'small' ? 5 : 21;
const TARGET_MS = 300;

function timeMs(args: readonly string[], expect: (stdout: string) => boolean): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [...args], { encoding: 'utf8' });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 || !expect(result.stdout)) throw new Error(`node ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return elapsed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Returns the printed line. */
export function runCliHelpBench(): string {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run pnpm build first`);
  const baseline: number[] = [];
  const help: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    baseline.push(timeMs(['-e', '0'], () => true));
    help.push(timeMs([MAIN, '--help'], (stdout) => stdout.startsWith('Usage: earnbook')));
  }
  const helpMs = median(help);
  const baseMs = median(baseline);
  return `cli_help_ms: ${helpMs.toFixed(0)} ms ratio=${(helpMs / baseMs).toFixed(2)} (node -e 0: ${baseMs.toFixed(0)} ms; medians of ${RUNS} alternating runs of dist/main.js --help; target < ${TARGET_MS} ms: ${helpMs < TARGET_MS ? 'met' : 'NOT met'})`;
}

console.log(runCliHelpBench());

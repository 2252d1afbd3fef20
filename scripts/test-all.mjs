#!/usr/bin/env node
// `pnpm test`: every test. The suite (`vitest run`, the arguments given here go to it) and the
// slow tests (`vitest run --config packages/reconcile/vitest.slow.config.ts`: reports of 1M and
// 2M entries, about two minutes, mostly in child processes) run side by side — vitest uses one
// worker on two cores, so inside the suite the slow files would add their whole time. The slow
// run's output is printed when it ends; the exit code is the first failure's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const vitest = (args, stdio) => spawn(process.execPath, [new URL('../node_modules/vitest/vitest.mjs', import.meta.url).pathname, 'run', ...args], { stdio, env: process.env });

const slow = vitest(['--config', 'packages/reconcile/vitest.slow.config.ts'], ['ignore', 'pipe', 'pipe']);
let slowOutput = '';
slow.stdout.setEncoding('utf8').on('data', (chunk) => (slowOutput += chunk));
slow.stderr.setEncoding('utf8').on('data', (chunk) => (slowOutput += chunk));
const slowDone = once(slow, 'close');

const [suiteCode] = await once(vitest(process.argv.slice(2), 'inherit'), 'close');
const [slowCode] = await slowDone;
process.stdout.write(`\n== slow tests (packages/reconcile/test/*.slow.ts): exit ${slowCode}\n${slowOutput}`);
process.exit(suiteCode !== 0 ? (suiteCode ?? 1) : (slowCode ?? 1));

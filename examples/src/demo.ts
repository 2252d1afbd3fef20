/**
 * `pnpm demo`: the main job, end to end. See `src/demo/main.ts` and `pnpm demo --help`.
 */
import { DEMO_USAGE, DemoUsageError, parseDemoArgs } from './demo/options.js';
import { runDemo } from './demo/main.js';
import { renderDemoText } from './demo/render.js';

try {
  const options = parseDemoArgs(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(DEMO_USAGE);
  } else {
    const result = await runDemo(options, { log: (line) => console.log(line), progressBar: process.stdout.isTTY === true && process.stderr.isTTY === true });
    for (const line of renderDemoText(result)) console.log(line);
    const open = result.figures.reduce((sum, figure) => sum + figure.breaksOpen, 0);
    const hledgerDisagrees = result.hledger.checked && result.hledger.mismatches.length > 0;
    process.exitCode = open > 0 || result.unexplainedBreaks > 0 || hledgerDisagrees ? 1 : 0;
  }
} catch (error) {
  if (error instanceof DemoUsageError) {
    console.error(`${error.message}\n\n${DEMO_USAGE}`);
    process.exitCode = 2;
  } else {
    console.error('earnbook demo failed:', error);
    process.exitCode = 2;
  }
}

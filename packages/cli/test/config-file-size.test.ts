/**
 * A configuration file of more than CONFIG_BYTES_MAX (1 MiB) is refused. The size was checked with `stat`
 * only, which says 0 for a FIFO (`--config <(generate-config)`) or a device (`/dev/zero`): such a
 * file was then read whole, without a bound (from `/dev/zero`, until memory ran out). The bound
 * holds on the bytes read, whatever the file is.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_BYTES_MAX, loadConfig } from '../src/index.js';
import { booksSnapshot, runCli, testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

let ws: Workspace;

beforeEach(async () => {
  ws = await workspace();
});

afterEach(async () => {
  await ws.remove();
});

/** A FIFO in the workspace that a writer fills with `text` once a reader opens it. */
function fifoWith(name: string, text: string): string {
  const path = join(ws.dir, name);
  execFileSync('mkfifo', [path]);
  const writer = createWriteStream(path);
  // A reader that stops at the bound closes its end: the writer's EPIPE is expected.
  writer.on('error', () => undefined);
  writer.end(text);
  return path;
}

describe('a configuration file that stat cannot measure (a FIFO)', () => {
  it('of more than CONFIG_BYTES_MAX bytes is invalid_config naming --config, read no further', async () => {
    // Valid JSON of more than the bound: only the bound can refuse it.
    const big = JSON.stringify({ ...testConfig(), $comment: 'x'.repeat(CONFIG_BYTES_MAX) });
    const path = fifoWith('big.fifo', big);
    const error = await loadConfig(path, ws.dir).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'CliError', code: 'invalid_config', field: '--config', value: path });
    expect((error as Error).message).toContain(`more than ${CONFIG_BYTES_MAX} bytes`);
  });

  it('of more than CONFIG_BYTES_MAX bytes ends the command with exit 2, the books untouched', async () => {
    const before = await booksSnapshot(ws.database);
    const big = JSON.stringify({ ...testConfig(), $comment: 'x'.repeat(CONFIG_BYTES_MAX) });
    const result = await runCli(['breaks', 'list', '--entity', 'defi', '--database', ws.database, '--config', fifoWith('big-run.fifo', big)], { cwd: ws.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: configuration file .*big-run\.fifo has more than 1048576 bytes \(code invalid_config, field --config\)\n$/);
    expect(await booksSnapshot(ws.database)).toBe(before);
  });

  it('within the bound is read as a file is', async () => {
    const config = await loadConfig(fifoWith('small.fifo', JSON.stringify(testConfig())), ws.dir);
    expect(config.entities?.map((entity) => entity.id)).toEqual(['defi', 'lending']);
  });
});

/**
 * The back-office script opens its books once at startup: it used to open them to read the
 * entities and zones they keep, close them, and open them again. Observed from outside on
 * SQLite, where the books keep a write-ahead log: the log file is created when the books are
 * opened and removed when the last connection closes, so a second open shows as the log being
 * created, removed and created again before the service listens.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPartnerBooks } from '../src/lib/partner-books.js';

const EXAMPLES = new URL('../', import.meta.url).pathname;
const RUN_TIMEOUT_MS = 60_000;
const directory = mkdtempSync(join(tmpdir(), 'earnbook-back-office-open-once-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * Runs the script on `database` until it listens, then stops it; answers how many times the
 * SQLite write-ahead log beside `database` appeared or went (a rename event each) meanwhile.
 */
async function walEventsUntilListening(database: string, folder: string): Promise<{ events: number; output: string; code: number | null }> {
  const name = `${database.slice(folder.length + 1)}-wal`;
  let events = 0;
  let listening = false;
  const watcher = watch(folder, (type, file) => {
    if (!listening && type === 'rename' && file === name) events += 1;
  });
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'back-office/src/main.ts', '--port', '0', '--database', database], { cwd: EXAMPLES });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += String(chunk);
        if (!listening && output.includes('back office listening on')) {
          listening = true;
          child.kill('SIGTERM');
        }
      });
      child.stderr.on('data', (chunk) => (output += String(chunk)));
      child.on('error', reject);
      child.on('close', (exit) => {
        clearTimeout(timer);
        resolve(exit);
      });
    });
    expect(listening, output).toBe(true);
    return { events, output, code };
  } finally {
    watcher.close();
  }
}

describe('the back-office script opens its books once', () => {
  it('existing books (kept in Europe/Berlin) are opened once before it listens: the write-ahead log is created once', async () => {
    const folder = mkdtempSync(join(directory, 'existing-'));
    const database = join(folder, 'books.sqlite');
    const created = await openPartnerBooks({ database, ifMissing: 'create', entities: [{ id: 'defi', timeZone: 'Europe/Berlin' }, { id: 'lending', timeZone: 'Europe/Berlin' }] });
    await created.close();
    const run = await walEventsUntilListening(database, folder);
    expect(run.output).toContain('books SQLite');
    expect(run.events, run.output).toBe(1);
    expect(run.code).toBe(0);
  });

  it('new books are opened once before it listens: the write-ahead log is created once', async () => {
    const folder = mkdtempSync(join(directory, 'new-'));
    const run = await walEventsUntilListening(join(folder, 'books.sqlite'), folder);
    expect(run.events, run.output).toBe(1);
    expect(run.code).toBe(0);
  });
});

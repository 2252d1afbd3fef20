/**
 * Downloads in progress, so that an interrupted run (Ctrl-C, a scheduler's SIGTERM) leaves none
 * behind: a fetched report is hundreds of MiB at 1M accounts, under a new hidden name each run.
 * `finally` blocks remove them on every other way out; a signal ends the process without running
 * them, so `main.ts` calls {@link removeTemporaryFiles} first. (SIGKILL cannot be caught.)
 */
import { rmSync } from 'node:fs';
import { partialDownloadsOf } from '@earnbook/earn-client';

const tracked = new Set<string>();

/** Remembers `path` until {@link releaseTemporaryFile} (once the file was renamed or removed). */
export function trackTemporaryFile(path: string): void {
  tracked.add(path);
}

/** Forgets `path`: it was renamed into place or removed. */
export function releaseTemporaryFile(path: string): void {
  tracked.delete(path);
}

/**
 * Removes every tracked file, and the Earn client's files of a body being written to it
 * (`partialDownloadsOf`, before it is renamed onto the tracked name). Synchronous: a signal handler
 * runs it just before the process exits. Never throws.
 */
export function removeTemporaryFiles(): void {
  for (const path of tracked) {
    try {
      for (const file of [path, ...partialDownloadsOf(path)]) rmSync(file, { force: true });
    } catch {
      // The folder may be gone or unreadable: nothing more can be done on the way out.
    }
  }
  tracked.clear();
}

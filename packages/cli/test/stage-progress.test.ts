import { describe, expect, it } from 'vitest';
import { stageProgress } from '../src/stage-progress.js';
import { Captured } from './fixtures.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('stage progress', () => {
  it('counts rows within a stage on a terminal (the reconciler reports read, sync and diff rows)', async () => {
    const stdout = new Captured({ tty: true });
    const stderr = new Captured({ tty: true });
    const progress = stageProgress({ io: { stdout, stderr, env: {}, cwd: '/' }, enabled: true, title: 'reconcile defi 2025-03-18', stages: 4 });
    progress.stage('reading the report');
    progress.stage('reconciling');
    progress.rows('sync', 120_000);
    await tick(250); // the bar redraws on its own timer (10 frames a second)
    expect(stderr.text).toContain('reconciling: sync 120,000 rows');
    progress.rows('diff', 1_000_000);
    await tick(250);
    expect(stderr.text).toContain('reconciling: diff 1,000,000 rows');
    progress.stop();
    expect(stdout.text).toBe('');
  });

  it('draws nothing when disabled', async () => {
    const stdout = new Captured({ tty: false });
    const stderr = new Captured({ tty: false });
    const progress = stageProgress({ io: { stdout, stderr, env: {}, cwd: '/' }, enabled: false, title: 'reconcile', stages: 2 });
    progress.stage('a');
    progress.rows('sync', 5);
    progress.stop();
    await tick(50);
    expect(stderr.text + stdout.text).toBe('');
  });
});

import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import { FakeEarnServer, json, trickle } from './support/fake-earn-server.js';
import { dailyReport, product } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;
let folder: string;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  folder = await mkdtemp(join(tmpdir(), 'earn-ignores-signal-'));
});

afterEach(async () => {
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

const reportPath = '/downloads/report.json';

/** A `fetch` that never passes the signal on: the request and its body ignore every abort. */
const deafFetch: typeof globalThis.fetch = async (input, init) => {
  const { signal: _ignored, ...rest } = init ?? {};
  return globalThis.fetch(input, rest);
};

/** A `fetch` whose answer to `pathname` never comes (nor fails). */
function hangingFetch(pathname: string): typeof globalThis.fetch {
  return async (input, init) => {
    if (new URL(String(input)).pathname === pathname) return new Promise<Response>(() => undefined);
    return globalThis.fetch(input, init);
  };
}

/** Open descriptors of this process that point into the test's folder (Linux `/proc`). */
async function openFilesInFolder(): Promise<string[]> {
  const descriptors = await readdir('/proc/self/fd').catch(() => [] as string[]);
  const targets = await Promise.all(descriptors.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith(folder));
}

async function elapsedMs<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const startedMs = Date.now();
  const value = await run();
  return { value, ms: Date.now() - startedMs };
}

describe('an API call through a fetch that ignores its signal ends at timeoutMs', () => {
  it('when the answer never comes', async () => {
    const client = new EarnClient(server.config({ fetch: hangingFetch('/v1/products'), timeoutMs: 100, attemptsMax: 1 }));
    const { value: error, ms } = await elapsedMs(() => failure(client.listProducts()));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET /v1/products: no complete answer within 100 ms (timeoutMs)');
    expect(ms).toBeLessThan(1000);
  });

  it('when the body stalls after its headers', async () => {
    server.on('GET', '/v1/products', trickle({ items: [product('p-1', 'BTC')] }, { chunks: 4, intervalMs: 5, stallAfterChunks: 1 }));
    const client = new EarnClient(server.config({ fetch: deafFetch, timeoutMs: 100, attemptsMax: 1 }));
    const { value: error, ms } = await elapsedMs(() => failure(client.listProducts()));
    expect(error.code).toBe('timeout');
    expect(ms).toBeLessThan(1000);
  });

  it('is retried like any timeout, and a later answer is used', async () => {
    let calls = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (new URL(String(input)).pathname === '/v1/products' && (calls += 1) === 1) return new Promise<Response>(() => undefined);
      return globalThis.fetch(input, init);
    };
    server.on('GET', '/v1/products', json(200, { items: [product('p-1', 'BTC')] }));
    const client = new EarnClient(server.config({ fetch, timeoutMs: 100, attemptsMax: 2 }));
    expect(await client.listProducts()).toHaveLength(1);
    expect(calls).toBe(2);
  });
});

describe('a report download through a fetch that ignores its signal ends at its time limits', () => {
  it('downloadReport: a body that stalls ends at downloadIdleTimeoutMs', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 4, intervalMs: 5, stallAfterChunks: 1 }));
    const client = new EarnClient(server.config({ fetch: deafFetch, downloadIdleTimeoutMs: 100, attemptsMax: 1 }));
    const { value: error, ms } = await elapsedMs(() => failure(client.downloadReport({ uri: `${server.baseUrl}${reportPath}` })));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET report download: nothing received for 100 ms (downloadIdleTimeoutMs)');
    expect(ms).toBeLessThan(1000);
  });

  it('downloadReportToFile: an answer that never comes ends at downloadTimeoutMs and writes nothing', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'the previous report');
    const client = new EarnClient(server.config({ fetch: hangingFetch(reportPath), downloadTimeoutMs: 100, attemptsMax: 1 }));
    const { value: error, ms } = await elapsedMs(() => failure(client.downloadReportToFile({ uri: `${server.baseUrl}${reportPath}`, path })));
    expect(error.code).toBe('timeout');
    expect(ms).toBeLessThan(1000);
    expect(await readFile(path, 'utf8')).toBe('the previous report');
    expect(await readdir(folder)).toEqual(['report.json']);
  });

  it('fetchReportToFile: a body that stalls ends at downloadIdleTimeoutMs, its temporary file removed and closed first', async () => {
    server.on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: `${server.baseUrl}${reportPath}` }));
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 4, intervalMs: 5, stallAfterChunks: 1 }));
    const path = join(folder, 'report.json');
    const client = new EarnClient(server.config({ fetch: deafFetch, downloadIdleTimeoutMs: 100, attemptsMax: 1 }));
    const { value: error, ms } = await elapsedMs(() => failure(client.fetchReportToFile({ reportId: 'report-1', path })));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET report download: nothing received for 100 ms (downloadIdleTimeoutMs)');
    expect(ms).toBeLessThan(1000);
    // Checked as soon as the call fails: the clean-up is over before the error reaches the caller.
    expect(await readdir(folder)).toEqual([]);
    expect(await openFilesInFolder()).toEqual([]);
  });

  it('fetchReportToFile: a body slower than downloadTimeoutMs is retried, and each attempt cleans up before the next', async () => {
    server.on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: `${server.baseUrl}${reportPath}` }));
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 40, intervalMs: 20 }));
    const path = join(folder, 'report.json');
    const client = new EarnClient(server.config({ fetch: deafFetch, downloadTimeoutMs: 150, attemptsMax: 2, retryDelayMsInitial: 1, retryDelayMsMax: 2 }));
    const error = await failure(client.fetchReportToFile({ reportId: 'report-1', path }));
    expect(error.code).toBe('retries_exhausted');
    expect(error.message).toContain('(downloadTimeoutMs)');
    expect(await readdir(folder)).toEqual([]);
    expect(await openFilesInFolder()).toEqual([]);
  });
});

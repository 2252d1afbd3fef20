import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, delayed, json, trickle } from './support/fake-earn-server.js';
import { dailyReport } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

const reportPath = '/downloads/report.json';

async function failure(promise: Promise<unknown>): Promise<EarnApiError> {
  const error = await promise.then(
    () => expect.fail('expected a failure'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EarnApiError);
  return error as EarnApiError;
}

function uri(): string {
  return `${server.baseUrl}${reportPath}`;
}

describe('report downloads have their own time limits', () => {
  it('a download slower than timeoutMs but within downloadTimeoutMs succeeds in one attempt', async () => {
    // About 300 ms of body, each piece within the idle limit: six times timeoutMs.
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 6, intervalMs: 50 }));
    const client = new EarnClient(server.config({ timeoutMs: 50, downloadTimeoutMs: 3000, downloadIdleTimeoutMs: 200 }));
    const startedMs = Date.now();
    const report = await client.downloadReport({ uri: uri() });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(250);
    expect(report.id).toBe(dailyReport().id);
    expect(server.requestsTo('GET', reportPath)).toHaveLength(1);
  });

  it('fetchReport: the download-uri call keeps timeoutMs, the download gets downloadTimeoutMs', async () => {
    server
      .on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: uri() }))
      .on('GET', reportPath, trickle(dailyReport(), { chunks: 4, intervalMs: 50 }));
    const client = new EarnClient(server.config({ timeoutMs: 80, downloadTimeoutMs: 3000 }));
    expect((await client.fetchReport({ reportId: 'report-1' })).id).toBe(dailyReport().id);
  });

  it('a download beyond downloadTimeoutMs fails with timeout naming downloadTimeoutMs', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 10, intervalMs: 50 }));
    const client = new EarnClient(server.config({ attemptsMax: 1, timeoutMs: 5000, downloadTimeoutMs: 150, downloadIdleTimeoutMs: 1000 }));
    const startedMs = Date.now();
    const error = await failure(client.downloadReport({ uri: uri() }));
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET report download: no complete answer within 150 ms (downloadTimeoutMs)');
  });

  it('a download that keeps exceeding downloadTimeoutMs is retried, then retries_exhausted wrapping timeout', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 10, intervalMs: 50 }));
    const client = new EarnClient(server.config({ attemptsMax: 2, downloadTimeoutMs: 100 }));
    const error = await failure(client.downloadReport({ uri: uri() }));
    expect(error.code).toBe('retries_exhausted');
    expect(error.attempts).toBe(2);
    expect((error.cause as EarnApiError).code).toBe('timeout');
    expect(error.message).toContain('(downloadTimeoutMs)');
    expect(server.requestsTo('GET', reportPath)).toHaveLength(2);
  });

  it('the last attempt is cut to what is left of downloadRetryTotalMsMax, and says so', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 10, intervalMs: 50 }));
    const client = new EarnClient(server.config({ attemptsMax: 1, downloadTimeoutMs: 5000, downloadRetryTotalMsMax: 120 }));
    const startedMs = Date.now();
    const error = await failure(client.downloadReport({ uri: uri() }));
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/^GET report download: no complete answer within 1[0-2]\d ms \(what was left of downloadRetryTotalMsMax\)$/);
  });

  it('a transfer that stalls fails after downloadIdleTimeoutMs, long before downloadTimeoutMs', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 4, intervalMs: 20, stallAfterChunks: 1 }));
    const client = new EarnClient(server.config({ attemptsMax: 1, downloadTimeoutMs: 10_000, downloadIdleTimeoutMs: 150 }));
    const startedMs = Date.now();
    const error = await failure(client.downloadReport({ uri: uri() }));
    expect(Date.now() - startedMs).toBeLessThan(2000);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET report download: nothing received for 150 ms (downloadIdleTimeoutMs)');
  });

  it('an answer whose headers never come fails after downloadIdleTimeoutMs, and is retried', async () => {
    server.on('GET', reportPath, delayed(3000, json(200, dailyReport())), json(200, dailyReport()));
    const client = new EarnClient(server.config({ downloadTimeoutMs: 10_000, downloadIdleTimeoutMs: 100 }));
    expect((await client.downloadReport({ uri: uri() })).id).toBe(dailyReport().id);
    expect(server.requestsTo('GET', reportPath)).toHaveLength(2);
  });

  it('aborting during a slow download fails with aborted, not timeout, and is not retried', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 20, intervalMs: 50 }));
    const client = new EarnClient(server.config({ downloadTimeoutMs: 5000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(client.downloadReport({ uri: uri(), signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(server.requestsTo('GET', reportPath)).toHaveLength(1);
  });
});

describe('API calls keep timeoutMs', () => {
  it('a slow API answer times out at timeoutMs, whatever the download limits, and names timeoutMs', async () => {
    server.on('GET', '/v1/reports/report-1/download-uri', delayed(1000, json(200, { uri: uri() })));
    const client = new EarnClient(server.config({ attemptsMax: 1, timeoutMs: 80, downloadTimeoutMs: 5000, downloadIdleTimeoutMs: 5000 }));
    const startedMs = Date.now();
    const error = await failure(client.fetchReport({ reportId: 'report-1' }));
    expect(Date.now() - startedMs).toBeLessThan(800);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET /v1/reports/{reportId}/download-uri: no complete answer within 80 ms (timeoutMs)');
    expect(server.requestsTo('GET', reportPath)).toEqual([]);
  });
});

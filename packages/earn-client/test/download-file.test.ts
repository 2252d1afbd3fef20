import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnClient } from '../src/index.js';
import { FakeEarnServer, drop, errorBody, json, text, trickle } from './support/fake-earn-server.js';
import { dailyReport } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;
let folder: string;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  folder = await mkdtemp(join(tmpdir(), 'earn-download-'));
});

afterEach(async () => {
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

const reportPath = '/downloads/report.json';

function uri(): string {
  return `${server.baseUrl}${reportPath}`;
}

/** The folder's files: nothing temporary may stay behind. */
async function filesIn(): Promise<string[]> {
  return (await readdir(folder)).sort();
}

describe('downloadReportToFile writes the body as it arrives', () => {
  it('writes the bytes as served, in many chunks, and says how many', async () => {
    const body = dailyReport();
    server.on('GET', reportPath, trickle(body, { chunks: 7, intervalMs: 5 }));
    const path = join(folder, 'report.json');
    const written = await new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path });
    const bytes = await readFile(path);
    expect(bytes.toString('utf8')).toBe(JSON.stringify(body));
    expect(written).toEqual({ path, bytes: bytes.length });
    expect(await filesIn()).toEqual(['report.json']);
  });

  it('keeps the bytes as the provider formats them (pretty JSON stays pretty)', async () => {
    const pretty = JSON.stringify(dailyReport(), null, 2);
    server.on('GET', reportPath, text(200, pretty, { 'content-type': 'application/json' }));
    const path = join(folder, 'report.json');
    await new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path });
    expect(await readFile(path, 'utf8')).toBe(pretty);
  });

  it('fetchReportToFile asks for the download URI, then downloads to the file', async () => {
    server.on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: uri() })).on('GET', reportPath, json(200, dailyReport()));
    const path = join(folder, 'day.json');
    const written = await new EarnClient(server.config()).fetchReportToFile({ reportId: 'report-1', path });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(dailyReport());
    expect(written.path).toBe(path);
  });

  it('an attempt cut mid-body is retried and the file holds only the whole second body', async () => {
    server.on('GET', reportPath, trickle(dailyReport(), { chunks: 4, intervalMs: 5, stallAfterChunks: 2 }), json(200, dailyReport()));
    const path = join(folder, 'report.json');
    await new EarnClient(server.config({ attemptsMax: 2, downloadIdleTimeoutMs: 100, retryDelayMsInitial: 1, retryDelayMsMax: 2 })).downloadReportToFile({ uri: uri(), path });
    expect(await readFile(path, 'utf8')).toBe(JSON.stringify(dailyReport()));
    expect(server.requestsTo('GET', reportPath)).toHaveLength(2);
    expect(await filesIn()).toEqual(['report.json']);
  });
});

describe('a failed download leaves the file as it was and nothing beside it', () => {
  async function expectUntouched(path: string): Promise<void> {
    expect(await readFile(path, 'utf8')).toBe('the previous report');
    expect(await filesIn()).toEqual(['report.json']);
  }

  it('a body over reportBytesMax is limit_exceeded', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'the previous report');
    // Chunked, so that no content-length announces it: the limit is met while streaming.
    server.on('GET', reportPath, trickle({ ...dailyReport(), padding: 'x'.repeat(4000) }, { chunks: 4, intervalMs: 1 }));
    const error = await failure(new EarnClient(server.config({ reportBytesMax: 2048, attemptsMax: 1 })).downloadReportToFile({ uri: uri(), path }));
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toBe('GET report download: response exceeds the limit of 2048 bytes');
    await expectUntouched(path);
  });

  it('a non-2xx answer is the matching error and writes nothing', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'the previous report');
    server.on('GET', reportPath, errorBody(404, 'not_found', 'no such download'));
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path }));
    expect(error).toMatchObject({ code: 'http_error', status: 404, providerCode: 'not_found' });
    await expectUntouched(path);
  });

  it('a connection dropped on every attempt ends as retries_exhausted', async () => {
    const path = join(folder, 'report.json');
    await writeFile(path, 'the previous report');
    server.on('GET', reportPath, drop());
    const error = await failure(new EarnClient(server.config({ attemptsMax: 2, retryDelayMsInitial: 1, retryDelayMsMax: 2 })).downloadReportToFile({ uri: uri(), path }));
    expect(error.code).toBe('retries_exhausted');
    await expectUntouched(path);
  });

  it('a folder that does not exist is invalid_input naming path, and nothing is requested', async () => {
    server.on('GET', reportPath, json(200, dailyReport()));
    const path = join(folder, 'missing', 'report.json');
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path }));
    expect(error).toMatchObject({ code: 'invalid_input', field: 'path' });
    expect(error.message).toContain(JSON.stringify(path));
    expect(server.requestsTo('GET', reportPath)).toHaveLength(0);
  });

  it.each([[''], [42], [undefined], ['with\0nul']])('path %j is invalid_input', async (path) => {
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path: path as string }));
    expect(error).toMatchObject({ code: 'invalid_input', field: 'path' });
  });

  it('an insecure URI is refused as downloadReport refuses it', async () => {
    const path = join(folder, 'report.json');
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: 'http://reports.example.com/r.json', path }));
    expect(error.code).toBe('invalid_response');
    expect(await filesIn()).toEqual([]);
  });
});

describe('a body that carries a credential of the client is refused whole', () => {
  const secret = 'super-secret-value-1';

  it.each([
    ['as it is', secret],
    ['hidden behind \\u escapes', `\\u0073uper-secret\\u002dvalue-1`],
    ['with a hyphen written as \\u002D', 'super-secret-value-1'.replace('-', '\\u002D')],
  ])('%s, in a field of an entry, split across chunks', async (_name, rendered) => {
    const body = JSON.stringify({ ...dailyReport(), note: 'REPLACE' }).replace('REPLACE', rendered);
    const path = join(folder, 'report.json');
    server.on('GET', reportPath, async (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      // One byte at a time around the credential, so that it never arrives in one piece.
      const at = body.indexOf(rendered.slice(0, 4));
      response.write(body.slice(0, at));
      for (const character of body.slice(at, at + rendered.length)) {
        response.write(character);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      response.end(body.slice(at + rendered.length));
    });
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path }));
    expect(error.code).toBe('invalid_response');
    expect(error.message).toContain('carries a credential of this client');
    expect(error.message).not.toContain(secret);
    expect(await filesIn()).toEqual([]);
  });

  it('with escaped solidi in it (a secret holding "/" written as "\\/")', async () => {
    await server.close();
    server = await FakeEarnServer.start({ clientSecret: 'secret/with/slashes-9' });
    const body = JSON.stringify({ ...dailyReport(), note: 'REPLACE' }).replace('REPLACE', 'secret\\/with\\/slashes-9');
    server.on('GET', reportPath, text(200, body, { 'content-type': 'application/json' }));
    const error = await failure(new EarnClient(server.config()).downloadReportToFile({ uri: uri(), path: join(folder, 'report.json') }));
    expect(error.code).toBe('invalid_response');
    expect(await filesIn()).toEqual([]);
  });
});

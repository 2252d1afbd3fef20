import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EarnApiError } from '../src/index.js';
import { EarnClient } from '../src/index.js';
import { FakeEarnServer, json, text } from './support/fake-earn-server.js';
import type { Responder } from './support/fake-earn-server.js';
import { dailyReport } from './support/fixtures.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;
let folder: string;

beforeEach(async () => {
  server = await FakeEarnServer.start();
  folder = await mkdtemp(join(tmpdir(), 'earn-hostile-'));
});

afterEach(async () => {
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

const reportPath = '/downloads/report.json';
const body = JSON.stringify(dailyReport());

/** Writes a raw HTTP/1.1 answer on the socket, bypassing the server's framing, then acts on the socket. */
function raw(head: string, payload: Buffer | string, then: 'end' | 'reset' | 'hold'): Responder {
  return (_request, response: ServerResponse) => {
    const socket = response.socket;
    if (socket === null) return;
    socket.write(`HTTP/1.1 ${head}\r\n\r\n`);
    socket.write(payload);
    if (then === 'end') socket.end();
    else if (then === 'reset') setTimeout(() => socket.resetAndDestroy(), 10);
  };
}

/** One byte every `intervalMs`, for as long as the connection stays open. */
function slowLoris(intervalMs: number): Responder {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{');
    const timer = setInterval(() => response.write(' '), intervalMs);
    response.on('close', () => clearInterval(timer));
  };
}

/** Downloads to `report.json` (holding a previous report) and checks that a failure left it as it was. */
async function failedDownload(config: Parameters<FakeEarnServer['config']>[0] = {}): Promise<EarnApiError> {
  const path = join(folder, 'report.json');
  await writeFile(path, 'the previous report');
  server.on('GET', '/v1/reports/report-1/download-uri', json(200, { uri: `${server.baseUrl}${reportPath}` }));
  const client = new EarnClient(server.config({ attemptsMax: 1, ...config }));
  const error = await failure(client.fetchReportToFile({ reportId: 'report-1', path }));
  expect(await readFile(path, 'utf8')).toBe('the previous report');
  expect(await readdir(folder)).toEqual(['report.json']);
  for (const shown of [error.message, JSON.stringify(error), String(error.stack)]) expect(shown).not.toContain(server.clientSecret);
  return error;
}

describe('fetchReportToFile under hostile answers ends with a typed error and leaves the file as it was', () => {
  it('a body trickled forever, each byte within the idle limit, ends at downloadTimeoutMs', async () => {
    server.on('GET', reportPath, slowLoris(10));
    const startedMs = Date.now();
    const error = await failedDownload({ downloadIdleTimeoutMs: 100, downloadTimeoutMs: 300 });
    expect(Date.now() - startedMs).toBeLessThan(2000);
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('GET report download: no complete answer within 300 ms (downloadTimeoutMs)');
  });

  it('a body shorter than its Content-Length (the connection closed) is a network_error', async () => {
    server.on('GET', reportPath, raw(`200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length + 100}`, body, 'end'));
    expect((await failedDownload()).code).toBe('network_error');
  });

  it('a body longer than its Content-Length: only the declared bytes are the body, and they are not a report', async () => {
    server.on('GET', reportPath, raw(`200 OK\r\ncontent-type: application/json\r\ncontent-length: 10`, body, 'hold'));
    const error = await failedDownload();
    expect(error.code).toBe('invalid_response');
  });

  it('a connection reset mid-body is a network_error', async () => {
    server.on('GET', reportPath, raw(`200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}`, body.slice(0, 50), 'reset'));
    expect((await failedDownload()).code).toBe('network_error');
  });

  it('a gzip bomb is limit_exceeded once the decoded bytes pass reportBytesMax', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    server.on('GET', reportPath, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
      response.end(bomb);
    });
    const error = await failedDownload({ reportBytesMax: 1024 * 1024 });
    expect(error.code).toBe('limit_exceeded');
  });

  it.each([['zstd'], ['compress'], ['x-custom'], ['gzip, x-custom'], ['gzip, identity'], ['identity, gzip']])('a Content-Encoding %j the client cannot decode is invalid_response naming content-encoding', async (coding) => {
    server.on('GET', reportPath, text(200, body, { 'content-type': 'application/json', 'content-encoding': coding }));
    const error = await failedDownload();
    expect(error).toMatchObject({ code: 'invalid_response', field: 'content-encoding' });
  });

  it('a 200 with an HTML error page is invalid_response, not a report file', async () => {
    server.on('GET', reportPath, text(200, '<!DOCTYPE html><html><body>Access denied</body></html>', { 'content-type': 'text/html' }));
    const error = await failedDownload();
    expect(error).toMatchObject({ code: 'invalid_response', path: '(root)' });
    expect(error.message).toContain('not a JSON object');
  });

  it('an empty 200 is invalid_response', async () => {
    server.on('GET', reportPath, text(200, '', { 'content-type': 'application/json' }));
    expect(await failedDownload()).toMatchObject({ code: 'invalid_response', path: '(root)' });
  });

  it('a redirect to another host over plain http is refused, and the secret it carries is not in the error', async () => {
    server.on('GET', reportPath, (_request, response) => {
      response.writeHead(302, { location: `http://${server.clientSecret}.example.com/r.json?key=${server.clientSecret}` });
      response.end();
    });
    expect(await failedDownload()).toMatchObject({ code: 'invalid_response', field: 'location' });
  });
});

describe('what the hostile checks still accept', () => {
  it.each([['identity'], ['gzip'], ['GZIP'], ['deflate'], ['br']])('a report sent with Content-Encoding %j', async (coding) => {
    const { brotliCompressSync, deflateSync } = await import('node:zlib');
    const encoders: Record<string, (bytes: Buffer) => Buffer> = { identity: (bytes) => bytes, gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
    const payload = (encoders[coding.toLowerCase()] as (bytes: Buffer) => Buffer)(Buffer.from(body));
    server.on('GET', reportPath, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
      response.end(payload);
    });
    const path = join(folder, 'report.json');
    await new EarnClient(server.config()).downloadReportToFile({ uri: `${server.baseUrl}${reportPath}`, path });
    expect(await readFile(path, 'utf8')).toBe(body);
  });

  it('a report that starts with whitespace', async () => {
    server.on('GET', reportPath, text(200, ` \r\n\t${body}`, { 'content-type': 'application/octet-stream' }));
    const path = join(folder, 'report.json');
    await new EarnClient(server.config()).downloadReportToFile({ uri: `${server.baseUrl}${reportPath}`, path });
    expect(await readFile(path, 'utf8')).toBe(` \r\n\t${body}`);
  });
});

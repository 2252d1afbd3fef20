/**
 * The nightly script stopped by the scheduler (SIGTERM) or a Ctrl-C (SIGINT) while a report is
 * being downloaded into a kept `--report-folder`: it exits 128 + the signal's number with its
 * ALERT line, the books are as they were (the day not reconciled), and no partial download is
 * left in the folder (only the reports it finished are kept there). The Earn API is a sandbox
 * behind a proxy that sends the first bytes of each report download and then stalls.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarnFacade } from '@earnbook/earn-client';
import { startSandbox } from '@earnbook/earn-sandbox';
import type { Sandbox } from '@earnbook/earn-sandbox';
import { syncProducts } from '@earnbook/reconcile';
import { snapshotDatabase } from '../../packages/ledger/test/support/snapshot.js';
import { openPartnerBooks } from '../src/lib/partner-books.js';
import { bookSampleActivity } from '../src/lib/sandbox-activity.js';

const EXAMPLES = new URL('../', import.meta.url).pathname;
/** A run still alive this long after its signal is hung: it is killed and the test fails. */
const EXIT_WAIT_MS = 10_000;

let directory: string;
let sandbox: Sandbox;
let proxy: Server;
let proxyUrl: string;

/** Forwards to the sandbox; a download URI is made to point back here, and a download stalls after its first bytes. */
function startProxy(target: URL): Promise<Server> {
  const server = createServer((incoming, answer) => {
    const outgoing = request({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: target.host } }, (upstream) => {
      if (incoming.url?.startsWith('/downloads/') === true) {
        answer.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.once('data', (chunk: Buffer) => answer.write(chunk.subarray(0, Math.max(1, chunk.length >> 1))));
        return;
      }
      const chunks: Buffer[] = [];
      upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
      upstream.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').replaceAll(target.origin, proxyUrl);
        const headers = { ...upstream.headers, 'content-length': String(Buffer.byteLength(body)) };
        answer.writeHead(upstream.statusCode ?? 502, headers);
        answer.end(body);
      });
    });
    incoming.pipe(outgoing);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'earnbook-nightly-interrupted-'));
  sandbox = await startSandbox({ timeZone: 'UTC' });
  const base = new URL(String(sandbox.clientConfig('defi').baseUrl));
  proxy = await startProxy(base);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await sandbox.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Books with a day of activity on the sandbox, the provider moved past midnight; answers the day. */
async function startBooks(database: string): Promise<string> {
  const earn = new EarnFacade({ entities: Object.fromEntries(sandbox.config.entities.map((entity) => [entity.id, sandbox.clientConfig(entity.id)])) });
  const partner = await openPartnerBooks({ database, ifMissing: 'create', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    const day = sandbox.clock.accountingDay();
    await syncProducts({ source: earn, books: partner.books, effectiveDay: day });
    await bookSampleActivity({ earn, books: partner.books, users: 2, bookingPrefix: day });
    await sandbox.clock.advanceDays(1);
    return day;
  } finally {
    await partner.close();
  }
}

async function snapshotAt(database: string): Promise<string> {
  const partner = await openPartnerBooks({ database, ifMissing: 'fail', entities: sandbox.config.entities.map((entity) => ({ id: entity.id, timeZone: entity.timeZone })) });
  try {
    return await snapshotDatabase(partner.db as never);
  } finally {
    await partner.close();
  }
}

/** Runs the script; once a download has started in `folder`, sends `signal`. */
function interruptDuringDownload(args: readonly string[], folder: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const config = (entity: string) => sandbox.clientConfig(entity);
  const env = {
    PATH: process.env['PATH'] ?? '',
    EARN_BASE_URL: proxyUrl,
    EARN_TOKEN_URL: String(config('defi').tokenUrl).replace(new URL(String(config('defi').baseUrl)).origin, proxyUrl),
    EARN_DEFI_CLIENT_ID: String(config('defi').clientId),
    EARN_DEFI_CLIENT_SECRET: String(config('defi').clientSecret),
    EARN_LENDING_CLIENT_ID: String(config('lending').clientId),
    EARN_LENDING_CLIENT_SECRET: String(config('lending').clientSecret),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'nightly-reconciliation/src/main.ts', ...args], { cwd: EXAMPLES, env });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.stdout.resume();
    let hung: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (readdirSync(folder).length === 0) return;
      clearInterval(watch);
      child.kill(signal);
      hung = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(watch);
      clearTimeout(hung);
      resolve({ code, stderr });
    });
  });
}

describe('the nightly script interrupted during a download into --report-folder', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: exit ${code}, the books as they were, no partial download left`, async () => {
      const database = join(directory, `books-${signal}.sqlite`);
      const day = await startBooks(database);
      const before = await snapshotAt(database);
      const folder = join(directory, `reports-${signal}`);
      mkdirSync(folder);
      const run = await interruptDuringDownload(['--database', database, '--day', day, '--report-folder', folder], folder, signal);
      expect(run.stderr).toContain(`ALERT nightly reconciliation interrupted by ${signal}`);
      expect(run.code, run.stderr).toBe(code);
      expect(readdirSync(folder)).toEqual([]);
      expect(await snapshotAt(database)).toBe(before);
    }, 60_000);
  }
});

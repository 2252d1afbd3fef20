import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EchoServer } from '../../earn-client/test/support/echo-server.js';
import type { EchoPlace } from '../../earn-client/test/support/echo-server.js';
import { DAY, runCli, testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

const SECRET = `cli-S3cr3t~with.dots*stars!(parens)'quote-0002`;
const SECRET_ENV = 'EARNBOOK_TEST_HOSTILE_SECRET';

/** Every file below `dir`, recursively, as text. */
async function filesText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const texts = await Promise.all(entries.filter((entry) => entry.isFile() && !entry.name.endsWith('.sqlite')).map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')));
  return texts.join('\n');
}

describe.each(['client_secret_basic', 'client_secret_post'] as const)('earnbook reconcile --fetch against a server echoing what %s sent', (method) => {
  let ws: Workspace;
  let server: EchoServer;
  let configFile: string;

  beforeEach(async () => {
    ws = await workspace();
    server = await EchoServer.start();
    const api = { baseUrl: server.baseUrl, tokenUrl: `${server.baseUrl}/oauth/token`, clientId: 'partner-defi', clientSecretEnv: SECRET_ENV, clientAuthMethod: method, attemptsMax: 2, timeoutMs: 5000 };
    configFile = await ws.writeConfig('hostile-config.json', testConfig({ earnApi: { defi: api } }));
  });
  afterEach(async () => {
    await server.close();
    await ws.remove();
  });

  it.each(['token-error', 'api-code', 'api-header', 'api-request-id', 'api-message-503', 'api-401-everywhere', 'api-success-body'] satisfies EchoPlace[])(
    '%s: exit 2, and neither stderr, stdout (with --json) nor any file written holds a credential',
    async (place) => {
      server.place = place;
      const result = await runCli(['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', configFile, '--out', 'out', '--json'], { cwd: ws.dir, env: { [SECRET_ENV]: SECRET } });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: /);
      const credentials = [SECRET, encodeURIComponent(SECRET), ...server.sentCredentials()];
      expect(server.sentCredentials().length).toBeGreaterThan(0);
      const printed = `${result.stdout}\n${result.stderr}\n${await filesText(ws.dir)}`;
      for (const credential of credentials) expect(printed, `leak of ${credential.slice(0, 8)}…`).not.toContain(credential);
    },
  );
});

/**
 * README: "An error prints one line on stderr, `error: <message> (code <code>, field <field>)`".
 * A message is printed whatever wrote it (a provider, any package quoting its input), so control
 * characters in it are escaped: a line break or an escape sequence could otherwise forge output
 * lines (`earnbook: defi 2025-03-18: CLEAN`) or drive the terminal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, escapeUnsafeText } from '@earnbook/earn-client';
import { LedgerError } from '@earnbook/ledger';
import { ReconcileError } from '@earnbook/reconcile';
import { FakeEarnServer, json } from '../../earn-client/test/support/fake-earn-server.js';
import { CliError, describeError, formatError } from '../src/index.js';
import { asFlagError } from '../src/flag-errors.js';
import { singleLine } from '../src/terminal-text.js';
import { DAY, runCli, testConfig, workspace } from './fixtures.js';
import type { Workspace } from './fixtures.js';

/** Every character that must never reach the terminal raw, with the escape it is printed as. */
const UNSAFE: readonly (readonly [string, string])[] = [
  ['\u0000', '\\u0000'],
  ['\n', '\\u000a'],
  ['\r', '\\u000d'],
  ['\t', '\\u0009'],
  ['\u001b', '\\u001b'],
  ['\u007f', '\\u007f'],
  ['\u0085', '\\u0085'],
  ['\u009b', '\\u009b'],
  ['\u2028', '\\u2028'],
  ['\u2029', '\\u2029'],
  ['\u202e', '\\u202e'],
  ['\u2066', '\\u2066'],
  ['\ud800', '\\ud800'],
  // Zero-width and other invisible format characters: `acc-1` and `acc-\u200b1` would look alike.
  ['\u200b', '\\u200b'],
  ['\u200d', '\\u200d'],
  ['\u2060', '\\u2060'],
  ['\ufeff', '\\ufeff'],
  ['\u00ad', '\\u00ad'],
  ['\u061c', '\\u061c'],
  ['\u{e0041}', '\\udb40\\udc41'],
];
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = `nope\nearnbook: defi ${DAY}: CLEAN\r\u001b[2J\u001b[32mall good\u001b[0m\u009b31m\u2028\u202eevil`;

/** The printed text is one line ending in a line feed, with no unsafe character in it. */
function expectOneSafeLine(text: string): void {
  expect(text.endsWith('\n'), JSON.stringify(text)).toBe(true);
  expect(text.slice(0, -1), JSON.stringify(text)).not.toMatch(/\n/);
  expect(RAW_UNSAFE.test(text), JSON.stringify(text)).toBe(false);
}

describe('singleLine', () => {
  it('writes every control, separator and bidirectional character, and lone surrogates, as \\uXXXX', () => {
    for (const [character, escaped] of UNSAFE) expect(singleLine(`a${character}b`)).toBe(`a${escaped}b`);
  });

  it("is the Earn client's rule (escapeUnsafeText) on every code point and on lone surrogates", () => {
    const differing: string[] = [];
    for (let code = 0; code <= 0x10ffff; code += 1) {
      const character = code >= 0xd800 && code <= 0xdfff ? String.fromCharCode(code) : String.fromCodePoint(code);
      if (singleLine(character) !== escapeUnsafeText(character)) differing.push(code.toString(16));
    }
    expect(differing).toEqual([]);
  });

  it('keeps other text as it is: accents, emoji, quotes and backslashes', () => {
    for (const text of ['café', 'défi 😀 ok', 'got "a\\u0000b"', 'C:\\books', '']) expect(singleLine(text)).toBe(text);
  });
});

describe('formatError', () => {
  it('prints one line with control characters escaped, for the errors of every package', () => {
    const errors = [
      new CliError('invalid_flag', HOSTILE, { field: '--out\n', value: 'x' }),
      new LedgerError('invalid_input', HOSTILE, { field: 'entity' }),
      new ReconcileError('invalid_report', HOSTILE, { field: 'transactions', path: '$.transactions[0]\u001b[2J' }),
      new EarnApiError('http_error', HOSTILE, { status: 400, requestId: 'req-1\nforged', path: '/v1/reports' }),
    ];
    for (const error of errors) {
      const line = formatError(error);
      expectOneSafeLine(line);
      expect(line).toMatch(/^error: nope\\u000aearnbook: defi 2025-03-18: CLEAN\\u000d\\u001b\[2J/);
    }
    expect(formatError(errors[3])).toContain('(code http_error, path /v1/reports, status 400, request req-1\\u000aforged)');
  });

  it('prints an internal error as one escaped line and then only the stack frames', () => {
    const text = formatError(new Error('boom\n    at forged (evil.js:1:1)\u001b[2J'));
    const [line, ...frames] = text.slice(0, -1).split('\n');
    expect(line).toBe('error: boom\\u000a    at forged (evil.js:1:1)\\u001b[2J (code internal)');
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) expect(frame).toMatch(/^\s+at /);
    // The forged frame stays inside the escaped first line.
    expect(frames.join('\n')).not.toContain('forged');
    expect(RAW_UNSAFE.test(text)).toBe(false);
    expectOneSafeLine(formatError('thrown\ntext\u001b'));
  });
});

describe('describeError (the --json error)', () => {
  it("tells a ledger's or reconciler's refusal's context, also once said of a flag; a CLI error has none", () => {
    const context = { pendingMigrations: '0001_initial, 0002_breaks' };
    expect(describeError(new LedgerError('migration_required', 'm', { field: 'migrate', context }))).toMatchObject({ kind: 'LedgerError', field: 'migrate', context });
    const refused = new ReconcileError('migration_required', 'm', { field: 'migrate', value: '0001_initial', context });
    expect(describeError(refused)).toMatchObject({ kind: 'ReconcileError', field: 'migrate', value: '0001_initial', context });
    expect(describeError(asFlagError(refused, { migrate: '--migrate' }))).toMatchObject({ field: '--migrate', context });
    expect(describeError(new ReconcileError('wrong_day', 'm', { field: 'accountingDay' }))).not.toHaveProperty('context');
    expect(describeError(new CliError('invalid_flag', 'm', { field: '--out' }))).not.toHaveProperty('context');
  });
});

describe('a provider error message with control characters, through earnbook reconcile --fetch', () => {
  const secret = 'very-secret-client-value-42';
  const secretEnv = 'EARNBOOK_TEST_DEFI_CLIENT_SECRET';
  let ws: Workspace;
  let server: FakeEarnServer;
  let configFile: string;
  beforeEach(async () => {
    ws = await workspace();
    server = await FakeEarnServer.start({ clientId: 'partner-defi', clientSecret: secret });
    configFile = await ws.writeConfig(
      'fetch-config.json',
      testConfig({ earnApi: { defi: { baseUrl: server.baseUrl, tokenUrl: server.tokenUrl, clientId: 'partner-defi', clientSecretEnv: secretEnv, attemptsMax: 1 } } }),
    );
    server.on('GET', '/v1/reports', json(400, { error: { code: 'bad\u001b[2Jrequest', message: HOSTILE } }));
  });
  afterEach(async () => {
    await server.close();
    await ws.remove();
  });

  it('stays one error line on stderr, without raw control characters; --json escapes them as JSON does', async () => {
    const argv = ['reconcile', '--entity', 'defi', '--day', DAY, '--fetch', '--database', ws.database, '--config', configFile, '--out', 'out', '--quiet'];
    const outcome = await runCli(argv, { cwd: ws.dir, env: { [secretEnv]: secret } });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/^error: /);
    expectOneSafeLine(outcome.stderr);
    const withJson = await runCli([...argv, '--json'], { cwd: ws.dir, env: { [secretEnv]: secret } });
    expect(withJson.code).toBe(2);
    expectOneSafeLine(withJson.stderr);
    expect((JSON.parse(withJson.stdout) as { error: { code: string } }).error.code).toBe('http_error');
  });
});

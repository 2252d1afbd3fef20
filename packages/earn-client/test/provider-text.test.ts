/**
 * Text the provider chooses (its error message, error code and request id, in the body or the
 * `X-Request-Id` header, and the OAuth `error` of the token endpoint) reaches an error bounded
 * and cleaned: the message to 300 characters, a code or request id to 128, every control
 * character (C0, DEL, C1, U+2028, U+2029, unpaired surrogates) escaped, secrets redacted before
 * the cut. Without it one error could carry megabytes, or forge log lines and drive terminals.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { PROVIDER_ID_LENGTH_MAX, escapeAndCut } from '../src/errors.js';
import { escapeUnsafeText } from '../src/index.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import { failure } from './support/failure.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

/**
 * C0 (line breaks, escape), DEL, C1 (NEL, CSI) and the Unicode line and paragraph separators. NUL
 * is not among them: the contract refuses an error body holding one (the body is then not read).
 */
const controls = ['\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'];
const controlPattern = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The provider's text in every field of `error` and of its causes. */
function texts(error: EarnApiError): string[] {
  const found: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof EarnApiError && depth < 5; depth += 1) {
    found.push(current.message, current.providerCode ?? '', current.requestId ?? '');
    current = current.cause;
  }
  return found;
}

function expectClean(error: EarnApiError): void {
  for (const text of texts(error)) expect(controlPattern.test(text), JSON.stringify(text)).toBe(false);
}

/** `GET /v1/products` answers `body`, with `x-request-id` only when `requestId` is given. */
function answerProducts(status: number, body: unknown, requestId?: string): void {
  server.on('GET', '/v1/products', (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...(requestId === undefined ? {} : { 'x-request-id': requestId }) });
    response.end(JSON.stringify(body));
  });
}

describe('provider text in API errors', () => {
  it('a huge error code and request id are cut to 128 characters, the message to 300', async () => {
    answerProducts(400, { error: { code: `E${'x'.repeat(1_000_000)}`, message: 'm'.repeat(1_000_000), requestId: 'r'.repeat(500_000) } });
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error).toMatchObject({ code: 'http_error', status: 400 });
    expect(error.providerCode).toHaveLength(PROVIDER_ID_LENGTH_MAX);
    expect(error.providerCode).toMatch(/^Ex+\.\.\.$/);
    // Without the header, the body's request id is taken, and cut.
    expect(error.requestId).toMatch(/^r{125}\.\.\.$/);
    expect(error.message.length).toBeLessThan(`GET /v1/products: answered 400 `.length + 128 + 2 + 300 + 1);
  });

  it('a huge X-Request-Id header is cut to 128 characters', async () => {
    answerProducts(400, { error: { code: 'bad_request', message: 'no' } }, 'h'.repeat(8000));
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error.requestId).toBe(`${'h'.repeat(125)}...`);
  });

  it.each(controls.map((control) => [JSON.stringify(control), control]))('%s in the message, code and request id is escaped, not passed on', async (_name, control) => {
    answerProducts(400, { error: { code: `bad${control}[2J`, message: `nope${control}FORGED LOG LINE level=info msg=ok`, requestId: `req${control}1` } });
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expectClean(error);
    const escaped = `\\u${control.charCodeAt(0).toString(16).padStart(4, '0')}`;
    expect(error.providerCode).toBe(`bad${escaped}[2J`);
    expect(error.requestId).toBe(`req${escaped}1`);
    expect(error.message).toContain(`nope${escaped}FORGED LOG LINE`);
  });

  it('C1 characters in the X-Request-Id header (bytes 0x80-0xFF, read as Latin-1) are escaped', async () => {
    answerProducts(400, { error: { code: 'bad_request', message: 'no' } }, 'req\u009b2J\u0085x');
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error.requestId).toBe('req\\u009b2J\\u0085x');
  });

  it('the classification reads the code as sent: a control character makes it another code', async () => {
    server.on('POST', '/v1/accounts/account-1/withdrawals', json(422, { error: { code: 'insufficient_balance\n', message: 'no' } }));
    const error = await failure(new EarnClient(server.config()).withdraw({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-1' }));
    expect(error).toMatchObject({ code: 'http_error', providerCode: 'insufficient_balance\\u000a' });
  });

  it('a secret at the cut is redacted before the cut, leaving none of it behind', async () => {
    const secret = server.clientSecret;
    answerProducts(400, { error: { code: `${'c'.repeat(120)}${secret}`, message: `${'m'.repeat(295)}${secret}`, requestId: `${'r'.repeat(122)}${secret}` } });
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    for (const text of texts(error)) expect(text).not.toContain(secret.slice(0, 4));
    expect(error.providerCode).toBe(`${'c'.repeat(120)}[reda...`);
  });

  it('a contract error quoting a value escapes the control characters JSON.stringify leaves (DEL, C1, U+2028)', async () => {
    server.on('GET', '/v1/users/u-1', json(200, { id: 'u-1', createdAt: 'not\u2028a\u0085date\u007f' }));
    const error = await failure(new EarnClient(server.config()).getUser({ userId: 'u-1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'createdAt' });
    expectClean(error);
    expect(error.message).toContain('"not\\u2028a\\u0085date\\u007f"');
  });
});

/**
 * Characters that reorder or hide what a reader sees (Unicode format characters): the bidi marks,
 * embeddings, overrides and isolates, the zero-width space and joiners, the word joiner, the BOM,
 * the soft hyphen and the invisible tag characters. `acc-1` and `acc-\u200b1` look alike; an
 * override makes `…\u202eredlof` read as `folder…`. The CLI escapes them on a terminal; the client
 * escapes them too, by the same rule, so that a partner's own logs see the same text.
 */
const formatCharacters = ['\u200e', '\u200f', '\u061c', '\u202a', '\u202e', '\u2066', '\u2069', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'];

describe('provider text that reorders or hides characters', () => {
  it.each(formatCharacters.map((character) => [JSON.stringify(character), character]))('%s in the message, code and request id is escaped', async (_name, character) => {
    answerProducts(400, { error: { code: `bad${character}x`, message: `nope${character}evil`, requestId: `req${character}1` } });
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    const escaped = `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
    expect(error.providerCode).toBe(`bad${escaped}x`);
    expect(error.requestId).toBe(`req${escaped}1`);
    expect(error.message).toContain(`nope${escaped}evil`);
    for (const text of texts(error)) expect(text.includes(character), JSON.stringify(text)).toBe(false);
  });

  it('an invisible tag character (outside the BMP) is escaped as its two UTF-16 units, as JSON writes it', () => {
    expect(escapeAndCut('a\u{e0041}b', 100)).toBe('a\\udb40\\udc41b');
    expect(escapeUnsafeText('a\u{e0041}b')).toBe('a\\udb40\\udc41b');
  });

  it('escapeUnsafeText is the rule of escapeAndCut, without the cut', () => {
    const text = `x\n\u0085\u2028\u202e\u200b\ud800\udc00 café 😀 ${'y'.repeat(300)}`;
    expect(escapeUnsafeText(text)).toBe(escapeAndCut(text, 10_000));
    expect(escapeUnsafeText('défi 😀 "a\\b"')).toBe('défi 😀 "a\\b"');
  });
});

describe('provider text in token endpoint errors', () => {
  it('a huge OAuth error code with control characters is cut and escaped', async () => {
    server.tokenResponder = json(400, { error: `invalid_request\u001b[2J\n${'e'.repeat(100_000)}` }, { 'x-request-id': `tok\u0085${'i'.repeat(4000)}` });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'http_error', status: 400, operation: 'POST token endpoint' });
    expectClean(error);
    expect(error.providerCode).toMatch(/^invalid_request\\u001b\[2J\\u000ae+\.\.\.$/);
    expect(error.providerCode).toHaveLength(PROVIDER_ID_LENGTH_MAX);
    expect(error.requestId).toMatch(/^tok\\u0085i+\.\.\.$/);
    expect(error.requestId).toHaveLength(PROVIDER_ID_LENGTH_MAX);
    expect(error.message.length).toBeLessThan(300);
  });

  it('a token endpoint 503 with a hostile request id is bounded too', async () => {
    server.tokenResponder = json(503, { error: 'later' }, { 'x-request-id': `r\u0085${'x'.repeat(5000)}` });
    const error = await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts());
    expect(error).toMatchObject({ code: 'http_error', status: 503 });
    expect(error.requestId).toHaveLength(PROVIDER_ID_LENGTH_MAX);
    expectClean(error);
  });
});

describe('escapeAndCut', () => {
  it('leaves text within the limit and without control characters as it is', () => {
    expect(escapeAndCut('req-1 ünïcödé 😀', 20)).toBe('req-1 ünïcödé 😀');
    expect(escapeAndCut('x'.repeat(128), 128)).toBe('x'.repeat(128));
    expect(escapeAndCut('', 128)).toBe('');
  });

  it('cuts to the limit, ending in ...', () => {
    expect(escapeAndCut('x'.repeat(129), 128)).toBe(`${'x'.repeat(125)}...`);
    expect(escapeAndCut('abcdefgh', 6)).toBe('abc...');
  });

  it('never cuts an escape or a surrogate pair in half', () => {
    expect(escapeAndCut(`abcd\n${'x'.repeat(20)}`, 10)).toBe('abcd...');
    expect(escapeAndCut(`abcd😀${'x'.repeat(20)}`, 8)).toBe('abcd...');
    expect(escapeAndCut(`abc😀${'x'.repeat(20)}`, 8)).toBe('abc😀...');
  });

  it('escapes unpaired surrogates and keeps paired ones', () => {
    expect(escapeAndCut('a\ud800b\udc00c😀', 100)).toBe('a\\ud800b\\udc00c😀');
  });
});

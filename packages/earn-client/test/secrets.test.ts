import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { FakeEarnServer, delayed, drop, errorBody, json } from './support/fake-earn-server.js';
import { booking, product } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start({ clientSecret: 'S3cr3t-never-show-me-0001' });
});

afterEach(async () => {
  await server.close();
});

/** Every rendering of an error and of each error in its cause chain. */
function renderings(error: unknown): string[] {
  const texts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth += 1) {
    if (current instanceof Error) {
      texts.push(current.message, current.stack ?? '', String(current));
    }
    texts.push(JSON.stringify(current) ?? '', inspect(current, { depth: 20, showHidden: true }));
    current = current instanceof Error ? current.cause : undefined;
  }
  return texts;
}

function expectNoSecrets(error: unknown, secrets: readonly string[]): void {
  expect(error).toBeInstanceOf(EarnApiError);
  for (const text of renderings(error)) {
    for (const secret of secrets) {
      expect(text, `leak of ${secret.slice(0, 6)}… in ${text.slice(0, 200)}`).not.toContain(secret);
    }
  }
}

/** The base64 of the Basic credentials as sent (RFC 6749 §2.3.1 form encoding, strict). */
function basic(clientId: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/[-_.!~*'()]/g, (match) => `%${match.charCodeAt(0).toString(16).toUpperCase()}`);
  return Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64');
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (caught: unknown) => caught,
  );
}

describe('errors never carry the client secret or the access token', () => {
  it('refused credentials (wrong secret)', async () => {
    const wrong = 'Wrong-secret-but-still-secret-42';
    const client = new EarnClient(server.config({ clientSecret: wrong }));
    const error = await failure(client.listProducts());
    expect((error as EarnApiError).code).toBe('unauthorized');
    expectNoSecrets(error, [wrong, basic(server.clientId, wrong)]);
  });

  it('a token endpoint that echoes the secret in its error body', async () => {
    server.tokenResponder = json(400, { error: 'invalid_request', error_description: `bad secret ${server.clientSecret}` });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect((error as EarnApiError).code).toBe('http_error');
    expectNoSecrets(error, [server.clientSecret]);
  });

  it('a malformed token response that contains a token', async () => {
    const token = 'leaky-access-token-abcdef-0001';
    server.tokenResponder = json(200, { access_token: token, expires_in: 'soon' });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect((error as EarnApiError).code).toBe('invalid_response');
    expectNoSecrets(error, [token, server.clientSecret]);
  });

  it('a token response with an unsupported token_type', async () => {
    const token = 'leaky-access-token-abcdef-0002';
    server.tokenResponder = json(200, { access_token: token, token_type: 'mac', expires_in: 60 });
    const error = await failure(new EarnClient(server.config()).listProducts());
    expectNoSecrets(error, [token, server.clientSecret]);
  });

  it('API 401s whose message quotes the token, after the refresh', async () => {
    server.on('GET', '/v1/products', (request, response) =>
      errorBody(401, 'invalid_token', `token ${String(request.headers.authorization)} rejected`)(request, response),
    );
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect((error as EarnApiError).code).toBe('unauthorized');
    expectNoSecrets(error, [...server.validTokens, server.clientSecret]);
  });

  it('an invalid response whose offending value is the token', async () => {
    server.on('GET', '/v1/products', (request, response) => {
      const token = String(request.headers.authorization).slice('Bearer '.length);
      return json(200, { items: [product('p', token.length > 0 ? (token as unknown as string) : 'x', { name: 5, currency: token })] })(request, response);
    });
    server.on('POST', '/v1/accounts/account-1/deposits', (request, response) => {
      const token = String(request.headers.authorization).slice('Bearer '.length);
      return json(201, booking('b', 'Deposit', '1', { balanceAfter: token }))(request, response);
    });
    const client = new EarnClient(server.config());
    const invalid = await failure(client.listProducts());
    expect((invalid as EarnApiError).code).toBe('invalid_response');
    const quoted = await failure(client.deposit({ accountId: 'account-1', amount: '1', idempotencyKey: 'key-101' }));
    expect((quoted as EarnApiError).field).toBe('balanceAfter');
    expectNoSecrets(invalid, [...server.validTokens, server.clientSecret]);
    expectNoSecrets(quoted, [...server.validTokens, server.clientSecret]);
  });

  it('network errors, timeouts and exhausted retries with wrapped causes', async () => {
    server.on('GET', '/v1/products', drop());
    server.on('GET', '/v1/outstanding-balances', delayed(300, json(200, {})));
    server.on('GET', '/v1/users/u', errorBody(503, 'unavailable', 'down'));
    const client = new EarnClient(server.config({ attemptsMax: 2, timeoutMs: 50 }));
    const errors = [
      await failure(client.listProducts()),
      await failure(client.getOutstandingBalances()),
      await failure(client.getUser({ userId: 'u' })),
      await failure(new EarnClient(server.config({ attemptsMax: 1 })).listProducts()),
    ];
    expect(errors.map((error) => (error as EarnApiError).code)).toEqual(['retries_exhausted', 'retries_exhausted', 'retries_exhausted', 'network_error']);
    for (const error of errors) expectNoSecrets(error, [...server.validTokens, server.clientSecret, basic(server.clientId, server.clientSecret)]);
  });

  it('an unreachable token endpoint', async () => {
    const client = new EarnClient(server.config({ tokenUrl: 'http://127.0.0.1:9/oauth/token', attemptsMax: 1 }));
    const error = await failure(client.listProducts());
    expect((error as EarnApiError).code).toBe('network_error');
    expectNoSecrets(error, [server.clientSecret, basic(server.clientId, server.clientSecret)]);
  });

  it('the structured JSON of an error keeps the useful fields', async () => {
    server.on('POST', '/v1/accounts/a/withdrawals', errorBody(422, 'insufficient_balance', 'balance too low'));
    const error = (await failure(new EarnClient(server.config()).withdraw({ accountId: 'a', amount: '1', idempotencyKey: 'key-102' }))) as EarnApiError;
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({
      name: 'EarnApiError',
      code: 'insufficient_balance',
      status: 422,
      providerCode: 'insufficient_balance',
      requestId: 'req-422',
      operation: 'POST /v1/accounts/{accountId}/withdrawals',
    });
  });
});

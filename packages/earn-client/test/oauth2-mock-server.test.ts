import { createPublicKey, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { product } from './support/fixtures.js';

/**
 * The client against an independent, standards-compliant OAuth2 server from the npm ecosystem
 * (oauth2-mock-server), on loopback. The API side verifies each bearer JWT's RS256 signature
 * against the authorization server's JWKS, so a token the client made up or mangled is refused.
 */

const clientId = 'earnbook-partner-defi';
const clientSecret = 'independent-server-secret-0001';

let authorizationServer: OAuth2Server;
let api: Server;
let apiUrl: string;
let tokenRequests: { authorization: string | undefined; body: Record<string, unknown> }[];
let verifiedRequests: number;

function base64url(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}

async function verifyBearer(request: IncomingMessage): Promise<boolean> {
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) return false;
  const [encodedHeader, encodedPayload, signature] = header.slice(7).split('.');
  if (encodedHeader === undefined || encodedPayload === undefined || signature === undefined) return false;
  const jwtHeader = JSON.parse(base64url(encodedHeader).toString('utf8')) as { alg: string; kid: string };
  const payload = JSON.parse(base64url(encodedPayload).toString('utf8')) as { iss: string; exp: number };
  const jwks = (await (await fetch(`${authorizationServer.issuer.url}/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const jwk = jwks.keys.find((key) => key.kid === jwtHeader.kid);
  if (jwk === undefined || jwtHeader.alg !== 'RS256') return false;
  const valid = verify('sha256', Buffer.from(`${encodedHeader}.${encodedPayload}`), createPublicKey({ key: jwk, format: 'jwk' }), base64url(signature));
  return valid && payload.iss === authorizationServer.issuer.url && payload.exp * 1000 > Date.now();
}

beforeAll(async () => {
  authorizationServer = new OAuth2Server();
  await authorizationServer.issuer.keys.generate('RS256');
  await authorizationServer.start(0, '127.0.0.1');
  authorizationServer.service.on('beforeResponse', (response: { body: Record<string, unknown>; statusCode: number }, request: IncomingMessage & { body: Record<string, unknown> }) => {
    tokenRequests.push({ authorization: request.headers.authorization, body: { ...request.body } });
    // oauth2-mock-server does not check client credentials itself; this hook plays that part.
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    const formDecode = (value: string): string => decodeURIComponent(value.replaceAll('+', ' '));
    const basic =
      request.headers.authorization?.startsWith('Basic ') === true
        ? Buffer.from(request.headers.authorization.slice(6), 'base64').toString('utf8').split(':').map(formDecode).join(':')
        : undefined;
    const presented = basic ?? `${String(request.body.client_id)}:${String(request.body.client_secret)}`;
    if (presented !== `${clientId}:${clientSecret}`) {
      response.statusCode = 401;
      response.body = { error: 'invalid_client' };
    }
  });
  api = createServer((request, response) => {
    void verifyBearer(request).then((valid) => {
      if (!valid) {
        response.writeHead(401, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { code: 'invalid_token', message: 'bad token' } }));
      }
      verifiedRequests += 1;
      response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'api-1' });
      return response.end(JSON.stringify({ items: [product('btc-fixed', 'BTC')] }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
  api.closeAllConnections();
  await new Promise<void>((resolve) => api.close(() => resolve()));
  await authorizationServer.stop();
});

beforeEach(() => {
  tokenRequests = [];
  verifiedRequests = 0;
});

function client(overrides: { clientSecret?: string; clientAuthMethod?: 'client_secret_basic' | 'client_secret_post' } = {}): EarnClient {
  return new EarnClient({
    entityId: 'defi',
    baseUrl: apiUrl,
    tokenUrl: `${authorizationServer.issuer.url}/token`,
    clientId,
    clientSecret,
    scope: 'earn',
    retryDelayMsInitial: 5,
    retryDelayMsMax: 20,
    ...overrides,
  });
}

describe('against oauth2-mock-server (independent OAuth2 server, loopback)', () => {
  it('obtains a signed token with client_secret_basic, caches it, and calls the API with it', async () => {
    const earn = client();
    const results = await Promise.all(Array.from({ length: 20 }, () => earn.listProducts()));
    expect(results.every((list) => list[0]?.id === 'btc-fixed')).toBe(true);
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]?.authorization).toMatch(/^Basic /);
    expect(tokenRequests[0]?.body).toMatchObject({ grant_type: 'client_credentials', scope: 'earn' });
    expect(verifiedRequests).toBe(20);
  });

  it('works with client_secret_post', async () => {
    const earn = client({ clientAuthMethod: 'client_secret_post' });
    await earn.listProducts();
    expect(tokenRequests[0]?.authorization).toBeUndefined();
    expect(tokenRequests[0]?.body).toMatchObject({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  });

  it('refused credentials fail with unauthorized, naming the OAuth2 error', async () => {
    const error = await client({ clientSecret: 'not-the-secret' }).listProducts().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EarnApiError);
    expect((error as EarnApiError).code).toBe('unauthorized');
    expect((error as EarnApiError).providerCode).toBe('invalid_client');
    expect(JSON.stringify(error)).not.toContain('not-the-secret');
    expect(verifiedRequests).toBe(0);
  });
});

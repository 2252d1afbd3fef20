import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a hostile server echoes, and where. */
export type EchoPlace =
  /** Token endpoint: `{"error": <Authorization header or form body>}`, plus the same in `X-Request-Id`. */
  | 'token-error'
  /** Token endpoint: the echo in `error_description` and a 400 `invalid_request`. */
  | 'token-description'
  /** API: the bearer token as `error.code`. */
  | 'api-code'
  /** API: the bearer token in the `X-Request-Id` header only. */
  | 'api-header'
  /** API: the bearer token as the body's `error.requestId`. */
  | 'api-request-id'
  /** API: the whole `Authorization` header as `error.message`, with a 503 (retried until exhausted). */
  | 'api-message-503'
  /** API: the token everywhere, with a 401 (one refresh, then the error). */
  | 'api-401-everywhere'
  /** API: a success body whose report id is the token. */
  | 'api-success-body';

/** One request as the server received it: exactly what the client sent. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/**
 * A hostile loopback server: it issues tokens to anyone, then echoes what the client sent (the
 * `Authorization` header, the token request's form body, the bearer token) back in the places
 * {@link EchoPlace} names, to prove that no credential reaches an error.
 */
export class EchoServer {
  readonly received: ReceivedRequest[] = [];
  readonly issuedTokens: string[] = [];
  place: EchoPlace = 'api-code';
  readonly #server: Server;
  #baseUrl = '';

  private constructor() {
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  /** Starts on 127.0.0.1 with an ephemeral port. */
  static async start(): Promise<EchoServer> {
    const server = new EchoServer();
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    server.#baseUrl = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  /**
   * Every credential string the client put on the wire: the Basic credentials (base64), the form
   * body's `client_secret` value as sent, and the bearer tokens.
   */
  sentCredentials(): string[] {
    const sent = new Set<string>(this.issuedTokens);
    for (const request of this.received) {
      const authorization = request.authorization ?? '';
      if (authorization.startsWith('Basic ')) sent.add(authorization.slice('Basic '.length));
      const secret = /(?:^|&)client_secret=([^&]*)/.exec(request.body)?.[1];
      if (secret !== undefined && secret.length > 0) sent.add(secret);
    }
    return [...sent];
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const url = new URL(incoming.url ?? '/', this.#baseUrl);
    const request: ReceivedRequest = { method: incoming.method ?? 'GET', path: url.pathname, authorization: incoming.headers.authorization, body: Buffer.concat(chunks).toString('utf8') };
    this.received.push(request);
    if (url.pathname === '/oauth/token') return this.#token(request, response);
    const token = (request.authorization ?? '').replace(/^Bearer /, '');
    const header = request.authorization ?? '';
    const send = (status: number, body: unknown, requestId: string | undefined): void => {
      response.writeHead(status, { 'content-type': 'application/json', ...(requestId === undefined ? {} : { 'x-request-id': requestId }) });
      response.end(JSON.stringify(body));
    };
    switch (this.place) {
      case 'api-header':
        return send(400, { error: { code: 'bad_request', message: 'refused' } }, token);
      case 'api-request-id':
        // No header: the body's request id is the one the client keeps.
        return send(400, { error: { code: 'bad_request', message: 'refused', requestId: token } }, undefined);
      case 'api-message-503':
        // Long enough that a cut at 300 characters falls inside the echoed header.
        return send(503, { error: { code: 'unavailable', message: `${'p'.repeat(285)} you sent ${header} and ${token}` } }, header);
      case 'api-401-everywhere':
        return send(401, { error: { code: token, message: header, requestId: token } }, token);
      case 'api-success-body':
        if (url.pathname.endsWith('/download-uri')) return send(200, { uri: `${this.#baseUrl}/downloads/report.json` }, 'req-2');
        // A download carries no token: the server echoes the one it issued last.
        if (url.pathname.startsWith('/downloads/')) return send(200, this.#reportNaming(this.issuedTokens.at(-1) ?? ''), 'req-2');
        return send(200, { items: [{ id: token, type: 'Report', accountingDay: '2025-03-18', createdAt: '2025-03-19T00:00:00Z' }], nextCursor: null }, 'req-2');
      default:
        return send(400, { error: { code: token, message: 'refused' } }, 'req-3');
    }
  }

  #reportNaming(token: string): unknown {
    const entry = { id: '00000000-0000-4000-8000-000000000001', type: 'Interest', currency: 'BTC', amount: '0.1', createdAt: '2025-03-18T23:00:00Z', accountId: token };
    return { id: 'report-1', type: 'Report', accountingDay: '2025-03-18', timeZone: 'UTC', generatedAt: '2025-03-19T00:00:00Z', transactions: [entry], balances: [] };
  }

  #token(request: ReceivedRequest, response: ServerResponse): void {
    const echo = request.authorization ?? request.body;
    if (this.place === 'token-error') {
      response.writeHead(401, { 'content-type': 'application/json', 'x-request-id': echo.replace(/[^\x20-\x7e]/g, '?') });
      response.end(JSON.stringify({ error: echo }));
      return;
    }
    if (this.place === 'token-description') {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'invalid_request', error_description: `got ${request.authorization ?? ''} ${request.body}` }));
      return;
    }
    // Tokens with characters that URL and form encoding change, so every rendering differs.
    const token = `tok~en/${this.issuedTokens.length}+a=b'c(d)*e!f-${'x'.repeat(12)}`;
    this.issuedTokens.push(token);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
  }
}

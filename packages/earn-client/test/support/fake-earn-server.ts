import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EntityConfigInput } from '../../src/index.js';

/** A request the fake server received. */
export interface FakeRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Answers one request. */
export type Responder = (request: FakeRequest, response: ServerResponse) => void | Promise<void>;

/** A JSON answer. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Responder {
  return (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-${status}`, ...headers });
    response.end(JSON.stringify(body));
  };
}

/** A raw text answer. */
export function text(status: number, body: string, headers: Record<string, string> = {}): Responder {
  return (_request, response) => {
    response.writeHead(status, { 'content-type': 'text/plain', ...headers });
    response.end(body);
  };
}

/** Drops the connection without an answer. */
export function drop(): Responder {
  return (request, response) => {
    void request;
    response.socket?.destroy();
  };
}

/** Answers after `delayMs`. */
export function delayed(delayMs: number, responder: Responder): Responder {
  return async (request, response) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (!response.destroyed) await responder(request, response);
  };
}

/**
 * A 200 JSON answer whose body is sent in `chunks` pieces, `intervalMs` apart (headers at once),
 * so that the whole body takes about `chunks × intervalMs`. With `stallAfterChunks`, the answer
 * sends that many pieces and then nothing more, never ending.
 */
export function trickle(body: unknown, options: { readonly chunks: number; readonly intervalMs: number; readonly stallAfterChunks?: number }): Responder {
  return async (_request, response) => {
    const text = JSON.stringify(body);
    const size = Math.ceil(text.length / options.chunks);
    response.writeHead(200, { 'content-type': 'application/json' });
    let closed = false;
    response.on('close', () => {
      closed = true;
    });
    for (let index = 0; index < options.chunks; index += 1) {
      if (closed || index === options.stallAfterChunks) return;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      if (closed) return;
      response.write(text.slice(index * size, (index + 1) * size));
    }
    response.end();
  };
}

/** An error body of the assumed contract. */
export function errorBody(status: number, code: string, message: string, headers: Record<string, string> = {}): Responder {
  return json(status, { error: { code, message, requestId: `body-req-${code}` } }, headers);
}

/**
 * A loopback HTTP server playing both the token endpoint (RFC 6749 §4.4, checking the client's
 * credentials) and the Earn API, with per-route queues of responders for fault sequences.
 */
export class FakeEarnServer {
  readonly requests: FakeRequest[] = [];
  readonly tokenRequests: FakeRequest[] = [];
  /** Tokens the API accepts. */
  readonly validTokens = new Set<string>();
  /** Seconds put in `expires_in`; `undefined` leaves the field out. */
  expiresInSeconds: number | undefined = 3600;
  /** Delay of every token answer, to widen race windows. */
  tokenDelayMs = 0;
  /** When set, the token endpoint answers this instead of a token. */
  tokenResponder: Responder | undefined;
  readonly #routes = new Map<string, Responder[]>();
  readonly #server: Server;
  #tokenCount = 0;
  #baseUrl = '';

  private constructor(readonly clientId: string, readonly clientSecret: string) {
    this.#server = createServer((request, response) => {
      void this.#handle(request, response);
    });
  }

  /** Starts a server on 127.0.0.1 with an ephemeral port. */
  static async start(options: { clientId?: string; clientSecret?: string } = {}): Promise<FakeEarnServer> {
    const server = new FakeEarnServer(options.clientId ?? 'client-1', options.clientSecret ?? 'super-secret-value-1');
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    const { port } = server.#server.address() as AddressInfo;
    server.#baseUrl = `http://127.0.0.1:${port}`;
    return server;
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  get tokenUrl(): string {
    return `${this.#baseUrl}/oauth/token`;
  }

  /** API requests to `METHOD /path` (query excluded). */
  requestsTo(method: string, pathname: string): FakeRequest[] {
    return this.requests.filter((request) => request.method === method && request.url.pathname === pathname);
  }

  /**
   * Queues responders for `METHOD /path`: each request takes the next; the last one stays for
   * every request after it.
   */
  on(method: string, pathname: string, ...responders: Responder[]): this {
    this.#routes.set(`${method} ${pathname}`, [...responders]);
    return this;
  }

  /** A client configuration for this server with small, fast limits. */
  config(overrides: Partial<EntityConfigInput> = {}): EntityConfigInput {
    return {
      entityId: 'defi',
      baseUrl: this.baseUrl,
      tokenUrl: this.tokenUrl,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      timeoutMs: 2000,
      attemptsMax: 4,
      retryTotalMsMax: 5000,
      retryDelayMsInitial: 5,
      retryDelayMsMax: 40,
      ...overrides,
    };
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const request: FakeRequest = {
      method: incoming.method ?? 'GET',
      url: new URL(incoming.url ?? '/', this.#baseUrl),
      headers: incoming.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    if (request.url.pathname === '/oauth/token') {
      this.tokenRequests.push(request);
      if (this.tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs));
      if (this.tokenResponder !== undefined) return this.tokenResponder(request, response);
      return this.#issueToken(request, response);
    }
    this.requests.push(request);
    // Downloads are pre-signed: they carry no bearer token.
    if (!request.url.pathname.startsWith('/downloads/')) {
      const authorization = request.headers.authorization ?? '';
      const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
      if (!this.validTokens.has(token)) return errorBody(401, 'invalid_token', 'the access token is not valid')(request, response);
    }
    const queue = this.#routes.get(`${request.method} ${request.url.pathname}`);
    const responder = queue === undefined ? undefined : queue.length > 1 ? queue.shift() : queue[0];
    if (responder === undefined) return errorBody(404, 'not_found', `no route ${request.method} ${request.url.pathname}`)(request, response);
    return responder(request, response);
  }

  #issueToken(request: FakeRequest, response: ServerResponse): void {
    const form = new URLSearchParams(request.body);
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Basic ') === true) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const separator = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, separator));
      clientSecret = decodeURIComponent(decoded.slice(separator + 1));
    }
    if (form.get('grant_type') !== 'client_credentials') return void json(400, { error: 'unsupported_grant_type' })(request, response);
    if (clientId !== this.clientId || clientSecret !== this.clientSecret) return void json(401, { error: 'invalid_client' })(request, response);
    this.#tokenCount += 1;
    const accessToken = `access-token-${this.clientId}-${this.#tokenCount}-${'x'.repeat(16)}`;
    this.validTokens.add(accessToken);
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer' };
    if (this.expiresInSeconds !== undefined) body.expires_in = this.expiresInSeconds;
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  }
}
